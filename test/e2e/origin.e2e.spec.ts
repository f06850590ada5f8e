import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const ALLOWED = 'https://app.example.com';

describe('origin allow-list', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ CORS_ORIGINS: `${ALLOWED}, https://other.example.com` });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('refuses WebSocket upgrades from an origin outside the list', async () => {
    const token = await app.token(userId());
    await expect(TestClient.connect(app.server.httpUrl, token, { extraHeaders: { Origin: 'https://evil.example.com' } })).rejects.toThrow();
    await expect(TestClient.connect(app.server.httpUrl, token, { extraHeaders: { Origin: `${ALLOWED}.evil.com` } })).rejects.toThrow();
  });

  it('accepts an exact match and clients that send no Origin', async () => {
    const token = await app.token(userId());
    const browser = await TestClient.connect(app.server.httpUrl, token, { extraHeaders: { Origin: ALLOWED } });
    const service = await TestClient.connect(app.server.httpUrl, token);
    expect(browser.socket.connected && service.socket.connected).toBe(true);
    browser.close();
    service.close();
  });

  it('answers CORS on HTTP for allowed origins only', async () => {
    const allowed = await fetch(`${app.server.httpUrl}/health/live`, { headers: { Origin: ALLOWED } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const refused = await fetch(`${app.server.httpUrl}/health/live`, { headers: { Origin: 'https://evil.example.com' } });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});
