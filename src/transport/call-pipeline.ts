import { SpanKind, type TextMapGetter } from '@opentelemetry/api';
import type { LoggerService } from '@nestjs/common';
import type { z } from 'zod';
import type { ErrorCode } from '@platform/messaging-client/contract';
import type { Actor } from '../contract/actor.js';
import { isServerFault, type AppError } from '../contract/app-error.js';
import { describeCause, toAppError } from '../infrastructure/prisma/driver-errors.js';
import { parsePayload } from '../contract/validate.js';
import type { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { withLogContext, type LogContext } from '../infrastructure/observability/log-context.js';
import { traced } from '../infrastructure/observability/tracing.js';

/** One operation as a transport offers it: the payload's schema, and the service call it makes as the actor. */
export interface OperationSpec<R, S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  run(actor: Actor, dto: z.output<S>): Promise<R>;
  /** What a call without a payload stands for, when the operation may be called without one. */
  readonly whenAbsent?: z.input<S>;
}

export const operation = <S extends z.ZodType, R>(
  schema: S,
  run: (actor: Actor, dto: z.output<S>) => Promise<R>,
  whenAbsent?: z.input<S>,
): OperationSpec<R, S> => ({ schema, run, whenAbsent });

/** An operation prepared once, at start-up, by `CallPipeline.operations`: nothing of it is built per call. */
export interface Operation<R> {
  readonly name: string;
  readonly span: string;
  /** Shared by every span of the operation: the SDK copies a span's attributes. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly spec: OperationSpec<R>;
}

/** A transport's operations, prepared, under the names of their specs. */
export type Operations<T> = { readonly [K in keyof T]: Operation<T[K] extends OperationSpec<infer R> ? R : never> };

/**
 * What differs between the transports; `Request` is what a transport hands in with each call (the
 * socket, the call's metadata), `Wire` what leaves (the ack, or the response with an error thrown).
 */
export interface TransportBinding<Request, Wire, Carrier> {
  /** The server span of an operation; asked once per operation, at start-up. */
  span(name: string): { span: string; attributes: Record<string, string> };
  /** The ids every log line of the call carries. */
  logContext(name: string, request: Request): LogContext;
  /** Where the caller's W3C trace context is, continued when no span is active yet (read only when tracing is on). */
  traceCarrier(request: Request): Carrier;
  readonly traceGetter: TextMapGetter<Carrier>;
  /** Who acts. A rejection answers the call before its payload is looked at (CONTRACT §2). */
  identify(request: Request): Actor | Promise<Actor>;
  /** Counts one answered call; `startedMs` is performance.now() at its start. */
  count(name: string, result: 'ok' | ErrorCode, startedMs: number): void;
  answer(data: unknown): Wire;
  /** How an error leaves: the one mapping of AppError codes to this transport. */
  refuse(error: AppError): Wire;
}

/**
 * The path of every call of both transports (a Socket.IO event, a gRPC method): log context,
 * lifecycle tracking and a server span around identify the actor → validate the payload with its
 * schema → call the service as (actor, dto) → count → answer, or map the failure to an AppError
 * (a server fault logged once, with its cause) and refuse. It is the socket's hot path
 * (docs/performance.md): operations are prepared at start-up, the only closures of a call are the
 * ones the log context and the span take, and `traced` is a plain call when tracing is off.
 */
export class CallPipeline<Request, Wire, Carrier> {
  constructor(
    private readonly binding: TransportBinding<Request, Wire, Carrier>,
    private readonly lifecycle: Lifecycle,
    private readonly logger: Pick<LoggerService, 'error'>,
  ) {}

  /** Prepares a transport's operations, each under its name (the event or the method). */
  operations<T extends Record<string, OperationSpec<unknown>>>(specs: T): Operations<T> {
    const prepared: Record<string, Operation<unknown>> = {};
    for (const [name, spec] of Object.entries(specs)) prepared[name] = { name, ...this.binding.span(name), spec };
    return prepared as Operations<T>;
  }

  call(operation: Operation<unknown>, request: Request, payload: unknown): Promise<Wire> {
    return this.lifecycle.track(
      withLogContext(this.binding.logContext(operation.name, request), () =>
        traced(operation.span, operation.attributes, () => this.respond(operation, request, payload), {
          kind: SpanKind.SERVER,
          remote: { carrier: () => this.binding.traceCarrier(request), getter: this.binding.traceGetter },
        }),
      ),
    );
  }

  private async respond(operation: Operation<unknown>, request: Request, payload: unknown): Promise<Wire> {
    const started = performance.now();
    const { spec } = operation;
    try {
      const identified = this.binding.identify(request);
      // A socket's actor is at hand: awaiting it anyway would cost every event a microtask.
      const actor = identified instanceof Promise ? await identified : identified;
      const data = await spec.run(actor, parsePayload(spec.schema, spec.whenAbsent === undefined ? payload : (payload ?? spec.whenAbsent)));
      this.binding.count(operation.name, 'ok', started);
      return this.binding.answer(data);
    } catch (caught) {
      const error = toAppError(caught);
      this.binding.count(operation.name, error.code, started);
      if (isServerFault(error)) this.logger.error(`${operation.name} failed with ${error.code}: ${describeCause(caught)}`);
      return this.binding.refuse(error);
    }
  }
}
