import { afterAll, beforeAll } from 'vitest';
import { TestClient } from './socket-client.js';
import { startTestApp, type TestApp } from './test-app.js';

export interface AppFixture {
  readonly app: TestApp;
  readonly url: string;
  /** Closes the client with the app. */
  track(client: TestClient): TestClient;
  /** A socket for that user (with a token of its own unless one is given), closed with the app. */
  connect(user: string, token?: string): Promise<TestClient>;
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
  };
  return fixture;
}
