import { describe, expect, it } from 'vitest';
import { SocketQuota } from './socket-quota.js';

describe('SocketQuota', () => {
  it('refuses the slot after the limit and frees it on release', () => {
    const quota = new SocketQuota(2);
    const first = quota.tryTake('alice');
    expect(quota.tryTake('alice')).toBeDefined();
    expect(quota.tryTake('alice')).toBeUndefined();
    expect(quota.tryTake('bob')).toBeDefined();
    first?.();
    expect(quota.tryTake('alice')).toBeDefined();
  });

  it('releases a slot only once however often release is called', () => {
    const quota = new SocketQuota(3);
    const release = quota.tryTake('alice');
    quota.tryTake('alice');
    release?.();
    release?.();
    expect(quota.count('alice')).toBe(1);
  });
});
