import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { signUserToken } from '../../../src/auth/jwt-signer.js';
import { testCleanup } from '../cleanup.js';
import { startSingleService } from './single-service.js';
import { distribution, percentile, report, sleep } from '../figures.js';
import { userId } from '../factories.js';
import { pollUntil, spawnChild } from '../processes.js';
import { TestClient } from '../socket-client.js';
import { TEST_JWT_SECRET } from '../test-app.js';

/** User plus system CPU time of a process, in seconds (Linux /proc; clock ticks of 10 ms). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export interface FloodOptions {
  label: string;
  /** Pairs of ordinary users, each sender at `perUserRate` messages a second (under the default limit of 10). */
  pairs: number;
  perUserRate: number;
  floodMessagesPerSecond: number;
  floodTypingPerSecond: number;
  /** Unloaded and flooded windows alternate, `rounds` of each. */
  windowMs: number;
  rounds: number;
  /**
   * The others' p99 when flooded ÷ unflooded may be at most this (the issue's goal is 1.2). Windows
   * of 1.5 s hold ~300 samples each, whose p99 moves by a few milliseconds from window to window on
   * this two-core machine, so the fast suite allows more and the chaos suite's longer windows hold 1.2.
   */
  maxP99Ratio: number;
  /**
   * Or at most this many milliseconds added to the quiet p99: a refusal costs a fixed amount of
   * CPU, so the ratio alone gets stricter as the service gets faster (docs/reliability.md, "Flood").
   */
  maxP99AddedMs?: number;
}

const FLOODER = fileURLToPath(new URL('../flooder.mjs', import.meta.url));

/**
 * One user floods (1,000 sendMessage and 500 startTyping a second) while ordinary users chat. The
 * service runs as a process of its own with the default limits; the flooder runs in a process of
 * its own too, under `nice`, so that the measurement is the service's fairness, not the flooder's
 * CPU on this small machine. The flood must be limited (RESOURCE_EXHAUSTED beyond 10 messages and
 * 5 typing events a second, with their bursts), and the others' delivery latency (sender's emit to
 * recipient's newMessage) must stay within 20 % of its unflooded value at p99. Unflooded and flooded
 * windows alternate, so that drift on a shared machine falls on both.
 */
export async function flood(options: FloodOptions): Promise<void> {
  const cleanup = testCleanup();
  const { graph, service } = await startSingleService(cleanup);
  const clients: TestClient[] = [];
  cleanup.add(() => clients.forEach((client) => client.close()));
  const sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1 });
  cleanup.add(() => sql.end());
  try {
    const connect = async (user: string) => {
      const client = await TestClient.connect(service.httpUrl, await signUserToken(TEST_JWT_SECRET, user));
      clients.push(client);
      return client;
    };
    // The flooder and the friend it floods.
    const [flooder, friend] = [userId('flooder'), userId('friend')];
    graph.connect(flooder, friend);
    const friendClient = await connect(friend);
    const floodConversation = (await friendClient.ok('startConversation', { participantId: flooder })).conversation.conversationId;

    // Ordinary pairs; latency is measured from the sender's emit to the recipient's newMessage.
    const pairs: Array<{ sender: TestClient; conversationId: string }> = [];
    const sentAt = new Map<string, number>();
    const latencies: Array<{ at: number; ms: number }> = [];
    for (let index = 0; index < options.pairs; index++) {
      const [alice, bob] = [userId('alice'), userId('bob')];
      graph.connect(alice, bob);
      const sender = await connect(alice);
      const recipient = await connect(bob);
      recipient.socket.on('newMessage', (message) => {
        const started = sentAt.get(message.text);
        if (started !== undefined) latencies.push({ at: performance.now(), ms: performance.now() - started });
      });
      pairs.push({ sender, conversationId: (await sender.ok('startConversation', { participantId: bob })).conversation.conversationId });
    }
    let chatting = true;
    let refused = 0;
    const intervalMs = 1000 / options.perUserRate;
    const chatters = pairs.map(async ({ sender, conversationId }, index) => {
      await sleep((index / pairs.length) * intervalMs);
      const first = performance.now();
      for (let tick = 0; chatting; tick++) {
        const text = `m ${index} ${tick}`;
        sentAt.set(text, performance.now());
        void sender.emit('sendMessage', { conversationId, text }).then((result) => {
          if (!result.ok) refused++;
        });
        await sleep(Math.max(0, first + (tick + 1) * intervalMs - performance.now()));
      }
    });
    await sleep(2000); // warm up

    // One flooder process for the whole run, turned on and off by signals: no process start inside a window.
    const child = spawnChild('nice', ['-n', '19', process.execPath, FLOODER], {
      PATH: process.env.PATH,
      URL: service.httpUrl,
      TOKEN: await signUserToken(TEST_JWT_SECRET, flooder),
      CONVERSATION_ID: floodConversation,
      MESSAGES_PER_SECOND: String(options.floodMessagesPerSecond),
      TYPING_PER_SECOND: String(options.floodTypingPerSecond),
    });
    cleanup.add(() => child.kill('SIGKILL'));
    await pollUntil('the flooder to connect', () => (child.output().includes('"ready"') ? true : undefined), 10_000);
    const windows: Array<{ flooded: boolean; from: number; to: number; serviceCpu: number; flooderCpu: number }> = [];
    for (let round = 0; round < options.rounds; round++) {
      for (const floodedWindow of [false, true]) {
        if (floodedWindow) child.kill('SIGUSR1');
        await sleep(300); // the flood starts (or its last answers drain) before the window opens
        const [serviceBefore, flooderBefore] = [cpuSeconds(service.process.pid), cpuSeconds(child.process.pid)];
        const from = performance.now();
        await sleep(options.windowMs);
        const to = performance.now();
        const cores = (before: number, pid?: number) => (cpuSeconds(pid) - before) / ((to - from) / 1000);
        windows.push({ flooded: floodedWindow, from, to, serviceCpu: cores(serviceBefore, service.process.pid), flooderCpu: cores(flooderBefore, child.process.pid) });
        if (floodedWindow) child.kill('SIGUSR1');
      }
    }
    child.kill('SIGUSR2');
    const status = await child.exited;
    expect(status.code, child.output()).toBe(0);
    const floodResult = JSON.parse(child.output().trim().split('\n').at(-1)!) as {
      sentMessages: number;
      sentTyping: number;
      outcomes: Record<string, Record<string, number>>;
      unanswered: number;
      connected: boolean;
      floodedMs: number;
    };
    chatting = false;
    await Promise.all(chatters);
    await sleep(500);

    const inWindows = (flooded: boolean) =>
      latencies.filter((entry) => windows.some((window) => window.flooded === flooded && entry.at >= window.from && entry.at < window.to)).map((entry) => entry.ms);
    const quiet = distribution(inWindows(false));
    const flooded = distribution(inWindows(true));
    const windowP99 = (floodedWindows: boolean) =>
      windows
        .filter((window) => window.flooded === floodedWindows)
        .map((window) => percentile(latencies.filter((entry) => entry.at >= window.from && entry.at < window.to).map((entry) => entry.ms), 99));
    const median = (values: number[]) => percentile(values, 50);
    const meanCpu = (flooded: boolean, key: 'serviceCpu' | 'flooderCpu') => {
      const selected = windows.filter((window) => window.flooded === flooded);
      return Math.round((selected.reduce((sum, window) => sum + window[key], 0) / selected.length) * 1000) / 1000;
    };
    const quietWindows = windowP99(false);
    const floodedWindows = windowP99(true);
    const floodSeconds = floodResult.floodedMs / 1000;
    const sum = (event: string, key: string) => floodResult.outcomes[event]?.[key] ?? 0;
    const stored = Number(
      (await sql.query<{ n: string }>('SELECT count(*) AS n FROM message WHERE conversation_id = $1', [floodConversation])).rows[0]!.n,
    );
    const typingHeard = friendClient.events('typing').length;
    report(`flood (${options.label})`, {
      flood_messages_sent: floodResult.sentMessages,
      flood_messages_accepted: sum('sendMessage', 'ok'),
      flood_messages_refused: sum('sendMessage', 'RESOURCE_EXHAUSTED'),
      flood_messages_stored: stored,
      flood_typing_sent: floodResult.sentTyping,
      flood_typing_accepted: sum('startTyping', 'ok'),
      flood_typing_refused: sum('startTyping', 'RESOURCE_EXHAUSTED'),
      typing_events_heard_by_friend: typingHeard,
      flood_unanswered: floodResult.unanswered,
      flood_seconds: floodSeconds,
      others_msg_per_s: options.pairs * options.perUserRate,
      others_refused: refused,
      samples_quiet: quiet.count,
      samples_flooded: flooded.count,
      quiet_p50_ms: quiet.p50,
      quiet_p99_ms: quiet.p99,
      flooded_p50_ms: flooded.p50,
      flooded_p99_ms: flooded.p99,
      pooled_p99_ratio: flooded.p99 / quiet.p99,
      quiet_window_p99s_ms: quietWindows.map((value) => Math.round(value * 10) / 10).join('|'),
      flooded_window_p99s_ms: floodedWindows.map((value) => Math.round(value * 10) / 10).join('|'),
      median_window_p99_quiet_ms: median(quietWindows),
      median_window_p99_flooded_ms: median(floodedWindows),
      median_window_p99_ratio: median(floodedWindows) / median(quietWindows),
      service_cores_quiet: meanCpu(false, 'serviceCpu'),
      service_cores_flooded: meanCpu(true, 'serviceCpu'),
      flooder_cores: meanCpu(true, 'flooderCpu'),
    });
    // Limited: at most the sustained rate over the flood plus one burst per flood, the rest refused.
    // (Buckets refill between flooded windows: one burst per window at most.)
    expect(sum('sendMessage', 'ok')).toBeLessThanOrEqual(10 * floodSeconds + 20 * options.rounds);
    expect(stored).toBe(sum('sendMessage', 'ok'));
    expect(sum('sendMessage', 'RESOURCE_EXHAUSTED')).toBeGreaterThan(0.9 * floodResult.sentMessages);
    expect(sum('startTyping', 'ok')).toBeLessThanOrEqual(5 * floodSeconds + 20 * options.rounds);
    expect(floodResult.connected && floodResult.unanswered === 0).toBe(true);
    // The others were not refused and kept their latency: p99 of each window, flooded against quiet,
    // compared by their medians, so that a pause of the shared machine in one window does not decide.
    expect(refused).toBe(0);
    const quietP99 = median(quietWindows);
    expect(median(floodedWindows)).toBeLessThanOrEqual(Math.max(options.maxP99Ratio * quietP99, quietP99 + (options.maxP99AddedMs ?? 0)));
  } finally {
    await cleanup.run();
  }
}
