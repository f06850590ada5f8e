/** Test support for the client's unit specs: a scripted socket that plays the server. */
import type { AckResult } from '../src/contract/socket-contract.js';
import type { SocketLike, SocketOptionsForFactory } from '../src/connection.js';

/** A JWT-shaped token whose payload names the user (the client reads `sub`; the server verifies). */
export function token(sub: string, version = 1): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256' })}.${encode({ sub, v: version })}.signature`;
}

export type Handler = (payload: Record<string, unknown>) => AckResult<unknown> | 'no-answer' | Promise<AckResult<unknown> | 'no-answer'>;

/** Plays the server: answers each event through `handlers`, records what was emitted, fires server events. */
export class FakeSocket implements SocketLike {
  connected = false;
  active = false;
  readonly emitted: Array<{ event: string; payload: Record<string, unknown> }> = [];
  readonly handlers: Record<string, Handler> = {};
  refuseNext?: string;
  private readonly listeners = new Map<string, Array<(...args: never[]) => void>>();

  constructor(readonly options: SocketOptionsForFactory) {}

  connect(): void {
    this.active = true;
    const auth = this.options.auth as (callback: (data: object) => void) => void;
    auth((data) => {
      this.lastAuth = data as { token?: string };
      if (this.refuseNext) {
        const reason = this.refuseNext;
        this.refuseNext = undefined;
        this.active = false;
        this.fire('connect_error', new Error(reason));
        return;
      }
      this.connected = true;
      this.fire('connect');
    });
  }

  lastAuth?: { token?: string };

  disconnect(): void {
    this.connected = false;
    this.active = false;
    this.fire('disconnect', 'io client disconnect');
  }

  /** The server closed the socket (token expiry, draining): socket.io-client does not reconnect. */
  serverDisconnect(): void {
    this.connected = false;
    this.active = false;
    this.fire('disconnect', 'io server disconnect');
  }

  emit(event: string, ...args: unknown[]): void {
    const [payload, ack] = args as [Record<string, unknown>, (result: unknown) => void];
    this.emitted.push({ event, payload });
    const handler = this.handlers[event] ?? (() => ({ ok: true, data: {} }));
    void Promise.resolve(handler(payload)).then((result) => {
      if (result !== 'no-answer') ack(result);
    });
  }

  on(event: string, listener: (...args: never[]) => void): void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener);
    this.listeners.set(event, list);
  }

  fire(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...values: unknown[]) => void)(...args);
  }

  sent(event: string): Array<Record<string, unknown>> {
    return this.emitted.filter((entry) => entry.event === event).map((entry) => entry.payload);
  }
}

