// CPU per insert in this process: the repository's send statement through Prisma $queryRaw
// (@prisma/adapter-pg) vs the same SQL through pg, 50 concurrent callers.
//   node bench/tools/prisma-vs-pg.mjs
import path from 'node:path';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { ROOT } from '../lib/service.mjs';
import { recreateDatabase, databaseUrl } from '../lib/db.mjs';
const ADMIN='postgresql://postgres@127.0.0.1:5432/postgres';
await recreateDatabase(ADMIN, 'messaging_probe');
const url = databaseUrl(ADMIN,'messaging_probe');
const { migrate, defaultMigrationsDir } = await import(path.join(ROOT, 'dist/infrastructure/prisma/migrator.js'));
await migrate(url, defaultMigrationsDir());
const { PrismaClient } = await import(path.join(ROOT, 'dist/generated/prisma/client.js'));
const { PrismaPg } = await import('@prisma/adapter-pg');
const mkPool = () => new pg.Pool({ connectionString: url, max: 10, options: '-c TimeZone=UTC' });
const prisma = new PrismaClient({ adapter: new PrismaPg(mkPool()) });
const pool = mkPool();
const convs = [];
for (let i = 0; i < 50; i++) { const id = randomUUID(); await pool.query('INSERT INTO conversation (id,user_a,user_b) VALUES ($1,$2,$3)', [id, `a${i}`, `b${i}`]); convs.push(id); }
const SQL = `WITH c AS (UPDATE conversation SET last_seq = last_seq + 1, updated_at = GREATEST(updated_at, clock_timestamp()) WHERE id = $1::uuid RETURNING last_seq, updated_at)
 INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, client_message_id, created_at)
 SELECT $2::uuid, $3::uuid, c.last_seq, $4, $5, $6, $7, c.updated_at FROM c RETURNING seq, created_at`;
const text = 'Benchmark message: the quick brown fox jumps over the lazy dog. 0123456789';
let k = 0;
const viaPrisma = (cid) => prisma.$queryRaw`
        WITH c AS (
          UPDATE conversation SET last_seq = last_seq + 1, updated_at = GREATEST(updated_at, clock_timestamp())
          WHERE id = ${cid}::uuid
          RETURNING last_seq, updated_at
        )
        INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, client_message_id, created_at)
        SELECT ${randomUUID()}::uuid, ${cid}::uuid, c.last_seq, ${'a'}, ${'b'}, ${text}, ${'c' + (++k)}, c.updated_at
        FROM c
        RETURNING seq, created_at`;
const viaPg = (cid) => pool.query(SQL, [cid, randomUUID(), cid, 'a', 'b', text, 'c' + (++k)]);
async function measure(label, fn, n = 6000, conc = 50) {
  let i = 0;
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(convs.slice(0, conc).map(async (cid) => { while (i < n) { i++; await fn(cid); } }));
  const t = performance.now() - t0; const c = process.cpuUsage(c0);
  console.log(`${label}: ${(n / (t / 1000)).toFixed(0)} ops/s wall, client CPU ${((c.user + c.system) / n).toFixed(0)} us/op (user ${(c.user / n).toFixed(0)}, sys ${(c.system / n).toFixed(0)})`);
}
await measure('warm prisma', viaPrisma, 2000); await measure('warm pg', viaPg, 2000);
await measure('prisma $queryRaw insert', viaPrisma); await measure('pg pool.query insert', viaPg);
await measure('prisma $queryRaw insert', viaPrisma); await measure('pg pool.query insert', viaPg);
await prisma.$disconnect(); await pool.end();
const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS messaging_probe WITH (FORCE)');
await admin.end();
