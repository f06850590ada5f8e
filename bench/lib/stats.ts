/**
 * Percentiles over the full sample (no histogram buckets, so no bucket error): the samples are
 * sorted once and a percentile is the value at rank ceil(p/100 × n), the nearest-rank definition
 * HdrHistogram also uses.
 */
export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, p50Ms: null, p95Ms: null, p99Ms: null, p999Ms: null, maxMs: null, meanMs: null };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  return {
    count: n,
    p50Ms: round(at(50)),
    p95Ms: round(at(95)),
    p99Ms: round(at(99)),
    p999Ms: round(at(99.9)),
    maxMs: round(sorted[n - 1]),
    meanMs: round(sum / n),
  };
}

/** Concatenates the Float64Arrays the generator processes send back. */
export function concat(arrays: Float64Array[]): Float64Array {
  const total = arrays.reduce((sum, array) => sum + array.length, 0);
  const out = new Float64Array(total);
  let offset = 0;
  for (const array of arrays) {
    out.set(array, offset);
    offset += array.length;
  }
  return out;
}

export function round(value: number | null | undefined, digits = 3): number | null {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A growable Float64Array: latency samples without boxing a JS number per sample. */
export class SampleBuffer {
  private data: Float64Array;
  private length: number;

  constructor(capacity = 1 << 16) {
    this.data = new Float64Array(capacity);
    this.length = 0;
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  take(): Float64Array {
    const out = this.data.slice(0, this.length);
    this.length = 0;
    return out;
  }
}
