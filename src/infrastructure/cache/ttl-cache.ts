/** A small key/value store with per-entry expiry: memory for one instance, Redis for several. */
export interface TtlCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
}

export class MemoryTtlCache implements TtlCache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    private readonly capacity = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return this.getSync(key);
  }

  getSync(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.setSync(key, value, ttlMs);
  }

  setSync(key: string, value: string, ttlMs: number): void {
    if (ttlMs <= 0) return;
    if (this.entries.size >= this.capacity && !this.entries.has(key)) this.evictOne();
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  private evictOne(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
