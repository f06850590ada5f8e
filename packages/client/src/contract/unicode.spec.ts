import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareCodePoints, isWellFormed } from './unicode.js';

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareCodePoints', () => {
  it('puts supplementary characters after U+E000–U+FFFF, unlike UTF-16 `<`', () => {
    expect('😀' < '\ue000').toBe(true);
    expect(compareCodePoints('😀', '\ue000')).toBeGreaterThan(0);
    expect(compareCodePoints('\uff21', '😀')).toBeLessThan(0);
    expect(compareCodePoints('B', 'a')).toBeLessThan(0);
    expect(compareCodePoints('ab', 'ab')).toBe(0);
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
  });

  it('agrees with the order of the UTF-8 bytes (PostgreSQL "C") for any well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(byUtf8(a, b)));
      }),
      { numRuns: 2000 },
    );
    // 2,000 generated pairs take about a second alone and several on a busy machine.
  }, 30_000);
});

describe('isWellFormed', () => {
  it('refuses lone surrogates and accepts pairs', () => {
    expect(isWellFormed('a😀b')).toBe(true);
    expect(isWellFormed('s\ud800')).toBe(false);
    expect(isWellFormed('\udc00x')).toBe(false);
    expect(isWellFormed('\ude00\ud83d')).toBe(false);
  });
});
