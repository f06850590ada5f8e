import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { token } from '../test/fake-socket.js';
import { connectionParts } from '../test/parts.js';

describe('Connection (the state machine)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('goes connecting → connected, and reconnects with backoff and a fresh token after the server closes the socket', async () => {
    let version = 0;
    const { connection, states, events, socket } = connectionParts({ token: () => token('alice', ++version) });
    await connection.open();
    expect(states).toEqual([
      ['connecting', undefined],
      ['connected', undefined],
    ]);
    socket().serverDisconnect();
    expect(connection.state).toBe('reconnecting');
    expect(connection.error?.code).toBe('NOT_CONNECTED');
    await vi.advanceTimersByTimeAsync(499);
    expect(socket().connected).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(connection.state).toBe('connected');
    expect(socket().lastAuth?.token).toBe(token('alice', 2));
    expect(events).toEqual(['connected', 'disconnected NOT_CONNECTED', 'resumed']);
  });

  it('refuses for good a fixed token the server rejects, and rejects whoever waits', async () => {
    const { connection, socket } = connectionParts();
    await connection.open();
    socket().serverDisconnect();
    socket().refuseNext = 'UNAUTHENTICATED';
    const waiting = connection.waitFor(Number.POSITIVE_INFINITY).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(500);
    expect(await waiting).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(connection.state).toBe('unauthenticated');
    await expect(connection.waitFor(1000)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('lets a caller wait for the connection up to a deadline, and closes for good', async () => {
    const { connection, socket } = connectionParts();
    await connection.open();
    socket().serverDisconnect();
    socket().refuseNext = 'UNAVAILABLE';
    const waiting = connection.waitFor(100);
    const outcome = waiting.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    expect(await outcome).toMatchObject({ code: 'NOT_CONNECTED' });
    connection.close();
    expect(connection.state).toBe('closed');
    await expect(connection.open()).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });
});
