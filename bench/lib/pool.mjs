import { fork } from 'node:child_process';
import path from 'node:path';

const GENERATOR = path.join(path.dirname(new URL(import.meta.url).pathname), 'generator.mjs');

/** A set of forked load-generator processes, each addressed by command over IPC. */
export class GeneratorPool {
  static async start(count) {
    const generators = await Promise.all(Array.from({ length: count }, (_, index) => Generator.start(index)));
    return new GeneratorPool(generators);
  }

  constructor(generators) {
    this.generators = generators;
  }

  get size() {
    return this.generators.length;
  }

  /** Sends each generator its own arguments (argsFor(index) → args, or undefined to skip it). */
  async each(cmd, argsFor) {
    return Promise.all(
      this.generators.map((generator, index) => {
        const args = argsFor(index);
        return args === undefined ? undefined : generator.call(cmd, args);
      }),
    ).then((results) => results.filter((result) => result !== undefined));
  }

  pids() {
    return this.generators.map((generator) => generator.child.pid);
  }

  async stop() {
    for (const generator of this.generators) generator.child.disconnect();
    await Promise.all(this.generators.map((generator) => generator.exited));
  }
}

class Generator {
  static start(index) {
    const child = fork(GENERATOR, [], {
      serialization: 'advanced',
      env: { ...process.env, BENCH_GENERATOR_INDEX: String(index) },
      execArgv: ['--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('message', (message) => (message?.ready ? resolve(new Generator(child)) : reject(new Error('generator did not start'))));
    });
  }

  constructor(child) {
    this.child = child;
    this.nextId = 0;
    this.waiting = new Map();
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.on('message', (message) => {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`generator: ${message.error}`));
    });
    child.once('exit', (code) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`generator exited (${code})`));
      this.waiting.clear();
    });
  }

  call(cmd, args) {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, cmd, args });
    });
  }
}
