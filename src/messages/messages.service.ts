import { Inject, Injectable, Logger } from '@nestjs/common';
import { uuidv7 } from 'uuidv7';
import type { Actor } from '../contract/actor.js';
import { AppError } from '../contract/app-error.js';
import { cursorValue, decodeCursor, encodeCursor } from '../contract/cursor.js';
import { resolvePageSize } from '../contract/page-size.js';
import { REALTIME_NOTIFIER, type RealtimeNotifier } from '../contract/realtime-notifier.port.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { Message, Page } from '@platform/messaging-client/contract';
import type { MarkAsDeliveredDto, MarkAsReadDto, MessageHistoryDto, SendMessageDto } from '@platform/messaging-client/contract';
import { ConversationsService } from '../conversations/conversations.service.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { TypingService } from '../typing/typing.service.js';
import { assertValidText } from './message-text.js';
import { MessagesRepository } from './messages.repository.js';
import { RateLimiter } from '../admission/rate-limiter.js';
import { ReadAdmission, readConnections } from '../admission/read-admission.js';
import { SendPipeline } from './send-pipeline.js';

const HISTORY_PAGE = { default: 50, max: 100 };
/**
 * Receipts per user, both kinds together, as a multiple of RATE_LIMIT_MESSAGES_PER_SECOND (burst
 * twice that): every client event is rate-limited (CONTRACT §3.4). Receipts are high-water marks,
 * so a client needs about one per conversation that received something (the SDK coalesces them);
 * five times a sender's rate leaves room for many conversations at once.
 */
const RECEIPTS_PER_MESSAGE_RATE = 5;
export const CATCH_UP_LIMIT = 500;
/** Pool connections kept for receipts, catch-up and lookups, besides those of reads and send batches. */
const CONNECTIONS_FOR_THE_REST = 1;

@Injectable()
export class MessagesService {
  private readonly logger = new Logger('MessagesService');
  private readonly sendLimiter: RateLimiter;
  private readonly receiptLimiter: RateLimiter;
  private readonly maxLength: number;
  private readonly pipeline: SendPipeline;

  constructor(
    private readonly repository: MessagesRepository,
    private readonly conversations: ConversationsService,
    private readonly typing: TypingService,
    private readonly metrics: Metrics,
    @Inject(REALTIME_NOTIFIER) private readonly notifier: RealtimeNotifier,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly reads: ReadAdmission,
  ) {
    this.sendLimiter = new RateLimiter(config.rateLimitMessagesPerSecond, config.rateLimitMessagesPerSecond * 2);
    const receiptRate = config.rateLimitMessagesPerSecond * RECEIPTS_PER_MESSAGE_RATE;
    this.receiptLimiter = new RateLimiter(receiptRate, receiptRate * 2);
    this.maxLength = config.messageMaxLength;
    // The most send batches in flight at once (more than one only behind a slow statement): the pool
    // minus the reads' share and one for the rest, so that no read flood makes a send wait for a
    // connection (CONTRACT §3.4).
    const concurrency = Math.max(1, config.databasePoolSize - readConnections(config.databasePoolSize) - CONNECTIONS_FOR_THE_REST);
    this.pipeline = new SendPipeline(repository, { concurrency }, (error) => this.logger.error(`broadcasting a stored message failed: ${(error as Error).message}`));
  }

  /**
   * Stores the message and only then returns it (the caller acknowledges after this resolves).
   * A repeated clientMessageId returns the original and broadcasts nothing.
   */
  async send(actor: Actor, dto: SendMessageDto): Promise<Message> {
    assertValidText(dto.text, this.maxLength);
    if (!this.sendLimiter.tryTake(actor.userId)) throw new AppError('RESOURCE_EXHAUSTED', 'sending too fast; slow down');
    const membership = await this.conversations.requireMembership(actor, dto.conversationId);
    await this.conversations.requireConnected(actor.userId, membership.otherId);
    const outcome = await this.pipeline.submit(
      {
        id: uuidv7(),
        conversationId: dto.conversationId,
        senderId: actor.userId,
        recipientId: membership.otherId,
        recipientIsUserA: membership.otherId === membership.userA,
        text: dto.text,
        clientMessageId: dto.clientMessageId,
      },
      // Runs in seq order per conversation, right after the commit (CONTRACT §3.3).
      ({ message }) => {
        this.metrics.messagesStored.inc();
        this.typing.clearAfterSend(dto.conversationId, actor.userId);
        this.notifier.newMessage(message, membership.otherId, actor);
      },
    );
    return outcome.message;
  }

  async markDelivered(actor: Actor, dto: MarkAsDeliveredDto): Promise<void> {
    this.admitReceipt(actor);
    const membership = await this.conversations.requireMembership(actor, dto.conversationId);
    const outcome = await this.repository.markDelivered(dto.conversationId, actor.userId, dto.lastDeliveredMessageId);
    if (!outcome.targetFound) throw new AppError('NOT_FOUND', 'no such message in this conversation');
    if (outcome.newest) {
      this.notifier.messageDelivered(membership.otherId, {
        conversationId: dto.conversationId,
        messageId: outcome.newest.id,
        deliveredAt: outcome.newest.at.toISOString(),
      });
    }
  }

  async markRead(actor: Actor, dto: MarkAsReadDto): Promise<void> {
    this.admitReceipt(actor);
    const membership = await this.conversations.requireMembership(actor, dto.conversationId);
    const outcome = await this.repository.markRead(dto.conversationId, actor.userId, dto.lastReadMessageId);
    if (!outcome.targetFound) throw new AppError('NOT_FOUND', 'no such message in this conversation');
    if (outcome.newest) {
      this.notifier.messageRead(
        membership.otherId,
        {
          conversationId: dto.conversationId,
          messageId: outcome.newest.id,
          readAt: outcome.newest.at.toISOString(),
          readerId: actor.userId,
        },
        actor,
      );
    }
  }

  /** Newest first; the cursor is the seq below which the next page starts, so new messages never shift it. */
  async history(actor: Actor, dto: MessageHistoryDto): Promise<Page<Message>> {
    this.reads.admit(actor);
    await this.conversations.requireMembership(actor, dto.conversationId);
    const limit = resolvePageSize(dto.pageSize, HISTORY_PAGE);
    const beforeSeq = dto.paginationCursor ? decodeHistoryCursor(dto.paginationCursor) : undefined;
    const stopTimer = this.metrics.historyQuerySeconds.startTimer();
    const items = await this.reads.query(() => this.repository.history(dto.conversationId, beforeSeq, limit));
    stopTimer();
    // seq has no gaps: the page that ends at seq 1 is the last one.
    const oldest = items.at(-1);
    return { items, nextCursor: oldest && oldest.seq > 1 ? encodeCursor('h1', [oldest.seq]) : undefined };
  }

  private admitReceipt(actor: Actor): void {
    if (!this.receiptLimiter.tryTake(actor.userId)) throw new AppError('RESOURCE_EXHAUSTED', 'marking too fast; slow down');
  }

  /** What a user missed while offline: undelivered messages addressed to them, oldest first. */
  async undeliveredFor(userId: string): Promise<Message[]> {
    return this.repository.undelivered(userId, CATCH_UP_LIMIT);
  }
}

function decodeHistoryCursor(raw: string): number {
  const [seq] = decodeCursor<[number]>('h1', raw, (values): values is [number] => values.length === 1 && cursorValue.seq(values[0]));
  return seq;
}
