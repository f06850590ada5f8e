// What `npm test` checks before it runs the tests: the generated code once, then the type-check,
// the lint and the build side by side. Each of the three is mostly one process on one core, so on
// two cores they take not much longer than the slowest of them instead of their sum (issue #17).
// Each one's output is printed whole when it ends; the run fails if any of them failed.
import { execFileSync, spawn } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const started = Date.now();
execFileSync(npm, ['run', '-s', 'generate'], { stdio: 'inherit' });

const run = (name, script) =>
  new Promise((resolve) => {
    const begun = Date.now();
    const child = spawn(npm, ['run', '-s', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
      const ok = code === 0;
      process.stdout.write(`== ${name}: ${ok ? 'ok' : `failed (${signal ?? code})`} in ${((Date.now() - begun) / 1000).toFixed(1)} s\n${ok ? '' : output}`);
      resolve(ok);
    });
  });

const results = await Promise.all([run('typecheck', 'typecheck:tsc'), run('lint', 'lint'), run('build', 'build:compiled')]);
process.stdout.write(`== checks done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
if (results.includes(false)) process.exit(1);
