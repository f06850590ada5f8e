import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { expect } from 'vitest';
import { signUserToken } from '../../../src/auth/jwt-signer.js';
import { ERROR_CODES } from '@platform/messaging-client/contract';
import { testCleanup } from '../cleanup.js';
import { startSingleService } from './single-service.js';
import { report, sample, scrape, sleep } from '../figures.js';
import { userId } from '../factories.js';
import { TestClient } from '../socket-client.js';
import { TEST_JWT_SECRET } from '../test-app.js';

export interface FuzzOptions {
  frames: number;
  seed?: number;
}

const EVENTS = ['startConversation', 'sendMessage', 'markAsDelivered', 'markAsRead', 'startTyping', 'stopTyping', 'listConversations', 'getMessageHistory'] as const;
const MAX_FRAME = 64 * 1024;
type Kind = 'event' | 'unknown-event' | 'socketio-packet' | 'engineio-frame' | 'oversize';

/**
 * The gateway under random and mutated input (CONTRACT §3: a malformed payload gets
 * INVALID_ARGUMENT and never crashes nor disconnects the socket; a frame over 64 KiB closes that one
 * socket). The service runs as a process of its own, so that a crash is an exit and its memory is
 * its own. Frames, generated with fast-check:
 * - events of the contract with random payloads and mutations of valid ones (wrong types, missing
 *   and extra fields, huge and odd strings, prototype keys), acknowledged or not;
 * - unknown event names, odd argument lists;
 * - raw Socket.IO packets (mutated encodings of valid ones, random text), which may end that
 *   connection when they do not parse;
 * - raw Engine.IO frames (random text and bytes on the WebSocket itself);
 * - frames just over 64 KiB.
 * Meanwhile two users chat on the side and must notice nothing.
 */
export async function fuzzGateway(options: FuzzOptions): Promise<void> {
  const cleanup = testCleanup();
  const { graph, service } = await startSingleService(cleanup, {
    RATE_LIMIT_MESSAGES_PER_SECOND: '1000',
    RATE_LIMIT_READS_PER_SECOND: '1000',
    RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '60000',
    MAX_SOCKETS_PER_USER: '100',
    LOG_LEVEL: 'error',
  });
  const sockets: Socket[] = [];
  const observers: TestClient[] = [];
  cleanup.add(() => [...sockets, ...observers].forEach((socket) => socket.close()));
  try {
    // The fuzzer's user has real conversations, so that some frames reach the database; and the observers.
    const [fuzzer, friend, alice, bob] = [userId('fuzzer'), userId('friend'), userId('alice'), userId('bob')];
    graph.connect(fuzzer, friend);
    graph.connect(alice, bob);
    const token = await signUserToken(TEST_JWT_SECRET, fuzzer);
    const [a, b] = [await TestClient.connect(service.httpUrl, await signUserToken(TEST_JWT_SECRET, alice)), await TestClient.connect(service.httpUrl, await signUserToken(TEST_JWT_SECRET, bob))];
    observers.push(a, b);
    const observed = (await a.ok('startConversation', { participantId: bob })).conversation.conversationId;
    const setup = await TestClient.connect(service.httpUrl, token);
    observers.push(setup);
    const ownConversation = (await setup.ok('startConversation', { participantId: friend })).conversation.conversationId;
    const ownMessage = (await setup.ok('sendMessage', { conversationId: ownConversation, text: 'seed' })).message.messageId;
    setup.close();

    const rss = async () => (sample(await scrape(service.httpUrl), 'process_resident_memory_bytes') ?? Number.NaN) / 2 ** 20;

    // Arbitraries.
    const oddString = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('', ' ', '\u0000', '\uFEFF', '\uD800', '💬'.repeat(100), 'a'.repeat(4001), '__proto__', 'constructor', '{"$gt":""}', "'; DROP TABLE message; --", '../../etc/passwd'),
      fc.string({ minLength: 5000, maxLength: 20_000 }),
      fc.uuid(),
    );
    const oddValue: fc.Arbitrary<unknown> = fc.oneof(
      { depthSize: 'small' },
      oddString,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 0, 1e308, 2 ** 31),
      fc.anything({ maxDepth: 3, maxKeys: 5, withNullPrototype: true, withObjectString: true }),
      fc.array(fc.integer(), { maxLength: 2000 }),
    );
    const valid: Record<(typeof EVENTS)[number], () => Record<string, unknown>> = {
      startConversation: () => ({ participantId: friend }),
      sendMessage: () => ({ conversationId: ownConversation, text: 'fuzz', clientMessageId: randomUUID() }),
      markAsDelivered: () => ({ conversationId: ownConversation, lastDeliveredMessageId: ownMessage }),
      markAsRead: () => ({ conversationId: ownConversation, lastReadMessageId: ownMessage }),
      startTyping: () => ({ conversationId: ownConversation }),
      stopTyping: () => ({ conversationId: ownConversation }),
      listConversations: () => ({ pageSize: 5 }),
      getMessageHistory: () => ({ conversationId: ownConversation, pageSize: 5 }),
    };
    const mutated = fc
      .record({
        event: fc.constantFrom(...EVENTS),
        mutation: fc.constantFrom('none', 'drop', 'replace', 'extra', 'proto', 'whole'),
        key: fc.nat(),
        value: oddValue,
        extraKey: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'senderId', 'userId')),
      })
      .map(({ event, mutation, key, value, extraKey }) => {
        const payload: Record<string, unknown> = valid[event]();
        const keys = Object.keys(payload);
        const target = keys[key % keys.length]!;
        if (mutation === 'drop') delete payload[target];
        if (mutation === 'replace') payload[target] = value;
        if (mutation === 'extra') payload[extraKey] = value;
        if (mutation === 'proto') return { event, payload: JSON.parse(`{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, ${JSON.stringify(payload).slice(1)}`) as unknown };
        if (mutation === 'whole') return { event, payload: value };
        return { event, payload: payload as unknown };
      });
    const frame: fc.Arbitrary<{ kind: Kind; build: () => unknown }> = fc.oneof(
      { arbitrary: mutated.map((value) => ({ kind: 'event' as Kind, build: () => value })), weight: 14 },
      {
        arbitrary: fc.record({ event: oddString, args: fc.array(oddValue, { maxLength: 3 }) }).map((value) => ({ kind: 'unknown-event' as Kind, build: () => value })),
        weight: 2,
      },
      {
        arbitrary: fc
          .record({ base: mutated, at: fc.nat(), cut: fc.nat(), insert: fc.string({ unit: 'binary', maxLength: 8 }), prefix: fc.constantFrom('2', '3', '4', '5', '6', '0', '1', '21', '42', '451-', '2/admin,', '0/admin,', '9', '') })
          .map(({ base, at, cut, insert, prefix }) => {
            const encoded = `${prefix}${JSON.stringify([base.event, base.payload]) ?? ''}`;
            const position = at % (encoded.length + 1);
            return { kind: 'socketio-packet' as Kind, build: () => encoded.slice(0, position) + insert + encoded.slice(position + (cut % 4)) };
          }),
        weight: 3,
      },
      {
        arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), fc.constantFrom('1', '2probe', '5', '6', '4', '40{', '0{"sid":1}')).map((value) => ({ kind: 'engineio-frame' as Kind, build: () => value })),
        weight: 1,
      },
    );
    const frames = fc.sample(frame, { numRuns: options.frames, ...(options.seed === undefined ? {} : { seed: options.seed }) });

    // Observers chat all along.
    let chatting = true;
    const chat = (async () => {
      let sent = 0;
      while (chatting) {
        await a.ok('sendMessage', { conversationId: observed, text: `side ${sent}` });
        sent++;
        await sleep(100);
      }
      return sent;
    })();
    chat.catch(() => undefined); // awaited below; a failure is reported there, not as an unhandled rejection

    const counts = { sent: {} as Record<string, number>, closedBy: {} as Record<string, number>, acks: 0, ackCodes: {} as Record<string, number>, badAcks: [] as unknown[], lostAcks: 0 };
    const bump = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);
    /** A fuzzing connection; when it ends, the kind of the last raw frame sent on it is blamed. */
    const open = () =>
      new Promise<Socket & { lastRaw?: Kind }>((resolve, reject) => {
        const socket: Socket & { lastRaw?: Kind } = io(service.httpUrl, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
        sockets.push(socket);
        socket.once('disconnect', (reason) => {
          if (reason !== 'io client disconnect') bump(counts.closedBy, socket.lastRaw ?? 'event');
        });
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });
    const rssBefore = await rss();
    const started = performance.now();
    // The service's used heap, twice a second: its floors are what survives garbage collection.
    const heapSamples: Array<{ at: number; mb: number }> = [];
    // RSS once half the frames have gone: V8 has sized its heap for this allocation rate by then
    // (RSS rises 50–110 MB from cold and then stays flat), so what RSS gains after it is what the
    // fuzzing keeps (a leak), not the heap's sizing.
    let rssWarmed: number | undefined;
    const sentSoFar = () => Object.values(counts.sent).reduce((sum, n) => sum + n, 0);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const text = await scrape(service.httpUrl).catch(() => '');
        const used = sample(text, 'nodejs_heap_size_used_bytes');
        if (used !== undefined) heapSamples.push({ at: performance.now(), mb: used / 2 ** 20 });
        if (rssWarmed === undefined && sentSoFar() >= options.frames / 2) rssWarmed = (sample(text, 'process_resident_memory_bytes') ?? Number.NaN) / 2 ** 20;
        await sleep(500);
      }
    })();
    const heapAtStart = heapSamples[0]?.mb ?? (sample(await scrape(service.httpUrl), 'nodejs_heap_size_used_bytes') ?? Number.NaN) / 2 ** 20;

    // Lanes, each on its own connection, reopened when a frame ended it. Events and raw frames go on
    // separate lanes, so that raw frames ending connections do not take events down with them.
    const queues = { events: frames.filter((entry) => entry.kind === 'event'), raw: frames.filter((entry) => entry.kind !== 'event') };
    const lane = (queue: typeof frames) => async () => {
      let next = 0;
      const take = () => queue[next++];
      return take;
    };
    const takers = { events: await lane(queues.events)(), raw: await lane(queues.raw)() };
    await Promise.all(
      [...Array.from({ length: 6 }, () => takers.events), ...Array.from({ length: 2 }, () => takers.raw)].map(async (take) => {
        let socket = await open();
        let pending: Array<Promise<void>> = [];
        const settle = async () => {
          await Promise.all(pending);
          pending = [];
        };
        for (let entry = take(); entry; entry = take()) {
          const { kind, build } = entry;
          if (!socket.connected) {
            await settle();
            socket = await open();
          }
          const value = build();
          bump(counts.sent, kind);
          const current = socket;
          if (kind === 'event') {
            const { event, payload } = value as { event: string; payload: unknown };
            pending.push(
              (current.timeout(10_000).emitWithAck(event, payload) as Promise<unknown>).then(
                (ack) => {
                  counts.acks++;
                  const shaped = ack as { ok?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } };
                  if (shaped?.ok === true && 'data' in shaped) bump(counts.ackCodes, 'ok');
                  else if (shaped?.ok === false && ERROR_CODES.includes(shaped.error?.code as never) && typeof shaped.error?.message === 'string') bump(counts.ackCodes, String(shaped.error.code));
                  else counts.badAcks.push(ack);
                },
                () => {
                  // No ack: acceptable only when a raw frame ended this connection meanwhile.
                  if (current.connected) counts.lostAcks++;
                },
              ),
            );
          } else {
            current.lastRaw = kind;
            if (kind === 'unknown-event') {
              const { event, args } = value as { event: string; args: unknown[] };
              // Reserved names are refused by the client library itself; the server must cope with the rest.
              if (!['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'].includes(event)) current.emit(event, ...args);
            } else if (kind === 'socketio-packet') {
              (current.io as unknown as { engine: { write(data: string): void } }).engine.write(value as string);
            } else {
              (current.io as unknown as { engine: { transport: { ws?: { send(data: unknown): void } } } }).engine.transport.ws?.send(value);
            }
            // Let a frame that ends the connection do so before the next one is blamed.
            if (kind !== 'unknown-event') await sleep(1);
          }
          if (pending.length >= 50) await settle();
        }
        await settle();
        socket.close();
      }),
    );
    const fuzzMs = performance.now() - started;
    sampling = false;
    await sampler;
    // The live heap at the end: the lowest used heap over the second half of the run (several collections happen in it).
    const heapFloorAtEnd = Math.min(...heapSamples.filter((entry) => entry.at - started > fuzzMs / 2).map((entry) => entry.mb));
    const heapPeak = Math.max(...heapSamples.map((entry) => entry.mb));

    // Frames over 64 KiB: that socket closes, the others go on.
    const bystander = await open();
    let oversizeClosed = 0;
    for (let index = 0; index < 20; index++) {
      const victim = await open();
      victim.lastRaw = 'oversize';
      const closed = new Promise<string>((resolve) => victim.once('disconnect', (reason) => resolve(reason)));
      bump(counts.sent, 'oversize');
      victim.emit('sendMessage', { conversationId: ownConversation, text: 'x'.repeat(MAX_FRAME + 1 + index * 1000) });
      await Promise.race([closed.then(() => oversizeClosed++), sleep(5000)]);
    }
    expect(oversizeClosed).toBe(20);
    expect(bystander.connected).toBe(true);
    const stillServed = (await bystander.timeout(5000).emitWithAck('listConversations', {})) as { ok: boolean };
    expect(stillServed.ok).toBe(true);

    chatting = false;
    const sideSent = await chat;
    await b.waitFor('newMessage', undefined, { count: sideSent, timeoutMs: 10_000 });
    await sleep(1000);
    const rssAfter = await rss();
    const live = await fetch(`${service.httpUrl}/health/live`);

    const total = Object.values(counts.sent).reduce((sum, n) => sum + n, 0);
    report(`gateway fuzzing (${options.frames} frames)`, {
      frames: total,
      ...Object.fromEntries(Object.entries(counts.sent).map(([kind, n]) => [`sent_${kind}`, n])),
      acks: counts.acks,
      ack_codes: JSON.stringify(counts.ackCodes),
      malformed_acks: counts.badAcks.length,
      unanswered_events_on_open_sockets: counts.lostAcks,
      ...Object.fromEntries(Object.entries(counts.closedBy).map(([kind, n]) => [`connections_ended_by_${kind}`, n])),
      oversize_frames_closed_their_socket: `${oversizeClosed}/20`,
      crashes: service.process.exitCode === null ? 0 : 1,
      rss_before_mb: rssBefore,
      rss_after_mb: rssAfter,
      rss_growth_mb: rssAfter - rssBefore,
      rss_at_half_mb: rssWarmed ?? Number.NaN,
      rss_growth_second_half_mb: rssAfter - (rssWarmed ?? Number.NaN),
      heap_used_start_mb: heapAtStart,
      heap_used_peak_mb: heapPeak,
      live_heap_floor_end_mb: heapFloorAtEnd,
      live_heap_growth_mb: heapFloorAtEnd - heapAtStart,
      observer_disconnects: [a, b].filter((client) => !client.socket.connected).length,
      side_messages_delivered: `${b.events('newMessage').length}/${sideSent}`,
      duration_ms: fuzzMs,
    });
    const internals = service
      .output()
      .split('\n')
      .filter((line) => line.includes('failed with INTERNAL'));
    if (internals.length > 0) console.info(`INTERNAL answers, as logged by the service:\n${internals.slice(0, 10).join('\n')}`);
    expect(service.process.exitCode).toBeNull();
    expect(live.status).toBe(200);
    expect(counts.badAcks).toEqual([]);
    expect(counts.ackCodes.INTERNAL ?? 0).toBe(0);
    expect(counts.lostAcks).toBe(0);
    expect(a.socket.connected && b.socket.connected).toBe(true);
    expect(b.events('newMessage')).toHaveLength(sideSent);
    // No leak: what survives collection grows by less than 50 MB, and so does RSS once V8 has sized
    // its heap for the fuzzing's allocation rate (over the second half; the sizing is reported, and bounded).
    expect(heapFloorAtEnd - heapAtStart).toBeLessThan(50);
    expect(rssAfter - (rssWarmed ?? Number.NaN)).toBeLessThan(50);
    expect(rssAfter - rssBefore).toBeLessThan(250);
  } finally {
    await cleanup.run();
  }
}
