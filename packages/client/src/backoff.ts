/** Exponential backoff with jitter, for sends, requests and reconnections. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Delay before the first retry. */
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** 0..1: each delay is reduced by up to this fraction, at random, so that clients spread out. */
  jitter: number;
}

/** Sends: six attempts over about ten seconds (plus the acknowledgement timeouts). */
export const DEFAULT_SEND_RETRY: RetryPolicy = { maxAttempts: 6, initialDelayMs: 250, maxDelayMs: 4000, multiplier: 2, jitter: 0.5 };
/** Reads and marks: three attempts. */
export const DEFAULT_REQUEST_RETRY: RetryPolicy = { maxAttempts: 3, initialDelayMs: 250, maxDelayMs: 2000, multiplier: 2, jitter: 0.5 };
/** Reconnections the client starts itself (after the server refused or closed the socket). */
export const DEFAULT_RECONNECT: RetryPolicy = { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 500, maxDelayMs: 10_000, multiplier: 2, jitter: 0.5 };

/** The delay before retry number `retry` (0 = the first retry). */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, retry));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(base * (1 - jitter * random()));
}

export function withDefaults(policy: Partial<RetryPolicy> | undefined, defaults: RetryPolicy): RetryPolicy {
  return { ...defaults, ...policy };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
