import type { TextMapGetter } from '@opentelemetry/api';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { ErrorCode } from '@platform/messaging-client/contract';
import type { Actor } from '../contract/actor.js';
import { AppError } from '../contract/app-error.js';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { currentLogContext, type LogContext } from '../infrastructure/observability/log-context.js';
import { CallPipeline, operation, type TransportBinding } from './call-pipeline.js';

type Wire = { answered: unknown } | { refused: ErrorCode; message: string };
interface FakeRequest {
  id: string;
  /** Who the fake transport says acts; a rejection stands for a refused credential. */
  actor: Actor | Promise<Actor>;
}

/** A transport of its own: records what the pipeline asks of it. */
class FakeBinding implements TransportBinding<FakeRequest, Wire, Record<string, unknown>> {
  readonly counted: Array<[string, string]> = [];
  readonly traceGetter: TextMapGetter<Record<string, unknown>> = { keys: () => [], get: () => undefined };

  span(name: string) {
    return { span: `fake ${name}`, attributes: { 'rpc.method': name } };
  }
  logContext(name: string, request: FakeRequest): LogContext {
    return { requestId: request.id, event: name };
  }
  traceCarrier(): Record<string, unknown> {
    return {};
  }
  identify(request: FakeRequest): Actor | Promise<Actor> {
    return request.actor;
  }
  count(name: string, result: string): void {
    this.counted.push([name, result]);
  }
  answer(data: unknown): Wire {
    return { answered: data };
  }
  refuse(error: AppError): Wire {
    return { refused: error.code, message: error.message };
  }
}

const echoSchema = z.object({ text: z.string().min(1) });

function setUp(run: (actor: Actor, dto: z.output<typeof echoSchema>) => Promise<unknown> = async (actor, dto) => ({ by: actor.userId, text: dto.text })) {
  const binding = new FakeBinding();
  const lifecycle = new Lifecycle();
  const logger = { error: vi.fn() };
  const service = vi.fn(run);
  const pipeline = new CallPipeline(binding, lifecycle, logger);
  const ops = pipeline.operations({
    echo: operation(echoSchema, service),
    list: operation(z.object({ limit: z.number().optional() }), async (_actor, dto) => dto, {}),
  });
  return { binding, lifecycle, logger, service, pipeline, ops };
}

describe('CallPipeline', () => {
  it('prepares each operation once, under its name, with the span the transport gives it', () => {
    const { ops } = setUp();
    expect(ops.echo).toMatchObject({ name: 'echo', span: 'fake echo', attributes: { 'rpc.method': 'echo' } });
    expect(ops.list.name).toBe('list');
  });

  it('calls the service as the identified actor with the parsed payload, answers, and counts ok', async () => {
    const { binding, service, pipeline, ops } = setUp();
    const wire = await pipeline.call(ops.echo, { id: 'r1', actor: { userId: 'alice' } }, { text: 'hi', extra: 'dropped' });
    expect(wire).toEqual({ answered: { by: 'alice', text: 'hi' } });
    expect(service).toHaveBeenCalledWith({ userId: 'alice' }, { text: 'hi' });
    expect(binding.counted).toEqual([['echo', 'ok']]);
  });

  it('waits for an actor that is still being verified', async () => {
    const { pipeline, ops } = setUp();
    const wire = await pipeline.call(ops.echo, { id: 'r1', actor: Promise.resolve({ userId: 'bob' }) }, { text: 'hi' });
    expect(wire).toEqual({ answered: { by: 'bob', text: 'hi' } });
  });

  it('refuses a payload its schema rejects as INVALID_ARGUMENT naming the field, without calling the service', async () => {
    const { binding, logger, service, pipeline, ops } = setUp();
    const wire = await pipeline.call(ops.echo, { id: 'r1', actor: { userId: 'alice' } }, { text: '' });
    expect(wire).toMatchObject({ refused: 'INVALID_ARGUMENT', message: expect.stringContaining('text') });
    expect(service).not.toHaveBeenCalled();
    expect(binding.counted).toEqual([['echo', 'INVALID_ARGUMENT']]);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('refuses an unidentified caller before looking at the payload', async () => {
    const { binding, service, pipeline, ops } = setUp();
    const refused = Promise.reject(new AppError('UNAUTHENTICATED', 'a valid bearer token is required'));
    const wire = await pipeline.call(ops.echo, { id: 'r1', actor: refused }, { not: 'even close' });
    expect(wire).toEqual({ refused: 'UNAUTHENTICATED', message: 'a valid bearer token is required' });
    expect(service).not.toHaveBeenCalled();
    expect(binding.counted).toEqual([['echo', 'UNAUTHENTICATED']]);
  });

  it('maps a server fault to INTERNAL, logs it once with its cause, and never shows the cause', async () => {
    const { binding, logger, pipeline, ops } = setUp(async () => {
      throw new TypeError('x is not a function');
    });
    const wire = await pipeline.call(ops.echo, { id: 'r1', actor: { userId: 'alice' } }, { text: 'hi' });
    expect(wire).toEqual({ refused: 'INTERNAL', message: 'internal error' });
    expect(binding.counted).toEqual([['echo', 'INTERNAL']]);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error).toHaveBeenCalledWith('echo failed with INTERNAL: TypeError: x is not a function');
  });

  it('passes the caller\'s own errors through with their code, unlogged', async () => {
    const { binding, logger, pipeline, ops } = setUp(async () => {
      throw AppError.permissionDenied();
    });
    const wire = await pipeline.call(ops.echo, { id: 'r1', actor: { userId: 'alice' } }, { text: 'hi' });
    expect(wire).toEqual({ refused: 'PERMISSION_DENIED', message: 'not a participant of this conversation' });
    expect(binding.counted).toEqual([['echo', 'PERMISSION_DENIED']]);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('stands an absent payload for the operation\'s default only where it has one', async () => {
    const { pipeline, ops } = setUp();
    expect(await pipeline.call(ops.list, { id: 'r1', actor: { userId: 'alice' } }, undefined)).toEqual({ answered: {} });
    expect(await pipeline.call(ops.list, { id: 'r2', actor: { userId: 'alice' } }, null)).toEqual({ answered: {} });
    expect(await pipeline.call(ops.echo, { id: 'r3', actor: { userId: 'alice' } }, undefined)).toMatchObject({ refused: 'INVALID_ARGUMENT' });
  });

  it('runs the service in the call\'s log context and keeps shutdown waiting until the answer', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let seen: LogContext | undefined;
    const { lifecycle, pipeline, ops } = setUp(async (_actor, dto) => {
      seen = currentLogContext();
      await released;
      return dto;
    });
    const answered = pipeline.call(ops.echo, { id: 'r7', actor: { userId: 'alice' } }, { text: 'hi' });
    expect(await lifecycle.drained(0)).toBe(false);
    release();
    await answered;
    expect(await lifecycle.drained(0)).toBe(true);
    expect(seen).toEqual({ requestId: 'r7', event: 'echo' });
  });
});
