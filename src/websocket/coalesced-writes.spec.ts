import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket as NetSocket } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from './coalesced-writes.js';

/**
 * coalesceWrites replaces `write` on each accepted connection: it relies on `ws` sending every
 * frame through that socket's `write`, and on Node holding corked writes until `uncork` and then
 * handing them to `_writev` at once. This fails if either stops being true upstream.
 */
describe('coalesceWrites', () => {
  let http: HttpServer | undefined;
  let server: Server | undefined;
  let client: ClientSocket | undefined;

  afterEach(async () => {
    client?.close();
    await new Promise((resolve) => (server ? server.close(() => resolve(undefined)) : resolve(undefined)));
  });

  /** The frames of 20 emits in one tick, as the kernel sees them: one entry per writev or write call. */
  async function writesOf20Emits(coalesce: boolean): Promise<number[]> {
    http = createServer();
    const accepted: NetSocket[] = [];
    http.on('connection', (socket: NetSocket) => {
      accepted.push(socket);
      if (coalesce) coalesceWrites(socket);
    });
    server = new Server(http, { transports: ['websocket'] });
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const connected = new Promise<ServerSocket>((resolve) => server!.on('connection', resolve));
    client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
    const socket = await connected;
    const received = new Promise<void>((resolve) => {
      let count = 0;
      client!.on('tick', () => ++count === 20 && resolve());
    });
    const calls: number[] = [];
    const [raw] = accepted as Array<NetSocket & { _writev?: (chunks: unknown[], cb: () => void) => void; _write: (chunk: unknown, encoding: string, cb: () => void) => void }>;
    const writev = raw!._writev!.bind(raw);
    const write = raw!._write.bind(raw);
    raw!._writev = (chunks, cb) => (calls.push(chunks.length), writev(chunks, cb));
    raw!._write = (chunk, encoding, cb) => (calls.push(1), write(chunk, encoding, cb));
    for (let i = 0; i < 20; i++) socket.emit('tick', i);
    await received;
    return calls;
  }

  // ws writes a frame as two chunks (header, payload), corked around the pair.
  it('hands the frames of one tick to the kernel in a writev or two', async () => {
    const calls = await writesOf20Emits(true);
    expect(calls.reduce((sum, chunks) => sum + chunks, 0)).toBe(40);
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it('is needed: without it, each frame is a system call of its own', async () => {
    const calls = await writesOf20Emits(false);
    expect(calls).toHaveLength(20);
  });
});
