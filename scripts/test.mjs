// What `npm test` runs: the generated code once; then the type-check, the lint and the build side by
// side; and the tests as soon as the build is done (they run the built client package and service),
// while the type-check and the lint finish. The tests wait on sockets and child processes much of
// the time (about 1.6 of 2 cores busy), so the checks' tail fits beside them (issue #17).
// Each check's output is printed whole when it ends; the run fails if anything failed.
import { execFileSync, spawn } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const started = Date.now();
const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);
execFileSync(npm, ['run', '-s', 'generate'], { stdio: 'inherit' });

const check = (name, script) =>
  new Promise((resolve) => {
    const begun = Date.now();
    const child = spawn(npm, ['run', '-s', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
      const ok = code === 0;
      process.stdout.write(`== ${name}: ${ok ? 'ok' : `failed (${signal ?? code})`} in ${seconds(begun)} s\n${ok ? '' : output}`);
      resolve(ok);
    });
  });

const tests = () =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code === 0));
  });

const checks = [check('typecheck', 'typecheck:tsc'), check('lint', 'lint')];
const built = await check('build', 'build:compiled');
const results = [built, ...(built ? [await tests()] : []), ...(await Promise.all(checks))];
process.stdout.write(`== npm test ${results.includes(false) ? 'failed' : 'passed'} in ${seconds(started)} s${built ? '' : ' (no tests: the build failed)'}\n`);
if (results.includes(false)) process.exit(1);
