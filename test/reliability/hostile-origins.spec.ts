import net from 'node:net';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report, sample, scrape } from '../support/figures.js';
import { userId } from '../support/factories.js';
import { upgradeRequest } from '../support/raw-socket-io.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const ALLOWED = 'https://app.example.com';

/**
 * CONTRACT §1 (CORS_ORIGINS): a WebSocket upgrade, or a long-polling handshake, from an origin that
 * is not exactly on the allow-list is refused, however close it looks. Clients that send no Origin
 * (services, not browsers) are not subject to it.
 */
describe('hostile origins', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ CORS_ORIGINS: `${ALLOWED},https://admin.example.com:8443` });
  });
  afterAll(async () => {
    await app?.close();
  });

  const attempt = async (origin: string | undefined, transport: 'websocket' | 'polling') => {
    const socket = io(app.server.httpUrl, {
      auth: { token: await app.token(userId()) },
      extraHeaders: origin === undefined ? {} : { Origin: origin },
      transports: [transport],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
    });
    return new Promise<string>((resolve) => {
      socket.once('connect', () => {
        resolve('connected');
        socket.close();
      });
      socket.once('connect_error', (error) => {
        resolve(`refused (${error.message})`);
        socket.close();
      });
    });
  };

  /** The upgrade request itself, as a browser sends it: the status line of the answer. */
  const rawUpgrade = (origin: string) =>
    new Promise<string>((resolve) => {
      const { port } = new URL(app.server.httpUrl);
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(upgradeRequest(port, [`Origin: ${origin}`]));
      });
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
        if (answer.includes('\r\n')) {
          resolve(answer.split('\r\n')[0]!);
          socket.destroy();
        }
      });
      socket.on('error', () => resolve(answer.split('\r\n')[0] || 'reset'));
      socket.on('close', () => resolve(answer.split('\r\n')[0] || 'closed'));
    });

  it('refuses every origin not exactly on the list, on both transports, and keeps no socket', async () => {
    const hostile = [
      'https://evil.example.com',
      `${ALLOWED}.evil.com`,
      'https://evil-app.example.com',
      'https://app.example.co',
      'http://app.example.com',
      'https://app.example.com:444',
      'https://admin.example.com',
      `${ALLOWED}/`,
      `${ALLOWED}/path`,
      'https://user@app.example.com',
      'HTTPS://APP.EXAMPLE.COM',
      'null',
      '*',
      '',
      'file://',
      `${ALLOWED}, https://evil.example.com`,
      'https://app.example.com%2eevil.com',
    ];
    const results: Record<string, string[]> = {};
    for (const origin of hostile) {
      results[origin] = [await attempt(origin, 'websocket'), await attempt(origin, 'polling'), await rawUpgrade(origin)];
    }
    const connected = Object.entries(results).filter(([, outcome]) => outcome.includes('connected') || outcome.some((line) => line.includes(' 101 ')));
    expect(connected).toEqual([]);
    for (const [origin, [websocket, polling]] of Object.entries(results)) {
      expect(websocket, origin).toMatch(/^refused/);
      expect(polling, origin).toMatch(/^refused/);
    }
    expect(sample(await scrape(app.server.httpUrl), 'messaging_connected_sockets')).toBe(0);

    // The allowed ones, and clients without an Origin, do connect.
    for (const origin of [ALLOWED, 'https://admin.example.com:8443', undefined]) {
      expect(await attempt(origin, 'websocket'), String(origin)).toBe('connected');
      expect(await attempt(origin, 'polling'), String(origin)).toBe('connected');
    }
    expect(await rawUpgrade(ALLOWED)).toContain(' 101 ');

    report('hostile origins', {
      origins: hostile.length,
      attempts: hostile.length * 3,
      accepted: connected.length,
      raw_upgrade_answer: [...new Set(Object.values(results).map((outcome) => outcome[2]))].join('|'),
    });
  });

  // The one home of the origin checks (test/e2e/origin.e2e.spec.ts merged here, issue #17).
  it('answers CORS on HTTP for allowed origins only', async () => {
    const allowed = await fetch(`${app.server.httpUrl}/health/live`, { headers: { Origin: ALLOWED } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const refused = await fetch(`${app.server.httpUrl}/health/live`, { headers: { Origin: 'https://evil.example.com' } });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});
