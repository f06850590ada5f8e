import type { Message } from '../contract/models.js';

export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  recipientId: string;
  text: string;
  clientMessageId?: string;
}

/** A send's result: the stored message, and whether this call stored it (false: a retry of an earlier clientMessageId). */
export interface InsertOutcome {
  created: boolean;
  message: Message;
}


export interface BatchStore {
  insertBatch(messages: NewMessage[]): Promise<InsertOutcome[]>;
  insertOne(message: NewMessage): Promise<InsertOutcome>;
  isRetryableOneByOne(error: unknown): boolean;
}

/** What runs once a message is committed, before any later message of its lane: the broadcast. */
export type AfterCommit = (outcome: InsertOutcome) => void;

interface Pending {
  message: NewMessage;
  afterCommit: AfterCommit;
  resolve(outcome: InsertOutcome): void;
  reject(error: unknown): void;
  /** An earlier send of the same batch with this one's (sender, clientMessageId): this one is its retry. */
  original?: Pending;
  outcome?: InsertOutcome;
}

/**
 * Group commit for sends (docs/design.md, "The send path"). Conversations are spread over a few
 * lanes by id; each lane has at most one batch in flight, and every send that arrives meanwhile
 * joins the next batch, so a burst of sends to one conversation shares one statement and one
 * commit instead of queueing behind each other's round trips.
 *
 * Order: seq is assigned inside the statement in arrival order, and a lane runs its batches one
 * after another, calling `afterCommit` for each message in input order before starting the next
 * batch. So each conversation's messages are broadcast by this instance in seq order, without a
 * lock or a queue per conversation.
 */
export class SendPipeline {
  private readonly lanes: Lane[];

  constructor(store: BatchStore, lanes: number, onAfterCommitError: (error: unknown) => void, maxBatch = 256) {
    this.lanes = Array.from({ length: Math.max(1, lanes) }, () => new Lane(store, maxBatch, onAfterCommitError));
  }

  /** Resolves after the message's commit and its `afterCommit`. */
  submit(message: NewMessage, afterCommit: AfterCommit): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.lanes[laneOf(message.conversationId, this.lanes.length)]!.push({ message, afterCommit, resolve, reject });
    });
  }
}

class Lane {
  private queue: Pending[] = [];
  private busy = false;

  constructor(
    private readonly store: BatchStore,
    private readonly maxBatch: number,
    private readonly onAfterCommitError: (error: unknown) => void,
  ) {}

  push(pending: Pending): void {
    this.queue.push(pending);
    if (this.busy) return;
    this.busy = true;
    // Gather what this turn of the event loop brings before the first statement.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
      await this.write(batch);
    }
    this.busy = false;
  }

  private async write(batch: Pending[]): Promise<void> {
    const distinct = markRetriesWithinBatch(batch);
    try {
      const outcomes = await this.store.insertBatch(distinct.map((pending) => pending.message));
      distinct.forEach((pending, index) => (pending.outcome = outcomes[index]));
    } catch (error) {
      if (!this.store.isRetryableOneByOne(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      // A clientMessageId committed meanwhile by another instance: one by one, in order.
      for (const pending of distinct) {
        try {
          pending.outcome = await this.store.insertOne(pending.message);
        } catch (single) {
          pending.reject(single);
        }
      }
    }
    for (const pending of batch) settle(pending, this.onAfterCommitError);
  }
}

function settle(pending: Pending, onAfterCommitError: (error: unknown) => void): void {
  const stored = pending.original ? pending.original.outcome : pending.outcome;
  if (!stored) {
    if (pending.original) pending.reject(new Error('the original of this retry was not stored'));
    return;
  }
  const outcome = pending.original ? { created: false, message: stored.message } : stored;
  try {
    if (outcome.created) pending.afterCommit(outcome);
  } catch (error) {
    // Stored all the same: the sender gets its ack, the recipient its catch-up.
    onAfterCommitError(error);
  }
  pending.resolve(outcome);
}

/** Sends of one batch repeating an earlier one's (sender, clientMessageId) become its retries. */
function markRetriesWithinBatch(batch: Pending[]): Pending[] {
  const seen = new Map<string, Pending>();
  const distinct: Pending[] = [];
  for (const pending of batch) {
    const { senderId, clientMessageId } = pending.message;
    if (clientMessageId === undefined) {
      distinct.push(pending);
      continue;
    }
    const key = `${senderId}\u0000${clientMessageId}`;
    const original = seen.get(key);
    if (original) pending.original = original;
    else {
      seen.set(key, pending);
      distinct.push(pending);
    }
  }
  return distinct;
}

/** FNV-1a over the id: stable, cheap, spreads uuidv7s (whose first characters are a timestamp). */
function laneOf(id: string, lanes: number): number {
  if (lanes === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}
