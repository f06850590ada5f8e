import { describe, expect, it } from 'vitest';
import { PrimaryPosition } from './read-sql.js';

/** A position source whose queries the test answers one by one, recording when each was sent. */
function source() {
  const sent: Array<{ answer(lsn: string): void; fail(error: Error): void }> = [];
  const read = () =>
    new Promise<string>((resolve, reject) => {
      sent.push({ answer: resolve, fail: reject });
    });
  return { sent, position: new PrimaryPosition(read) };
}

describe('PrimaryPosition', () => {
  it('shares one query among the reads that asked before it was sent, and never gives a read an answer sent before it asked', async () => {
    const { sent, position } = source();
    const first = position.after();
    expect(sent).toHaveLength(1);
    // Asked while the first query is on its way: that query may describe the primary before these
    // reads began, so they wait for the next one, which they share.
    const second = position.after();
    const third = position.after();
    expect(sent).toHaveLength(1);
    sent[0]!.answer('0/10');
    expect(await first).toBe('0/10');
    await Promise.resolve();
    expect(sent).toHaveLength(2);
    // Asked while the second query is on its way: the third one.
    const fourth = position.after();
    sent[1]!.answer('0/20');
    expect(await second).toBe('0/20');
    expect(await third).toBe('0/20');
    await Promise.resolve();
    expect(sent).toHaveLength(3);
    sent[2]!.answer('0/30');
    expect(await fourth).toBe('0/30');
    // Nothing in flight: the next read sends its own query at once.
    await Promise.resolve();
    const fifth = position.after();
    expect(sent).toHaveLength(4);
    sent[3]!.answer('0/40');
    expect(await fifth).toBe('0/40');
  });

  it('gives a failed query to the reads that shared it, and sends the next one for those that came later', async () => {
    const { sent, position } = source();
    const first = position.after();
    const second = position.after();
    sent[0]!.fail(new Error('primary down'));
    await expect(first).rejects.toThrow('primary down');
    await Promise.resolve();
    expect(sent).toHaveLength(2);
    sent[1]!.answer('0/50');
    expect(await second).toBe('0/50');
  });
});
