import { describe, expect, it } from 'vitest';
import { Lifecycle } from './lifecycle.js';

describe('Lifecycle', () => {
  it('drains once tracked work settles, failures included', async () => {
    const lifecycle = new Lifecycle();
    let finish!: () => void;
    const work = lifecycle.track(new Promise<void>((resolve) => (finish = resolve)));
    lifecycle.track(Promise.reject(new Error('boom'))).catch(() => undefined);
    const drained = lifecycle.drained(1000);
    finish();
    await work;
    expect(await drained).toBe(true);
  });

  it('gives up after the timeout when work hangs', async () => {
    const lifecycle = new Lifecycle();
    void lifecycle.track(new Promise(() => undefined));
    expect(await lifecycle.drained(20)).toBe(false);
  });
});
