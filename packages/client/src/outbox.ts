import { backoffDelay, sleep, type RetryPolicy } from './backoff.js';
import type { Calls } from './calls.js';
import type { ChangeFeed } from './changes.js';
import type { Connection } from './connection.js';
import type { ChatMessage, ConversationStore } from './conversation-store.js';
import { isRetryable, MessagingError, toMessagingError } from './errors.js';
import { randomId } from './ids.js';
import type { Stores } from './stores.js';
import type { Sync } from './sync.js';

export interface OutboxParts {
  calls: Calls;
  connection: Connection;
  stores: Stores;
  changes: ChangeFeed;
  sync: Sync;
  policy: RetryPolicy;
  random: () => number;
}

/**
 * Our messages on their way out: each shows at once as `sending`, gets one clientMessageId for
 * all its attempts (the server stores it once), is retried with backoff on what retrying can fix,
 * and ends `sent` or `failed`. The messages of one conversation go out one after the other, in the
 * order they were written.
 */
export class Outbox {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly parts: OutboxParts) {}

  /** Resolves with the message once `sent` or `failed`; never rejects. */
  send(conversationId: string, text: string): Promise<ChatMessage> {
    const store = this.parts.stores.for(conversationId);
    const clientMessageId = randomId();
    const pending = store.addPending(clientMessageId, text, new Date().toISOString());
    this.parts.changes.messages(conversationId);
    return this.enqueue(conversationId, () => this.deliver(store, clientMessageId)).then((message) => message ?? pending);
  }

  /** Sends a `failed` message again, under its clientMessageId. */
  retry(conversationId: string, key: string): Promise<ChatMessage> {
    const store = this.parts.stores.for(conversationId);
    const message = store.get(key);
    if (!message) return Promise.reject(new MessagingError('NOT_FOUND', 'no such message'));
    if (message.status !== 'failed') return Promise.resolve(message);
    store.setPendingState(key, 'sending', message.error);
    this.parts.changes.messages(conversationId);
    return this.enqueue(conversationId, () => this.deliver(store, key)).then((result) => result ?? message);
  }

  /** Drops a `failed` message. */
  discard(conversationId: string, key: string): boolean {
    const store = this.parts.stores.get(conversationId);
    if (store?.get(key)?.status !== 'failed') return false;
    store.discardPending(key);
    this.parts.changes.messages(conversationId);
    return true;
  }

  private enqueue<T>(conversationId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(conversationId) ?? Promise.resolve();
    const next = previous.then(task, task);
    this.queues.set(
      conversationId,
      next.catch(() => undefined),
    );
    return next;
  }

  private async deliver(store: ConversationStore, clientMessageId: string): Promise<ChatMessage | undefined> {
    const { calls, connection, changes, sync, policy, random } = this.parts;
    const conversationId = store.conversationId;
    let lastError: MessagingError | undefined;
    for (let attempt = 0; attempt < policy.maxAttempts; attempt++) {
      if (attempt > 0) {
        if (store.setPendingState(clientMessageId, 'sending', lastError && { code: lastError.code, message: lastError.message })) changes.messages(conversationId);
        await sleep(backoffDelay(attempt - 1, policy, random));
      }
      // Stored meanwhile (a late acknowledgement, a history sync), or discarded.
      if (!store.isPending(clientMessageId)) break;
      if (connection.isClosed) {
        lastError = new MessagingError('NOT_CONNECTED', 'the client is closed');
        break;
      }
      try {
        await connection.waitFor(calls.ackTimeoutMs);
        const text = store.get(clientMessageId)?.text ?? '';
        const { message } = await calls.call('sendMessage', { conversationId, text, clientMessageId }, (result) => {
          if (result.ok) sync.onOwnStored(result.data.message);
        });
        sync.onOwnStored(message);
        break;
      } catch (caught) {
        lastError = toMessagingError(caught);
        if (!isRetryable(lastError)) break;
      }
    }
    if (store.isPending(clientMessageId)) {
      const error = lastError ?? new MessagingError('INTERNAL', 'not sent');
      store.setPendingState(clientMessageId, 'failed', { code: error.code, message: error.message });
      changes.messages(conversationId);
    }
    return store.get(clientMessageId);
  }
}
