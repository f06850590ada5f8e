import { Inject, Injectable } from '@nestjs/common';
import { uuidv7 } from 'uuidv7';
import type { Actor } from '../contract/actor.js';
import { RateLimiter } from '../admission/rate-limiter.js';
import { ReadAdmission } from '../admission/read-admission.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { AppError } from '../contract/app-error.js';
import { cursorValue, decodeCursor, encodeCursor } from '../contract/cursor.js';
import { resolvePageSize } from '../contract/page-size.js';
import type { Conversation, ConversationSummary, Page } from '@platform/messaging-client/contract';
import type { ListConversationsDto, StartConversationDto } from '@platform/messaging-client/contract';
import { CONNECTION_CHECKER, type ConnectionChecker } from './connection-checker.port.js';
import { orderedPair, otherParticipant, participantsOf, type Participants } from './conversation-pair.js';
import { ParticipantsCache } from './participants-cache.js';
import { ConversationsRepository } from './conversations.repository.js';

const LIST_PAGE = { default: 20, max: 100 };

/** A participant's view of a conversation: who the other side is. */
export interface Membership extends Participants {
  otherId: string;
}

@Injectable()
export class ConversationsService {
  private readonly participants = new ParticipantsCache(100_000);
  private readonly startLimiter: RateLimiter;

  constructor(
    private readonly repository: ConversationsRepository,
    @Inject(CONNECTION_CHECKER) private readonly connections: ConnectionChecker,
    private readonly reads: ReadAdmission,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const perMinute = config.rateLimitConversationsPerMinute;
    this.startLimiter = new RateLimiter(perMinute / 60, perMinute * 2);
  }

  async start(actor: Actor, dto: StartConversationDto): Promise<Conversation> {
    if (dto.participantId === actor.userId) throw AppError.invalidArgument('cannot start a conversation with oneself');
    // Before the Connections call: every user shares its circuit breaker, so one user's flood of
    // starts with new people (no cached answer) must not be able to open it for everyone.
    if (!this.startLimiter.tryTake(actor.userId)) throw new AppError('RESOURCE_EXHAUSTED', 'starting conversations too fast; slow down');
    await this.requireConnected(actor.userId, dto.participantId);
    const [userA, userB] = orderedPair(actor.userId, dto.participantId);
    const conversation = await this.repository.findOrCreate(uuidv7(), userA, userB);
    this.participants.set(participantsOf(conversation));
    return conversation;
  }

  /**
   * The actor's membership of a conversation. Unknown conversations and other people's both give
   * PERMISSION_DENIED, so that ids cannot be probed. Participants never change, so they are cached.
   */
  async requireMembership(actor: Actor, conversationId: string): Promise<Membership> {
    let participants = this.participants.get(conversationId);
    if (!participants) {
      const conversation = await this.repository.findById(conversationId);
      if (conversation) {
        participants = participantsOf(conversation);
        this.participants.set(participants);
      }
    }
    const otherId = participants && otherParticipant(participants, actor.userId);
    if (!participants || otherId === undefined) throw AppError.permissionDenied();
    return { ...participants, otherId };
  }

  async requireConnected(userId: string, otherId: string): Promise<void> {
    if (!(await this.connections.areConnected(userId, otherId))) {
      throw AppError.permissionDenied('not a first-degree connection');
    }
  }

  async list(actor: Actor, dto: ListConversationsDto): Promise<Page<ConversationSummary>> {
    this.reads.admit(actor);
    const limit = resolvePageSize(dto.pageSize, LIST_PAGE);
    const after = dto.cursor ? decodeActivityCursor(dto.cursor) : undefined;
    const rows = await this.reads.query(() => this.repository.listForUser(actor.userId, after, limit + 1));
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return {
      items: rows.slice(0, limit),
      nextCursor: last ? encodeCursor('c1', [last.updatedAt, last.conversationId]) : undefined,
    };
  }
}

function decodeActivityCursor(raw: string) {
  const [updatedAt, conversationId] = decodeCursor<[string, string]>('c1', raw, (values): values is [string, string] =>
    values.length === 2 && cursorValue.timestamp(values[0]) && cursorValue.uuid(values[1]),
  );
  return { updatedAt: new Date(updatedAt), conversationId };
}
