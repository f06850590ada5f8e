import type { Conversation, ConversationSummary } from './contract/models.js';
import type { ClientEvent } from './contract/socket-contract.js';
import { DEFAULT_RECONNECT, DEFAULT_REQUEST_RETRY, DEFAULT_SEND_RETRY, withDefaults, type RetryPolicy } from './backoff.js';
import { Calls, type Data, type Payload } from './calls.js';
import { ChangeFeed } from './changes.js';
import { Connection, type ConnectionState, type SocketFactory, type TokenSource } from './connection.js';
import { ConversationList } from './conversation-list.js';
import type { ChatMessage } from './conversation-store.js';
import { Emitter } from './emitter.js';
import { MessagingError } from './errors.js';
import { tokenSubject } from './ids.js';
import { Outbox } from './outbox.js';
import { Receipts } from './receipts.js';
import { Stores } from './stores.js';
import { Sync } from './sync.js';
import { OutgoingTyping, RemoteTyping } from './typing.js';

export type { ConnectionState, SocketFactory, SocketLike, SocketOptionsForFactory, TokenSource } from './connection.js';

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
  conversations: (conversations: readonly ConversationSummary[]) => void;
  /** A conversation's messages changed (new, statuses, older pages). */
  messages: (conversationId: string, messages: readonly ChatMessage[]) => void;
  /** A new message from the other participant arrived (for notifications). */
  message: (message: ChatMessage) => void;
  /** Who is typing in a conversation now. */
  typing: (conversationId: string, userIds: readonly string[]) => void;
  /** Something in the background failed (a mark, a history fetch, a resync). */
  error: (error: MessagingError, context: string) => void;
}

const NO_MESSAGES: readonly ChatMessage[] = Object.freeze([]);

/**
 * The typed messaging client, for browsers and Node: a facade over parts with one job each —
 * the connection (state machine, tokens, reconnection), calls (acknowledgements, timeouts,
 * retries), the outbox (sends), sync (live messages, history, gap fill, the list), receipts
 * (delivered / read, both ways), typing, and the stores behind the snapshots.
 *
 * Snapshots (`conversations()`, `messages(id)`, `typingUsers(id)`) are immutable and keep their
 * identity until their data changes, so they can back `useSyncExternalStore`
 * (`@platform/messaging-client/react`).
 */
export class MessagingClient extends Emitter<MessagingClientEvents> {
  private self?: string;
  private readonly connection: Connection;
  private readonly calls: Calls;
  private readonly changes: ChangeFeed;
  private readonly stores: Stores;
  private readonly list: ConversationList;
  private readonly receipts: Receipts;
  private readonly sync: Sync;
  private readonly outbox: Outbox;
  private readonly remoteTyping: RemoteTyping;
  private readonly typing: OutgoingTyping;

  constructor(options: MessagingClientOptions) {
    super();
    const random = options.random ?? Math.random;
    this.self = options.userId ?? (typeof options.token === 'string' ? tokenSubject(options.token) : undefined);
    const selfId = () => this.userId;
    const isClosed = () => this.connection.isClosed;
    const report = (error: MessagingError, context: string) => this.emit('error', error, context);

    this.connection = new Connection(
      { url: options.url, token: options.token, path: options.path, transports: options.transports, reconnect: withDefaults(options.reconnect, DEFAULT_RECONNECT), random, socketFactory: options.socketFactory },
      {
        state: (state, error) => this.emit('connection', state, error),
        connected: (resumed) => {
          if (resumed) void this.sync.resync();
        },
        disconnected: (error) => {
          this.calls.failInflight(error);
          this.remoteTyping.clearAll();
          this.typing.resetAll();
        },
        tokenError: (error) => report(error, 'token callback'),
      },
    );
    this.calls = new Calls(this.connection, options.ackTimeoutMs ?? 5000, withDefaults(options.requestRetry, DEFAULT_REQUEST_RETRY), random);
    this.changes = new ChangeFeed((conversationIds, conversations) => {
      for (const conversationId of conversationIds) this.emit('messages', conversationId, this.messages(conversationId));
      if (conversations) this.emit('conversations', this.conversations());
    });
    this.stores = new Stores(selfId);
    this.list = new ConversationList(() => this.changes.conversations());
    this.receipts = new Receipts({
      calls: this.calls,
      stores: this.stores,
      list: this.list,
      changes: this.changes,
      selfId,
      isClosed,
      isConnected: () => this.connection.connected,
      report,
    });
    this.sync = new Sync({
      calls: this.calls,
      stores: this.stores,
      list: this.list,
      changes: this.changes,
      receipts: this.receipts,
      pageSize: Math.min(100, Math.max(1, options.historyPageSize ?? 50)),
      gapGraceMs: options.gapGraceMs ?? 200,
      selfId,
      isClosed,
      report,
      incoming: (message) => {
        this.remoteTyping.clear(message.conversationId, message.senderId);
        this.emit('message', message);
      },
    });
    this.outbox = new Outbox({
      calls: this.calls,
      connection: this.connection,
      stores: this.stores,
      changes: this.changes,
      sync: this.sync,
      policy: withDefaults(options.sendRetry, DEFAULT_SEND_RETRY),
      random,
    });
    this.remoteTyping = new RemoteTyping(options.remoteTypingTimeoutMs ?? 12_000, (conversationId, userIds) => this.emit('typing', conversationId, userIds));
    this.typing = new OutgoingTyping({ throttleMs: options.typingThrottleMs ?? 2000, idleMs: options.typingIdleMs ?? 3000 }, (event, conversationId) =>
      this.calls.fireAndForget(event, { conversationId }),
    );

    this.connection.onServerEvent('newMessage', (message) => this.sync.onNewMessage(message));
    this.connection.onServerEvent('messageDelivered', (event) => this.receipts.onDelivered(event));
    this.connection.onServerEvent('messageRead', (event) => this.receipts.onRead(event));
    this.connection.onServerEvent('typing', (event) => {
      if (event.userId === this.self) return;
      this.remoteTyping.set(event.conversationId, event.userId);
      // Someone started a conversation with us and is typing its first message.
      if (!this.list.has(event.conversationId)) this.sync.refreshConversationsSoon();
    });
    this.connection.onServerEvent('typingStopped', (event) => this.remoteTyping.clear(event.conversationId, event.userId));
  }

  // ---- connection -------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.connection.state;
  }

  get connected(): boolean {
    return this.connection.state === 'connected';
  }

  /** Why the client is not connected, while it is not. */
  get connectionError(): MessagingError | undefined {
    return this.connection.error;
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
    if (this.connection.isClosed) throw new MessagingError('NOT_CONNECTED', 'the client is closed');
    if (!this.self) {
      this.self = tokenSubject(await this.connection.token());
      if (!this.self) throw new MessagingError('UNAUTHENTICATED', 'the token has no subject (sub)');
    }
    return this.connection.open();
  }

  /** Disconnects for good: pending sends fail, no reconnection. */
  close(): void {
    if (this.connection.isClosed) return;
    this.sync.close();
    this.receipts.close();
    this.typing.resetAll();
    this.remoteTyping.clearAll();
    this.connection.close();
    this.calls.failInflight(new MessagingError('NOT_CONNECTED', 'the client is closed'));
  }

  // ---- conversations ----------------------------------------------------------------------

  /** The conversations known so far, most recent activity first (the same array until it changes). */
  conversations(): readonly ConversationSummary[] {
    return this.list.all();
  }

  conversation(conversationId: string): ConversationSummary | undefined {
    return this.list.get(conversationId);
  }

  /** The other participant of a conversation. */
  otherParticipant(conversation: Conversation): string {
    return conversation.participantIds.find((id) => id !== this.self) ?? conversation.participantIds[0];
  }

  /** Loads the conversation list (every page) from the server. */
  loadConversations(): Promise<readonly ConversationSummary[]> {
    return this.sync.loadConversations();
  }

  /** Starts (or finds) the conversation with a first-degree connection. PERMISSION_DENIED: not a connection. */
  async startConversation(participantId: string): Promise<Conversation> {
    const { conversation } = await this.calls.request('startConversation', { participantId });
    this.list.addStarted(conversation);
    return conversation;
  }

  // ---- messages ---------------------------------------------------------------------------

  /** The messages loaded so far, in order (ours being sent last); the same array until they change. */
  messages(conversationId: string): readonly ChatMessage[] {
    return this.stores.get(conversationId)?.messages() ?? NO_MESSAGES;
  }

  /** Whether older messages than those loaded exist; undefined until the first page is loaded. */
  hasOlder(conversationId: string): boolean | undefined {
    return this.stores.get(conversationId)?.hasOlder;
  }

  /** Loads the newest page of a conversation (once; later messages arrive live). */
  loadLatest(conversationId: string): Promise<readonly ChatMessage[]> {
    return this.sync.loadLatest(conversationId);
  }

  /** Loads the page before the oldest message loaded (scrolling up). Resolves with how many were added. */
  loadOlder(conversationId: string): Promise<{ added: number; hasOlder: boolean }> {
    return this.sync.loadOlder(conversationId);
  }

  /**
   * Sends a message: it appears at once as `sending`, and the returned promise resolves with it
   * once `sent`, or `failed` (never rejects). Timeouts, UNAVAILABLE, RESOURCE_EXHAUSTED and
   * disconnections are retried with backoff under the same clientMessageId, so the server stores
   * it once. Messages of one conversation go out in the order they were written.
   */
  send(conversationId: string, text: string): Promise<ChatMessage> {
    // The server clears our typing indicator when it stores the message.
    this.typing.reset(conversationId);
    return this.outbox.send(conversationId, text);
  }

  /** Sends a `failed` message again, under its clientMessageId. */
  retry(conversationId: string, key: string): Promise<ChatMessage> {
    return this.outbox.retry(conversationId, key);
  }

  /** Drops a `failed` message. */
  discard(conversationId: string, key: string): boolean {
    return this.outbox.discard(conversationId, key);
  }

  /**
   * Tells the client whether the user can see this conversation now. While visible, its messages
   * are marked read (at once, and as they arrive); otherwise they are only marked delivered.
   */
  setConversationVisible(conversationId: string, visible: boolean): void {
    this.receipts.setVisible(conversationId, visible);
    if (!visible) this.typing.stop(conversationId);
  }

  // ---- typing -----------------------------------------------------------------------------

  /** Call on every keystroke in the composer: startTyping at most every ~2 s, stopTyping once idle. */
  notifyTyping(conversationId: string): void {
    this.typing.input(conversationId);
  }

  /** The user stopped typing (cleared the composer, left the conversation). */
  stopTyping(conversationId: string): void {
    this.typing.stop(conversationId);
  }

  /** Who else is typing in the conversation now (the same array until it changes). */
  typingUsers(conversationId: string): readonly string[] {
    return this.remoteTyping.users(conversationId);
  }

  // ---- raw access -------------------------------------------------------------------------

  /**
   * Any client→server event of the contract, typed, with the request retry policy. Rejects with
   * a MessagingError carrying the server's code.
   */
  request<E extends ClientEvent>(event: E, payload: Payload<E>, policy?: RetryPolicy): Promise<Data<E>> {
    return this.calls.request(event, payload, policy);
  }
}
