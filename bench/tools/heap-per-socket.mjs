// What one idle authenticated socket keeps on the service's heap, by constructor: heap
// snapshots (through the inspector, after a full GC) before and after N sockets connect.
//
//   N=1000 [NODEARGS="--import ./bench/tools/no-async-context.mjs"] [RELAY=1] node bench/tools/heap-per-socket.mjs
import path from 'node:path';
import pg from 'pg';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { databaseUrl, recreateDatabase } from '../lib/db.mjs';
import { ROOT, startBareRelay, startService } from '../lib/service.mjs';
import { signToken } from '../lib/tokens.mjs';

const N = Number(process.env.N ?? 1000);
const ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const { ConnectionsGraph } = await import(path.join(ROOT, 'dist/infrastructure/embedded/connections-graph.js'));
const { startConnectionsServer } = await import(path.join(ROOT, 'dist/infrastructure/embedded/connections-server.js'));
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

async function snapshot() {
  const [target] = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.once('open', resolve));
  const chunks = [];
  const waiting = new Map();
  let id = 0;
  ws.on('message', (data) => {
    const message = JSON.parse(data);
    if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params.chunk);
    else if (waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    }
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      waiting.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  ws.close();
  const snap = JSON.parse(chunks.join(''));
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

const auth = (user) => (process.env.RELAY ? { room: user, userId: user } : { token: signToken(secret, user) });
const connect = (user) =>
  new Promise((resolve, reject) => {
    const socket = io(server.url, { auth: auth(user), transports: ['websocket'], forceNew: true, reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
for (const socket of await Promise.all(Array.from({ length: 50 }, (_, i) => connect(`warm${i}`)))) socket.close();
await new Promise((resolve) => setTimeout(resolve, 1000));
const before = await snapshot();
const sockets = [];
for (let i = 0; i < N; i += 50) sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, j) => connect(`h${i + j}`)))));
await new Promise((resolve) => setTimeout(resolve, 1500));
const after = await snapshot();
const rows = [];
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
