import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('holds at most `limit` places, hands a released one to the first waiter, and refuses beyond the queue', async () => {
    const semaphore = new Semaphore(2, 1);
    const first = await semaphore.tryAcquire()!;
    await semaphore.tryAcquire()!;
    const waiter = semaphore.tryAcquire();
    expect(waiter).toBeDefined();
    expect(semaphore.tryAcquire()).toBeUndefined();
    let granted = false;
    void waiter!.then(() => (granted = true));
    await Promise.resolve();
    expect(granted).toBe(false);
    first();
    first();
    await waiter;
    expect(granted).toBe(true);
    expect(semaphore.inUse).toBe(2);
  });
});
