import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

/** The fault proxy the reliability specs rely on, checked against a plain TCP echo server. */
describe('the TCP fault proxy', () => {
  let echo: net.Server;
  let echoPort: number;
  let proxy: FaultProxy;

  beforeAll(async () => {
    echo = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as net.AddressInfo).port;
    proxy = await startFaultProxy({ port: echoPort });
  });
  afterAll(async () => {
    await proxy?.close();
    await new Promise((resolve) => echo?.close(resolve));
  });

  /** A client socket that records what comes back and how it ended. */
  const open = async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    const client = { socket, received: '', ended: undefined as string | undefined };
    socket.on('data', (chunk: Buffer) => (client.received += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => (client.ended = error.code));
    socket.on('close', () => (client.ended ??= 'closed'));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return client;
  };
  const until = async (check: () => boolean, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('passes bytes both ways, and delays them in order', async () => {
    const client = await open();
    client.socket.write('hello');
    await until(() => client.received === 'hello');

    proxy.delayMs = 150;
    const started = performance.now();
    for (const part of ['a', 'b', 'c']) client.socket.write(part);
    await until(() => client.received === 'helloabc');
    // Up and down: two delays.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    proxy.delayMs = 0;
    client.socket.destroy();
  });

  it('holds bytes in a blackhole and lets them through, in order, when the link passes again', async () => {
    const client = await open();
    proxy.blackhole('down');
    client.socket.write('one');
    client.socket.write('two');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.received).toBe('');
    proxy.pass();
    await until(() => client.received === 'onetwo');

    // A connection opened during a full blackhole reaches the server only once it passes.
    proxy.blackhole('both');
    const late = await open();
    late.socket.write('late');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(late.received).toBe('');
    proxy.pass();
    await until(() => late.received === 'late');
    client.socket.destroy();
    late.socket.destroy();
  });

  it('resets open connections on cut, refuses new ones when told, and closes the port when down', async () => {
    const client = await open();
    proxy.blackhole('down');
    client.socket.write('lost');
    await new Promise((resolve) => setTimeout(resolve, 50));
    proxy.cut();
    await until(() => client.ended !== undefined);
    expect(client.ended).toBe('ECONNRESET');
    expect(client.received).toBe('');
    proxy.pass();

    proxy.refuseNew(true);
    try {
      // The reset may come before or after the client has seen its connect.
      const outcome = await open().then(
        async (refused) => {
          await until(() => refused.ended !== undefined);
          return refused.ended;
        },
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect(outcome).toBe('ECONNRESET');
    } finally {
      proxy.refuseNew(false);
    }

    const before = await open();
    await proxy.down();
    await until(() => before.ended !== undefined);
    await expect(open()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.up();
    const after = await open();
    after.socket.write('back');
    await until(() => after.received === 'back');
    after.socket.destroy();
  });

  it('follows a target that moved', async () => {
    const other = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('other server');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    proxy.target = { host: '127.0.0.1', port: (other.address() as net.AddressInfo).port };
    try {
      const client = await open();
      await until(() => client.received === 'other server');
    } finally {
      proxy.target = { host: '127.0.0.1', port: echoPort };
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
