import { afterAll, beforeAll } from 'vitest';
import { userId } from './factories.js';
import { TestClient } from './socket-client.js';
import { startTestApp, type TestApp } from './test-app.js';

export interface AppFixture {
  readonly app: TestApp;
  readonly url: string;
  /** Closes the client with the app. */
  track(client: TestClient): TestClient;
  /** A socket for that user (with a token of its own unless one is given), closed with the app. */
  connect(user: string, token?: string): Promise<TestClient>;
  /** Two new connected users and the conversation alice started from her socket `a1`. */
  pair(): Promise<{ alice: string; bob: string; a1: TestClient; conversationId: string }>;
  /** Every event already sent to any connected socket of the fixture has arrived (TestClient.drained). */
  drained(): Promise<void>;
}

/** One app per describe block, started before its tests; its sockets are closed before it stops. */
export function useApp(env: Record<string, string> = {}): AppFixture {
  let app: TestApp | undefined;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    app = await startTestApp(env);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await app?.close();
  });
  const fixture: AppFixture = {
    get app(): TestApp {
      if (!app) throw new Error('the app did not start');
      return app;
    },
    get url(): string {
      return fixture.app.server.httpUrl;
    },
    track(client) {
      clients.push(client);
      return client;
    },
    async connect(user, token) {
      return fixture.track(await TestClient.connect(fixture.url, token ?? (await fixture.app.token(user))));
    },
    async pair() {
      const [alice, bob] = [userId('alice'), userId('bob')];
      fixture.app.graph.connect(alice, bob);
      const a1 = await fixture.connect(alice);
      const { conversation } = await a1.ok('startConversation', { participantId: bob });
      return { alice, bob, a1, conversationId: conversation.conversationId };
    },
    async drained() {
      await Promise.all(clients.map((client) => client.drained()));
    },
  };
  return fixture;
}
