import { randomUUID } from 'node:crypto';

let sequence = 0;

/** A user id no other test uses, readable in failures. */
export function userId(name = 'user'): string {
  return `${name}-${++sequence}-${randomUUID().slice(0, 8)}`;
}

export function messageText(label = 'hello'): string {
  return `${label} #${++sequence}`;
}

export function clientMessageId(): string {
  return randomUUID();
}
