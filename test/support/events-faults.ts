import pg from 'pg';
import { expect } from 'vitest';
import { signUserToken } from '../../src/auth/jwt-signer.js';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import type { TestCleanup } from './cleanup.js';
import { startFaultProxy } from './fault-proxy.js';
import { userId } from './factories.js';
import { NATS_PORT, type EventRecorder } from './nats.js';
import { spawnService, type ReadyService } from './service-process.js';
import { createScratchDatabase } from './services.js';
import { TestClient } from './socket-client.js';

const SECRET = 'events-reliability-secret-long-enough-for-hs256';

/**
 * CONTRACT §8 under faults (test/reliability/faults.spec.ts, test/chaos/events-outage.spec.ts): the
 * service as a real process on a database of its own (so that its relay is the only one), NATS
 * behind the TCP fault proxy.
 */
export async function setUpEventFaults(cleanup: TestCleanup) {
  const database = await createScratchDatabase('events_rel');
  cleanup.add(() => database.drop());
  const graph = new ConnectionsGraph();
  const connections = await startConnectionsServer(graph);
  cleanup.add(() => connections.stop());
  const proxy = await startFaultProxy({ port: NATS_PORT });
  cleanup.add(() => proxy.close());
  const env = {
    DATABASE_URL: database.url,
    CONNECTIONS_GRPC_URL: connections.url,
    JWT_SECRET: SECRET,
    EVENT_BUS_URL: `nats://${proxy.address}`,
    EVENT_BUS_CONSUMER: `messaging-rel-${process.pid}`,
    RATE_LIMIT_MESSAGES_PER_SECOND: '1000',
  };
  const start = async () => {
    const service = await spawnService(env);
    cleanup.add(() => service.kill('SIGKILL'));
    return service;
  };
  const outboxSize = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<{ n: number }>('SELECT COALESCE(sum(events), 0)::int AS n FROM outbox_event')).rows[0]!.n;
    } finally {
      await client.end();
    }
  };
  return { graph, proxy, start, outboxSize };
}

export async function conversationOn(service: ReadyService, graph: ConnectionsGraph, cleanup: TestCleanup) {
  const [alice, bob] = [userId('alice'), userId('bob')];
  graph.connect(alice, bob);
  const socket = await TestClient.connect(service.httpUrl, await signUserToken(SECRET, alice));
  cleanup.add(() => socket.close());
  const { conversation } = await socket.ok('startConversation', { participantId: bob });
  return { socket, conversationId: conversation.conversationId };
}

/** Every message.sent of the conversation once (JetStream dropped re-publications by Nats-Msg-Id), in seq order. */
export function expectAllInOrder(recorder: EventRecorder, conversationId: string, sentIds: string[]): void {
  const events = recorder.of(conversationId);
  const ids = events.map((event) => event.payload.eventId as string);
  expect(new Set(ids).size).toBe(ids.length);
  expect(events[0]!.subject).toBe('messaging.v1.conversation.started');
  const sent = events.filter((event) => event.subject === 'messaging.v1.message.sent').map((event) => event.payload.message as { messageId: string; seq: number });
  expect(sent.map((message) => message.messageId)).toEqual(sentIds);
  expect(sent.map((message) => message.seq)).toEqual(sentIds.map((_, i) => i + 1));
}
