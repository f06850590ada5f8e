import type { MessageRow } from '../common/message-row.js';
import type { InsertOutcome, NewMessage } from './messages.repository.js';

export interface MessageStore {
  insert(message: NewMessage): Promise<InsertOutcome>;
  insertMany(messages: NewMessage[]): Promise<MessageRow[]>;
}

interface Pending {
  message: NewMessage;
  resolve(outcome: InsertOutcome): void;
  reject(error: unknown): void;
}

/**
 * Groups the sends that arrive in one event-loop tick into one multi-row INSERT: one round trip
 * and one commit for many messages, which is what lets a few database connections carry a high
 * message rate. Each caller still resolves only after the commit that holds its message. A batch
 * that fails (a repeated clientMessageId, say, even twice in one batch) is retried message by
 * message, where the unique index sorts out originals and repeats, so one bad message never fails
 * the others.
 */
export class InsertBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: MessageStore,
    private readonly maxBatch = 200,
  ) {}

  insert(message: NewMessage): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queued = this.queue;
    this.queue = [];
    for (let start = 0; start < queued.length; start += this.maxBatch) {
      void this.write(queued.slice(start, start + this.maxBatch));
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.writeOne(batch[0]!);
    try {
      const rows = await this.store.insertMany(batch.map((pending) => pending.message));
      batch.forEach((pending, index) => pending.resolve({ created: true, row: rows[index]! }));
    } catch {
      await Promise.all(batch.map((pending) => this.writeOne(pending)));
    }
  }

  private async writeOne(pending: Pending): Promise<void> {
    try {
      pending.resolve(await this.store.insert(pending.message));
    } catch (error) {
      pending.reject(error);
    }
  }
}
