import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type { Message } from '@platform/messaging-client/contract';
import type { AckResult } from '@platform/messaging-client/contract';

/**
 * A load balancer in front of several instances, as far as clients can tell: it polls each
 * instance's readiness and hands reconnecting clients a ready one, round robin.
 */
export class LoadBalancer {
  private readonly ready = new Set<string>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly urls: string[],
    private readonly intervalMs = 200,
  ) {
    for (const url of urls) this.ready.add(url);
  }

  start(): this {
    const poll = async () => {
      await Promise.all(
        this.urls.map(async (url) => {
          const ok = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(this.intervalMs) }).then(
            (response) => response.status === 200,
            () => false,
          );
          if (ok) this.ready.add(url);
          else this.ready.delete(url);
        }),
      );
      if (this.timer !== undefined) this.timer = setTimeout(poll, this.intervalMs);
    };
    this.timer = setTimeout(poll, 0);
    return this;
  }

  /** Takes an instance out at once (what the balancer's next failed probe would do). */
  markDown(url: string): void {
    this.ready.delete(url);
  }

  pick(): string {
    const candidates = this.urls.filter((url) => this.ready.has(url));
    const pool = candidates.length > 0 ? candidates : this.urls;
    return pool[this.next++ % pool.length]!;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

type Manager = { uri: string; on(event: 'reconnect_attempt', listener: () => void): void };

export interface CarefulClientOptions {
  userId: string;
  token: string;
  /** The instance of the first connection; reconnections ask the balancer when there is one. */
  url: string;
  balancer?: LoadBalancer;
  ackTimeoutMs?: number;
  retryDelayMs?: number;
}

/**
 * The client a careful author writes against CONTRACT §3.3, on raw socket.io-client: every send
 * carries a clientMessageId and is retried with it until acknowledged (across reconnections);
 * received messages are kept by messageId (a repeat is counted, not kept twice); seq gaps are
 * filled from history. Everything it does is recorded for the specs to measure.
 */
export class CarefulClient {
  readonly socket: Socket;
  /** Acknowledged sends by clientMessageId. */
  readonly acked = new Map<string, Message>();
  /** newMessage events kept by messageId, the first arrival of each. */
  readonly received = new Map<string, Message>();
  /** Messages taken from history by fillGaps. */
  readonly filled = new Map<string, Message>();
  duplicates = 0;
  attempts = 0;
  readonly sendLatencies: number[] = [];
  /** Every attempt: when it was made, how it ended (ok, an error code, or timeout), and how long that took. */
  readonly attemptLog: Array<{ at: number; outcome: string; ms: number }> = [];
  readonly connects: Array<{ at: number; url: string }> = [];
  readonly disconnects: Array<{ at: number; reason: string }> = [];
  private readonly inFlight = new Set<Promise<Message>>();
  private closed = false;
  private readonly ackTimeoutMs: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: CarefulClientOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.socket = io(options.url, {
      auth: { token: options.token },
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 250,
      reconnectionDelayMax: 1000,
      randomizationFactor: 0.5,
    });
    const manager = this.socket.io as unknown as Manager;
    if (options.balancer) manager.on('reconnect_attempt', () => (manager.uri = options.balancer!.pick()));
    this.socket.on('connect', () => this.connects.push({ at: Date.now(), url: manager.uri }));
    this.socket.on('disconnect', (reason) => this.disconnects.push({ at: Date.now(), reason }));
    this.socket.on('newMessage', (message: Message) => {
      if (this.received.has(message.messageId)) this.duplicates++;
      else this.received.set(message.messageId, message);
    });
  }

  get userId(): string {
    return this.options.userId;
  }

  get url(): string {
    return (this.socket.io as unknown as Manager).uri;
  }

  connected(timeoutMs = 10_000): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.userId} not connected within ${timeoutMs} ms`)), timeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves with the acknowledged message; retries (same clientMessageId) on timeouts and retryable errors. */
  send(conversationId: string, text: string): Promise<Message> {
    const clientMessageId = randomUUID();
    const started = performance.now();
    const attempt = async (): Promise<Message> => {
      for (let failures = 0; ; failures++) {
        if (this.closed) throw new Error('closed');
        if (!this.socket.connected) {
          await this.connected(30_000).catch(() => undefined);
          continue;
        }
        this.attempts++;
        const attemptAt = Date.now();
        const attemptStarted = performance.now();
        const result = (await this.socket
          .timeout(this.ackTimeoutMs)
          .emitWithAck('sendMessage', { conversationId, text, clientMessageId })
          .catch(() => undefined)) as AckResult<{ message: Message }> | undefined;
        this.attemptLog.push({ at: attemptAt, outcome: result ? (result.ok ? 'ok' : result.error.code) : 'timeout', ms: performance.now() - attemptStarted });
        if (result?.ok) {
          this.acked.set(clientMessageId, result.data.message);
          this.sendLatencies.push(performance.now() - started);
          return result.data.message;
        }
        if (result && !['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'INTERNAL'].includes(result.error.code)) {
          throw new Error(`sendMessage refused: ${result.error.code} ${result.error.message}`);
        }
        // Exponential backoff with jitter, as the SDK retries: a backlog of retries must not keep
        // the sender over its rate limit for ever.
        const backoff = Math.min(2000, this.retryDelayMs * 2 ** Math.min(failures, 5)) * (0.5 + Math.random());
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    };
    const pending = attempt();
    this.inFlight.add(pending);
    void pending.finally(() => this.inFlight.delete(pending)).catch(() => undefined);
    return pending;
  }

  /** Waits for every send still being retried. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Everything this client knows of a conversation, by seq: its own acknowledged sends and what it received or filled. */
  known(conversationId: string): Map<number, Message> {
    const bySeq = new Map<number, Message>();
    for (const source of [this.acked.values(), this.received.values(), this.filled.values()]) {
      for (const message of source) if (message.conversationId === conversationId) bySeq.set(message.seq, message);
    }
    return bySeq;
  }

  /** Fetches what is missing below the highest seq it knows, from history; returns how many it fetched. */
  async fillGaps(conversationId: string): Promise<number> {
    const known = this.known(conversationId);
    const highest = Math.max(0, ...known.keys());
    const missing = new Set<number>();
    for (let seq = 1; seq <= highest; seq++) if (!known.has(seq)) missing.add(seq);
    let cursor: string | undefined;
    let fetched = 0;
    let throttled = 0;
    while (missing.size > 0) {
      const result = (await this.socket
        .timeout(5000)
        .emitWithAck('getMessageHistory', { conversationId, pageSize: 100, ...(cursor ? { paginationCursor: cursor } : {}) })) as AckResult<{
        messages: Message[];
        nextCursor?: string;
      }>;
      if (!result.ok && result.error.code === 'RESOURCE_EXHAUSTED' && ++throttled <= 100) {
        // Over RATE_LIMIT_READS_PER_SECOND: a careful client waits for the bucket to refill.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (!result.ok) throw new Error(`getMessageHistory: ${result.error.code}`);
      for (const message of result.data.messages) {
        if (missing.delete(message.seq)) {
          this.filled.set(message.messageId, message);
          fetched++;
        }
      }
      cursor = result.data.nextCursor;
      if (!cursor) break;
    }
    return fetched;
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }
}

/**
 * startConversation for a test's arrangement, retried while UNAVAILABLE (a Connections check that
 * missed its deadline on a loaded machine is not what such a test is about).
 */
export async function startConversation(socket: Socket, participantId: string, attempts = 5): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const result = (await socket.timeout(5000).emitWithAck('startConversation', { participantId })) as AckResult<{ conversation: { conversationId: string } }>;
    if (result.ok) return result.data.conversation.conversationId;
    if (result.error.code !== 'UNAVAILABLE' || attempt >= attempts) throw new Error(`startConversation: ${result.error.code} ${result.error.message}`);
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
}
