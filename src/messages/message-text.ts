import { AppError } from '../contract/app-error.js';

/**
 * A message text is 1..max characters (Unicode code points, not UTF-16 units, so an emoji counts
 * once) and not only whitespace.
 */
export function assertValidText(text: string, maxLength: number): void {
  if (text.trim().length === 0) throw AppError.invalidArgument('text must not be empty or only whitespace');
  if (text.length > maxLength && countCodePoints(text, maxLength) > maxLength) {
    throw AppError.invalidArgument(`text must be at most ${maxLength} characters`);
  }
}

function countCodePoints(text: string, stopAfter: number): number {
  let count = 0;
  for (const _ of text) {
    if (++count > stopAfter) break;
  }
  return count;
}
