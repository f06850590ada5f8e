import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openWindow, recordStatuses, screenshot, type Window } from './support/browser.js';

/**
 * The demo web client in a real browser: two people, each in a browser of their own, signed in
 * through `/?token=`. The steps build on each other, in order.
 */
describe('the demo web client, in Chromium', () => {
  let app: TestApp;
  let appClosed = false;
  const windows: Window[] = [];
  const rawClients: TestClient[] = [];
  let alicePage: Page;
  let bobPage: Page;
  // Readable names for the screenshot in docs/ (this project's database is its own, fresh one).
  const name = (base: string) => (process.env.UPDATE_DOCS_SCREENSHOT ? base : userId(base));
  const alice = name('alice');
  const bob = name('bob');
  const carol = name('carol');
  const stranger = name('dave');
  const pageErrors: string[] = [];
  const websockets: string[] = [];

  const signInUrl = async (user: string) => `${app.server.httpUrl}/?token=${await app.token(user)}`;
  const both = () => ({ alice: alicePage, bob: bobPage });
  const bubbles = (page: Page) => page.getByTestId('message');
  const lastStatus = (page: Page) => page.getByTestId('message-status').last();
  const item = (page: Page, peer: string) => page.locator(`[data-testid="conversation-item"][data-peer="${peer}"]`);

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '1000' });
    app.graph.connect(alice, bob);
    app.graph.connect(alice, carol);
    const [aliceWindow, bobWindow] = await Promise.all([openWindow('alice'), openWindow('bob')]);
    windows.push(aliceWindow, bobWindow);
    alicePage = aliceWindow.page;
    bobPage = bobWindow.page;
    for (const page of [alicePage, bobPage]) {
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
      page.on('websocket', (socket) => websockets.push(socket.url()));
    }
  });

  afterAll(async () => {
    await Promise.all(windows.map((window) => window.close()));
    for (const client of rawClients) client.close();
    if (!appClosed) await app?.close();
  });

  it('signs each person in from /?token=', async () => {
    await Promise.all([alicePage.goto(await signInUrl(alice)), bobPage.goto(await signInUrl(bob))]);
    for (const [page, user] of [
      [alicePage, alice],
      [bobPage, bob],
    ] as const) {
      await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected');
      expect(await page.locator('#me').textContent()).toBe(`Signed in as ${user}`);
      expect(await page.getByTestId('typing-indicator').count()).toBe(0);
    }
    // Socket.IO upgraded to a WebSocket (the page's Content-Security-Policy allows it).
    await expect.poll(() => websockets.filter((url) => url.includes('/socket.io/?EIO=4&transport=websocket')).length).toBeGreaterThanOrEqual(2);
    await screenshot(both(), 'signed-in');
  });

  it('explains a sign-in link that does not work', async () => {
    const page = await windows[0]!.context.newPage();
    try {
      const forged = (await app.token(alice)).replace(/\.[^.]+$/, '.forged-signature');
      await page.goto(`${app.server.httpUrl}/?token=${forged}`);
      await page.getByTestId('error').filter({ hasText: 'invalid or has expired' }).waitFor();
      expect(await page.getByTestId('error').count()).toBe(1);
      expect(await page.getByTestId('connection-state').textContent()).toBe('signed out');
      await page.goto(`${app.server.httpUrl}/?token=not-a-token`);
      await page.getByTestId('error').filter({ hasText: 'no valid token' }).waitFor();
      await page.goto(`${app.server.httpUrl}/`);
      await page.locator('#signin-token').waitFor({ state: 'visible' });
      await screenshot({ signin: page }, 'sign-in');
    } finally {
      await page.close();
    }
  });

  it('shows an error when starting a conversation with someone who is not a connection', async () => {
    await alicePage.getByTestId('start-conversation-input').fill(stranger);
    await alicePage.getByTestId('start-conversation-submit').click();
    const error = alicePage.getByTestId('error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toContain(`“${stranger}” is not one of them`);
    expect(await alicePage.getByTestId('conversation-item').count()).toBe(0);
    await screenshot({ alice: alicePage }, 'not-a-connection');
    await error.getByRole('button', { name: 'Dismiss' }).click();
    expect(await alicePage.getByTestId('error').count()).toBe(0);
  });

  it('starts a conversation; the message reaches the other window within 1 s and shows sending → delivered', async () => {
    await alicePage.getByTestId('start-conversation-input').fill(bob);
    await alicePage.getByTestId('start-conversation-submit').click();
    await item(alicePage, bob).waitFor();
    await alicePage.locator('#conversation-view').waitFor({ state: 'visible' });
    expect(await alicePage.locator('#peer-name').textContent()).toBe(bob);
    const statuses = await recordStatuses(alicePage);

    await alicePage.getByTestId('composer-input').fill('Hi Bob! <b>not bold</b>');
    const sentAt = Date.now();
    await alicePage.getByTestId('composer-send').click();
    // Bob has not opened it: it shows in his list, with the text and one unread.
    const bobItem = item(bobPage, alice);
    await bobItem.filter({ hasText: 'Hi Bob! <b>not bold</b>' }).waitFor({ timeout: 1000 });
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(await bobItem.getByTestId('unread-count').textContent()).toBe('1');

    await expect.poll(() => lastStatus(alicePage).textContent()).toBe('delivered');
    const seen = await statuses();
    expect(seen[0]).toBe('sending');
    expect(seen.at(-1)).toBe('delivered');
    expect(seen.filter((status) => !['sending', 'sent', 'delivered'].includes(status))).toEqual([]);
    // Text is text: the markup was not interpreted.
    expect(await bubbles(alicePage).first().locator('b').count()).toBe(0);
    await screenshot(both(), 'delivered');
  });

  it('shows read once the recipient opens the conversation', async () => {
    await item(bobPage, alice).click();
    await bubbles(bobPage).filter({ hasText: 'Hi Bob!' }).waitFor();
    expect(await bobPage.getByTestId('message-status').count()).toBe(0); // statuses are on one's own messages only
    await expect.poll(() => lastStatus(alicePage).textContent()).toBe('read');
    await expect.poll(() => item(bobPage, alice).getByTestId('unread-count').isVisible()).toBe(false);
    await screenshot(both(), 'read');
  });

  it('shows "typing…" while the other person types, and not after', async () => {
    expect(await alicePage.getByTestId('typing-indicator').count()).toBe(0);
    await bobPage.getByTestId('composer-input').pressSequentially('Hello Al', { delay: 40 });
    const indicator = alicePage.getByTestId('typing-indicator');
    await indicator.waitFor({ state: 'visible', timeout: 2000 });
    expect(await indicator.textContent()).toBe(`${bob} is typing…`);
    await screenshot(both(), 'typing');
    await bobPage.getByTestId('composer-input').fill('');
    await bobPage.getByTestId('composer-input').dispatchEvent('input');
    await indicator.waitFor({ state: 'detached', timeout: 2000 });
  });

  it('delivers a reply into the open conversation within 1 s, and it is read at once', async () => {
    await bobPage.getByTestId('composer-input').pressSequentially('Hello Alice', { delay: 10 });
    await alicePage.getByTestId('typing-indicator').waitFor({ state: 'visible', timeout: 2000 });
    const sentAt = Date.now();
    await bobPage.getByTestId('composer-input').press('Enter');
    await bubbles(alicePage).filter({ hasText: 'Hello Alice' }).waitFor({ timeout: 1000 });
    expect(Date.now() - sentAt).toBeLessThan(1000);
    // Sending took the indicator down; Alice has the conversation open, so it is read.
    await alicePage.getByTestId('typing-indicator').waitFor({ state: 'detached', timeout: 2000 });
    await expect.poll(() => lastStatus(bobPage).textContent()).toBe('read');
    expect(await bobPage.getByTestId('composer-input').inputValue()).toBe('');
    await screenshot(both(), 'reply');
  });

  it('shows the history, with statuses, after a reload', async () => {
    await alicePage.reload();
    await expect.poll(() => alicePage.getByTestId('connection-state').textContent()).toBe('connected');
    // The open conversation is kept in the URL.
    await bubbles(alicePage).nth(1).waitFor();
    expect(await bubbles(alicePage).locator('.text').allTextContents()).toEqual(['Hi Bob! <b>not bold</b>', 'Hello Alice']);
    expect(await alicePage.getByTestId('message-status').allTextContents()).toEqual(['read']);
    expect(await bubbles(alicePage).evaluateAll((elements) => elements.map((element) => (element as HTMLElement).dataset.seq))).toEqual(['1', '2']);
    await screenshot({ alice: alicePage }, 'reloaded');
  });

  it('scrolls back through a conversation of a few hundred messages, loading every one in order', async () => {
    const total = 300;
    // Alice is away while Carol writes; her device then marks them all delivered, so none
    // comes back in a catch-up and the page has to load them by scrolling.
    await alicePage.goto('about:blank');
    const carolClient = await TestClient.connect(app.server.httpUrl, await app.token(carol));
    const aliceDevice = await TestClient.connect(app.server.httpUrl, await app.token(alice));
    rawClients.push(carolClient, aliceDevice);
    const { conversation } = await carolClient.ok('startConversation', { participantId: alice });
    let last = '';
    for (let index = 1; index <= total; index++) {
      last = (await carolClient.ok('sendMessage', { conversationId: conversation.conversationId, text: `note ${index}` })).message.messageId;
    }
    await aliceDevice.ok('markAsDelivered', { conversationId: conversation.conversationId, lastDeliveredMessageId: last });
    aliceDevice.close();

    await alicePage.goto(await signInUrl(alice));
    const carolItem = item(alicePage, carol);
    await carolItem.waitFor();
    expect(await carolItem.getByTestId('unread-count').textContent()).toBe(String(total));
    await carolItem.click();
    await bubbles(alicePage).filter({ hasText: `note ${total}` }).waitFor();
    const firstPage = await bubbles(alicePage).count();
    expect(firstPage).toBeLessThan(total);

    const scroller = alicePage.getByTestId('message-list');
    const history = alicePage.getByTestId('history-status');
    for (let scrolls = 0; scrolls < 40; scrolls++) {
      if ((await history.getAttribute('data-complete')) === 'true') break;
      await scroller.evaluate((element) => {
        element.scrollTop = 0;
      });
      await alicePage.waitForTimeout(150);
    }
    expect(await history.textContent()).toBe('Beginning of the conversation');
    const seqs = await bubbles(alicePage).evaluateAll((elements) => elements.map((element) => Number((element as HTMLElement).dataset.seq)));
    expect(seqs).toEqual(Array.from({ length: total }, (_, index) => index + 1));
    expect(await bubbles(alicePage).locator('.text').allTextContents()).toEqual(Array.from({ length: total }, (_, index) => `note ${index + 1}`));
    await screenshot({ alice: alicePage }, 'scrolled-back');
    // Opened and on screen: read.
    await expect.poll(() => carolItem.getByTestId('unread-count').isVisible()).toBe(false);
  });

  /** docs/demo.png, refreshed with UPDATE_DOCS_SCREENSHOT=1 (a few more messages, then Bob typing). */
  const docsScreenshot = async () => {
    await item(alicePage, bob).click();
    await bubbles(alicePage).filter({ hasText: 'Hello Alice' }).waitFor();
    const say = async (page: Page, text: string) => {
      await page.getByTestId('composer-input').fill(text);
      await page.getByTestId('composer-send').click();
      await bubbles(alicePage).filter({ hasText: text }).waitFor();
    };
    await say(bobPage, 'Are we still on for lunch tomorrow?');
    await say(alicePage, 'Yes! 12:30 at the usual place?');
    await say(bobPage, 'Perfect, see you there.');
    await say(alicePage, "I'll book a table.");
    const carolClient = rawClients[0]!;
    const [withCarol] = (await carolClient.ok('listConversations', {})).conversations;
    await carolClient.ok('sendMessage', { conversationId: withCarol!.conversationId, text: 'Did you see the release notes?' });
    await item(alicePage, carol).getByTestId('unread-count').filter({ hasText: '1' }).waitFor();
    await bobPage.getByTestId('composer-input').pressSequentially('Great', { delay: 20 });
    await alicePage.getByTestId('typing-indicator').waitFor({ state: 'visible' });
    await alicePage.screenshot({ path: 'docs/demo.png' });
  };

  it('says so clearly when the connection to the server is lost', async () => {
    if (process.env.UPDATE_DOCS_SCREENSHOT) await docsScreenshot();
    await app.close();
    appClosed = true;
    const error = bobPage.getByTestId('error').filter({ hasText: 'Not connected to the server' });
    await error.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await bobPage.getByTestId('connection-state').textContent()).toMatch(/reconnecting|connecting/);
    await screenshot({ bob: bobPage }, 'not-connected');
    // Nothing broke in either page along the way (no script errors, no CSP refusals).
    expect(pageErrors.filter((text) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(text))).toEqual([]);
  });
});
