// Service CPU per gRPC call, steady state: GetMessageHistory pages of 50 at random depths of the
// seeded 200,000-message conversation (or ListConversations first pages with LIST=1), 8 calls in
// flight from this process, against a service on the bench's history database (run
// `npm run bench -- --only=history` once to seed it).
//
//   [LIST=1] [N=4000] [WARM=4000] [NODEARGS=...] [PERF=/tmp/perf.data] node bench/tools/grpc-cpu-per-call.mjs
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { startService, ROOT } from '../lib/service.mjs';
import { signToken } from '../lib/tokens.mjs';
import { databaseUrl, HISTORY_CONVERSATION_ID, LIST_OWNER } from '../lib/db.mjs';
const ADMIN='postgresql://postgres@127.0.0.1:5432/postgres';
const { ConnectionsGraph } = await import(path.join(ROOT, 'dist/infrastructure/embedded/connections-graph.js'));
const { startConnectionsServer } = await import(path.join(ROOT, 'dist/infrastructure/embedded/connections-server.js'));
const { encodeCursor } = await import(path.join(ROOT, 'dist/contract/cursor.js'));
const conns = await startConnectionsServer(new ConnectionsGraph());
const secret='x'.repeat(40);
const svc = await startService({ env: { DATABASE_URL: databaseUrl(ADMIN,'messaging_bench_history'), CONNECTIONS_GRPC_URL: conns.url, JWT_SECRET: secret }, nodeArgs: (process.env.NODEARGS??'').split(' ').filter(Boolean) });
const def = loadSync(path.join(ROOT,'proto/messaging/v1/messaging.proto'), { keepCase:false, longs:Number, enums:String, defaults:false, oneofs:true });
const client = new (loadPackageDefinition(def).messaging.v1.MessagingService)(svc.grpcAddress, credentials.createInsecure());
const LIST = !!process.env.LIST;
const md = new Metadata(); md.set('authorization', `Bearer ${signToken(secret, LIST ? LIST_OWNER : 'bench-hist-a')}`);
const call = () => new Promise((res, rej) => LIST ? client.listConversations({ pageSize: 50 }, md, (e, r) => e ? rej(e) : res(r)) : client.getMessageHistory({ conversationId: HISTORY_CONVERSATION_ID, pageSize: 50, paginationCursor: encodeCursor('h1', [2 + Math.floor(Math.random()*199000)]) }, md, (e, r) => e ? rej(e) : res(r)));
const stat = (pid) => { const f=readFileSync(`/proc/${pid}/stat`,'utf8').slice(readFileSync(`/proc/${pid}/stat`,'utf8').lastIndexOf(')')+2).split(' '); return (+f[11] + +f[12])/100; };
const run = async (n, conc=8) => { let i=0; await Promise.all(Array.from({length:conc}, async()=>{ while(i<n){ i++; await call(); } })); };
await run(Number(process.env.WARM ?? 4000));
let perf; if (process.env.PERF) { perf = spawn('perf', ['record','-e','cpu-clock','-F','1999','-g','-p',String(svc.pid),'-o',process.env.PERF], {stdio:'ignore'}); await new Promise(r=>setTimeout(r,300)); }
const N = Number(process.env.N ?? 4000);
const c0 = stat(svc.pid), t0 = performance.now();
await run(N);
const t = performance.now() - t0, c = stat(svc.pid) - c0;
if (perf) { perf.kill('SIGINT'); await new Promise(r=>perf.once('exit', r)); }
console.log(`${LIST?'list':'history'}: ${N} calls in ${t.toFixed(0)} ms = ${(N/(t/1000)).toFixed(0)} q/s; service CPU ${(c*1e6/N).toFixed(0)} us/call`);
client.close(); await svc.stop(); await conns.stop();
