import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { buildAsyncApi } from './asyncapi.js';

const FILE = new URL('../../docs/asyncapi.json', import.meta.url);

describe('docs/asyncapi.json', () => {
  it('is what `npm run asyncapi` generates from the zod schemas now (run it after changing a schema)', () => {
    const generated = `${JSON.stringify(buildAsyncApi(), null, 2)}\n`;
    expect(readFileSync(FILE, 'utf8'), 'docs/asyncapi.json is stale: run `npm run asyncapi`').toBe(generated);
  });

  it('is a valid AsyncAPI 3 document with every Socket.IO event and NATS subject of the contract', async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(FILE, 'utf8'));
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
    expect(errors.map((error) => `${error.path.join('.')}: ${error.message}`)).toEqual([]);
    expect(document).toBeDefined();
    const addresses = document!.channels().all().map((channel) => channel.address());
    expect(addresses.sort()).toEqual(
      ['/', 'connections.v1.connection.removed', 'messaging.v1.conversation.started', 'messaging.v1.message.delivered', 'messaging.v1.message.read', 'messaging.v1.message.sent'].sort(),
    );
    const operations = document!.operations().all().map((operation) => operation.id());
    for (const event of ['startConversation', 'sendMessage', 'markAsDelivered', 'markAsRead', 'startTyping', 'stopTyping', 'listConversations', 'getMessageHistory', 'newMessage', 'messageDelivered', 'messageRead', 'typing', 'typingStopped']) {
      expect(operations).toContain(event);
    }
    // The parser loads its AsyncAPI and JSON Schema rule sets on first use: seconds on a busy machine.
  }, 30_000);
});
