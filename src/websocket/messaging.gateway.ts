import type { TextMapGetter } from '@opentelemetry/api';
import { Inject, Logger } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import type { Actor } from '../contract/actor.js';
import type { AppError } from '../contract/app-error.js';
import type { ErrorCode } from '@platform/messaging-client/contract';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import {
  listConversationsSchema,
  markAsDeliveredSchema,
  markAsReadSchema,
  messageHistorySchema,
  sendMessageSchema,
  startConversationSchema,
  typingSchema,
} from '@platform/messaging-client/contract';
import type { AckResult, ClientEvent, ClientEventMap } from '@platform/messaging-client/contract';
import { ConversationsService } from '../conversations/conversations.service.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import type { LogContext } from '../infrastructure/observability/log-context.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { headerGetter } from '../infrastructure/observability/tracing.js';
import { MessagesService } from '../messages/messages.service.js';
import { CallPipeline, operation, type Operation, type OperationSpec, type TransportBinding } from '../transport/call-pipeline.js';
import { pageResponse } from '../transport/page-response.js';
import { TypingService } from '../typing/typing.service.js';
import { handshakeMiddleware } from './handshake.js';
import { SocketNotifier } from './socket-notifier.js';
import type { RoomSubscriptions } from './redis-adapter.js';
import { SocketQuota } from './socket-quota.js';
import { userRoom, type MessagingServer, type MessagingSocket } from './socket-types.js';

const EMPTY = {} as Record<string, never>;
/** setTimeout's ceiling; a longer-lived token is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a new socket's catch-up waits for its room's subscription on a Redis Cluster (an SSUBSCRIBE takes about a millisecond). */
const ROOM_SUBSCRIPTION_WAIT_MS = 1000;

type Ack = AckResult<unknown>;

/** The Socket.IO transport (CONTRACT §3.1): each event's schema, and the service call it makes as the socket's user. */
const events = (conversations: ConversationsService, messages: MessagesService, typing: TypingService): { [E in ClientEvent]: OperationSpec<ClientEventMap[E]['data']> } => ({
  startConversation: operation(startConversationSchema, async (actor, dto) => ({ conversation: await conversations.start(actor, dto) })),
  sendMessage: operation(sendMessageSchema, async (actor, dto) => ({ message: await messages.send(actor, dto) })),
  markAsDelivered: operation(markAsDeliveredSchema, (actor, dto) => messages.markDelivered(actor, dto).then(() => EMPTY)),
  markAsRead: operation(markAsReadSchema, (actor, dto) => messages.markRead(actor, dto).then(() => EMPTY)),
  startTyping: operation(typingSchema, (actor, dto) => typing.start(actor, dto).then(() => EMPTY)),
  stopTyping: operation(typingSchema, (actor, dto) => typing.stop(actor, dto).then(() => EMPTY)),
  listConversations: operation(listConversationsSchema, async (actor, dto) => pageResponse('conversations', await conversations.list(actor, dto)), {}),
  getMessageHistory: operation(messageHistorySchema, async (actor, dto) => pageResponse('messages', await messages.history(actor, dto))),
});

/**
 * The listener of each event, shared by every socket (Socket.IO calls it with the socket as `this`):
 * no closure, RxJS pipeline or Nest execution context per socket or per event (docs/performance.md).
 * The acknowledgement is the last argument when it is a function; a missing payload is undefined.
 */
function listeners(pipeline: CallPipeline<MessagingSocket, Ack, Record<string, unknown>>, operations: Record<ClientEvent, Operation<unknown>>) {
  return Object.values(operations).map((handler): [ClientEvent, (this: MessagingSocket, ...args: unknown[]) => void] => [
    handler.name as ClientEvent,
    function (this: MessagingSocket, ...args: unknown[]) {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (result: unknown) => void) : undefined;
      void pipeline.call(handler, this, args[0]).then((result) => ack?.(result));
    },
  ]);
}

/** What the Socket.IO transport brings to the call pipeline: the socket's user, the handshake's trace context, the ack union. */
class SocketBinding implements TransportBinding<MessagingSocket, Ack, Record<string, unknown>> {
  readonly traceGetter: TextMapGetter<Record<string, unknown>> = headerGetter;

  constructor(private readonly metrics: Metrics) {}

  span(event: string): { span: string; attributes: Record<string, string> } {
    return { span: `socket ${event}`, attributes: { 'messaging.event': event, 'rpc.system': 'socket.io', 'rpc.method': event } };
  }
  logContext(event: string, socket: MessagingSocket): LogContext {
    return { socketId: socket.id, event };
  }
  traceCarrier(socket: MessagingSocket): Record<string, unknown> {
    return handshakeTraceCarrier(socket);
  }
  /** The handshake authenticated the socket's user (src/websocket/handshake.ts). */
  identify(socket: MessagingSocket): Actor {
    return { userId: socket.data.userId, socketId: socket.id };
  }
  count(event: string, result: 'ok' | ErrorCode, startedMs: number): void {
    this.metrics.socketEvent(event, result, startedMs);
  }
  answer(data: unknown): Ack {
    return { ok: true, data };
  }
  refuse(error: AppError): Ack {
    return { ok: false, error: { code: error.code, message: error.message } };
  }
}

/** The Socket.IO transport (CONTRACT §3): handshake, rooms, catch-up, and the client's `events`. */
@WebSocketGateway()
export class MessagingGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('MessagingGateway');
  private readonly quota: SocketQuota;
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly listeners: ReturnType<typeof listeners>;
  private server?: MessagingServer;

  constructor(
    conversations: ConversationsService,
    private readonly messages: MessagesService,
    private readonly typing: TypingService,
    private readonly verifier: JwtVerifier,
    private readonly notifier: SocketNotifier,
    private readonly metrics: Metrics,
    private readonly lifecycle: Lifecycle,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.quota = new SocketQuota(config.maxSocketsPerUser);
    const pipeline = new CallPipeline(new SocketBinding(metrics), lifecycle, this.logger);
    this.listeners = listeners(pipeline, pipeline.operations(events(conversations, messages, typing)));
  }

  afterInit(server: MessagingServer): void {
    this.server = server;
    this.notifier.attach(server);
    server.use(handshakeMiddleware(this.verifier, this.quota, this.lifecycle));
  }

  async handleConnection(socket: MessagingSocket): Promise<void> {
    const { userId, expiresAt } = socket.data;
    for (const [event, listener] of this.listeners) socket.on(event, listener as never);
    this.metrics.connectedSockets.inc();
    socket.join(userRoom(userId));
    this.scheduleExpiry(socket, expiresAt);
    await this.roomSubscribed(socket, userRoom(userId));
    await this.catchUp(socket, userId);
  }

  /**
   * On a Redis Cluster an instance hears a room's broadcasts only once its channel is subscribed.
   * The catch-up waits for that, so that a message committed after the catch-up's query is
   * broadcast to a channel this instance already hears: nothing falls between the two. Bounded: while
   * Redis is away (the adapter's own state logs say so) the catch-up goes on without it, and the
   * client's seq gap fill covers what the live path missed (CONTRACT §3.3).
   */
  private async roomSubscribed(socket: MessagingSocket, room: string): Promise<void> {
    const adapter = socket.nsp.adapter as Partial<RoomSubscriptions>;
    if (!adapter.whenSubscribed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      adapter.whenSubscribed(room).catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ROOM_SUBSCRIPTION_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  handleDisconnect(socket: MessagingSocket): void {
    this.metrics.connectedSockets.dec();
    clearTimeout(this.expiryTimers.get(socket.id));
    this.expiryTimers.delete(socket.id);
    const userId = socket.data.userId;
    if (userId && !this.server?.sockets.adapter.rooms.get(userRoom(userId))?.size) this.typing.clearUser(userId);
  }

  /** Undelivered messages, oldest first: a client reconnecting after a gap gets what it missed. */
  private async catchUp(socket: MessagingSocket, userId: string): Promise<void> {
    try {
      for (const message of await this.messages.undeliveredFor(userId)) socket.emit('newMessage', message);
    } catch (error) {
      // The messages stay undelivered, so the next connection retries the catch-up.
      this.logger.warn(`catch-up for a socket failed: ${(error as Error).message}`);
    }
  }

  private readonly expire = (socket: MessagingSocket, expiresAt: number): void => this.scheduleExpiry(socket, expiresAt);

  private scheduleExpiry(socket: MessagingSocket, expiresAt: number): void {
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) {
      socket.disconnect(true);
      return;
    }
    // The shared bound method and arguments, not a closure per socket (docs/performance.md).
    const timer = setTimeout(this.expire, Math.min(remaining, MAX_TIMER_MS), socket, expiresAt).unref();
    this.expiryTimers.set(socket.id, timer);
  }
}

/**
 * The W3C trace context a client gave at the handshake: `traceparent` / `tracestate` headers, or
 * the same keys in `auth` (a browser's WebSocket cannot set headers). Every event of the socket
 * continues that trace.
 */
function handshakeTraceCarrier(socket: MessagingSocket): Record<string, unknown> {
  const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
  const carrier: Record<string, unknown> = { ...socket.handshake.headers };
  for (const key of ['traceparent', 'tracestate']) if (typeof auth[key] === 'string') carrier[key] = auth[key];
  return carrier;
}
