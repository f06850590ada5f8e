import { describe, expect, it } from 'vitest';
import { ReadAdmission } from '../admission/read-admission.js';
import type { AppConfig } from '../config/config.js';
import type { Conversation, ConversationSummary } from '@platform/messaging-client/contract';
import type { ConnectionChecker } from './connection-checker.port.js';
import type { ActivityCursor, ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';

/** The repository's contract, in memory: one conversation per ordered pair; lists newest activity first. */
class InMemoryConversations {
  readonly rows: Conversation[] = [];
  lookups = 0;

  async findById(id: string): Promise<Conversation | undefined> {
    this.lookups++;
    return this.rows.find((row) => row.conversationId === id);
  }

  async findOrCreate(newId: string, userA: string, userB: string): Promise<Conversation> {
    const existing = this.rows.find((row) => row.participantIds[0] === userA && row.participantIds[1] === userB);
    if (existing) return existing;
    const row: Conversation = { conversationId: newId, participantIds: [userA, userB], createdAt: new Date(Date.UTC(2026, 11, 3, 12, 0, this.rows.length)).toISOString() };
    this.rows.push(row);
    return row;
  }

  async listForUser(userId: string, after: ActivityCursor | undefined, limit: number): Promise<ConversationSummary[]> {
    return this.rows
      .filter((row) => row.participantIds.includes(userId))
      .map((row): ConversationSummary => ({ ...row, updatedAt: row.createdAt, unreadCount: 0 }))
      .sort((x, y) => (x.updatedAt === y.updatedAt ? y.conversationId.localeCompare(x.conversationId) : y.updatedAt.localeCompare(x.updatedAt)))
      .filter((summary) => !after || summary.updatedAt < after.updatedAt.toISOString() || (summary.updatedAt === after.updatedAt.toISOString() && summary.conversationId < after.conversationId))
      .slice(0, limit);
  }
}

/** Connections as the test declares them; counts its calls. */
class FakeConnections implements ConnectionChecker {
  readonly pairs = new Set<string>();
  calls = 0;
  connect(a: string, b: string): void {
    this.pairs.add([a, b].sort().join('|'));
  }
  async areConnected(a: string, b: string): Promise<boolean> {
    this.calls++;
    return this.pairs.has([a, b].sort().join('|'));
  }
}

function setup(config: Partial<AppConfig> = {}) {
  const settings = { rateLimitConversationsPerMinute: 30, rateLimitReadsPerSecond: 20, databasePoolSize: 10, ...config } as AppConfig;
  const repository = new InMemoryConversations();
  const connections = new FakeConnections();
  const service = new ConversationsService(repository as unknown as ConversationsRepository, connections, new ReadAdmission(settings), settings);
  return { repository, connections, service };
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => 'ok', (error: { code?: string }) => error.code);

describe('ConversationsService', () => {
  it('starts one conversation per pair, whoever starts it, with the participants in a stable order', async () => {
    const { connections, service } = setup();
    connections.connect('bob', 'alice');
    const first = await service.start({ userId: 'bob' }, { participantId: 'alice' });
    const again = await service.start({ userId: 'alice' }, { participantId: 'bob' });
    expect(again).toEqual(first);
    expect(first.participantIds).toEqual(['alice', 'bob']);
  });

  it('refuses oneself (INVALID_ARGUMENT) and a non-connection (PERMISSION_DENIED), creating nothing', async () => {
    const { repository, service } = setup();
    expect(await codeOf(service.start({ userId: 'alice' }, { participantId: 'alice' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(service.start({ userId: 'alice' }, { participantId: 'mallory' }))).toBe('PERMISSION_DENIED');
    expect(repository.rows).toEqual([]);
  });

  it('limits starts per user before asking the Connections service, so a flood cannot open its breaker', async () => {
    const { connections, service } = setup({ rateLimitConversationsPerMinute: 3 });
    const outcomes = [];
    for (let index = 0; index < 10; index++) outcomes.push(await codeOf(service.start({ userId: 'alice' }, { participantId: `stranger-${index}` })));
    expect(outcomes.slice(0, 6)).toEqual(Array(6).fill('PERMISSION_DENIED'));
    expect(outcomes.slice(6)).toEqual(Array(4).fill('RESOURCE_EXHAUSTED'));
    expect(connections.calls).toBe(6);
    connections.connect('bob', 'carol');
    expect(await codeOf(service.start({ userId: 'bob' }, { participantId: 'carol' }))).toBe('ok');
  });

  it('answers an unknown conversation and someone else’s alike (PERMISSION_DENIED), and caches participants', async () => {
    const { repository, connections, service } = setup();
    connections.connect('alice', 'bob');
    const { conversationId } = await service.start({ userId: 'alice' }, { participantId: 'bob' });
    expect(await service.requireMembership({ userId: 'bob' }, conversationId)).toMatchObject({ otherId: 'alice' });
    expect(await service.requireMembership({ userId: 'alice' }, conversationId)).toMatchObject({ otherId: 'bob' });
    expect(repository.lookups).toBe(0);
    expect(await codeOf(service.requireMembership({ userId: 'mallory' }, conversationId))).toBe('PERMISSION_DENIED');
    expect(await codeOf(service.requireMembership({ userId: 'alice' }, 'no-such-conversation'))).toBe('PERMISSION_DENIED');
  });

  it('pages the list with a cursor that walks every conversation once, and refuses a forged cursor', async () => {
    const { connections, service } = setup();
    const others = ['b', 'c', 'd', 'e', 'f'];
    for (const other of others) {
      connections.connect('alice', other);
      await service.start({ userId: 'alice' }, { participantId: other });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await service.list({ userId: 'alice' }, { pageSize: 2, cursor });
      seen.push(...page.items.map((item) => item.participantIds[1]!));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(others.slice().reverse());
    expect(pages).toBe(3);
    expect(await codeOf(service.list({ userId: 'alice' }, { cursor: 'forged', pageSize: undefined }))).toBe('INVALID_ARGUMENT');
  });
});
