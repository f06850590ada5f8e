import { describe, expect, it } from 'vitest';
import { cursorValue, decodeCursor, encodeCursor } from './cursor.js';

describe('cursor values', () => {
  it('take seqs that fit a PostgreSQL INTEGER only', () => {
    expect(cursorValue.seq(1)).toBe(true);
    expect(cursorValue.seq(2 ** 31 - 1)).toBe(true);
    for (const value of [0, -1, 1.5, 2 ** 31, Number.MAX_SAFE_INTEGER, '5', null]) expect(cursorValue.seq(value)).toBe(false);
  });

  it('take canonical UUIDs only', () => {
    expect(cursorValue.uuid('0190a4b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b')).toBe(true);
    for (const value of ['-'.repeat(36), '0190a4b27c3d7e4f8a5b6c7d8e9f0a1b----', 'g190a4b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b', 7]) {
      expect(cursorValue.uuid(value)).toBe(false);
    }
  });

  it('take toISOString() timestamps of years 0001–9999 only', () => {
    expect(cursorValue.timestamp('2026-12-03T10:00:00.000Z')).toBe(true);
    expect(cursorValue.timestamp('0001-01-01T00:00:00.000Z')).toBe(true);
    for (const value of [
      new Date(-8.64e15).toISOString(),
      new Date(8.64e15).toISOString(),
      '0000-01-01T00:00:00.000Z',
      '2026-02-30T00:00:00.000Z',
      '2026-12-03',
      '1',
      7,
    ]) {
      expect(cursorValue.timestamp(value), String(value)).toBe(false);
    }
  });

  it('decode what they encode, and refuse another kind', () => {
    const raw = encodeCursor('h1', [42]);
    expect(decodeCursor('h1', raw, (values): values is [number] => cursorValue.seq(values[0]))).toEqual([42]);
    expect(() => decodeCursor('c1', raw, (values): values is [number] => values.length === 1)).toThrow('malformed cursor');
  });
});
