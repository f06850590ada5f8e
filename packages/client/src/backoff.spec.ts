import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_SEND_RETRY, type RetryPolicy } from './backoff.js';

const policy: RetryPolicy = { maxAttempts: 6, initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.5 };

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('takes up to the jitter fraction off each delay', () => {
    expect(backoffDelay(2, policy, () => 1)).toBe(200);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(300);
    for (let index = 0; index < 100; index++) {
      const delay = backoffDelay(3, policy);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });

  it('keeps the default send retries within about ten seconds of waiting', () => {
    let total = 0;
    for (let retry = 0; retry < DEFAULT_SEND_RETRY.maxAttempts - 1; retry++) total += backoffDelay(retry, DEFAULT_SEND_RETRY, () => 0);
    expect(total).toBeLessThanOrEqual(10_000);
    expect(total).toBeGreaterThanOrEqual(3000);
  });
});
