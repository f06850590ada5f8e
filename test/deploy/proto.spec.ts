import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUF = path.join(ROOT, 'node_modules/.bin/buf');
const RELEASED = path.join(ROOT, 'proto-released/0.1.0.json');

/** Runs buf in `cwd`; resolves with its exit status and output instead of throwing. */
function buf(args: string[], cwd = ROOT): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync(BUF, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const { status, stdout, stderr } = error as { status: number; stdout: string; stderr: string };
    return { status, output: `${stdout}${stderr}` };
  }
}

describe('proto hygiene (buf from @bufbuild/buf)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'messaging-buf-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('`buf lint` passes', () => {
    expect(buf(['lint'])).toEqual({ status: 0, output: '' });
  });

  it('`buf breaking` finds nothing against the last released protos', () => {
    expect(buf(['breaking', '--against', RELEASED])).toEqual({ status: 0, output: '' });
  });

  it('`buf breaking` does catch a break (a field renumbered)', () => {
    cpSync(path.join(ROOT, 'proto'), path.join(scratch, 'proto'), { recursive: true });
    cpSync(path.join(ROOT, 'buf.yaml'), path.join(scratch, 'buf.yaml'));
    const file = path.join(scratch, 'proto/messaging/v1/messaging.proto');
    const source = readFileSync(file, 'utf8');
    expect(source).toContain('string text = 4;');
    writeFileSync(file, source.replace('string text = 4;', 'string text = 40;'));
    const result = buf(['breaking', '--against', RELEASED], scratch);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/text/);
  });
});
