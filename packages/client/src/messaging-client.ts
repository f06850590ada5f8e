import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { Conversation, ConversationSummary, Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from './contract/models.js';
import type { AckResult, ClientEvent, ClientEventMap, ServerToClientEvents } from './contract/socket-contract.js';
import { backoffDelay, DEFAULT_RECONNECT, DEFAULT_REQUEST_RETRY, DEFAULT_SEND_RETRY, sleep, withDefaults, type RetryPolicy } from './backoff.js';
import { ConversationStore, type ChatMessage } from './conversation-store.js';
import { Emitter } from './emitter.js';
import { isRetryable, MessagingError, toMessagingError } from './errors.js';
import { randomId, tokenSubject } from './ids.js';
import { RemoteTyping, TypingThrottle } from './typing.js';

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

export interface MessagingClientOptions {
  /** The service's HTTP URL; omit in a browser page served by the service (same origin). */
  url?: string;
  token: TokenSource;
  /** The signed-in user's id; read from the token's `sub` when omitted. */
  userId?: string;
  /** Socket.IO path; default `/socket.io`. */
  path?: string;
  /** Socket.IO transports; default socket.io-client's (long-polling, upgraded to WebSocket). */
  transports?: Array<'polling' | 'websocket' | 'webtransport'>;
  /** How long to wait for each acknowledgement; default 5000. */
  ackTimeoutMs?: number;
  /** Retries of sendMessage; default 6 attempts, 250 ms doubling up to 4 s, with jitter. */
  sendRetry?: Partial<RetryPolicy>;
  /** Retries of the other calls (history, list, marks, startConversation); default 3 attempts. */
  requestRetry?: Partial<RetryPolicy>;
  /** Reconnections the client starts itself after a refusal or a server-side disconnect. */
  reconnect?: Partial<RetryPolicy>;
  /** startTyping at most this often while the user types; default 2000. */
  typingThrottleMs?: number;
  /** stopTyping after the user has not typed for this long; default 3000. */
  typingIdleMs?: number;
  /** The other side's indicator comes down locally this long after its last `typing` event; default 12000. */
  remoteTypingTimeoutMs?: number;
  /** Messages per history page; default 50 (the server's maximum is 100). */
  historyPageSize?: number;
  /** How long a seq gap may stay open before it is fetched from history (events may be reordered); default 200. */
  gapGraceMs?: number;
  socketFactory?: SocketFactory;
  /** Randomness of the backoff jitter (tests pin it). */
  random?: () => number;
}

export interface MessagingClientEvents {
  /** The connection changed; `error` says why it is not connected. */
  connection: (state: ConnectionState, error?: MessagingError) => void;
  /** The conversation list changed (order, last messages, unread counts). */
  conversations: (conversations: ConversationSummary[]) => void;
  /** A conversation's messages changed (new, statuses, older pages). */
  messages: (conversationId: string, messages: ChatMessage[]) => void;
  /** A new message from the other participant arrived (for notifications). */
  message: (message: ChatMessage) => void;
  /** Who is typing in a conversation now. */
  typing: (conversationId: string, userIds: string[]) => void;
  /** Something in the background failed (a mark, a history fetch, a resync). */
  error: (error: MessagingError, context: string) => void;
}

type Data<E extends ClientEvent> = ClientEventMap[E]['data'];
type Payload<E extends ClientEvent> = ClientEventMap[E]['payload'];
type Waiter = { resolve: () => void; reject: (error: MessagingError) => void };

/** Pages a gap fill or a scroll-back may walk through at most. */
const MAX_WALK_PAGES = 200;
const MAX_CONVERSATION_PAGES = 20;

const defaultSocketFactory: SocketFactory = (url, options) => (url === undefined ? io(options) : io(url, options)) as unknown as SocketLike;

/**
 * The typed messaging client, for browsers and Node. It keeps the conversation list and each
 * conversation's messages, with statuses, and applies the contract's rules for the app:
 * retries with one clientMessageId per message (at-least-once, deduplicated by the server),
 * automatic delivered marks, read marks for conversations on screen, throttled typing, seq-gap
 * detection with history fetches, and reconnection with a fresh token.
 */
export class MessagingClient extends Emitter<MessagingClientEvents> {
  private socket?: SocketLike;
  private connectionState: ConnectionState = 'idle';
  private lastConnectionError?: MessagingError;
  private self?: string;
  private closed = false;
  private everConnected = false;
  private conversationsLoaded = false;
  private reconnectAttempt = 0;
  private authFailures = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private flushScheduled = false;

  private readonly ackTimeoutMs: number;
  private readonly sendRetry: RetryPolicy;
  private readonly requestRetry: RetryPolicy;
  private readonly reconnectPolicy: RetryPolicy;
  private readonly random: () => number;
  private readonly pageSize: number;

  private readonly stores = new Map<string, ConversationStore>();
  private readonly summaries = new Map<string, ConversationSummary>();
  private readonly visible = new Set<string>();
  private readonly throttles = new Map<string, TypingThrottle>();
  private readonly remoteTyping: RemoteTyping;
  private readonly waiters = new Set<Waiter>();
  private readonly inflight = new Set<(error: MessagingError) => void>();
  private readonly sendQueues = new Map<string, Promise<unknown>>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly marksSent = new Map<string, { delivered: number; read: number }>();
  private readonly markTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly filling = new Set<string>();
  private readonly dirty = new Set<string>();
  private conversationsDirty = false;

  constructor(private readonly options: MessagingClientOptions) {
    super();
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.sendRetry = withDefaults(options.sendRetry, DEFAULT_SEND_RETRY);
    this.requestRetry = withDefaults(options.requestRetry, DEFAULT_REQUEST_RETRY);
    this.reconnectPolicy = withDefaults(options.reconnect, DEFAULT_RECONNECT);
    this.random = options.random ?? Math.random;
    this.pageSize = Math.min(100, Math.max(1, options.historyPageSize ?? 50));
    this.remoteTyping = new RemoteTyping(options.remoteTypingTimeoutMs ?? 12_000, (conversationId, userIds) => this.emit('typing', conversationId, userIds));
    this.self = options.userId ?? (typeof options.token === 'string' ? tokenSubject(options.token) : undefined);
  }

  // ---- connection -------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.connectionState;
  }

  get connected(): boolean {
    return this.connectionState === 'connected';
  }

  /** Why the client is not connected, while it is not. */
  get connectionError(): MessagingError | undefined {
    return this.lastConnectionError;
  }

  /** The signed-in user (known once connect() has read the token). */
  get userId(): string {
    if (!this.self) throw new MessagingError('UNAUTHENTICATED', 'the user is not known yet: call connect() first');
    return this.self;
  }

  /**
   * Connects, and resolves once connected. It keeps trying through outages (see `connection`
   * events); it rejects only when the server refuses the token(s) or the client is closed.
   */
  async connect(): Promise<void> {
    if (this.closed) throw new MessagingError('NOT_CONNECTED', 'the client is closed');
    if (!this.self) {
      this.self = tokenSubject(await this.currentToken());
      if (!this.self) throw new MessagingError('UNAUTHENTICATED', 'the token has no subject (sub)');
    }
    if (!this.socket) this.socket = this.createSocket();
    if (this.socket.connected) return;
    const waiting = this.waitForConnection(Number.POSITIVE_INFINITY);
    if (this.connectionState === 'idle' || this.connectionState === 'unauthenticated') {
      this.setState(this.everConnected ? 'reconnecting' : 'connecting');
      this.authFailures = 0;
      this.socket.connect();
    }
    return waiting;
  }

  /** Disconnects for good: pending sends fail, no reconnection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    for (const timer of [...this.markTimers.values(), ...this.gapTimers.values()]) clearTimeout(timer);
    for (const throttle of this.throttles.values()) throttle.reset();
    this.remoteTyping.clearAll();
    this.socket?.disconnect();
    this.setState('closed', new MessagingError('NOT_CONNECTED', 'the client is closed'));
    this.failWaiters(new MessagingError('NOT_CONNECTED', 'the client is closed'));
    this.failInflight(new MessagingError('NOT_CONNECTED', 'the client is closed'));
  }

  // ---- conversations ----------------------------------------------------------------------

  /** The conversations known so far, most recent activity first. */
  conversations(): ConversationSummary[] {
    return [...this.summaries.values()]
      .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || b.conversationId.localeCompare(a.conversationId))
      .map(copySummary);
  }

  conversation(conversationId: string): ConversationSummary | undefined {
    const summary = this.summaries.get(conversationId);
    return summary ? copySummary(summary) : undefined;
  }

  /** The other participant of a conversation. */
  otherParticipant(conversation: Conversation): string {
    return conversation.participantIds.find((id) => id !== this.self) ?? conversation.participantIds[0];
  }

  /** Loads the conversation list (every page) from the server. */
  async loadConversations(): Promise<ConversationSummary[]> {
    const fetched: ConversationSummary[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_CONVERSATION_PAGES; page++) {
      const data = await this.request('listConversations', { pageSize: 100, ...(cursor ? { cursor } : {}) });
      fetched.push(...data.conversations);
      cursor = data.nextCursor;
      if (!cursor) break;
    }
    for (const summary of fetched) {
      const local = this.summaries.get(summary.conversationId);
      // A live message may have arrived while the list was on its way: keep the newer one.
      if (local?.lastMessage && (!summary.lastMessage || local.lastMessage.seq > summary.lastMessage.seq)) {
        this.summaries.set(summary.conversationId, { ...summary, lastMessage: local.lastMessage, updatedAt: local.updatedAt, unreadCount: local.unreadCount });
      } else {
        this.summaries.set(summary.conversationId, copySummary(summary));
      }
    }
    this.conversationsLoaded = true;
    this.markConversationsChanged();
    return this.conversations();
  }

  /** Starts (or finds) the conversation with a first-degree connection. PERMISSION_DENIED: not a connection. */
  async startConversation(participantId: string): Promise<Conversation> {
    const { conversation } = await this.request('startConversation', { participantId });
    if (!this.summaries.has(conversation.conversationId)) {
      this.summaries.set(conversation.conversationId, { ...conversation, unreadCount: 0, updatedAt: conversation.createdAt });
      this.markConversationsChanged();
    }
    return conversation;
  }

  // ---- messages ---------------------------------------------------------------------------

  /** The messages loaded so far, in order (ours being sent last). */
  messages(conversationId: string): ChatMessage[] {
    return this.stores.get(conversationId)?.messages() ?? [];
  }

  /** Whether older messages than those loaded exist; undefined until the first page is loaded. */
  hasOlder(conversationId: string): boolean | undefined {
    return this.stores.get(conversationId)?.hasOlder;
  }

  /** Loads the newest page of a conversation (once; later messages arrive live). */
  loadLatest(conversationId: string): Promise<ChatMessage[]> {
    const store = this.storeFor(conversationId);
    if (store.historyLoaded) return Promise.resolve(store.messages());
    return this.exclusive(conversationId, () => this.walkFromNewest(store, store.newestSeq)).then(() => store.messages());
  }

  /** Loads the page before the oldest message loaded (scrolling up). Resolves with how many were added. */
  loadOlder(conversationId: string): Promise<{ added: number; hasOlder: boolean }> {
    const store = this.storeFor(conversationId);
    const before = store.size;
    const load = async () => {
      if (!store.historyLoaded) return this.walkFromNewest(store, store.newestSeq);
      if (store.hasOlder === false) return;
      const cursor = store.cursorForOlder;
      if (!cursor) return this.walkFromNewest(store, (store.oldestSeq ?? 1) - 1);
      const data = await this.request('getMessageHistory', { conversationId, paginationCursor: cursor, pageSize: this.pageSize });
      store.ingestPage(data.messages, data.nextCursor);
      this.afterHistory(store);
    };
    return this.exclusive(conversationId, load).then(() => ({ added: store.size - before, hasOlder: store.hasOlder !== false }));
  }

  /**
   * Sends a message: it appears at once as `sending`, and the returned promise resolves with it
   * once `sent`, or `failed` (never rejects). Timeouts, UNAVAILABLE, RESOURCE_EXHAUSTED and
   * disconnections are retried with backoff under the same clientMessageId, so the server stores
   * it once. Messages of one conversation go out in the order they were written.
   */
  send(conversationId: string, text: string): Promise<ChatMessage> {
    const store = this.storeFor(conversationId);
    const clientMessageId = randomId();
    const pending = store.addPending(clientMessageId, text, new Date().toISOString());
    // The server clears our typing indicator when it stores the message.
    this.throttles.get(conversationId)?.reset();
    this.markChanged(conversationId);
    return this.enqueue(conversationId, () => this.deliver(store, clientMessageId)).then((message) => message ?? pending);
  }

  /** Sends a `failed` message again, under its clientMessageId. */
  retry(conversationId: string, key: string): Promise<ChatMessage> {
    const store = this.storeFor(conversationId);
    const message = store.get(key);
    if (!message) return Promise.reject(new MessagingError('NOT_FOUND', 'no such message'));
    if (message.status !== 'failed') return Promise.resolve(message);
    store.setPendingState(key, 'sending', message.error);
    this.markChanged(conversationId);
    return this.enqueue(conversationId, () => this.deliver(store, key)).then((result) => result ?? message);
  }

  /** Drops a `failed` message. */
  discard(conversationId: string, key: string): boolean {
    const store = this.stores.get(conversationId);
    if (store?.get(key)?.status !== 'failed') return false;
    store.discardPending(key);
    this.markChanged(conversationId);
    return true;
  }

  /**
   * Tells the client whether the user can see this conversation now. While visible, its messages
   * are marked read (at once, and as they arrive); otherwise they are only marked delivered.
   */
  setConversationVisible(conversationId: string, visible: boolean): void {
    if (visible) {
      this.visible.add(conversationId);
      this.scheduleMarks(conversationId);
    } else {
      this.visible.delete(conversationId);
      this.stopTyping(conversationId);
    }
  }

  // ---- typing -----------------------------------------------------------------------------

  /** Call on every keystroke in the composer: startTyping at most every ~2 s, stopTyping once idle. */
  notifyTyping(conversationId: string): void {
    let throttle = this.throttles.get(conversationId);
    if (!throttle) {
      throttle = new TypingThrottle({
        throttleMs: this.options.typingThrottleMs ?? 2000,
        idleMs: this.options.typingIdleMs ?? 3000,
        start: () => this.fireAndForget('startTyping', { conversationId }),
        stop: () => this.fireAndForget('stopTyping', { conversationId }),
      });
      this.throttles.set(conversationId, throttle);
    }
    throttle.input();
  }

  /** The user stopped typing (cleared the composer, left the conversation). */
  stopTyping(conversationId: string): void {
    this.throttles.get(conversationId)?.stop();
  }

  /** Who else is typing in the conversation now. */
  typingUsers(conversationId: string): string[] {
    return this.remoteTyping.users(conversationId);
  }

  // ---- raw access -------------------------------------------------------------------------

  /**
   * Any client→server event of the contract, typed, with the request retry policy. Rejects with
   * a MessagingError carrying the server's code.
   */
  async request<E extends ClientEvent>(event: E, payload: Payload<E>, policy: RetryPolicy = this.requestRetry): Promise<Data<E>> {
    let lastError = new MessagingError('NOT_CONNECTED', 'not connected to the server');
    for (let attempt = 0; attempt < policy.maxAttempts; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(attempt - 1, policy, this.random));
      if (this.closed) throw new MessagingError('NOT_CONNECTED', 'the client is closed');
      try {
        await this.waitForConnection(this.ackTimeoutMs);
        return await this.call(event, payload);
      } catch (caught) {
        lastError = toMessagingError(caught);
        if (!isRetryable(lastError)) throw lastError;
      }
    }
    throw lastError;
  }

  // ---- internals: socket ------------------------------------------------------------------

  private createSocket(): SocketLike {
    const factory = this.options.socketFactory ?? defaultSocketFactory;
    const socket = factory(this.options.url, {
      autoConnect: false,
      forceNew: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      // Asked on every (re)connection attempt: a reconnection presents a fresh token.
      auth: (callback: (data: object) => void) => {
        this.currentToken().then(
          (token) => callback({ token }),
          (error: unknown) => {
            this.emit('error', toMessagingError(error), 'token callback');
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
    this.listen(socket, 'newMessage', (message) => this.onNewMessage(message));
    this.listen(socket, 'messageDelivered', (event) => this.onDelivered(event));
    this.listen(socket, 'messageRead', (event) => this.onRead(event));
    this.listen(socket, 'typing', (event) => this.onTyping(event));
    this.listen(socket, 'typingStopped', (event) => this.remoteTyping.clear(event.conversationId, event.userId));
    return socket;
  }

  private listen<E extends keyof ServerToClientEvents>(socket: SocketLike, event: E, listener: ServerToClientEvents[E]): void {
    socket.on(event, listener);
  }

  private async currentToken(): Promise<string> {
    const source = this.options.token;
    return typeof source === 'string' ? source : await source();
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
    if (resumed) void this.resync();
  }

  private onDisconnect(reason: string): void {
    const error = new MessagingError('NOT_CONNECTED', `connection lost (${reason})`);
    this.failInflight(error);
    this.remoteTyping.clearAll();
    for (const throttle of this.throttles.values()) throttle.reset();
    if (this.closed || reason === 'io client disconnect') return;
    this.setState('reconnecting', error);
    // The server closed the socket (token expired, instance draining): socket.io-client does not
    // reconnect by itself after that, so the client does, with a fresh token.
    if (reason === 'io server disconnect') this.scheduleReconnect();
  }

  private onConnectError(error: Error): void {
    if (this.closed) return;
    if (this.socket?.active) {
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
    if (this.reconnectAttempt >= this.reconnectPolicy.maxAttempts) return;
    const delay = backoffDelay(this.reconnectAttempt++, this.reconnectPolicy, this.random);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && this.socket && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private setState(state: ConnectionState, error?: MessagingError): void {
    const changed = state !== this.connectionState || error?.message !== this.lastConnectionError?.message;
    this.connectionState = state;
    this.lastConnectionError = state === 'connected' ? undefined : error;
    if (changed) this.emit('connection', state, this.lastConnectionError);
  }

  /** Resolves once connected; rejects after `timeoutMs`, or at once when the client cannot connect any more. */
  private waitForConnection(timeoutMs: number): Promise<void> {
    if (this.socket?.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new MessagingError('NOT_CONNECTED', 'the client is closed'));
    if (this.connectionState === 'unauthenticated') return Promise.reject(this.lastConnectionError ?? new MessagingError('UNAUTHENTICATED', 'the server refused the token'));
    if (!this.socket) return Promise.reject(new MessagingError('NOT_CONNECTED', 'not connected: call connect() first'));
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

  private failWaiters(error: MessagingError): void {
    for (const waiter of [...this.waiters]) waiter.reject(error);
    this.waiters.clear();
  }

  private failInflight(error: MessagingError): void {
    for (const fail of [...this.inflight]) fail(error);
  }

  /** One emit with an acknowledgement and a timeout. `onAck` also sees acknowledgements that come too late. */
  private call<E extends ClientEvent>(event: E, payload: Payload<E>, onAck?: (result: AckResult<Data<E>>) => void): Promise<Data<E>> {
    const socket = this.socket;
    if (!socket?.connected) return Promise.reject(new MessagingError('NOT_CONNECTED', 'not connected to the server'));
    return new Promise<Data<E>>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inflight.delete(fail);
        outcome();
      };
      const fail = (error: MessagingError) => settle(() => reject(error));
      const timer = setTimeout(() => fail(new MessagingError('TIMEOUT', `no answer to ${event} within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs);
      this.inflight.add(fail);
      socket.emit(event, payload, (result: AckResult<Data<E>>) => {
        if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
          fail(new MessagingError('INTERNAL', `malformed acknowledgement to ${event}`));
          return;
        }
        onAck?.(result);
        if (result.ok) settle(() => resolve(result.data));
        else fail(new MessagingError(result.error.code, result.error.message));
      });
    });
  }

  /** Typing is best-effort: no retries, and no error if it is lost. */
  private fireAndForget(event: 'startTyping' | 'stopTyping', payload: Payload<'startTyping'>): void {
    if (!this.socket?.connected) return;
    this.call(event, payload).catch(() => undefined);
  }

  // ---- internals: sending -----------------------------------------------------------------

  private enqueue<T>(conversationId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.sendQueues.get(conversationId) ?? Promise.resolve();
    const next = previous.then(task, task);
    this.sendQueues.set(
      conversationId,
      next.catch(() => undefined),
    );
    return next;
  }

  private async deliver(store: ConversationStore, clientMessageId: string): Promise<ChatMessage | undefined> {
    const conversationId = store.conversationId;
    let lastError: MessagingError | undefined;
    for (let attempt = 0; attempt < this.sendRetry.maxAttempts; attempt++) {
      if (attempt > 0) {
        if (store.setPendingState(clientMessageId, 'sending', lastError && { code: lastError.code, message: lastError.message })) this.markChanged(conversationId);
        await sleep(backoffDelay(attempt - 1, this.sendRetry, this.random));
      }
      // Stored meanwhile (a late acknowledgement, a history sync), or discarded.
      if (!store.isPending(clientMessageId)) break;
      if (this.closed) {
        lastError = new MessagingError('NOT_CONNECTED', 'the client is closed');
        break;
      }
      try {
        await this.waitForConnection(this.ackTimeoutMs);
        const text = store.get(clientMessageId)?.text ?? '';
        const { message } = await this.call('sendMessage', { conversationId, text, clientMessageId }, (result) => {
          if (result.ok) this.onOwnStored(result.data.message);
        });
        this.onOwnStored(message);
        break;
      } catch (caught) {
        lastError = toMessagingError(caught);
        if (!isRetryable(lastError)) break;
      }
    }
    if (store.isPending(clientMessageId)) {
      const error = lastError ?? new MessagingError('INTERNAL', 'not sent');
      store.setPendingState(clientMessageId, 'failed', { code: error.code, message: error.message });
      this.markChanged(conversationId);
    }
    return store.get(clientMessageId);
  }

  /** Our message is stored: from the acknowledgement (possibly a late or repeated one). */
  private onOwnStored(message: Message): void {
    const store = this.storeFor(message.conversationId);
    const result = store.ingest(message, 'live');
    if (!result.added && !result.changed) return;
    if (result.added) this.touchSummary(message, false);
    if (result.gap) this.scheduleGapFill(message.conversationId);
    this.markChanged(message.conversationId);
  }

  // ---- internals: server events -----------------------------------------------------------

  private onNewMessage(message: Message): void {
    if (typeof message !== 'object' || message === null || typeof message.messageId !== 'string' || typeof message.conversationId !== 'string') return;
    const conversationId = message.conversationId;
    const store = this.storeFor(conversationId);
    const result = store.ingest(message, 'live');
    if (!result.added && !result.changed) {
      // A duplicate (the catch-up after a reconnection, a replay) is dropped by messageId; the
      // server re-sends only what it still counts undelivered, so the mark is tried again.
      if (message.senderId !== this.self) this.scheduleMarks(conversationId);
      return;
    }
    if (result.added) {
      const incoming = message.senderId !== this.self;
      this.touchSummary(message, incoming);
      if (incoming) {
        this.remoteTyping.clear(conversationId, message.senderId);
        this.scheduleMarks(conversationId);
        const added = store.byMessageId(message.messageId);
        if (added) this.emit('message', added);
      }
    }
    if (result.gap) this.scheduleGapFill(conversationId);
    this.markChanged(conversationId);
  }

  private onDelivered(event: MessageDeliveredEvent): void {
    if (this.storeFor(event.conversationId).applyReceipt('delivered', event.messageId, event.deliveredAt)) this.markChanged(event.conversationId);
  }

  private onRead(event: MessageReadEvent): void {
    const store = this.storeFor(event.conversationId);
    if (event.readerId !== this.self) {
      if (store.applyReceipt('read', event.messageId, event.readAt)) this.markChanged(event.conversationId);
      return;
    }
    // We read them on another device.
    store.applyIncomingRead(event.messageId, event.readAt);
    const marks = this.marksFor(event.conversationId);
    const seq = store.byMessageId(event.messageId)?.seq;
    if (seq !== undefined) marks.read = Math.max(marks.read, seq);
    const summary = this.summaries.get(event.conversationId);
    if (summary) {
      if (seq !== undefined) summary.unreadCount = store.unreadAfter(seq);
      else if (summary.lastMessage?.messageId === event.messageId) summary.unreadCount = 0;
      this.markConversationsChanged();
    }
    this.markChanged(event.conversationId);
  }

  private onTyping(event: TypingEvent): void {
    if (event.userId === this.self) return;
    this.remoteTyping.set(event.conversationId, event.userId);
    // Someone started a conversation with us and is typing its first message.
    if (!this.summaries.has(event.conversationId)) this.refreshConversationsSoon();
  }

  /** After a reconnection: the list, and each loaded conversation's newest messages and receipts. */
  private async resync(): Promise<void> {
    try {
      if (this.conversationsLoaded) await this.loadConversations();
      for (const store of this.stores.values()) {
        if (store.historyLoaded) await this.exclusive(store.conversationId, () => this.walkFromNewest(store, store.newestSeq));
      }
      for (const conversationId of this.visible) this.scheduleMarks(conversationId);
    } catch (error) {
      this.emit('error', toMessagingError(error), 'resync after reconnection');
    }
  }

  // ---- internals: history -----------------------------------------------------------------

  /** One history operation per conversation at a time; a second caller shares the first's. */
  private exclusive(conversationId: string, task: () => Promise<void>): Promise<void> {
    const running = this.loading.get(conversationId);
    if (running) return running;
    const promise = task().finally(() => this.loading.delete(conversationId));
    this.loading.set(conversationId, promise);
    return promise;
  }

  /** Pages from the newest message down until a page reaches `untilSeq` (or, without it, one page). */
  private async walkFromNewest(store: ConversationStore, untilSeq: number | undefined): Promise<void> {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_WALK_PAGES; page++) {
      const data = await this.request('getMessageHistory', {
        conversationId: store.conversationId,
        pageSize: this.pageSize,
        ...(cursor ? { paginationCursor: cursor } : {}),
      });
      store.ingestPage(data.messages, data.nextCursor);
      const low = data.messages.reduce((min, message) => Math.min(min, message.seq), Number.POSITIVE_INFINITY);
      if (!data.nextCursor || untilSeq === undefined || low <= untilSeq) break;
      cursor = data.nextCursor;
    }
    store.historyLoaded = true;
    this.afterHistory(store);
  }

  private afterHistory(store: ConversationStore): void {
    this.markChanged(store.conversationId);
    // Loaded messages count as delivered too (and as read when on screen).
    this.scheduleMarks(store.conversationId);
  }

  private scheduleGapFill(conversationId: string): void {
    if (this.gapTimers.has(conversationId) || this.closed) return;
    this.gapTimers.set(
      conversationId,
      setTimeout(() => {
        this.gapTimers.delete(conversationId);
        void this.fillGaps(conversationId);
      }, this.options.gapGraceMs ?? 200),
    );
  }

  /** Fetches what a seq jump says is missing; the loop also catches gaps that open meanwhile. */
  private async fillGaps(conversationId: string): Promise<void> {
    if (this.filling.has(conversationId)) return;
    const store = this.storeFor(conversationId);
    this.filling.add(conversationId);
    try {
      for (let round = 0; round < 5; round++) {
        const [first] = store.gaps();
        if (!first) break;
        await this.walkFromNewest(store, first.fromSeq);
      }
    } catch (error) {
      this.emit('error', toMessagingError(error), 'fetching missed messages');
    } finally {
      this.filling.delete(conversationId);
    }
  }

  // ---- internals: delivered / read marks --------------------------------------------------

  private marksFor(conversationId: string): { delivered: number; read: number } {
    let marks = this.marksSent.get(conversationId);
    if (!marks) this.marksSent.set(conversationId, (marks = { delivered: 0, read: 0 }));
    return marks;
  }

  private scheduleMarks(conversationId: string): void {
    if (this.markTimers.has(conversationId) || this.closed) return;
    this.markTimers.set(
      conversationId,
      setTimeout(() => {
        this.markTimers.delete(conversationId);
        void this.flushMarks(conversationId);
      }, 0),
    );
  }

  /**
   * Marks the newest incoming message delivered, or read when the conversation is on screen. Both
   * are high-water marks on the server, so one call covers every earlier message.
   */
  private async flushMarks(conversationId: string): Promise<void> {
    if (!this.socket?.connected) return; // redone after the reconnection
    const store = this.storeFor(conversationId);
    const summary = this.summaries.get(conversationId);
    let target: { messageId: string; seq: number; deliveredAt?: string; readAt?: string } | undefined;
    const newest = store.newestIncoming();
    if (newest?.messageId && newest.seq !== undefined) target = { messageId: newest.messageId, seq: newest.seq, deliveredAt: newest.deliveredAt, readAt: newest.readAt };
    const last = summary?.lastMessage;
    if (last && last.senderId !== this.self && (!target || last.seq > target.seq)) target = last;
    if (!target) return;
    const marks = this.marksFor(conversationId);
    try {
      if (this.visible.has(conversationId)) {
        if (target.readAt || target.seq <= marks.read) {
          this.setUnread(conversationId, store, target.seq);
          return;
        }
        const previous = { ...marks };
        marks.read = target.seq;
        marks.delivered = Math.max(marks.delivered, target.seq);
        await this.request('markAsRead', { conversationId, lastReadMessageId: target.messageId }).catch((error: unknown) => {
          Object.assign(marks, previous);
          throw error;
        });
        store.applyIncomingRead(target.messageId, new Date().toISOString());
        this.setUnread(conversationId, store, target.seq);
        this.markChanged(conversationId);
        return;
      }
      if (target.deliveredAt || target.readAt || target.seq <= marks.delivered) return;
      const previous = marks.delivered;
      marks.delivered = target.seq;
      await this.request('markAsDelivered', { conversationId, lastDeliveredMessageId: target.messageId }).catch((error: unknown) => {
        marks.delivered = previous;
        throw error;
      });
    } catch (error) {
      this.emit('error', toMessagingError(error), 'marking messages delivered or read');
    }
  }

  private setUnread(conversationId: string, store: ConversationStore, readUpToSeq: number): void {
    const summary = this.summaries.get(conversationId);
    if (!summary) return;
    const unread = store.unreadAfter(readUpToSeq);
    if (summary.unreadCount !== unread) {
      summary.unreadCount = unread;
      this.markConversationsChanged();
    }
  }

  // ---- internals: state and change notification ------------------------------------------

  private storeFor(conversationId: string): ConversationStore {
    let store = this.stores.get(conversationId);
    if (!store) {
      store = new ConversationStore(conversationId, this.userId);
      this.stores.set(conversationId, store);
    }
    return store;
  }

  /** Keeps the conversation list in step with a new message. */
  private touchSummary(message: Message, incoming: boolean): void {
    let summary = this.summaries.get(message.conversationId);
    if (!summary) {
      if (!incoming) {
        // Our own message from another device, in a conversation this client has not seen.
        this.refreshConversationsSoon();
        return;
      }
      const participantIds = [this.userId, message.senderId].sort() as [string, string];
      summary = { conversationId: message.conversationId, participantIds, createdAt: message.timestamp, updatedAt: message.timestamp, unreadCount: 0 };
      this.summaries.set(message.conversationId, summary);
    }
    if (!summary.lastMessage || message.seq >= summary.lastMessage.seq) {
      summary.lastMessage = { ...message };
      if (Date.parse(message.timestamp) > Date.parse(summary.updatedAt)) summary.updatedAt = message.timestamp;
    }
    if (incoming && !message.readAt && message.seq > this.marksFor(message.conversationId).read) summary.unreadCount++;
    this.markConversationsChanged();
  }

  private refreshConversationsSoon(): void {
    if (this.refreshTimer || this.closed) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.loadConversations().catch((error: unknown) => this.emit('error', toMessagingError(error), 'loading conversations'));
    }, 100);
  }

  private markChanged(conversationId: string): void {
    this.dirty.add(conversationId);
    this.scheduleFlush();
  }

  private markConversationsChanged(): void {
    this.conversationsDirty = true;
    this.scheduleFlush();
  }

  /** Changes are announced once per microtask, so a burst (a catch-up, a page) is one event. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const dirty = [...this.dirty];
      this.dirty.clear();
      for (const conversationId of dirty) this.emit('messages', conversationId, this.messages(conversationId));
      if (this.conversationsDirty) {
        this.conversationsDirty = false;
        this.emit('conversations', this.conversations());
      }
    });
  }
}

function copySummary(summary: ConversationSummary): ConversationSummary {
  return { ...summary, participantIds: [...summary.participantIds] as [string, string], ...(summary.lastMessage ? { lastMessage: { ...summary.lastMessage } } : {}) };
}
