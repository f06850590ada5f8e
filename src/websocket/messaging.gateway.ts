import { SpanKind } from '@opentelemetry/api';
import { Inject, Logger } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import type { z } from 'zod';
import type { Actor } from '../contract/actor.js';
import { isServerFault } from '../contract/app-error.js';
import { describeCause, toAppError } from '../infrastructure/prisma/driver-errors.js';
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
import { parsePayload } from '../contract/validate.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { withLogContext } from '../infrastructure/observability/log-context.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { headerGetter, traced } from '../infrastructure/observability/tracing.js';
import { MessagesService } from '../messages/messages.service.js';
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

interface Handler<E extends ClientEvent, S extends z.ZodType = z.ZodType> {
  schema: S;
  run(gateway: MessagingGateway, actor: Actor, dto: z.output<S>): Promise<ClientEventMap[E]['data']>;
}
const handler = <E extends ClientEvent, S extends z.ZodType>(schema: S, run: Handler<E, S>['run']): Handler<E, S> => ({ schema, run });

/** The Socket.IO transport (CONTRACT §3.1): each event's schema, and the service call it makes as the socket's user. */
const EVENTS: { [E in ClientEvent]: Handler<E> } = {
  startConversation: handler(startConversationSchema, async (g, actor, dto) => ({ conversation: await g.conversations.start(actor, dto) })),
  sendMessage: handler(sendMessageSchema, async (g, actor, dto) => ({ message: await g.messages.send(actor, dto) })),
  markAsDelivered: handler(markAsDeliveredSchema, (g, actor, dto) => g.messages.markDelivered(actor, dto).then(() => EMPTY)),
  markAsRead: handler(markAsReadSchema, (g, actor, dto) => g.messages.markRead(actor, dto).then(() => EMPTY)),
  startTyping: handler(typingSchema, (g, actor, dto) => g.typing.start(actor, dto).then(() => EMPTY)),
  stopTyping: handler(typingSchema, (g, actor, dto) => g.typing.stop(actor, dto).then(() => EMPTY)),
  listConversations: handler(listConversationsSchema, async (g, actor, dto) => {
    const page = await g.conversations.list(actor, dto);
    return { conversations: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }),
  getMessageHistory: handler(messageHistorySchema, async (g, actor, dto) => {
    const page = await g.messages.history(actor, dto);
    return { messages: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }),
};

/**
 * The listener of each event, shared by every socket (Socket.IO calls it with the socket as `this`):
 * no closure, RxJS pipeline or Nest execution context per socket or per event (docs/performance.md).
 * The acknowledgement is the last argument when it is a function; a missing payload is undefined.
 */
function listeners(gateway: MessagingGateway): Array<[ClientEvent, (this: MessagingSocket, ...args: unknown[]) => void]> {
  return (Object.keys(EVENTS) as ClientEvent[]).map((event) => [
    event,
    function (this: MessagingSocket, ...args: unknown[]) {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (result: unknown) => void) : undefined;
      void gateway.handle(event, this, args[0]).then((result) => ack?.(result));
    },
  ]);
}

/** The Socket.IO transport (CONTRACT §3): handshake, rooms, catch-up, and the events of EVENTS. */
@WebSocketGateway()
export class MessagingGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('MessagingGateway');
  private readonly quota: SocketQuota;
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly listeners = listeners(this);
  private server?: MessagingServer;

  constructor(
    readonly conversations: ConversationsService,
    readonly messages: MessagesService,
    readonly typing: TypingService,
    private readonly verifier: JwtVerifier,
    private readonly notifier: SocketNotifier,
    private readonly metrics: Metrics,
    private readonly lifecycle: Lifecycle,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.quota = new SocketQuota(config.maxSocketsPerUser);
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

  /** Validate, call as the socket's user, map errors, measure: the one path of every event. */
  handle<E extends ClientEvent>(event: E, socket: MessagingSocket, body: unknown): Promise<AckResult<ClientEventMap[E]['data']>> {
    return this.lifecycle.track(
      withLogContext({ socketId: socket.id, event }, () =>
        traced(`socket ${event}`, { 'messaging.event': event, 'rpc.system': 'socket.io', 'rpc.method': event }, () => this.respond(event, socket, body), {
          kind: SpanKind.SERVER,
          remote: { carrier: () => handshakeTraceCarrier(socket), getter: headerGetter },
        }),
      ),
    );
  }

  private async respond<E extends ClientEvent>(event: E, socket: MessagingSocket, body: unknown): Promise<AckResult<ClientEventMap[E]['data']>> {
    const started = performance.now();
    const { schema, run } = EVENTS[event] as Handler<E>;
    try {
      const data = await run(this, { userId: socket.data.userId, socketId: socket.id }, parsePayload(schema, event === 'listConversations' ? (body ?? {}) : body));
      this.metrics.socketEvent(event, 'ok', started);
      return { ok: true, data };
    } catch (caught) {
      const error = toAppError(caught);
      this.metrics.socketEvent(event, error.code, started);
      if (isServerFault(error)) this.logger.error(`${event} failed with ${error.code}: ${describeCause(caught)}`);
      return { ok: false, error: { code: error.code, message: error.message } };
    }
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
