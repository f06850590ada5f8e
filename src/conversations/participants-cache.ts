import type { Participants } from './conversation-pair.js';

/**
 * A bounded map of conversation id → participants. Participants never change, so entries never
 * go stale; when full, the oldest entry is dropped (Map keeps insertion order).
 */
export class ParticipantsCache {
  private readonly entries = new Map<string, Participants>();

  constructor(private readonly capacity: number) {}

  get(conversationId: string): Participants | undefined {
    return this.entries.get(conversationId);
  }

  set(participants: Participants): void {
    if (this.entries.size >= this.capacity && !this.entries.has(participants.conversationId)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(participants.conversationId, participants);
  }
}
