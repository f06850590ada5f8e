import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean };

describe('the supported runtime', () => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;

  it('is the maintained Node LTS lines 22, 24 and 26, not Node 20 (end of life since April 2026)', () => {
    for (const version of ['22.12.0', '22.20.0', '24.0.0', '24.21.0', '26.0.0']) expect(semver.satisfies(version, engines), version).toBe(true);
    for (const version of ['20.20.2', '21.7.0', '23.0.0', '25.0.0', '27.0.0']) expect(semver.satisfies(version, engines), version).toBe(false);
  });

  it('CI installs Node 24 locally and the suite runs on it', () => {
    const run = read('.ci/run');
    expect(run).toMatch(/MESSAGING_CI_NODE="\$\{MESSAGING_CI_NODE:-24\}"/);
    expect(run).toContain('bash .ci/install-node "$MESSAGING_CI_NODE"');
    expect(read('.gitignore')).toContain('.ci/node/');
    expect(read('.nvmrc').trim()).toBe('24');
    // Under .ci/run, this very process must be the Node it installed.
    const wanted = process.env.MESSAGING_CI_NODE;
    if (wanted) expect(process.versions.node.split('.')[0]).toBe(wanted);
  });
});
