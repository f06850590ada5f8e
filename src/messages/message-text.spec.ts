import { describe, expect, it } from 'vitest';
import { assertValidText } from './message-text.js';

const invalid = (text: string, max = 10) => {
  try {
    assertValidText(text, max);
    return undefined;
  } catch (error) {
    return (error as { code: string }).code;
  }
};

describe('assertValidText', () => {
  it('accepts 1..max characters', () => {
    expect(invalid('a')).toBeUndefined();
    expect(invalid('a'.repeat(10))).toBeUndefined();
  });
  it('rejects empty and whitespace-only texts', () => {
    expect(invalid('')).toBe('INVALID_ARGUMENT');
    expect(invalid(' \n\t ')).toBe('INVALID_ARGUMENT');
  });
  it('rejects texts over the limit', () => {
    expect(invalid('a'.repeat(11))).toBe('INVALID_ARGUMENT');
  });
  it('counts an emoji as one character', () => {
    expect(invalid('😀'.repeat(10))).toBeUndefined();
    expect(invalid('😀'.repeat(11))).toBe('INVALID_ARGUMENT');
  });
});
