import { io, type Socket } from 'socket.io-client';
import type { AckResult, ClientEvent, ClientEventMap, ClientToServerEvents, ServerToClientEvents } from '@platform/messaging-client/contract';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type ServerEvent = keyof ServerToClientEvents;
type ServerPayload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/** A connected client; every server event is recorded so tests can check what did and did not arrive. */
export class TestClient {
  readonly received: Array<{ event: ServerEvent; payload: unknown }> = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: TestSocket) {
    socket.onAny((event: ServerEvent, payload: unknown) => {
      this.received.push({ event, payload });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Connects with `auth: { token }` and resolves once connected (rejects with the connect_error). */
  static async connect(url: string, token: string | undefined, options: { extraHeaders?: Record<string, string> } = {}): Promise<TestClient> {
    const socket: TestSocket = io(url, {
      auth: token === undefined ? {} : { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: options.extraHeaders,
    });
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => {
        socket.close();
        reject(error);
      });
    });
    return client;
  }

  emit<E extends ClientEvent>(event: E, payload: unknown, timeoutMs = 5000): Promise<AckResult<ClientEventMap[E]['data']>> {
    return (this.socket.timeout(timeoutMs) as unknown as Socket).emitWithAck(event, payload);
  }

  /** The ack's data, failing the test with the error when the ack is not ok. */
  async ok<E extends ClientEvent>(event: E, payload: unknown): Promise<ClientEventMap[E]['data']> {
    const result = await this.emit(event, payload);
    if (!result.ok) throw new Error(`${event} failed: ${result.error.code} ${result.error.message}`);
    return result.data;
  }

  events<E extends ServerEvent>(event: E): Array<ServerPayload<E>> {
    return this.received.filter((entry) => entry.event === event).map((entry) => entry.payload as ServerPayload<E>);
  }

  /** Waits until `count` events of that name (matching `where`) have arrived. */
  async waitFor<E extends ServerEvent>(
    event: E,
    where: (payload: ServerPayload<E>) => boolean = () => true,
    options: { count?: number; timeoutMs?: number } = {},
  ): Promise<Array<ServerPayload<E>>> {
    const count = options.count ?? 1;
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      const matching = this.events(event).filter(where);
      if (matching.length >= count) return matching;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${count} × ${event}; got ${matching.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the socket to be disconnected by the server, returning the reason. */
  disconnected(timeoutMs = 5000): Promise<string> {
    if (!this.socket.connected) return Promise.resolve('already disconnected');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still connected')), timeoutMs);
      this.socket.once('disconnect', (reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });
  }

  /**
   * Resolves once every event the service wrote to this socket before now has arrived: a round trip
   * (a payload that validation refuses, so nothing changes and no limit is spent) is answered after
   * everything already written to the socket, and a socket's packets arrive in order. The service
   * broadcasts before it acknowledges, so after an awaited ack this proves what did not arrive. It
   * holds for what this socket's own instance emits; what crosses instances through Redis needs a
   * sentinel event instead.
   */
  async drained(): Promise<void> {
    if (!this.socket.connected) return;
    const answer = await this.emit('markAsRead', {});
    if (answer.ok || answer.error.code !== 'INVALID_ARGUMENT') throw new Error(`drain round trip answered ${JSON.stringify(answer)}`);
  }

  close(): void {
    this.socket.close();
  }
}

/** Lets in-flight broadcasts land before checking that something did not arrive. */
export function settle(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
