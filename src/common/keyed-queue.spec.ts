import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('KeyedQueue', () => {
  it('runs tasks of one key in call order, even when earlier ones are slower or fail', async () => {
    const queue = new KeyedQueue();
    const order: string[] = [];
    const slow = queue.run('c', async () => {
      await tick();
      await tick();
      order.push('first');
      throw new Error('boom');
    });
    const fast = queue.run('c', async () => {
      order.push('second');
      return 2;
    });
    await expect(slow).rejects.toThrow('boom');
    expect(await fast).toBe(2);
    expect(order).toEqual(['first', 'second']);
  });

  it('lets different keys run side by side', async () => {
    const queue = new KeyedQueue();
    const order: string[] = [];
    const a = queue.run('a', async () => {
      await tick();
      order.push('a');
    });
    const b = queue.run('b', async () => {
      order.push('b');
    });
    await Promise.all([a, b]);
    expect(order).toEqual(['b', 'a']);
  });
});
