import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { CpuSplit, LoadRun, QueryRun, Results } from './results.js';

const START = '<!-- bench-results:start -->';
const END = '<!-- bench-results:end -->';

type Cell = number | string | null | undefined;
type Row = [metric: string, result: string, target: string, met: string];

const n = (value: Cell) => (value === null || value === undefined ? '–' : Number(value).toLocaleString('en-US'));
const ms = (value: Cell) => (value === null || value === undefined ? '–' : `${value}`);
const mark = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'met' : '**not met**');
/** `a <= b`, with a missing figure counting as 0, as JavaScript's comparison of null does. */
const atMost = (a: number | null | undefined, b: number) => (a ?? 0) <= b;

function headline(results: Results): Row[] {
  const s: Partial<NonNullable<Results['summary']>> = results.summary ?? {};
  const rows: Row[] = [];
  const t = s.throughput;
  if (t) {
    rows.push([
      `Durable throughput (closed loop, ${t.pairs} pairs × ${t.inflight} in flight; stored, delivered, acked)`,
      `${n(t.durableMsgPerSec)} msg/s (p50 ${ms(t.p50Ms)} ms, p99 ${ms(t.p99Ms)} ms)`,
      '≥ 15,000 msg/s',
      mark(t.durableMsgPerSec >= 15_000),
    ]);
    rows.push([
      `Bare Socket.IO relay, best of the same closed-loop variants (${t.bareRelayPairs} pairs × ${t.bareRelayInflight}) (baseline)`,
      `${n(t.bareRelayMsgPerSec)} msg/s`,
      '',
      '',
    ]);
    rows.push([
      'Service ÷ bare relay (peak ÷ peak)',
      t.ratio === null ? '–' : `${t.ratio.toFixed(2)}${t.ratioSameLoad !== null ? ` (${t.ratioSameLoad.toFixed(2)} at the same variant)` : ''}`,
      '≥ 0.3',
      t.ratio === null ? '' : mark(t.ratio >= 0.3),
    ]);
    if (t.ratioW1 !== undefined) {
      rows.push(['Service ÷ bare relay at 1 and at 4 in flight per pair (100 pairs)', `${ms(t.ratioW1)} and ${ms(t.ratioW4)}`, '≥ 0.3 both', mark((t.ratioW1 ?? 0) >= 0.3 && (t.ratioW4 ?? 0) >= 0.3)]);
      rows.push(['4 in flight ÷ 1 in flight (service)', ms(t.inflight4Over1), '≥ 1.3', mark((t.inflight4Over1 ?? 0) >= 1.3)]);
      const c = t.cpuPerMessageUs;
      const total = c.service !== null && c.postgres !== null ? c.service + c.postgres : null;
      rows.push([
        'CPU per message: service + PostgreSQL vs bare relay',
        `${n(c.service)} + ${n(c.postgres)} = ${n(total)} µs vs ${n(c.relay)} µs`,
        '≤ 4 × relay',
        total === null || c.relay === null ? '' : mark(total <= 4 * c.relay),
      ]);
    } else {
      rows.push(['Server CPU per message, service vs bare relay', `${n(t.serverCpuMicrosPerMessage)} µs vs ${n(t.bareRelayCpuMicrosPerMessage)} µs`, '', '']);
    }
    if (t.maxRateP99Within50Ms !== null) rows.push(['Highest rate with p99 ≤ 50 ms (open-loop sweep)', `${n(t.maxRateP99Within50Ms)} msg/s`, '', '']);
  }
  const l = s.latencyAt2000;
  if (l) {
    rows.push([
      `Latency emit→newMessage at ${n(l.rate)} msg/s over ${n(l.pairs)} pairs`,
      `p50 ${ms(l.p50Ms)} ms, p99 ${ms(l.p99Ms)} ms`,
      'p99 ≤ 20 ms',
      mark(atMost(l.p99Ms, 20)),
    ]);
    if (l.bareRelayP99Ms !== null && l.bareRelayP99Ms !== undefined) rows.push(['… the bare relay at the same rate (baseline)', `p50 ${ms(l.bareRelayP50Ms)} ms, p99 ${ms(l.bareRelayP99Ms)} ms`, '', '']);
  }
  const low = s.lowRate;
  if (low) {
    rows.push([`Latency at low rate (${n(low.rate)} msg/s over ${n(low.pairs)} pairs)`, `p50 ${ms(low.p50Ms)} ms, p99 ${ms(low.p99Ms)} ms`, 'p50 ≤ 2 ms', mark(atMost(low.p50Ms, 2))]);
    if (low.bareRelayP50Ms !== null && low.bareRelayP50Ms !== undefined) rows.push(['… the bare relay at the same rate (baseline)', `p50 ${ms(low.bareRelayP50Ms)} ms, p99 ${ms(low.bareRelayP99Ms)} ms`, '', '']);
  }
  const h = s.history;
  if (h) {
    rows.push([
      `GetMessageHistory (gRPC), pages of 50 at every depth of a ${n(h.conversationMessages)}-message conversation, ${n(h.rows)} rows, concurrency 16`,
      `p50 ${ms(h.p50Ms)}, p95 ${ms(h.p95Ms)}, p99 ${ms(h.p99Ms)} ms; ${n(h.queriesPerSec)} q/s`,
      '',
      '',
    ]);
    rows.push(['… the same keyset SQL straight through pg (baseline)', `p50 ${ms(h.rawSqlP50Ms)}, p95 ${ms(h.rawSqlP95Ms)}, p99 ${ms(h.rawSqlP99Ms)} ms; ${n(h.rawSqlQueriesPerSec)} q/s`, 'gRPC p95 ≤ 1.5 ×', mark(atMost(h.p95Ms, 1.5 * (h.rawSqlP95Ms ?? 0)))]);
    if (h.serviceCpuMicrosPerPage !== undefined) rows.push(['GetMessageHistory service CPU per page of 50', `${n(h.serviceCpuMicrosPerPage)} µs`, '≤ 300 µs', mark(h.serviceCpuMicrosPerPage <= 300)]);
    const f = h.freshTable;
    if (f) {
      rows.push([
        `GetMessageHistory on a conversation just grown to ${n(f.conversationMessages)} messages, not analyzed: gRPC p95 vs the same SQL through pg`,
        `${ms(f.p95Ms)} ms vs ${ms(f.rawSqlP95Ms)} ms (PostgreSQL ${f.postgresCores} cores under gRPC load)`,
        'gRPC p95 ≤ 1.5 ×',
        mark(atMost(f.p95Ms, 1.5 * (f.rawSqlP95Ms ?? 0))),
      ]);
    }
  }
  const li = s.list;
  if (li) {
    rows.push([
      `ListConversations (gRPC), pages of 50 at every depth of ${n(li.conversations)} conversations, concurrency 16`,
      `p50 ${ms(li.p50Ms)}, p95 ${ms(li.p95Ms)}, p99 ${ms(li.p99Ms)} ms; ${n(li.queriesPerSec)} q/s`,
      '',
      '',
    ]);
    rows.push(['… the same SQL straight through pg (baseline)', `p50 ${ms(li.rawSqlP50Ms)}, p95 ${ms(li.rawSqlP95Ms)}, p99 ${ms(li.rawSqlP99Ms)} ms; ${n(li.rawSqlQueriesPerSec)} q/s`, 'gRPC p95 ≤ 1.5 ×', mark(atMost(li.p95Ms, 1.5 * (li.rawSqlP95Ms ?? 0)))]);
  }
  const so = s.sockets;
  if (so) {
    rows.push([
      `Idle authenticated sockets (${so.instances} instance${so.instances > 1 ? 's' : ''})`,
      `${n(so.count)} sockets; ${ms(so.rssKiBPerSocket)} KiB RSS and ${ms(so.heapKiBPerSocket)} KiB heap per socket (bare relay: ${ms(so.bareRelayRssKiBPerSocket)} and ${ms(so.bareRelayHeapKiBPerSocket)}); ${n(so.connectsPerSec)} connects/s`,
      '50,000 at ≤ 1.3 × the relay\'s RSS each',
      mark(so.count >= 50_000 && atMost(so.rssKiBPerSocket, 1.3 * (so.bareRelayRssKiBPerSocket ?? 0))),
    ]);
  }
  const r = s.twoInstances;
  if (r) {
    rows.push(['Two instances, Redis adapter, each pair split across them', `${n(r.msgPerSec)} msg/s, p99 ${ms(r.p99Ms)} ms`, '', '']);
    rows.push(['One instance with the Redis adapter (reference)', `${n(r.oneInstanceRedisMsgPerSec)} msg/s, p99 ${ms(r.oneInstanceRedisP99Ms)} ms`, '', '']);
  }
  return rows;
}

function markdownTable(header: string[], rows: string[][]): string {
  const escape = (cell: string) => String(cell).replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`)].join('\n');
}

/** The console table. */
export function renderTable(results: Results): string {
  const rows = headline(results).map(([metric, result, target, met]) => [metric, result, target, met.replace(/\*/g, '')]);
  const header = ['metric', 'result', 'target', ''];
  const widths = header.map((h, i) => Math.min(i === 0 ? 70 : 90, Math.max(h.length, ...rows.map((row) => row[i].length))));
  const line = (cells: string[]) => cells.map((cell, i) => (cell.length > widths[i] ? `${cell.slice(0, widths[i] - 1)}…` : cell.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function latencyRow(label: string, run: LoadRun, extra: string[] = []): string[] {
  const l = run.latency;
  return [label, n(run.msgPerSec), ...extra, ms(l.p50Ms), ms(l.p95Ms), ms(l.p99Ms), ms(l.maxMs), ms(run.ack?.p99Ms), n(run.serverCpuMicrosPerMessage), cpuText(run.cpu)];
}

function cpuText(cpu: CpuSplit | undefined): string {
  if (!cpu) return '';
  const main = cpu.serverMainThreadCores !== undefined ? ` (main thread ${cpu.serverMainThreadCores})` : '';
  return `svc ${cpu.serviceCores ?? cpu.relayCores ?? '–'}${main}, gen ${cpu.generatorsCores}, pg ${cpu.postgresCores}, other ${cpu.otherCores}`;
}

/** The results page: headline against the targets, then every measurement. */
export function renderMarkdown(results: Results): string {
  const { meta } = results;
  const out: string[] = [];
  out.push(`### Results: ${meta.mode} run of ${meta.date}`);
  out.push('');
  out.push(
    `Machine: ${meta.machine.cores} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB, ${meta.machine.kernel}; Node ${meta.node}; PostgreSQL ${meta.postgres}; Redis ${meta.redis ?? '–'}. ` +
      `Service and load generators (${meta.settings.generators} processes) share the cores. Commit ${meta.git.commit}${meta.git.dirty ? ' (with uncommitted changes in src/)' : ''}. Took ${meta.durationSeconds} s.`,
  );
  out.push('');
  out.push(markdownTable(['Measurement', 'Result', 'Target', ''], headline(results)));
  const other = meta.interference;
  if (other) {
    out.push('');
    const repeated = other.repeatedSteps ? ` ${other.repeatedSteps} step(s) were measured again because of outside load, keeping the least disturbed attempt.` : '';
    out.push(
      (other.meanOtherCores ?? 0) > 0.25
        ? `**Other work shared the machine during this run** (on average ${other.meanOtherCores} of ${meta.machine.cores} cores busy outside the bench in the kept steps, up to ${other.maxOtherCores}): the numbers are lower and noisier than on an idle machine.${repeated}`
        : `The machine was otherwise quiet (on average ${other.meanOtherCores} cores busy outside the bench during the kept steps).${repeated}`,
    );
  }
  out.push('');
  const cpuNote = 'server CPU µs/msg: the service (or relay) process\'s CPU time over the step divided by messages completed. CPU columns: cores busy on average during the step: the service (or relay; in brackets its busiest main thread, i.e. event loop, where 1.0 means CPU-bound), the load generators, the PostgreSQL backends of the bench databases, and anything else on the machine (`other`: work outside the bench, including other databases, competing for the two cores).';
  const latencyHeader = ['Run', 'msg/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'ack p99 ms', 'server CPU µs/msg', 'CPU (cores)'];
  if (results.throughput || results.relay?.variants.length) {
    out.push('#### Throughput, closed loop (emit → recipient newMessage)');
    out.push('');
    const rows: string[][] = [];
    for (const v of results.throughput?.variants ?? []) rows.push(latencyRow(`service, ${v.pairs} pairs × ${v.inflight} in flight`, v));
    for (const v of results.relay?.variants ?? []) rows.push(latencyRow(`bare relay, ${v.pairs} pairs × ${v.inflight} in flight`, v));
    out.push(markdownTable(latencyHeader, rows));
    out.push('');
    out.push(cpuNote);
    out.push('');
  }
  if (results.sweep) {
    out.push(`#### Offered-load sweep (open loop, ${n(results.plan.pairs)} pairs; steps are fractions of the closed-loop peak ${n(results.sweep.basis)} msg/s)`);
    out.push('');
    out.push(
      markdownTable(
        ['Offered msg/s', 'achieved msg/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'ack p99 ms', 'server CPU µs/msg', 'CPU (cores)', 'p99 ≤ 50 ms and kept up'],
        results.sweep.steps.map((step) => {
          const [, achieved, ...rest] = latencyRow('', step);
          return [n(step.rate), achieved, ...rest, step.pass ? 'yes' : 'no'];
        }),
      ),
    );
    out.push('');
  }
  if (results.latencyAt || results.lowRate) {
    out.push('#### Fixed rates (open loop)');
    out.push('');
    const rows: string[][] = [];
    if (results.lowRate) rows.push(latencyRow(`${n(results.lowRate.rate)} msg/s over ${n(results.lowRate.pairs)} pairs`, results.lowRate));
    if (results.relay?.latencyAt) rows.push(latencyRow(`bare relay, ${n(results.relay.latencyAt.rate)} msg/s over ${n(results.relay.latencyAt.pairs)} pairs`, results.relay.latencyAt));
    if (results.relay?.lowRate) rows.push(latencyRow(`bare relay, ${n(results.relay.lowRate.rate)} msg/s over ${n(results.relay.lowRate.pairs)} pairs`, results.relay.lowRate));
    if (results.latencyAt) rows.push(latencyRow(`${n(results.latencyAt.rate)} msg/s over ${n(results.latencyAt.pairs)} pairs`, results.latencyAt));
    out.push(markdownTable(latencyHeader, rows));
    out.push('');
  }
  if (results.history && results.list) {
    out.push(`#### History and conversation list (pages of ${results.history.pageSize}, concurrency ${results.history.grpc.concurrency})`);
    out.push('');
    const row = (label: string, run: QueryRun) => [label, n(run.queriesPerSec), ms(run.latency.p50Ms), ms(run.latency.p95Ms), ms(run.latency.p99Ms), ms(run.latency.maxMs), String(run.rowsPerPage), n(run.serverCpuMicrosPerQuery), cpuText(run.cpu)];
    out.push(
      markdownTable(
        ['Query', 'q/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'rows/page', 'service CPU µs/query', 'CPU (cores)'],
        [
          row(`GetMessageHistory over gRPC (${n(results.history.conversationMessages)}-message conversation, ${n(results.history.rows)} rows in all)`, results.history.grpc),
          row('history keyset SQL through pg', results.history.rawSql),
          row(`ListConversations over gRPC (${n(results.list.conversations)} conversations)`, results.list.grpc),
          row('listForUser SQL through pg', results.list.rawSql),
          ...(results.history.freshTable
            ? [
                row(`GetMessageHistory over gRPC, conversation just grown to ${n(results.history.freshTable.conversationMessages)}, not analyzed`, results.history.freshTable.grpc),
                row('the same history SQL through pg', results.history.freshTable.rawSql),
              ]
            : []),
        ],
      ),
    );
    out.push('');
  }
  if (results.sockets) {
    const s = results.sockets;
    out.push(`#### Idle sockets`);
    out.push('');
    out.push(
      `${n(s.count)} of ${n(s.requested)} requested sockets connected (${n(s.failed)} failed) from ${s.clientProcesses} client processes in ${s.connectSeconds} s: ${n(s.connectsPerSec)} connects/s ` +
        `(each a WebSocket upgrade, a JWT check and a catch-up query). ${s.stillConnectedAfterSettle} still connected after settling. ` +
        `${s.instances > 1 ? `Spread over ${s.instances} instances sharing Redis, because one process may hold only ${n(s.openFileLimitPerProcess)} open files here (hard limit, not raisable in this container).` : ''}`,
    );
    out.push('');
    out.push(
      markdownTable(
        ['Instance', 'sockets', 'RSS before KiB', 'RSS after KiB', 'RSS KiB/socket', 'heap KiB/socket'],
        [
          ...s.perInstance.map((p, i) => [String(i + 1), n(p.sockets), n(p.rssBeforeKiB), n(p.rssAfterKiB), ms(p.rssKiBPerSocket), ms(p.heapKiBPerSocket)]),
          ...(s.bareRelay ? [['bare relay (baseline)', n(s.bareRelay.sockets), n(s.bareRelay.rssBeforeKiB), n(s.bareRelay.rssAfterKiB), ms(s.bareRelay.rssKiBPerSocket), ms(s.bareRelay.heapKiBPerSocket)]] : []),
        ],
      ),
    );
    out.push('');
  }
  if (results.redis) {
    out.push('#### Redis adapter (closed loop)');
    out.push('');
    out.push(
      markdownTable(latencyHeader, [
        latencyRow(`one instance, ${results.redis.oneInstance.pairs} pairs × ${results.redis.oneInstance.inflight}`, results.redis.oneInstance),
        latencyRow(`two instances, sender and recipient on different ones, ${results.redis.twoInstances.pairs} pairs × ${results.redis.twoInstances.inflight}`, results.redis.twoInstances),
      ]),
    );
    out.push('');
  }
  const failures: string[] = [];
  const check = (label: string, run: { errors?: Record<string, number>; timeouts?: number } | undefined) => {
    if (!run) return;
    const errors = Object.entries(run.errors ?? {});
    if (errors.length || run.timeouts) failures.push(`${label}: ${errors.map(([k, v]) => `${k} × ${v}`).join(', ')}${run.timeouts ? ` timeouts × ${run.timeouts}` : ''}`);
  };
  for (const v of results.throughput?.variants ?? []) check(`service ${v.pairs}×${v.inflight}`, v);
  check('low rate', results.lowRate);
  check('fixed rate', results.latencyAt);
  check('history', results.history?.grpc);
  check('list', results.list?.grpc);
  check('two instances', results.redis?.twoInstances);
  if (failures.length) {
    out.push(`Errors during the run: ${failures.join('; ')}.`);
    out.push('');
  }
  const deps = Object.entries(meta.dependencies).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push(`Versions: ${deps}.`);
  out.push('');
  return `${out.join('\n')}\n`;
}

/** Replaces the results block of docs/performance.md (between the markers) with the latest run. */
export function updatePerformanceDoc(file: string, markdown: string, jsonName: string): void {
  if (!existsSync(file)) return;
  const doc = readFileSync(file, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) return;
  const block = `${START}\n<!-- Written by \`npm run bench\` from bench/results/${jsonName}; edit the text around it, not inside. -->\n\n${markdown.replace(/^### /, '### ')}\n${END}`;
  writeFileSync(file, doc.slice(0, start) + block + doc.slice(end + END.length));
}
