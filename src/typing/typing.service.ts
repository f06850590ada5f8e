import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Actor } from '../contract/actor.js';
import { REALTIME_NOTIFIER, type RealtimeNotifier } from '../contract/realtime-notifier.port.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { TypingDto } from '@platform/messaging-client/contract';
import { AppError } from '../contract/app-error.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { RateLimiter } from '../admission/rate-limiter.js';

const TYPING_EVENTS_PER_SECOND = 5;

interface TypingState {
  conversationId: string;
  typistId: string;
  otherId: string;
  timer: NodeJS.Timeout;
}

/**
 * Typing indicators: never stored, kept per instance. The other side hears `typing` once when a
 * user starts, and `typingStopped` on stop, on send, on the typist's last disconnect, or when
 * TYPING_TIMEOUT_MS passes without a new startTyping (each one pushes the deadline back).
 */
@Injectable()
export class TypingService implements OnModuleDestroy {
  private readonly active = new Map<string, TypingState>();
  private readonly timeoutMs: number;
  /** Clients send startTyping about every 2 s; far more is abuse, refused before any work. */
  private readonly limiter = new RateLimiter(TYPING_EVENTS_PER_SECOND, TYPING_EVENTS_PER_SECOND * 4);

  constructor(
    private readonly conversations: ConversationsService,
    @Inject(REALTIME_NOTIFIER) private readonly notifier: RealtimeNotifier,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.timeoutMs = config.typingTimeoutMs;
  }

  async start(actor: Actor, dto: TypingDto): Promise<void> {
    this.takeToken(actor);
    const { otherId } = await this.conversations.requireMembership(actor, dto.conversationId);
    const key = stateKey(dto.conversationId, actor.userId);
    const existing = this.active.get(key);
    if (existing) {
      existing.timer.refresh();
      return;
    }
    const timer = setTimeout(() => this.stopState(key), this.timeoutMs).unref();
    this.active.set(key, { conversationId: dto.conversationId, typistId: actor.userId, otherId, timer });
    this.notifier.typing(otherId, { conversationId: dto.conversationId, userId: actor.userId });
  }

  /** Always tells the other side, even when this instance saw no startTyping: it may have been another's. */
  async stop(actor: Actor, dto: TypingDto): Promise<void> {
    this.takeToken(actor);
    const { otherId } = await this.conversations.requireMembership(actor, dto.conversationId);
    const key = stateKey(dto.conversationId, actor.userId);
    const existing = this.active.get(key);
    if (existing) {
      clearTimeout(existing.timer);
      this.active.delete(key);
    }
    this.notifier.typingStopped(otherId, { conversationId: dto.conversationId, userId: actor.userId });
  }

  clearAfterSend(conversationId: string, typistId: string): void {
    this.stopState(stateKey(conversationId, typistId));
  }

  /** The typist's last socket went away: every indicator they had up comes down. */
  clearUser(typistId: string): void {
    for (const [key, state] of this.active) {
      if (state.typistId === typistId) this.stopState(key);
    }
  }

  onModuleDestroy(): void {
    for (const state of this.active.values()) clearTimeout(state.timer);
    this.active.clear();
  }

  private takeToken(actor: Actor): void {
    if (!this.limiter.tryTake(actor.userId)) throw new AppError('RESOURCE_EXHAUSTED', 'typing events too fast; slow down');
  }

  private stopState(key: string): void {
    const state = this.active.get(key);
    if (!state) return;
    clearTimeout(state.timer);
    this.active.delete(key);
    this.notifier.typingStopped(state.otherId, { conversationId: state.conversationId, userId: state.typistId });
  }
}

function stateKey(conversationId: string, typistId: string): string {
  return `${conversationId}\u0000${typistId}`;
}
