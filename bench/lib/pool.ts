import { type ChildProcess, fork } from 'node:child_process';
import type { Commands } from './generator.js';
import { benchFile } from './service.js';

const GENERATOR = benchFile('generator');

export type Command = keyof Commands;
export type CommandArgs<C extends Command> = Parameters<Commands[C]>[0];
export type CommandResult<C extends Command> = Awaited<ReturnType<Commands[C]>>;

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A set of forked load-generator processes, each addressed by command over IPC. */
export class GeneratorPool {
  static async start(count: number): Promise<GeneratorPool> {
    const generators = await Promise.all(Array.from({ length: count }, (_, index) => Generator.start(index)));
    return new GeneratorPool(generators);
  }

  private readonly generators: Generator[];

  private constructor(generators: Generator[]) {
    this.generators = generators;
  }

  get size(): number {
    return this.generators.length;
  }

  /** Sends each generator its own arguments (argsFor(index) → args, or undefined to skip it). */
  async each<C extends Command>(cmd: C, argsFor: (index: number) => CommandArgs<C> | undefined): Promise<CommandResult<C>[]> {
    const results = await Promise.all(
      this.generators.map((generator, index) => {
        const args = argsFor(index);
        return args === undefined ? undefined : generator.call(cmd, args);
      }),
    );
    return results.filter((result): result is Awaited<CommandResult<C>> => result !== undefined);
  }

  pids(): number[] {
    return this.generators.map((generator) => generator.pid);
  }

  async stop(): Promise<void> {
    for (const generator of this.generators) generator.child.disconnect();
    await Promise.all(this.generators.map((generator) => generator.exited));
  }
}

class Generator {
  static start(index: number): Promise<Generator> {
    const child = fork(GENERATOR, [], {
      serialization: 'advanced',
      env: { ...process.env, BENCH_GENERATOR_INDEX: String(index) },
      execArgv: ['--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('message', (message: { ready?: boolean } | undefined) => (message?.ready ? resolve(new Generator(child)) : reject(new Error('generator did not start'))));
    });
  }

  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<unknown>;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(child: ChildProcess) {
    this.child = child;
    if (child.pid === undefined) throw new Error('generator has no pid');
    this.pid = child.pid;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.on('message', (message: Reply) => {
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

  call<C extends Command>(cmd: C, args: CommandArgs<C>): Promise<CommandResult<C>> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.child.send({ id, cmd, args });
    });
  }
}
