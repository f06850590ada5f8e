import { Metadata } from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerGetter, metadataGetter, startTracing, traced } from './tracing.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe('traced with a remote parent', () => {
  const exporter = new InMemorySpanExporter();
  let stop: (() => Promise<void>) | undefined;
  beforeAll(() => (stop = startTracing({}, [new SimpleSpanProcessor(exporter)])));
  afterAll(async () => stop?.());

  it.each([
    ['a Socket.IO handshake\'s headers (or auth)', { traceparent: TRACEPARENT, host: 'x' }, headerGetter],
    ['gRPC metadata', Object.assign(new Metadata(), {}), metadataGetter],
  ] as const)('continues the caller\'s trace from %s', async (_, carrier, getter) => {
    if (carrier instanceof Metadata) carrier.set('traceparent', TRACEPARENT);
    exporter.reset();
    await traced('work', {}, async () => undefined, { kind: SpanKind.SERVER, remote: { carrier: () => carrier as never, getter: getter as never } });
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe(TRACE_ID);
    expect(span!.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span!.kind).toBe(SpanKind.SERVER);
  });

  it('starts a new trace when the carrier has none, and a local parent wins over the carrier', async () => {
    exporter.reset();
    await traced('outer', {}, () => traced('inner', {}, async () => undefined, { remote: { carrier: () => ({ traceparent: TRACEPARENT }), getter: headerGetter } }));
    await traced('alone', {}, async () => undefined, { remote: { carrier: () => ({}), getter: headerGetter } });
    const byName = Object.fromEntries(exporter.getFinishedSpans().map((span) => [span.name, span]));
    expect(byName.inner!.spanContext().traceId).toBe(byName.outer!.spanContext().traceId);
    expect(byName.inner!.spanContext().traceId).not.toBe(TRACE_ID);
    expect(byName.alone!.parentSpanContext).toBeUndefined();
  });
});
