// Service CPU per message, steady state: one service process (dist/main.js) on a scratch
// database, PAIRS pairs in one client process, each pair sending one message at a time
// (acknowledged and delivered before the next). Reports the service's user+system CPU from
// /proc divided by messages, which (unlike wall-clock rates) holds up on a busy machine.
//
//   npm run -s build:bench && PAIRS=50 N=20000 WARM=6000 \
//   [NODEARGS="--import ./bench/dist/tools/no-async-context.js"] [PERF=/tmp/perf.data] \
//   node bench/dist/tools/cpu-per-message.js
//
// With PERF set, `perf record -e cpu-clock -g` samples the service during the measured part
// (add --perf-basic-prof --interpreted-frames-native-stack to NODEARGS, then
// `perf script -i $PERF | node bench/dist/tools/perf-breakdown.js <µs per message>`).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import type * as ConnectionsGraphModule from '../../src/infrastructure/embedded/connections-graph.js';
import type * as ConnectionsServerModule from '../../src/infrastructure/embedded/connections-server.js';
import { databaseUrl, recreateDatabase } from '../lib/db.js';
import { fromBuild, startService } from '../lib/service.js';
import { signToken } from '../lib/tokens.js';

const ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const PAIRS = Number(process.env.PAIRS ?? 50);
const N = Number(process.env.N ?? 20_000);
const WARM = Number(process.env.WARM ?? 6000);
const TEXT = 'Benchmark message: the quick brown fox jumps over the lazy dog. 0123456789';
const { ConnectionsGraph } = await fromBuild<typeof ConnectionsGraphModule>('infrastructure/embedded/connections-graph.js');
const { startConnectionsServer } = await fromBuild<typeof ConnectionsServerModule>('infrastructure/embedded/connections-server.js');

const graph = new ConnectionsGraph();
for (let i = 0; i < PAIRS; i++) graph.connect(`p${i}a`, `p${i}b`);
const connections = await startConnectionsServer(graph);
await recreateDatabase(ADMIN, 'messaging_probe');
const secret = 'probe-secret-'.padEnd(40, 'x');
const service = await startService({
  env: {
    DATABASE_URL: databaseUrl(ADMIN, 'messaging_probe'),
    CONNECTIONS_GRPC_URL: connections.url,
    JWT_SECRET: secret,
    ...(process.env.REDIS ? { REDIS_URL: process.env.REDIS } : {}),
  },
  nodeArgs: (process.env.NODEARGS ?? '').split(' ').filter(Boolean),
});
const connect = (user: string) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = io(service.url, { auth: { token: signToken(secret, user) }, transports: ['websocket'], forceNew: true, reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
const pairs: { a: Socket; b: Socket; conversationId: string }[] = [];
for (let i = 0; i < PAIRS; i++) {
  const a = await connect(`p${i}a`);
  const b = await connect(`p${i}b`);
  const started = (await a.emitWithAck('startConversation', { participantId: `p${i}b` })) as { data: { conversation: { conversationId: string } } };
  pairs.push({ a, b, conversationId: started.data.conversation.conversationId });
}
const run = async (n: number) => {
  let sent = 0;
  await Promise.all(
    pairs.map(async (pair) => {
      while (sent < n) {
        sent++;
        const delivered = new Promise((resolve) => pair.b.once('newMessage', resolve));
        await pair.a.emitWithAck('sendMessage', { conversationId: pair.conversationId, text: TEXT });
        await delivered;
      }
    }),
  );
};
const cpu = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
};

await run(WARM);
let perf: ReturnType<typeof spawn> | undefined;
if (process.env.PERF) {
  perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '1999', '-g', '-p', String(service.pid), '-o', process.env.PERF], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 300));
}
const before = cpu(service.pid);
const t0 = performance.now();
await run(N);
const elapsed = performance.now() - t0;
const after = cpu(service.pid);
if (perf) {
  perf.kill('SIGINT');
  const stopped = perf;
  await new Promise((resolve) => stopped.once('exit', resolve));
}
const user = ((after.user - before.user) * 1e6) / N;
const system = ((after.system - before.system) * 1e6) / N;
console.log(
  `${N} messages in ${elapsed.toFixed(0)} ms = ${Math.round(N / (elapsed / 1000))} msg/s; service CPU ${Math.round(user + system)} µs/message (user ${Math.round(user)}, system ${Math.round(system)})`,
);
for (const pair of pairs) {
  pair.a.close();
  pair.b.close();
}
await service.stop();
await connections.stop();
await new pg.Client({ connectionString: ADMIN }).connect().then(async (client) => {
  await client.query('DROP DATABASE IF EXISTS messaging_probe WITH (FORCE)');
  await client.end();
});
