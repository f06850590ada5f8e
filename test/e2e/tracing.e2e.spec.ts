import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/infrastructure/observability/tracing.js';
import { userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let stopTracing: (() => Promise<void>) | undefined;
  let app: TestApp;

  beforeAll(async () => {
    stopTracing = startTracing({}, [new SimpleSpanProcessor(exporter)]);
    // No cache, so that the send itself asks the Connections service.
    app = await startTestApp({ CONNECTIONS_CACHE_TTL_SECONDS: '0' });
  });
  afterAll(async () => {
    await app?.close();
    await stopTracing?.();
  });

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
});
