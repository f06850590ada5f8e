import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface LogContext {
  /** The socket a line concerns, or the request id of a gRPC or HTTP call. */
  socketId?: string;
  requestId?: string;
  event?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `work` so that every log line it causes carries these ids (see the logger's mixin). */
export function withLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, work);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

export function newRequestId(): string {
  return randomUUID();
}
