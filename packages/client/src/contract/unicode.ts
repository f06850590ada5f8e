/**
 * Ids and texts are exact strings (CONTRACT §3.4): compared code point by code point, never
 * trimmed or normalised, and refused when they hold a lone UTF-16 surrogate, which no encoding
 * can store (PostgreSQL's UTF-8 would get U+FFFD: another string than the one acknowledged).
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** True when the string is valid Unicode (String.prototype.isWellFormed, outside the ES2023 lib). */
export function isWellFormed(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/**
 * Code point order, the order of the strings' UTF-8 bytes and so of PostgreSQL's "C" collation.
 * JavaScript's `<` compares UTF-16 units, which puts U+10000 and above (surrogate pairs, D800–DFFF)
 * before U+E000–U+FFFF; ranking the units as below restores code point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x !== y) return unitRank(x) - unitRank(y);
  }
  return a.length - b.length;
}

/** Surrogates (D800–DFFF) above U+E000–U+FFFF, everything below D800 in place. */
function unitRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
