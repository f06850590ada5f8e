import { uuidv7 } from 'uuidv7';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { orderedPair } from '../../src/conversations/conversation-pair.js';
import { ConversationsRepository, type ConversationRow } from '../../src/conversations/conversations.repository.js';
import { PrismaService } from '../../src/infrastructure/prisma/prisma.service.js';
import { DependencyStates } from '../../src/infrastructure/observability/dependency-state.js';
import { createLogger } from '../../src/infrastructure/observability/logger.js';
import { MessagesRepository, type InsertOutcome } from '../../src/messages/messages.repository.js';
import { messageText, userId } from './factories.js';

/** The repositories on their own PrismaService, as the application builds them, without Nest. */
export interface TestDatabase {
  prisma: PrismaService;
  conversations: ConversationsRepository;
  messages: MessagesRepository;
  /** A plain pg pool on the same database, for arrangements and checks the repositories do not offer. */
  sql: pg.Pool;
  close(): Promise<void>;
}

export function openDatabase(databaseUrl: string, poolSize = 20): TestDatabase {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: String(poolSize) });
  const prisma = new PrismaService(config, new DependencyStates(createLogger('silent')));
  const sql = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  sql.on('error', () => undefined);
  return {
    prisma,
    conversations: new ConversationsRepository(prisma),
    messages: new MessagesRepository(prisma),
    sql,
    close: async () => {
      await prisma.onApplicationShutdown();
      await sql.end();
    },
  };
}

export interface TestConversation extends ConversationRow {
  /** The participant that is not `userId`. */
  other(userId: string): string;
}

/** A conversation between two fresh users (or the given ones), created through the repository. */
export async function createConversation(db: TestDatabase, first = userId('a'), second = userId('b')): Promise<TestConversation> {
  const [userA, userB] = orderedPair(first, second);
  const row = await db.conversations.findOrCreate(uuidv7(), userA, userB);
  return {
    ...row,
    other: (user) => {
      if (user === row.user_a) return row.user_b;
      if (user === row.user_b) return row.user_a;
      throw new Error(`${user} is not a participant of ${row.id}`);
    },
  };
}

/** Sends one message through the repository, as MessagesService.send does after its checks. */
export function sendMessage(
  db: TestDatabase,
  conversation: TestConversation,
  senderId: string,
  options: { text?: string; clientMessageId?: string } = {},
): Promise<InsertOutcome> {
  return db.messages.insert({
    id: uuidv7(),
    conversationId: conversation.id,
    senderId,
    recipientId: conversation.other(senderId),
    text: options.text ?? messageText(),
    clientMessageId: options.clientMessageId,
  });
}

export interface RecordedQuery {
  text: string;
  values: unknown[];
}

/**
 * Runs `action` and returns the SQL the Prisma adapter sent to the pool meanwhile, exactly as sent
 * (text and bound values), so that a test can EXPLAIN what a repository really runs.
 */
export async function recordQueries(prisma: PrismaService, action: () => Promise<unknown>): Promise<RecordedQuery[]> {
  const pool = prisma.pool;
  const recorded: RecordedQuery[] = [];
  const original = pool.query;
  const recorder = function (this: pg.Pool, ...args: unknown[]) {
    const [first, second] = args;
    if (typeof first === 'string') recorded.push({ text: first, values: Array.isArray(second) ? second : [] });
    else if (first && typeof first === 'object' && 'text' in first) {
      const config = first as { text: string; values?: unknown[] };
      recorded.push({ text: config.text, values: config.values ?? (Array.isArray(second) ? second : []) });
    }
    return (original as (...rest: unknown[]) => unknown).apply(this, args);
  };
  pool.query = recorder as typeof pool.query;
  try {
    await action();
  } finally {
    pool.query = original;
  }
  return recorded;
}
