import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation__Output } from '../../src/generated/proto/messaging/v1/Conversation.js';
import type { CreateConversationRequest } from '../../src/generated/proto/messaging/v1/CreateConversationRequest.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import { startTracing } from '../../src/infrastructure/observability/tracing.js';
import { userId } from '../support/factories.js';
import { bearer, call, messagingClient } from '../support/grpc-client.js';
import { pollUntil } from '../support/processes.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const randomHex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((byte) => byte.toString(16).padStart(2, '0')).join('');

/**
 * Every tracing spec is in this file, on one start of tracing: the service starts it once per
 * process, and test files share their worker's process (vitest.config.ts). OpenTelemetry's global
 * registrations and the instrumentations' patches do not come back whole after a stop and a new
 * start in one process (a second file's traces missed their pg and gRPC spans).
 */
describe('tracing, and traces that join: a caller\'s traceparent through the service, the database and the Connections call', () => {
  const exporter = new InMemorySpanExporter();
  let stopTracing: (() => Promise<void>) | undefined;
  let app: TestApp;
  let grpc: MessagingServiceClient;
  const saved = { attributes: process.env.OTEL_RESOURCE_ATTRIBUTES, name: process.env.OTEL_SERVICE_NAME };

  beforeAll(async () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment=test,service.namespace=platform';
    process.env.OTEL_SERVICE_NAME = 'messaging-under-test';
    stopTracing = startTracing({}, [new SimpleSpanProcessor(exporter)]);
    // No cache: every action asks the Connections service (here in-process, so its server spans are recorded too).
    app = await startTestApp({ CONNECTIONS_CACHE_TTL_SECONDS: '0', CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS: '0' });
    grpc = messagingClient(app.server.grpcAddress);
  });
  afterAll(async () => {
    grpc?.close();
    await app?.close();
    await stopTracing?.();
    process.env.OTEL_RESOURCE_ATTRIBUTES = saved.attributes;
    process.env.OTEL_SERVICE_NAME = saved.name;
    if (saved.attributes === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    if (saved.name === undefined) delete process.env.OTEL_SERVICE_NAME;
  });

  /** Every finished span of one trace, once the spans of `names` have ended. */
  async function traceOf(traceId: string, names: RegExp[]): Promise<ReadableSpan[]> {
    return pollUntil(`spans ${names.join(', ')} in trace ${traceId}`, () => {
      const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
      return names.every((name) => spans.some((span) => name.test(span.name))) ? spans : undefined;
    }, 5000);
  }

  it('follows a socket event through the Connections call and the database', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const client = await TestClient.connect(app.server.httpUrl, await app.token(alice));
    const { conversation } = await client.ok('startConversation', { participantId: bob });
    exporter.reset();
    await client.ok('sendMessage', { conversationId: conversation.conversationId, text: 'traced' });
    client.close();

    const spans = exporter.getFinishedSpans();
    const root = spans.find((span) => span.name === 'socket sendMessage');
    expect(root, spans.map((span) => span.name).join(', ')).toBeDefined();
    const inTrace = spans.filter((span) => span.spanContext().traceId === root!.spanContext().traceId);
    const descendsFromRoot = (span: ReadableSpan): boolean => {
      const parentId = span.parentSpanContext?.spanId;
      if (!parentId) return false;
      if (parentId === root!.spanContext().spanId) return true;
      const parent = inTrace.find((candidate) => candidate.spanContext().spanId === parentId);
      return parent ? descendsFromRoot(parent) : false;
    };
    const names = inTrace.filter(descendsFromRoot).map((span) => span.name);
    // The insert runs in the batch the send joined, which the first send of the batch started.
    expect(names).toContain('db message_insert_one_conversation');
    expect(names).toContain('connections.IsConnected');
  });

  it('gRPC: from the caller\'s traceparent metadata through pg and the Connections call (its server included)', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const traceId = randomHex(16);
    const caller = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: randomHex(8), traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const metadata = bearer(await app.token(alice));
    // The caller's own gRPC client sends `traceparent` from its active context.
    await context.with(caller, () =>
      call<CreateConversationRequest, Conversation__Output>(grpc, grpc.createConversation, { participantId: bob }, metadata),
    );

    const spans = await traceOf(traceId, [/^grpc CreateConversation$/, /^connections\.IsConnected$/, /IsConnected/, /^pg\./]);
    const kinds = (pattern: RegExp) => spans.filter((span) => pattern.test(span.name)).map((span) => span.kind);
    // The service's server span, the database under it, the Connections client call and the Connections server's span.
    expect(kinds(/messaging\.v1\.MessagingService\/CreateConversation/)).toEqual(expect.arrayContaining([SpanKind.CLIENT, SpanKind.SERVER]));
    expect(kinds(/connections\.v1\.ConnectionsService\/IsConnected/)).toEqual(expect.arrayContaining([SpanKind.CLIENT, SpanKind.SERVER]));
    const pg = spans.find((span) => span.name.startsWith('pg.query'))!;
    expect(pg.kind).toBe(SpanKind.CLIENT);
    expect(pg.attributes['db.system'] ?? pg.attributes['db.system.name']).toBe('postgresql');
    const grpcServer = spans.find((span) => span.name === 'grpc CreateConversation')!;
    expect(grpcServer.attributes['rpc.system']).toBe('grpc');
    // The resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    expect(grpcServer.resource.attributes).toMatchObject({
      'service.name': 'messaging-under-test',
      'deployment.environment': 'test',
      'service.namespace': 'platform',
    });
  });

  it('Socket.IO: the handshake\'s traceparent is the parent of the socket\'s events, through the Connections call', async () => {
    const [carol, dave] = [userId('carol'), userId('dave')];
    app.graph.connect(carol, dave);
    const traceId = randomHex(16);
    const parentSpanId = randomHex(8);
    const token = await app.token(carol);
    // The client runs in this process, where the HTTP instrumentation also traces its requests: in
    // the caller's context, the `traceparent` they carry is in the caller's trace either way.
    const caller = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const client = await context.with(caller, () =>
      TestClient.connect(app.server.httpUrl, token, { extraHeaders: { traceparent: `00-${traceId}-${parentSpanId}-01` } }),
    );
    await context.with(caller, () => client.ok('startConversation', { participantId: dave }));
    client.close();

    const spans = await traceOf(traceId, [/^socket startConversation$/, /^connections\.IsConnected$/, /^pg\./]);
    const event = spans.find((span) => span.name === 'socket startConversation')!;
    expect(event.kind).toBe(SpanKind.SERVER);
    // Its ancestry (through the HTTP spans of the transport, when the instrumentation made them) reaches the caller's span.
    const ancestors = (span: ReadableSpan): string[] => {
      const parentId = span.parentSpanContext?.spanId;
      if (!parentId) return [];
      const parent = spans.find((candidate) => candidate.spanContext().spanId === parentId);
      return [parentId, ...(parent ? ancestors(parent) : [])];
    };
    expect(ancestors(event)).toContain(parentSpanId);
    expect(spans.some((span) => /connections\.v1\.ConnectionsService\/IsConnected/.test(span.name) && span.kind === SpanKind.SERVER)).toBe(true);
  });
});
