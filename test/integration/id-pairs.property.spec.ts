import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/auth/jwt-signer.js';
import { JwtVerifier } from '../../src/auth/jwt-verifier.js';
import { AppError } from '../../src/contract/app-error.js';
import { ReadAdmission } from '../../src/admission/read-admission.js';
import { loadConfig } from '../../src/config/config.js';
import { startConversationSchema } from '@platform/messaging-client/contract';
import { parsePayload } from '../../src/contract/validate.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import { defaultMigrationsDir, migrate } from '../../src/infrastructure/prisma/migrator.js';
import { openDatabase, type TestDatabase } from '../support/database.js';
import { createScratchDatabase } from '../support/services.js';

const SECRET = 'x'.repeat(32);

/**
 * Pieces that linguistic collations and UTF-16 order treat differently from code point order:
 * case pairs, punctuation ICU ignores at first level, U+E000–U+FFFF against supplementary
 * characters, canonically equivalent spellings, whitespace, lone surrogates and U+0000.
 */
const PIECES = ['a', 'A', 'b', 'B', 'z', 'Z', '-', '_', '.', ' ', '1', 'é', 'e\u0301', 'ß', 'ss', '😀', '👍🏽', '\ue000', '\uf8ff', '\uff21', '\uff41', '\ufffd', '\uffff', '\u{f0000}', '\u{10ffff}', '\u0130', 'ı', '\ud800', '\udc00', '\u0000'];

const id = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 6 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: fc.constantFrom(...PIECES), minLength: 60, maxLength: 70 }),
);

/**
 * CONTRACT §3.4: any two ids can have a conversation whatever the database's collation. On an en-US
 * ICU database, each pair of ids either starts its conversation (the same one from both sides, with
 * the ids stored exactly) or is refused with INVALID_ARGUMENT or UNAUTHENTICATED; never INTERNAL.
 */
describe('conversation pairs on an en-US ICU database', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let db: TestDatabase;
  let service: ConversationsService;
  const verifier = new JwtVerifier({ secret: SECRET });

  beforeAll(async () => {
    scratch = await createScratchDatabase('messaging_icu', "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0");
    await migrate(scratch.url, defaultMigrationsDir());
    db = openDatabase(scratch.url, 4);
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: scratch.url, RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '100000000' });
    service = new ConversationsService(db.conversations, { areConnected: async () => true }, new ReadAdmission(config), config);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('runs on a database whose default collation orders ids unlike code points', async () => {
    const { rows } = await db.sql.query<{ icu: boolean }>("SELECT 'alice' < 'Bob' AS icu");
    expect(rows[0]?.icu).toBe(true);
  });

  /** The user a token names, as the transports authenticate it; undefined when refused (UNAUTHENTICATED). */
  const authenticated = async (sub: string) => verifier.verify(await signUserToken(SECRET, sub)).then((verified) => verified.userId, () => undefined);

  /** What starting the pair answers: the conversation, or the error code. */
  const start = async (userId: string, participantId: string) => {
    try {
      return await service.start({ userId }, parsePayload(startConversationSchema, { participantId }));
    } catch (error) {
      return error instanceof AppError ? error.code : `thrown: ${String(error)}`;
    }
  };

  it('starts every pair of ids or refuses it with INVALID_ARGUMENT, never INTERNAL', async () => {
    await fc.assert(
      fc.asyncProperty(id, id, async (first, second) => {
        const actor = await authenticated(first);
        if (actor === undefined) {
          // Only ids that are no user id at all are refused in a token.
          expect(first.length === 0 || first.length > 128 || first.includes('\u0000') || /\p{Cs}/u.test(first)).toBe(true);
          return;
        }
        expect(actor).toBe(first);
        const started = await start(first, second);
        if (typeof started === 'string') {
          expect(started).toBe('INVALID_ARGUMENT');
          return;
        }
        expect(started.participantIds.slice().sort()).toEqual([first, second].sort());
        // Idempotent from the other side, and stored exactly (no normalisation, no U+FFFD).
        if ((await authenticated(second)) === second) {
          const back = await start(second, first);
          expect(typeof back === 'string' ? back : back.conversationId).toBe(started.conversationId);
        }
        const row = await db.conversations.findById(started.conversationId);
        expect([...row!.participantIds].sort()).toEqual([first, second].sort());
      }),
      { numRuns: 400 },
    );
  });
});

describe('migration 20261203110000 on pairs stored under en-US', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await scratch?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('swaps the pairs "C" orders the other way, and keeps the rest', async () => {
    scratch = await createScratchDatabase('messaging_icu_migration', "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0");
    // The database as it was before: the first migration only, then pairs in en-US order.
    dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await cp(path.join(defaultMigrationsDir(), '20261124000000_init'), path.join(dir, '20261124000000_init'), { recursive: true });
    await migrate(scratch.url, dir);
    const sql = new pg.Client({ connectionString: scratch.url });
    await sql.connect();
    try {
      await sql.query(`INSERT INTO conversation (id, user_a, user_b) VALUES
        (gen_random_uuid(), 'alice', 'Bob'), (gen_random_uuid(), 'user_1', 'user-1'), (gen_random_uuid(), 'carol', 'dave')`);
      await migrate(scratch.url, defaultMigrationsDir());
      const { rows } = await sql.query<{ user_a: string; user_b: string }>('SELECT user_a, user_b FROM conversation ORDER BY user_a');
      expect(rows).toEqual([
        { user_a: 'Bob', user_b: 'alice' },
        { user_a: 'carol', user_b: 'dave' },
        { user_a: 'user-1', user_b: 'user_1' },
      ]);
    } finally {
      await sql.end();
    }
  });
});
