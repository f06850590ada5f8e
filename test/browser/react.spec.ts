import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessagingClient } from '@platform/messaging-client';
import { userId } from '../support/factories.js';
import { pollUntil } from '../support/processes.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openWindow, screenshot, type Window } from './support/browser.js';

/**
 * The React bindings (@platform/messaging-client/react) in Chromium against the real service:
 * test/browser/react-app/app.ts, bundled from the built package as a user's app would be, served
 * from an origin of its own. Alice uses the React app; Bob is the SDK in this process.
 */
describe('the React bindings, in Chromium', () => {
  let app: TestApp;
  let window: Window;
  let page: Page;
  let bob: MessagingClient;
  let conversationId: string;
  let appServer: Server;
  let appUrl: string;
  const alice = userId('alice');
  const bobId = userId('bob');
  const pageErrors: string[] = [];
  const messages = () => page.getByTestId('message');
  const renders = () => page.evaluate(() => ({ ...(globalThis as unknown as { renders: Record<string, number> }).renders }));

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '1000' });
    app.graph.connect(alice, bobId);
    const bundle = await build({
      entryPoints: ['test/browser/react-app/app.ts'],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'warning',
    });
    const script = bundle.outputFiles[0]!.text;
    window = await openWindow('react-alice');
    page = window.page;
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
    // The app's own origin, as a user's app would have (the service allows any origin outside production).
    appServer = createServer((request, response) => {
      const js = request.url?.startsWith('/app.js');
      response.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
      response.end(js ? script : '<!doctype html><meta charset="utf-8"><div id="root"></div><script type="module" src="/app.js"></script>');
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}`;
    bob = new MessagingClient({ url: app.server.httpUrl, token: () => app.token(bobId), transports: ['websocket'] });
    await bob.connect();
    ({ conversationId } = await bob.startConversation(alice));
    // More than a page (50) before Alice opens it, for the scroll-back.
    for (let index = 1; index <= 60; index++) await bob.send(conversationId, `from bob ${index}`);
    // Alice's other device receives them (the catch-up marks them delivered), so that the page
    // gets no catch-up but the newest page of history, and has older ones to scroll back to.
    const elsewhere = new MessagingClient({ url: app.server.httpUrl, token: await app.token(alice), transports: ['websocket'] });
    await elsewhere.connect();
    await pollUntil('the catch-up to be marked delivered', () => (bob.messages(conversationId).at(-1)?.status === 'delivered' ? true : undefined), 10_000, 20);
    elsewhere.close();
  });

  afterAll(async () => {
    bob?.close();
    await window?.close();
    await new Promise((resolve) => (appServer ? appServer.close(resolve) : resolve(undefined)));
    await app?.close();
  });

  it('shows the connection, the list and the newest page; scroll-back loads the rest in order', async () => {
    await page.goto(`${appUrl}/?service=${encodeURIComponent(app.server.httpUrl)}&token=${await app.token(alice)}&conversation=${conversationId}`);
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected');
    await expect.poll(() => messages().count()).toBe(50);
    await page.locator(`[data-testid="conversation-item"][data-peer="${bobId}"]`).filter({ hasText: 'from bob 60' }).waitFor();
    expect(await page.getByTestId('history-complete').textContent()).toBe('false');
    await page.getByTestId('load-older').click();
    await expect.poll(() => messages().count()).toBe(60);
    const seqs = await messages().evaluateAll((items) => items.map((item) => Number(item.getAttribute('data-seq'))));
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, index) => index + 1));
    expect(await page.getByTestId('history-complete').textContent()).toBe('true');
    expect(await page.getByTestId('load-older').count()).toBe(0);
  });

  it('marks what is on screen read: Bob sees read, and the unread count drops to 0', async () => {
    await expect.poll(() => bob.messages(conversationId).at(-1)?.status, { timeout: 5000 }).toBe('read');
    await expect.poll(() => page.locator(`[data-testid="conversation-item"][data-peer="${bobId}"]`).getByTestId('unread-count').textContent()).toBe('0');
  });

  it('sends with statuses up to read, shows typing both ways, and renders only what changed', async () => {
    const before = await renders();
    bob.notifyTyping(conversationId);
    await page.getByTestId('typing-indicator').filter({ hasText: bobId }).waitFor();
    const typed = await renders();
    // Typing changed nothing in the list or the messages: their snapshots kept their identity.
    expect(typed.typing).toBeGreaterThan(before.typing);
    expect(typed.messages).toBe(before.messages);
    expect(typed.list).toBe(before.list);

    await page.getByTestId('composer-input').fill('Hi Bob, from React');
    await expect.poll(() => bob.typingUsers(conversationId).includes(alice)).toBe(true);
    await page.getByTestId('composer-send').click();
    const own = page.locator('[data-testid="message"][data-own="true"]').filter({ hasText: 'Hi Bob, from React' });
    await expect.poll(() => bob.messages(conversationId).at(-1)?.text).toBe('Hi Bob, from React');
    await expect.poll(() => own.getAttribute('data-status')).toBe('delivered');
    bob.setConversationVisible(conversationId, true);
    await expect.poll(() => own.getAttribute('data-status')).toBe('read');
    await screenshot({ react: page }, 'react-bindings');
    expect(pageErrors).toEqual([]);
  });
});
