import { uuidv7 } from 'uuidv7';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import type { Conversation } from '@platform/messaging-client/contract';
import { orderedPair, participantsOf, type Participants } from '../../src/conversations/conversation-pair.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { PrismaService } from '../../src/infrastructure/prisma/prisma.service.js';
import { DependencyStates } from '../../src/infrastructure/observability/dependency-state.js';
import { createLogger } from '../../src/infrastructure/observability/logger.js';
import { HotSql } from '../../src/infrastructure/prisma/hot-sql.js';
import { ReadSql } from '../../src/infrastructure/prisma/read-sql.js';
import { Metrics } from '../../src/infrastructure/observability/metrics.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import type { InsertOutcome } from '../../src/messages/send-pipeline.js';
import { messageText, userId } from './factories.js';

/** The repositories on their own PrismaService, as the application builds them, without Nest. */
export interface TestDatabase {
  prisma: PrismaService;
  /** The driver path of the hot statements. */
  hot: HotSql;
  /** The read path of history and lists (the primary here: no DATABASE_READ_URL). */
  reads: ReadSql;
  conversations: ConversationsRepository;
  messages: MessagesRepository;
  /** A plain pg pool on the same database, for arrangements and checks the repositories do not offer. */
  sql: pg.Pool;
  close(): Promise<void>;
}

/** `events`: the repositories record platform events in the outbox, as with EVENT_BUS_URL set. */
export function openDatabase(databaseUrl: string, poolSize = 20, options: { events?: boolean } = {}): TestDatabase {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(poolSize),
    ...(options.events ? { EVENT_BUS_URL: 'nats://127.0.0.1:4222' } : {}),
  });
  const prisma = new PrismaService(config, new DependencyStates(createLogger('silent')));
  const sql = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  sql.on('error', () => undefined);
  const hot = new HotSql(prisma);
  const reads = new ReadSql(hot, config, new DependencyStates(createLogger('silent')), new Metrics());
  return {
    prisma,
    hot,
    reads,
    conversations: new ConversationsRepository(prisma, reads, config),
    messages: new MessagesRepository(hot, reads, config),
    sql,
    close: async () => {
      await prisma.onApplicationShutdown();
      await sql.end();
    },
  };
}

/** A conversation as the repository returns it, with its pair by name. */
export interface TestConversation extends Conversation, Participants {
  /** The participant that is not `userId`. */
  other(userId: string): string;
}

/** A conversation between two fresh users (or the given ones), created through the repository. */
export async function createConversation(db: TestDatabase, first = userId('a'), second = userId('b')): Promise<TestConversation> {
  const [userA, userB] = orderedPair(first, second);
  const conversation = await db.conversations.findOrCreate(uuidv7(), userA, userB);
  return {
    ...conversation,
    ...participantsOf(conversation),
    other: (user) => {
      if (user === userA) return userB;
      if (user === userB) return userA;
      throw new Error(`${user} is not a participant of ${conversation.conversationId}`);
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
  const recipientId = conversation.other(senderId);
  return db.messages.insertOne({
    id: uuidv7(),
    conversationId: conversation.conversationId,
    senderId,
    recipientId,
    recipientIsUserA: recipientId === conversation.userA,
    text: options.text ?? messageText(),
    clientMessageId: options.clientMessageId,
  });
}

export interface RecordedQuery {
  text: string;
  values: unknown[];
}

/**
 * Runs `action` and returns the SQL it sent meanwhile, exactly as sent (text and bound values),
 * through HotSql or through the Prisma adapter, so that a test can EXPLAIN what a repository really runs.
 */
export async function recordQueries(db: TestDatabase, action: () => Promise<unknown>, options = { execute: true }): Promise<RecordedQuery[]> {
  const recorded: RecordedQuery[] = [];
  const pool = db.prisma.pool;
  const originalQuery = pool.query;
  const originalRows = db.hot.rows;
  pool.query = function (this: pg.Pool, ...args: unknown[]) {
    const [first, second] = args;
    if (typeof first === 'string') recorded.push({ text: first, values: Array.isArray(second) ? second : [] });
    else if (first && typeof first === 'object' && 'text' in first) {
      const config = first as { text: string; values?: unknown[] };
      recorded.push({ text: config.text, values: config.values ?? (Array.isArray(second) ? second : []) });
    }
    return (originalQuery as (...rest: unknown[]) => unknown).apply(this, args);
  } as typeof pool.query;
  db.hot.rows = (statement, values) => {
    recorded.push({ text: statement.text, values });
    // Not executed: the caller runs it itself (under EXPLAIN ANALYZE, say) and the action sees no rows.
    return options.execute ? originalRows.call(db.hot, statement, values) : Promise.resolve([]);
  };
  try {
    await action();
  } finally {
    pool.query = originalQuery;
    db.hot.rows = originalRows;
  }
  return recorded;
}
