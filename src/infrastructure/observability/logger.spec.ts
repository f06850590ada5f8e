import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions } from './logger.js';
import { withLogContext } from './log-context.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(loggerOptions('info'), stream), lines };
}

describe('logger', () => {
  it('stamps every line with the socket or request it belongs to', async () => {
    const { logger, lines } = capture();
    await withLogContext({ socketId: 'sock-1', event: 'sendMessage' }, async () => {
      await Promise.resolve();
      logger.info('inside');
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({ msg: 'inside', socketId: 'sock-1', event: 'sendMessage' });
    expect(lines[1]).not.toHaveProperty('socketId');
  });

  it('never writes tokens or message texts', () => {
    const { logger, lines } = capture();
    logger.info({ token: 'secret-token', auth: { token: 'secret-token' }, headers: { authorization: 'Bearer x' }, message: { text: 'private words' } }, 'payload');
    expect(JSON.stringify(lines[0])).not.toMatch(/secret-token|Bearer x|private words/);
  });
});
