import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve('test-results/browser');

/** A browser of its own (profile in a fresh temp dir), as a separate person's window would be. */
export interface Window {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function openWindow(name: string): Promise<Window> {
  const profile = await mkdtemp(path.join(tmpdir(), `messaging-browser-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 720 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

let step = 0;

/** Screenshots of each step, for a person to look at (test-results/ is not committed). */
export async function screenshot(windows: Record<string, Page>, label: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const prefix = String(++step).padStart(2, '0');
  for (const [who, page] of Object.entries(windows)) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${prefix}-${label}-${who}.png`) });
  }
}

/**
 * Records every text the newest `message-status` element shows, from now on: a status that lasts
 * only milliseconds (`sending`) is caught too.
 */
export async function recordStatuses(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const state = window as unknown as { __statuses: string[] };
    state.__statuses = [];
    const list = document.getElementById('messages');
    if (!list) throw new Error('no message list');
    new MutationObserver(() => {
      const all = list.querySelectorAll('[data-testid="message-status"]');
      const text = all[all.length - 1]?.textContent;
      if (text && state.__statuses.at(-1) !== text) state.__statuses.push(text);
    }).observe(list, { subtree: true, childList: true, characterData: true });
  });
  return () => page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);
}
