import net from 'node:net';

/**
 * A Socket.IO handshake by hand, as a hostile client does it: the WebSocket upgrade, the CONNECT
 * packet `40{"token":...}`, then a TCP reset right after it, before the server has answered.
 * Resolves once the connection is gone.
 */
export function handshakeThenReset(httpUrl: string, token: string): Promise<void> {
  const { port } = new URL(httpUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(upgradeRequest(port));
    });
    let answer = '';
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      // The engine.io open packet ("0{...") follows the 101: the connection is established.
      if (sent || !answer.includes('\r\n\r\n') || !answer.includes('0{')) return;
      sent = true;
      socket.write(maskedTextFrame(`40${JSON.stringify({ token })}`), () => socket.resetAndDestroy());
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

/** The Socket.IO WebSocket upgrade request as a browser sends it, with any extra header lines. */
export function upgradeRequest(port: string, headers: string[] = []): string {
  return [
    'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...headers,
    '',
    '',
  ].join('\r\n');
}

/** A client-to-server WebSocket text frame (clients must mask theirs). */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]!));
  return Buffer.concat([header, mask, masked]);
}
