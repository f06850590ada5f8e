/**
 * At most `limit` holders at once; later callers wait in arrival order, at most `maxWaiting` of
 * them (`tryAcquire` answers undefined beyond that, so that a flood is refused at once instead of
 * queueing without bound).
 */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  /** Resolves with the release function once a place is free; undefined when the queue is full. */
  tryAcquire(): Promise<() => void> | undefined {
    if (this.held < this.limit) {
      this.held++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxWaiting) return undefined;
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }

  get inUse(): number {
    return this.held;
  }

  /** A release that hands the place straight to the next waiter; safe to call more than once. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
  }
}
