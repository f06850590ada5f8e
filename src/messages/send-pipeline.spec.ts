import { describe, expect, it, vi } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import { SendPipeline, type BatchStore, type InsertOutcome, type NewMessage } from './send-pipeline.js';

/** An in-memory store that numbers per conversation and lets the test hold each batch's commit. */
class FakeStore implements BatchStore {
  readonly batches: string[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  failNext?: Error;
  private readonly seqs = new Map<string, number>();
  private readonly byClientId = new Map<string, Message>();
  private readonly held: Array<() => void> = [];

  readonly startedAt: number[] = [];

  async insertBatch(messages: NewMessage[]): Promise<InsertOutcome[]> {
    this.batches.push(messages.map((m) => m.text));
    this.startedAt.push(performance.now());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => this.held.push(resolve));
    this.inFlight--;
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    return messages.map((m) => this.store(m));
  }

  async insertOne(message: NewMessage): Promise<InsertOutcome> {
    return this.store(message);
  }

  isRetryableOneByOne(error: unknown): boolean {
    return (error as Error).message === 'unique violation';
  }

  /** Commits every batch waiting so far. */
  commit(): void {
    for (const release of this.held.splice(0)) release();
  }

  private store(m: NewMessage): InsertOutcome {
    const key = `${m.senderId}/${m.clientMessageId}`;
    const original = m.clientMessageId ? this.byClientId.get(key) : undefined;
    if (original) return { created: false, message: original };
    const seq = (this.seqs.get(m.conversationId) ?? 0) + 1;
    this.seqs.set(m.conversationId, seq);
    const message: Message = { messageId: m.id, conversationId: m.conversationId, senderId: m.senderId, text: m.text, seq, timestamp: new Date(0).toISOString() };
    if (m.clientMessageId) this.byClientId.set(key, message);
    return { created: true, message };
  }
}

let ids = 0;
const send = (conversationId: string, text: string, clientMessageId?: string): NewMessage => ({
  id: `id-${ids++}`,
  conversationId,
  senderId: 'alice',
  recipientId: 'bob',
  recipientIsUserA: false,
  text,
  clientMessageId,
});
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function settleAll(store: FakeStore, promises: Promise<unknown>[]) {
  const all = Promise.allSettled(promises);
  for (let i = 0; i < 20; i++) {
    await tick();
    store.commit();
  }
  return all;
}

describe('SendPipeline', () => {
  it('puts the sends of one tick into one batch, and later ones into the next while it is in flight', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 1 }, () => undefined);
    const first = ['a', 'b', 'c'].map((text) => pipeline.submit(send('c1', text), () => undefined));
    await tick();
    const second = ['d', 'e'].map((text) => pipeline.submit(send('c1', text), () => undefined));
    await tick();
    expect(store.batches).toEqual([['a', 'b', 'c']]);
    await settleAll(store, [...first, ...second]);
    expect(store.batches).toEqual([['a', 'b', 'c'], ['d', 'e']]);
    expect(store.maxInFlight).toBe(1);
  });

  it('broadcasts each conversation in seq order, before resolving, with batches in parallel', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 3, overlapAfterMs: 0 }, () => undefined);
    const seen: string[] = [];
    const sends: Promise<InsertOutcome>[] = [];
    for (let wave = 0; wave < 5; wave++) {
      for (const conversation of ['c1', 'c2', 'c3', 'c4']) {
        for (let i = 0; i < 3; i++) {
          const promise = pipeline.submit(send(conversation, `${wave}.${i}`), ({ message }) => seen.push(`${message.conversationId}:${message.seq}`));
          sends.push(promise.then((outcome) => (expect(seen).toContain(`${conversation}:${outcome.message.seq}`), outcome)));
        }
      }
      await tick();
      store.commit();
    }
    await settleAll(store, sends);
    for (const conversation of ['c1', 'c2', 'c3', 'c4']) {
      const seqs = seen.filter((entry) => entry.startsWith(`${conversation}:`)).map((entry) => Number(entry.split(':')[1]));
      expect(seqs).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    }
    expect(store.maxInFlight).toBeLessThanOrEqual(3);
  });

  it('sends with nothing in flight right after the event that submitted them, without waiting for the loop phase', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 2, overlapAfterMs: 0 }, () => undefined);
    const sends = ['a', 'b'].map((text) => Promise.resolve().then(() => pipeline.submit(send('c1', text), () => undefined)));
    let phaseEnded = false;
    setImmediate(() => (phaseEnded = true));
    await new Promise((resolve) => process.nextTick(resolve));
    // Both came from the same event (one socket read), so they still share the statement.
    expect(store.batches).toEqual([['a', 'b']]);
    expect(phaseEnded).toBe(false);
    // With that batch in flight, later sends gather until the loop's phase ends, as under load.
    sends.push(pipeline.submit(send('c2', 'x'), () => undefined));
    await new Promise((resolve) => process.nextTick(resolve));
    expect(store.batches).toEqual([['a', 'b']]);
    await tick();
    expect(store.batches).toEqual([['a', 'b'], ['x']]);
    await settleAll(store, sends);
  });

  it.each([
    {
      when: 'overlaps at once: writes other conversations in parallel, up to the concurrency',
      options: { concurrency: 2, overlapAfterMs: 0 },
      whileFirstInFlight: [['a'], ['b']],
      atEnd: [['a'], ['b'], ['c']],
      maxInFlight: 2,
    },
    {
      when: 'holds other conversations back while the batch in flight is young, so that they share the next statement',
      options: { concurrency: 4, overlapAfterMs: 60_000 },
      whileFirstInFlight: [['a']],
      atEnd: [['a'], ['b', 'c']],
      maxInFlight: 1,
    },
  ])('$when', async ({ options, whileFirstInFlight, atEnd, maxInFlight }) => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, options, () => undefined);
    const sends = [pipeline.submit(send('c1', 'a'), () => undefined)];
    await tick();
    sends.push(pipeline.submit(send('c2', 'b'), () => undefined));
    await tick();
    sends.push(pipeline.submit(send('c3', 'c'), () => undefined));
    await tick();
    expect(store.batches).toEqual(whileFirstInFlight);
    await settleAll(store, sends);
    expect(store.batches).toEqual(atEnd);
    expect(store.maxInFlight).toBe(maxInFlight);
  });

  it('overlaps a batch in flight for longer than overlapAfterMs with the next one, and not sooner', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 2, overlapAfterMs: 20 }, () => undefined);
    const sends = [pipeline.submit(send('c1', 'a'), () => undefined)];
    await tick();
    sends.push(pipeline.submit(send('c2', 'b'), () => undefined));
    await tick();
    expect(store.batches).toEqual([['a']]);
    await vi.waitFor(() => expect(store.batches).toEqual([['a'], ['b']]), { timeout: 2000, interval: 5 });
    // The store stamps a batch a little after the pipeline does: a millisecond of slack.
    expect(store.startedAt[1]! - store.startedAt[0]!).toBeGreaterThanOrEqual(19);
    expect(store.maxInFlight).toBe(2);
    await settleAll(store, sends);
  });

  it('never has two batches of one conversation in flight, also when maxBatch cuts a burst', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 4, maxBatch: 3, overlapAfterMs: 0 }, () => undefined);
    const sends = ['a', 'b', 'c', 'd', 'e'].map((text) => pipeline.submit(send('c1', text), () => undefined));
    sends.push(pipeline.submit(send('c2', 'x'), () => undefined));
    await tick();
    expect(store.batches).toEqual([['a', 'b', 'c'], ['x']]);
    await settleAll(store, sends);
    expect(store.batches).toEqual([['a', 'b', 'c'], ['x'], ['d', 'e']]);
  });

  it('answers a retry within the batch with its original, storing and broadcasting once', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 1 }, () => undefined);
    let broadcasts = 0;
    const sends = [pipeline.submit(send('c1', 'hi', 'k1'), () => broadcasts++), pipeline.submit(send('c1', 'hi again', 'k1'), () => broadcasts++)];
    const [first, retry] = (await settleAll(store, sends)) as Array<PromiseFulfilledResult<InsertOutcome>>;
    expect(store.batches).toEqual([['hi']]);
    expect(first!.value.created).toBe(true);
    expect(retry!.value).toEqual({ created: false, message: first!.value.message });
    expect(broadcasts).toBe(1);
  });

  it('fails every send of a batch the database refuses, and goes on with the next', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 1 }, () => undefined);
    store.failNext = new Error('connection refused');
    const failed = [pipeline.submit(send('c1', 'a'), () => undefined), pipeline.submit(send('c1', 'b'), () => undefined)];
    const results = await settleAll(store, failed);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    const next = await settleAll(store, [pipeline.submit(send('c1', 'c'), () => undefined)]);
    expect((next[0] as PromiseFulfilledResult<InsertOutcome>).value.message.seq).toBe(1);
  });

  it('sorts out a concurrent clientMessageId one by one, in order', async () => {
    const store = new FakeStore();
    const pipeline = new SendPipeline(store, { concurrency: 1 }, () => undefined);
    store.failNext = new Error('unique violation');
    const seen: number[] = [];
    const results = await settleAll(store, ['a', 'b', 'c'].map((text) => pipeline.submit(send('c1', text, text), ({ message }) => seen.push(message.seq))));
    expect(results.every((result) => result.status === 'fulfilled')).toBe(true);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('reports a failing broadcast and still acknowledges the stored message', async () => {
    const store = new FakeStore();
    const errors: unknown[] = [];
    const pipeline = new SendPipeline(store, { concurrency: 1 }, (error) => errors.push(error));
    const results = await settleAll(store, [
      pipeline.submit(send('c1', 'a'), () => {
        throw new Error('adapter down');
      }),
      pipeline.submit(send('c1', 'b'), () => undefined),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(errors).toHaveLength(1);
  });
});
