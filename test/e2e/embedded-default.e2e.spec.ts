import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/infrastructure/net/free-port.js';
import { pollUntil, removeBuild } from '../support/processes.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { TestClient } from '../support/socket-client.js';

/** What `npm ci && npm start` gives on a fresh machine: no variables at all (CONTRACT §1.1). */
describe('the embedded default', () => {
  let dataDir: string | undefined;
  let running: ServiceProcess | undefined;

  afterAll(async () => {
    await running?.stop('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    removeBuild();
  });

  async function start(port: number, grpcPort: number) {
    running = startServiceProcess({ DATA_DIR: dataDir!, PORT: String(port), GRPC_PORT: String(grpcPort), HOST: '127.0.0.1' });
    const readyMs = await running.waitReady(`http://127.0.0.1:${port}`, 60_000);
    // The links are printed once the service is ready (their tokens are signed then): wait for them.
    const links = await pollUntil('the demo links', () => {
      const printed = demoLinks(running!.output(), port);
      return Object.keys(printed).length === 4 ? printed : undefined;
    }, 10_000);
    return { readyMs, links };
  }

  it('starts on an embedded PostgreSQL, prints demo links, and keeps the data across restarts', { timeout: 120_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'messaging-embedded-'));
    // Run as root, the embedded PostgreSQL runs as the postgres user, which must reach DATA_DIR.
    await chmod(dataDir, 0o777);
    const [port, grpcPort] = [await freePort(), await freePort()];

    const first = await start(port, grpcPort);
    expect(first.readyMs).toBeLessThan(60_000);
    expect(Object.keys(first.links)).toEqual(['alice', 'bob', 'carol', 'dave']);

    const alice = await TestClient.connect(`http://127.0.0.1:${port}`, first.links.alice);
    const { conversation } = await alice.ok('startConversation', { participantId: 'bob' });
    const { message } = await alice.ok('sendMessage', { conversationId: conversation.conversationId, text: 'still here after a restart?' });
    const refused = await alice.emit('startConversation', { participantId: 'dave' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    alice.close();
    expect((await running!.stop('SIGTERM')).code).toBe(0);

    const second = await start(port, grpcPort);
    // The development secret is kept too, so the first run's links still work.
    expect(second.links.bob).toBeDefined();
    const bob = await TestClient.connect(`http://127.0.0.1:${port}`, first.links.bob!);
    const history = await bob.ok('getMessageHistory', { conversationId: conversation.conversationId });
    expect(history.messages.map((stored) => stored.messageId)).toEqual([message.messageId]);
    bob.close();
    expect((await running!.stop('SIGTERM')).code).toBe(0);
  });
});

function demoLinks(output: string, port: number): Record<string, string> {
  const links: Record<string, string> = {};
  for (const match of output.matchAll(new RegExp(`^\\s+(\\w+)\\s+http://127\\.0\\.0\\.1:${port}/\\?token=(\\S+)$`, 'gm'))) {
    links[match[1]!] = match[2]!;
  }
  return links;
}
