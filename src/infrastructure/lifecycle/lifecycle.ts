/**
 * Whether the process is draining (CONTRACT §7), and the work still in flight. Readiness, the gRPC
 * health service and the socket handshake read the flag, so that load balancers stop sending work
 * before anything closes; shutdown waits for tracked work so that what was received is answered.
 */
export class Lifecycle {
  private draining = false;
  private pending = 0;
  private idle: Array<() => void> = [];

  get shuttingDown(): boolean {
    return this.draining;
  }

  beginShutdown(): void {
    this.draining = true;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.pending++;
    return work.finally(() => {
      if (--this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /** Resolves when no tracked work is left, or after timeoutMs; true when everything finished. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      new Promise<true>((resolve) => this.idle.push(() => resolve(true))),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return finished;
  }
}
