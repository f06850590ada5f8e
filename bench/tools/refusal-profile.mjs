// Where the service's CPU goes under a stream of refused events (one user over its rate limits:
// about 2,000 sendMessage and 1,000 startTyping a second for 15 s), as in the flood reliability
// test: runs dist/main.js under --cpu-prof and summarises the profile.
//   npm run build && node bench/tools/refusal-profile.mjs
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { io } from 'socket.io-client';
import { ROOT as root } from '../lib/service.mjs';
import { summarizeProfiles } from '../lib/profile.mjs';
import { setTimeout as sleep } from 'node:timers/promises';
const { ConnectionsGraph } = await import(`${root}/dist/infrastructure/embedded/connections-graph.js`);
const { startConnectionsServer } = await import(`${root}/dist/infrastructure/embedded/connections-server.js`);
const { signUserToken } = await import(`${root}/dist/auth/jwt-signer.js`);
const PROFILE_DIR = '/tmp/messaging-refusal-profile';
rmSync(PROFILE_DIR, { recursive: true, force: true });
const graph = new ConnectionsGraph(); graph.connect('f', 'g');
const conn = await startConnectionsServer(graph);
const secret = 'x'.repeat(40);
const svc = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, 'dist/main.js'], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production', PORT: '3911', GRPC_PORT: '3912', DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/test', CONNECTIONS_GRPC_URL: conn.url, JWT_SECRET: secret, LOG_LEVEL: 'warn' } });
for (;;) { try { const r = await fetch('http://127.0.0.1:3911/health/ready'); if (r.ok) break; } catch { /* not listening yet */ } await sleep(200); }
const mk = async (u) => { const s = io('http://127.0.0.1:3911', { auth: { token: await signUserToken(secret, u) }, transports: ['websocket'] }); await new Promise((r) => s.once('connect', r)); return s; };
const g = await mk('g'); const f = await mk('f');
const cid = (await g.emitWithAck('startConversation', { participantId: 'f' })).data.conversation.conversationId;
const end = performance.now() + 15000; let n = 0;
while (performance.now() < end) { for (let i = 0; i < 20; i++) { f.emit('sendMessage', { conversationId: cid, text: `flood ${n++}` }, () => {}); if (i % 2) f.emit('startTyping', { conversationId: cid }, () => {}); } await sleep(10); }
console.log('sent', n);
svc.kill('SIGTERM'); await new Promise((r) => svc.once('exit', r)); await conn.stop();
console.log(JSON.stringify(summarizeProfiles(PROFILE_DIR, 15), null, 1));
process.exit(0);
