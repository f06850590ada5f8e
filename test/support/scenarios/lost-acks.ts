import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { expect, inject } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import type { AckResult } from '@platform/messaging-client/contract';
import { startConversation } from '../careful-client.js';
import { startFaultProxy } from '../fault-proxy.js';
import { distribution, prefixed, report } from '../figures.js';
import { messageText, userId } from '../factories.js';
import { pollUntil } from '../processes.js';
import { TestClient } from '../socket-client.js';
import { startTestApp } from '../test-app.js';
import { testCleanup } from '../cleanup.js';

export interface LostAcksOptions {
  senders: number;
  rounds: number;
  /** Sends per sender per round; senders × rounds × perRound sends lose their ack and are retried. */
  perRound: number;
}

/**
 * CONTRACT §3.1/§3.3: a client whose acknowledgement was lost retries with the same
 * clientMessageId, and the retry must not store or broadcast anything new. The acks are really
 * lost: the senders talk to the service through the fault proxy, which lets the sends through and
 * holds everything the service sends back, then resets the connections once the database holds
 * the round. The senders reconnect and retry every unacknowledged send; recipients, connected
 * directly, count what they hear.
 */
export async function lostAcks(options: LostAcksOptions): Promise<void> {
  const { senders: senderCount, rounds, perRound } = options;
  const cleanup = testCleanup();
  const app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '1000000', CONNECTIONS_TIMEOUT_MS: '1500' });
  cleanup.add(() => app.close());
  const proxy = await startFaultProxy({ port: Number(new URL(app.server.httpUrl).port) });
  cleanup.add(() => proxy.close());
  const sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
  cleanup.add(() => sql.end());
  const sockets: Socket[] = [];
  const recipients: TestClient[] = [];
  cleanup.add(() => [...sockets, ...recipients].forEach((socket) => socket.close()));
  try {
    const senders: Array<{ socket: Socket; conversationId: string; recipient: TestClient }> = [];
    for (let index = 0; index < senderCount; index++) {
      const [alice, bob] = [userId('alice'), userId('bob')];
      app.graph.connect(alice, bob);
      const recipient = await TestClient.connect(app.server.httpUrl, await app.token(bob));
      recipients.push(recipient);
      const socket = io(`http://127.0.0.1:${proxy.port}`, {
        auth: { token: await app.token(alice) },
        transports: ['websocket'],
        forceNew: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
      });
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      senders.push({ socket, conversationId: await startConversation(socket, bob), recipient });
    }
    const conversationIds = senders.map((sender) => sender.conversationId);
    const count = async () =>
      Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM message WHERE conversation_id = ANY($1::uuid[])', [conversationIds])).rows[0]!.n);

    const acknowledged = new Map<string, Message>(); // clientMessageId → the message its retry acknowledged
    const storedAfterMs: number[] = [];
    const retryRoundMs: number[] = [];
    let lost = 0;
    let retries = 0;
    for (let round = 0; round < rounds; round++) {
      // Sends go through, acks are held.
      proxy.blackhole('down');
      const batch = senders.map((sender) => ({
        sender,
        payloads: Array.from({ length: perRound }, () => ({ conversationId: sender.conversationId, text: messageText('retried'), clientMessageId: randomUUID() })),
      }));
      let early = 0;
      for (const { sender, payloads } of batch) {
        for (const payload of payloads) sender.socket.emit('sendMessage', payload, () => early++);
      }
      const expected = (round + 1) * senderCount * perRound;
      const started = Date.now();
      await pollUntil('the round to be stored', async () => ((await count()) === expected ? true : undefined), 30_000, 20);
      storedAfterMs.push(Date.now() - started);
      // Every ack of the round is lost with the connections.
      const reconnected = senders.map(({ socket }) => new Promise<void>((resolve) => socket.once('disconnect', () => socket.once('connect', () => resolve()))));
      proxy.cut();
      proxy.pass();
      expect(early).toBe(0);
      lost += senderCount * perRound;

      // The senders come back and retry everything unacknowledged, with the same clientMessageId.
      await Promise.all(reconnected);
      const retryStarted = Date.now();
      await Promise.all(
        batch.flatMap(({ sender, payloads }) =>
          payloads.map(async (payload) => {
            retries++;
            const result = (await sender.socket.timeout(60_000).emitWithAck('sendMessage', payload)) as AckResult<{ message: Message }>;
            if (!result.ok) throw new Error(`retry failed: ${result.error.code}`);
            expect(result.data.message.clientMessageId).toBe(payload.clientMessageId);
            acknowledged.set(payload.clientMessageId, result.data.message);
          }),
        ),
      );
      retryRoundMs.push(Date.now() - retryStarted);
    }

    // The database: one row per clientMessageId, the one the retry returned, seq 1..n per conversation.
    const total = rounds * senderCount * perRound;
    const rows = await sql.query<{ id: string; conversation_id: string; seq: number; client_message_id: string }>(
      'SELECT id::text, conversation_id::text, seq, client_message_id FROM message WHERE conversation_id = ANY($1::uuid[]) ORDER BY conversation_id, seq',
      [conversationIds],
    );
    const duplicateRows = rows.rows.length - new Set(rows.rows.map((row) => row.client_message_id)).size;
    expect(duplicateRows).toBe(0);
    expect(rows.rows).toHaveLength(total);
    const byClientId = new Map(rows.rows.map((row) => [row.client_message_id, row]));
    for (const [clientMessageId, message] of acknowledged) {
      expect(byClientId.get(clientMessageId)).toMatchObject({ id: message.messageId, seq: message.seq });
    }
    let gaps = 0;
    for (const conversationId of conversationIds) {
      const seqs = rows.rows.filter((row) => row.conversation_id === conversationId).map((row) => row.seq);
      gaps += seqs.filter((seq, index) => seq !== index + 1).length;
    }
    expect(gaps).toBe(0);

    // Recipients heard each message once: the retries broadcast nothing.
    for (const { recipient } of senders) await recipient.waitFor('newMessage', undefined, { count: rounds * perRound, timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const heard = senders.map(({ recipient }) => recipient.events('newMessage'));
    const duplicateBroadcasts = heard.reduce((sum, events) => sum + events.length - new Set(events.map((m) => m.messageId)).size, 0);
    expect(duplicateBroadcasts).toBe(0);
    expect(heard.every((events) => events.length === rounds * perRound)).toBe(true);

    const retryMs = retryRoundMs.reduce((sum, ms) => sum + ms, 0);
    report(`lost acks (${total} retried sends)`, {
      sends: total,
      acks_lost: lost,
      retried_sends: retries,
      duplicate_rows: duplicateRows,
      duplicate_broadcasts: duplicateBroadcasts,
      seq_gaps: gaps,
      ...prefixed('round_stored_ms', { p50: distribution(storedAfterMs).p50, max: distribution(storedAfterMs).max }),
      retries_per_s: Math.round((retries / retryMs) * 1000),
    });
  } finally {
    await cleanup.run();
  }
}
