import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { ServerToClientEvents } from './contract/socket-contract.js';
import { backoffDelay, type RetryPolicy } from './backoff.js';
import { MessagingError, toMessagingError } from './errors.js';

/**
 * `connecting` (first time) → `connected` ⇄ `reconnecting`; `unauthenticated` when the server
 * refuses every token the client can get; `closed` after close().
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'unauthenticated' | 'closed';

/** A token, or a callback asked for one on every (re)connection: return a fresh one before the old expires. */
export type TokenSource = string | (() => string | Promise<string>);

/** The part of a socket.io-client Socket the client uses (a seam for tests and custom transports). */
export interface SocketLike {
  readonly connected: boolean;
  /** False once the socket stopped reconnecting by itself (a refused handshake, a server-side disconnect). */
  readonly active: boolean;
  connect(): unknown;
  disconnect(): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export type SocketOptionsForFactory = Partial<ManagerOptions & SocketOptions>;
export type SocketFactory = (url: string | undefined, options: SocketOptionsForFactory) => SocketLike;

export interface ConnectionOptions {
  url?: string;
  token: TokenSource;
  path?: string;
  transports?: Array<'polling' | 'websocket' | 'webtransport'>;
  reconnect: RetryPolicy;
  random: () => number;
  socketFactory?: SocketFactory;
}

/** What the connection tells the rest of the client. */
export interface ConnectionHooks {
  state(state: ConnectionState, error?: MessagingError): void;
  /** Connected; `resumed` after a reconnection (the client then resyncs). */
  connected(resumed: boolean): void;
  /** The socket dropped: calls in flight fail with `error`. */
  disconnected(error: MessagingError): void;
  /** The token callback threw. */
  tokenError(error: MessagingError): void;
}

type Waiter = { resolve: () => void; reject: (error: MessagingError) => void };
type ServerListener = { [E in keyof ServerToClientEvents]: [E, ServerToClientEvents[E]] }[keyof ServerToClientEvents];

const defaultSocketFactory: SocketFactory = (url, options) => (url === undefined ? io(options) : io(url, options)) as unknown as SocketLike;

/**
 * The connection state machine: one socket, a fresh token on every (re)connection, reconnection
 * with backoff where socket.io-client stops by itself (a refused handshake, a server-side
 * disconnect), and waiters for callers that need the connection.
 */
export class Connection {
  private current?: SocketLike;
  private connectionState: ConnectionState = 'idle';
  private lastError?: MessagingError;
  private closed = false;
  private everConnected = false;
  private reconnectAttempt = 0;
  private authFailures = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private readonly waiters = new Set<Waiter>();
  private readonly serverListeners: ServerListener[] = [];

  constructor(
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** Why it is not connected, while it is not. */
  get error(): MessagingError | undefined {
    return this.lastError;
  }

  get socket(): SocketLike | undefined {
    return this.current;
  }

  get connected(): boolean {
    return this.current?.connected === true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Listens to a server event on the socket (made now or later). */
  onServerEvent<E extends keyof ServerToClientEvents>(event: E, listener: ServerToClientEvents[E]): void {
    this.serverListeners.push([event, listener] as ServerListener);
    this.current?.on(event, listener);
  }

  async token(): Promise<string> {
    const source = this.options.token;
    return typeof source === 'string' ? source : await source();
  }

  /** Opens the socket and resolves once connected; rejects only when the token is refused or after close(). */
  open(): Promise<void> {
    if (this.closed) return Promise.reject(new MessagingError('NOT_CONNECTED', 'the client is closed'));
    if (!this.current) this.current = this.createSocket();
    if (this.current.connected) return Promise.resolve();
    const waiting = this.waitFor(Number.POSITIVE_INFINITY);
    if (this.connectionState === 'idle' || this.connectionState === 'unauthenticated') {
      this.setState(this.everConnected ? 'reconnecting' : 'connecting');
      this.authFailures = 0;
      this.current.connect();
    }
    return waiting;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.current?.disconnect();
    const error = new MessagingError('NOT_CONNECTED', 'the client is closed');
    this.setState('closed', error);
    this.failWaiters(error);
  }

  /** Resolves once connected; rejects after `timeoutMs`, or at once when the client cannot connect any more. */
  waitFor(timeoutMs: number): Promise<void> {
    if (this.current?.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new MessagingError('NOT_CONNECTED', 'the client is closed'));
    if (this.connectionState === 'unauthenticated') return Promise.reject(this.lastError ?? new MessagingError('UNAUTHENTICATED', 'the server refused the token'));
    if (!this.current) return Promise.reject(new MessagingError('NOT_CONNECTED', 'not connected: call connect() first'));
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new MessagingError('NOT_CONNECTED', 'not connected to the server'));
        }, timeoutMs);
      }
      this.waiters.add(waiter);
    });
  }

  private createSocket(): SocketLike {
    const factory = this.options.socketFactory ?? defaultSocketFactory;
    const socket = factory(this.options.url, {
      autoConnect: false,
      forceNew: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      // Asked on every (re)connection attempt: a reconnection presents a fresh token.
      auth: (callback: (data: object) => void) => {
        this.token().then(
          (token) => callback({ token }),
          (error: unknown) => {
            this.hooks.tokenError(toMessagingError(error));
            callback({});
          },
        );
      },
      ...(this.options.path ? { path: this.options.path } : {}),
      ...(this.options.transports ? { transports: this.options.transports } : {}),
    });
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason: string) => this.onDisconnect(reason));
    socket.on('connect_error', (error: Error) => this.onConnectError(error));
    for (const [event, listener] of this.serverListeners) socket.on(event, listener);
    return socket;
  }

  private onConnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reconnectAttempt = 0;
    this.authFailures = 0;
    const resumed = this.everConnected;
    this.everConnected = true;
    this.setState('connected');
    for (const waiter of [...this.waiters]) waiter.resolve();
    this.waiters.clear();
    this.hooks.connected(resumed);
  }

  private onDisconnect(reason: string): void {
    const error = new MessagingError('NOT_CONNECTED', `connection lost (${reason})`);
    this.hooks.disconnected(error);
    if (this.closed || reason === 'io client disconnect') return;
    this.setState('reconnecting', error);
    // The server closed the socket (token expired, instance draining): socket.io-client does not
    // reconnect by itself after that, so the client does, with a fresh token.
    if (reason === 'io server disconnect') this.scheduleReconnect();
  }

  private onConnectError(error: Error): void {
    if (this.closed) return;
    if (this.current?.active) {
      // A transport error: socket.io-client retries by itself.
      this.setState(this.everConnected ? 'reconnecting' : 'connecting', new MessagingError('NOT_CONNECTED', `cannot reach the server (${error.message})`));
      return;
    }
    if (error.message === 'UNAUTHENTICATED') {
      this.authFailures++;
      const refusal = new MessagingError('UNAUTHENTICATED', 'the server refused the token');
      if (typeof this.options.token === 'function' && this.authFailures < 3) {
        this.setState('reconnecting', refusal);
        this.scheduleReconnect();
        return;
      }
      this.setState('unauthenticated', refusal);
      this.failWaiters(refusal);
      return;
    }
    const code = error.message === 'RESOURCE_EXHAUSTED' ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE';
    this.setState(this.everConnected ? 'reconnecting' : 'connecting', new MessagingError(code, `the server refused the connection (${error.message})`));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    if (this.reconnectAttempt >= this.options.reconnect.maxAttempts) return;
    const delay = backoffDelay(this.reconnectAttempt++, this.options.reconnect, this.options.random);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && this.current && !this.current.connected) this.current.connect();
    }, delay);
  }

  private setState(state: ConnectionState, error?: MessagingError): void {
    const changed = state !== this.connectionState || error?.message !== this.lastError?.message;
    this.connectionState = state;
    this.lastError = state === 'connected' ? undefined : error;
    if (changed) this.hooks.state(state, this.lastError);
  }

  private failWaiters(error: MessagingError): void {
    for (const waiter of [...this.waiters]) waiter.reject(error);
    this.waiters.clear();
  }
}
