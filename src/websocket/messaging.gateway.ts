import { SpanKind } from '@opentelemetry/api';
import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { z } from 'zod';
import type { Actor } from '../common/actor.js';
import { describeCause, isServerFault, toAppError } from '../common/app-error.js';
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
} from '../contract/schemas.js';
import type { AckResult, ClientEvent, ClientEventMap } from '../contract/socket-contract.js';
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
import { SocketQuota } from './socket-quota.js';
import { userRoom, type MessagingServer, type MessagingSocket } from './socket-types.js';

type Result<E extends ClientEvent> = Promise<AckResult<ClientEventMap[E]['data']>>;
const EMPTY = {} as Record<string, never>;
/** setTimeout's ceiling; a longer-lived token is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The Socket.IO transport (CONTRACT §3): each handler validates and calls a service as the socket's user. */
@WebSocketGateway()
export class MessagingGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('MessagingGateway');
  private readonly quota: SocketQuota;
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private server?: MessagingServer;

  constructor(
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesService,
    private readonly typing: TypingService,
    private readonly verifier: JwtVerifier,
    private readonly notifier: SocketNotifier,
    private readonly metrics: Metrics,
    private readonly lifecycle: Lifecycle,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.quota = new SocketQuota(config.maxSocketsPerUser);
  }

  @SubscribeMessage('startConversation')
  startConversation(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'startConversation'> {
    return this.handle('startConversation', socket, startConversationSchema, body, async (actor, dto) => ({ conversation: await this.conversations.start(actor, dto) }));
  }

  @SubscribeMessage('sendMessage')
  sendMessage(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'sendMessage'> {
    const stopTimer = this.metrics.messageHandlingSeconds.startTimer();
    return this.handle('sendMessage', socket, sendMessageSchema, body, async (actor, dto) => ({ message: await this.messages.send(actor, dto) })).finally(stopTimer);
  }

  @SubscribeMessage('markAsDelivered')
  markAsDelivered(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'markAsDelivered'> {
    return this.handle('markAsDelivered', socket, markAsDeliveredSchema, body, (actor, dto) => this.messages.markDelivered(actor, dto).then(() => EMPTY));
  }

  @SubscribeMessage('markAsRead')
  markAsRead(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'markAsRead'> {
    return this.handle('markAsRead', socket, markAsReadSchema, body, (actor, dto) => this.messages.markRead(actor, dto).then(() => EMPTY));
  }

  @SubscribeMessage('startTyping')
  startTyping(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'startTyping'> {
    return this.handle('startTyping', socket, typingSchema, body, (actor, dto) => this.typing.start(actor, dto).then(() => EMPTY));
  }

  @SubscribeMessage('stopTyping')
  stopTyping(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'stopTyping'> {
    return this.handle('stopTyping', socket, typingSchema, body, (actor, dto) => this.typing.stop(actor, dto).then(() => EMPTY));
  }

  @SubscribeMessage('listConversations')
  listConversations(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'listConversations'> {
    return this.handle('listConversations', socket, listConversationsSchema, body ?? {}, async (actor, dto) => {
      const page = await this.conversations.list(actor, dto);
      return { conversations: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    });
  }

  @SubscribeMessage('getMessageHistory')
  getMessageHistory(@ConnectedSocket() socket: MessagingSocket, @MessageBody() body: unknown): Result<'getMessageHistory'> {
    return this.handle('getMessageHistory', socket, messageHistorySchema, body, async (actor, dto) => {
      const page = await this.messages.history(actor, dto);
      return { messages: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    });
  }

  afterInit(server: MessagingServer): void {
    this.server = server;
    this.notifier.attach(server);
    server.use(handshakeMiddleware(this.verifier, this.quota, this.lifecycle));
  }

  async handleConnection(socket: MessagingSocket): Promise<void> {
    const { userId, expiresAt } = socket.data;
    this.metrics.connectedSockets.inc();
    socket.join(userRoom(userId));
    this.scheduleExpiry(socket, expiresAt);
    await this.catchUp(socket, userId);
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

  private scheduleExpiry(socket: MessagingSocket, expiresAt: number): void {
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) {
      socket.disconnect(true);
      return;
    }
    const timer = setTimeout(() => this.scheduleExpiry(socket, expiresAt), Math.min(remaining, MAX_TIMER_MS)).unref();
    this.expiryTimers.set(socket.id, timer);
  }

  private async handle<E extends ClientEvent, S extends z.ZodType>(
    event: E,
    socket: MessagingSocket,
    schema: S,
    body: unknown,
    action: (actor: Actor, dto: z.output<S>) => Promise<ClientEventMap[E]['data']>,
  ): Result<E> {
    return this.lifecycle.track(
      withLogContext({ socketId: socket.id, event }, () =>
        traced(`socket ${event}`, { 'messaging.event': event, 'rpc.system': 'socket.io', 'rpc.method': event }, () => this.respond(event, socket, schema, body, action), {
          kind: SpanKind.SERVER,
          remote: { carrier: handshakeTraceCarrier(socket), getter: headerGetter },
        }),
      ),
    );
  }

  private async respond<E extends ClientEvent, S extends z.ZodType>(
    event: E,
    socket: MessagingSocket,
    schema: S,
    body: unknown,
    action: (actor: Actor, dto: z.output<S>) => Promise<ClientEventMap[E]['data']>,
  ): Result<E> {
    try {
      const data = await action({ userId: socket.data.userId, socketId: socket.id }, parsePayload(schema, body));
      this.metrics.socketEvents.inc({ event, result: 'ok' });
      return { ok: true, data };
    } catch (caught) {
      const error = toAppError(caught);
      this.metrics.socketEvents.inc({ event, result: error.code });
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
