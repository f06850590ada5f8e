import type { Message } from '@platform/messaging-client/contract';

export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  recipientId: string;
  /** Whether the recipient is the conversation's user_a (whose unread counter moves). */
  recipientIsUserA: boolean;
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

/** What runs once a message is committed, before its conversation's next batch starts: the broadcast. */
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

/** How long a batch in flight holds the next one back: about two commits under load. */
export const OVERLAP_AFTER_MS = 2;

export interface SendPipelineOptions {
  /** Most batches in flight at once. */
  concurrency: number;
  maxBatch?: number;
  /** The next batch starts beside those in flight only once the youngest of them is this old. */
  overlapAfterMs?: number;
}

/**
 * Group commit for sends (docs/design.md, "Storage"). One batch is in flight at a time as long as
 * it commits within `overlapAfterMs`: what arrives meanwhile waits and shares the next statement and
 * commit, so that a busier instance writes bigger batches rather than more statements (each costs
 * PostgreSQL and the service a round trip and a commit; docs/performance.md, "One statement in
 * flight"). A statement slower than that (a row lock held by another instance, a slow flush) is
 * overlapped by the next batch, up to `concurrency` in flight, so that it delays only its own
 * conversations. Never are two batches of one conversation in flight: every send to a conversation
 * whose batch is in flight joins that conversation's next batch. So a burst of sends to one
 * conversation shares one statement and one commit instead of queueing behind each other's round
 * trips.
 *
 * Order: seq is assigned inside the statement in arrival order, and a conversation's next batch
 * starts only after `afterCommit` ran for each message of the previous one, in input order. So each
 * conversation's messages are broadcast by this instance in seq order.
 */
export class SendPipeline {
  private queue: Pending[] = [];
  private readonly busy = new Set<string>();
  /** When each batch in flight started (performance.now()). */
  private readonly inFlight: number[] = [];
  private scheduled = false;
  private readonly concurrency: number;
  private readonly maxBatch: number;
  private readonly overlapAfterMs: number;
  /** Armed while queued sends are held back by a young batch in flight. */
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: BatchStore,
    options: SendPipelineOptions,
    private readonly onAfterCommitError: (error: unknown) => void,
  ) {
    this.concurrency = options.concurrency;
    this.maxBatch = options.maxBatch ?? 256;
    this.overlapAfterMs = options.overlapAfterMs ?? OVERLAP_AFTER_MS;
  }

  /** Resolves after the message's commit and its `afterCommit`. */
  submit(message: NewMessage, afterCommit: AfterCommit): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, afterCommit, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // While a statement is in flight, gather what this turn of the event loop brings (every socket
      // read of its poll phase) into the next one: that is where batches form under load. With none in
      // flight nothing is worth waiting for: a lone send leaves as soon as the event that brought it
      // is handled (with whatever else that event submitted), not after the rest of the loop's phase.
      if (this.inFlight.length === 0) process.nextTick(this.dispatchScheduled);
      else setImmediate(this.dispatchScheduled);
    });
  }

  private readonly dispatchScheduled = (): void => {
    this.scheduled = false;
    this.dispatch();
  };

  private readonly dispatchHeld = (): void => {
    this.holdTimer = undefined;
    this.dispatch();
  };

  private dispatch(): void {
    while (this.inFlight.length < this.concurrency && this.queue.length > 0) {
      const now = performance.now();
      const held = this.inFlight.length === 0 ? 0 : Math.max(...this.inFlight) + this.overlapAfterMs - now;
      if (held > 0) {
        this.holdTimer ??= setTimeout(this.dispatchHeld, held).unref();
        return;
      }
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.inFlight.push(now);
      void this.write(batch).finally(() => {
        this.inFlight.splice(this.inFlight.indexOf(now), 1);
        for (const pending of batch) this.busy.delete(pending.message.conversationId);
        this.dispatch();
      });
    }
  }

  /** The queued sends of conversations with no batch in flight, in arrival order, up to maxBatch. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const taken = new Set<string>();
    for (const pending of this.queue) {
      const conversationId = pending.message.conversationId;
      const joins = taken.has(conversationId) || !this.busy.has(conversationId);
      if (joins && batch.length < this.maxBatch) {
        batch.push(pending);
        taken.add(conversationId);
      } else {
        rest.push(pending);
      }
    }
    // Busy from now on, so that the rest of a conversation cut by maxBatch waits for this batch.
    for (const conversationId of taken) this.busy.add(conversationId);
    this.queue = rest;
    return batch;
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
