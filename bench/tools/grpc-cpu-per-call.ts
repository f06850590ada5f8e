// Service CPU per gRPC call, steady state: GetMessageHistory pages of 50 at random depths of the
// seeded 200,000-message conversation (or ListConversations first pages with LIST=1), 8 calls in
// flight from this process, against a service on the bench's history database (run
// `npm run bench -- --only=history` once to seed it).
//
//   npm run -s build:bench && [LIST=1] [N=4000] [WARM=4000] [NODEARGS=...] [PERF=/tmp/perf.data] \
//   [BASE=/path/to/another/checkout ROUNDS=6] node bench/dist/tools/grpc-cpu-per-call.js
//
// With BASE, a second service runs from that checkout's build (`npm run build` there first) and
// the two are measured in alternating rounds of N calls, so that whatever else the machine does
// falls on both alike; each one's median over the rounds is printed.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { credentials, type GrpcObject, loadPackageDefinition, Metadata, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type * as Cursor from '../../src/contract/cursor.js';
import type * as ConnectionsGraphModule from '../../src/infrastructure/embedded/connections-graph.js';
import type * as ConnectionsServerModule from '../../src/infrastructure/embedded/connections-server.js';
import { fromBuild, readCpuSeconds, ROOT, startService } from '../lib/service.js';
import { signToken } from '../lib/tokens.js';
import { databaseUrl, HISTORY_CONVERSATION_ID, HISTORY_USERS, LIST_OWNER } from '../lib/db.js';

const ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const HISTORY_DB = process.env.BENCH_HISTORY_DATABASE ?? 'messaging_bench_history';
const { ConnectionsGraph } = await fromBuild<typeof ConnectionsGraphModule>('infrastructure/embedded/connections-graph.js');
const { startConnectionsServer } = await fromBuild<typeof ConnectionsServerModule>('infrastructure/embedded/connections-server.js');
const { encodeCursor } = await fromBuild<typeof Cursor>('contract/cursor.js');
const connections = await startConnectionsServer(new ConnectionsGraph());
const secret = 'x'.repeat(40);
const serviceOptions = {
  env: { DATABASE_URL: databaseUrl(ADMIN, HISTORY_DB), CONNECTIONS_GRPC_URL: connections.url, JWT_SECRET: secret },
  nodeArgs: (process.env.NODEARGS ?? '').split(' ').filter(Boolean),
};
const service = await startService(serviceOptions);
const base = process.env.BASE ? await startService({ ...serviceOptions, name: 'base', root: process.env.BASE }) : undefined;
const definition = loadSync(path.join(ROOT, 'proto/messaging/v1/messaging.proto'), { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true });
const messaging = (loadPackageDefinition(definition).messaging as GrpcObject).v1 as GrpcObject;
const MessagingService = messaging.MessagingService as ServiceClientConstructor;
type Unary = (request: object, metadata: Metadata, callback: (error: ServiceError | null, response: unknown) => void) => void;
type Client = InstanceType<ServiceClientConstructor>;
const LIST = Boolean(process.env.LIST);
const metadata = new Metadata();
metadata.set('authorization', `Bearer ${signToken(secret, LIST ? LIST_OWNER : HISTORY_USERS[0])}`);
const call = (client: Client) =>
  new Promise((resolve, reject) => {
    const methods = client as unknown as Record<'listConversations' | 'getMessageHistory', Unary>;
    const done = (error: ServiceError | null, response: unknown) => (error ? reject(error) : resolve(response));
    if (LIST) methods.listConversations.call(client, { pageSize: 50 }, metadata, done);
    else
      methods.getMessageHistory.call(
        client,
        { conversationId: HISTORY_CONVERSATION_ID, pageSize: 50, paginationCursor: encodeCursor('h1', [2 + Math.floor(Math.random() * 199000)]) },
        metadata,
        done,
      );
  });
const run = async (client: Client, n: number, concurrency = 8) => {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < n) {
        i++;
        await call(client);
      }
    }),
  );
};
const targets = [
  { name: 'this tree', service, client: new MessagingService(service.grpcAddress, credentials.createInsecure()) },
  ...(base ? [{ name: `BASE (${process.env.BASE})`, service: base, client: new MessagingService(base.grpcAddress, credentials.createInsecure()) }] : []),
];
for (const target of targets) await run(target.client, Number(process.env.WARM ?? 4000));
const N = Number(process.env.N ?? 4000);
if (base) {
  const perCall = new Map<string, number[]>(targets.map((target) => [target.name, []]));
  for (let round = 0; round < Number(process.env.ROUNDS ?? 6); round++) {
    for (const target of round % 2 ? [...targets].reverse() : targets) {
      const before = readCpuSeconds(target.service.pid) ?? 0;
      await run(target.client, N);
      perCall.get(target.name)!.push((((readCpuSeconds(target.service.pid) ?? 0) - before) * 1e6) / N);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const [name, values] of perCall)
    console.log(`${LIST ? 'list' : 'history'}, ${name}: service CPU median ${median(values).toFixed(0)} us/call (rounds ${values.map((v) => v.toFixed(0)).join(', ')})`);
} else {
  const [{ client }] = targets;
  let perf: ReturnType<typeof spawn> | undefined;
  if (process.env.PERF) {
    perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '1999', '-g', '-p', String(service.pid), '-o', process.env.PERF], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const cpuBefore = readCpuSeconds(service.pid) ?? 0;
  const t0 = performance.now();
  await run(client, N);
  const elapsed = performance.now() - t0;
  const cpu = (readCpuSeconds(service.pid) ?? 0) - cpuBefore;
  if (perf) {
    const stopped = perf;
    stopped.kill('SIGINT');
    await new Promise((resolve) => stopped.once('exit', resolve));
  }
  console.log(`${LIST ? 'list' : 'history'}: ${N} calls in ${elapsed.toFixed(0)} ms = ${(N / (elapsed / 1000)).toFixed(0)} q/s; service CPU ${((cpu * 1e6) / N).toFixed(0)} us/call`);
}
for (const target of targets) target.client.close();
await base?.stop();
await service.stop();
await connections.stop();
