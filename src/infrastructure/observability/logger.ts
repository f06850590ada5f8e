import type { LoggerService } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { currentLogContext } from './log-context.js';

export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'messaging' },
    // The socket or request a line belongs to, and the trace it is part of when tracing is on.
    mixin: () => {
      const traceId = trace.getActiveSpan()?.spanContext().traceId;
      return { ...currentLogContext(), ...(traceId ? { traceId } : {}) };
    },
    // Tokens, message texts and passwords must never reach the logs, whichever object carries them
    // (an ioredis error holds the command it answered: a refused AUTH's args are the password).
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'auth.token', 'text', '*.text', 'err.command.args'], remove: true },
  };
}

/** Routes Nest's own log lines into pino as JSON. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
