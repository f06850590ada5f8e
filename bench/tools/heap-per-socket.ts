// What one idle authenticated socket keeps on the service's heap, by constructor: heap
// snapshots (through the inspector, after a full GC) before and after N sockets connect.
//
//   npm run -s build:bench && N=1000 [NODEARGS="--import ./bench/dist/tools/no-async-context.js"] [RELAY=1] \
//   node bench/dist/tools/heap-per-socket.js
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type * as ConnectionsGraphModule from '../../src/infrastructure/embedded/connections-graph.js';
import type * as ConnectionsServerModule from '../../src/infrastructure/embedded/connections-server.js';
import { databaseUrl, recreateDatabase } from '../lib/db.js';
import { fromBuild, startBareRelay, startService } from '../lib/service.js';
import { signToken } from '../lib/tokens.js';

const N = Number(process.env.N ?? 1000);
const ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const { ConnectionsGraph } = await fromBuild<typeof ConnectionsGraphModule>('infrastructure/embedded/connections-graph.js');
const { startConnectionsServer } = await fromBuild<typeof ConnectionsServerModule>('infrastructure/embedded/connections-server.js');
const connections = await startConnectionsServer(new ConnectionsGraph());
await recreateDatabase(ADMIN, 'messaging_probe');
const secret = 'probe-secret-'.padEnd(40, 'x');
const server = process.env.RELAY
  ? await startBareRelay({ inspect: true })
  : await startService({
      env: { DATABASE_URL: databaseUrl(ADMIN, 'messaging_probe'), CONNECTIONS_GRPC_URL: connections.url, JWT_SECRET: secret },
      inspect: true,
      nodeArgs: (process.env.NODEARGS ?? '').split(' ').filter(Boolean),
    });
const inspectPort = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(server.tail.join('\n'))?.[1]);

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

async function snapshot(): Promise<Map<string, { count: number; size: number }>> {
  const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.once('open', resolve));
  const chunks: string[] = [];
  const waiting = new Map<number, (message: unknown) => void>();
  let id = 0;
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { id?: number; method?: string; params?: { chunk: string } };
    if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params?.chunk ?? '');
    else if (message.id !== undefined && waiting.has(message.id)) {
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    }
  });
  const call = (method: string, params = {}) =>
    new Promise((resolve) => {
      waiting.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  ws.close();
  const snap = JSON.parse(chunks.join('')) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const byKind = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt]];
    let name = snap.strings[snap.nodes[i + nameAt]];
    if (type.includes('string')) name = '(string)';
    if (type === 'code') name = '(code)';
    const key = `${type}: ${name.slice(0, 60)}`;
    const entry = byKind.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += snap.nodes[i + sizeAt];
    byKind.set(key, entry);
  }
  return byKind;
}

const auth = (user: string) => (process.env.RELAY ? { room: user, userId: user } : { token: signToken(secret, user) });
const connect = (user: string) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = io(server.url, { auth: auth(user), transports: ['websocket'], forceNew: true, reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
for (const socket of await Promise.all(Array.from({ length: 50 }, (_, i) => connect(`warm${i}`)))) socket.close();
await new Promise((resolve) => setTimeout(resolve, 1000));
const before = await snapshot();
const sockets: Socket[] = [];
for (let i = 0; i < N; i += 50) sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, j) => connect(`h${i + j}`)))));
await new Promise((resolve) => setTimeout(resolve, 1500));
const after = await snapshot();
const rows: [string, number, number][] = [];
let total = 0;
for (const [key, entry] of after) {
  const previous = before.get(key) ?? { count: 0, size: 0 };
  total += entry.size - previous.size;
  rows.push([key, entry.count - previous.count, entry.size - previous.size]);
}
rows.sort((a, b) => b[2] - a[2]);
console.log(`heap per socket: ${(total / N / 1024).toFixed(2)} KiB (${N} sockets)`);
for (const [key, count, size] of rows.slice(0, 30)) console.log(`${String(Math.round(size / N)).padStart(7)} B/socket ${(count / N).toFixed(2).padStart(7)} objects/socket  ${key}`);
for (const socket of sockets) socket.close();
await server.stop();
await connections.stop();
const client = new pg.Client({ connectionString: ADMIN });
await client.connect();
await client.query('DROP DATABASE IF EXISTS messaging_probe WITH (FORCE)');
await client.end();
