import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Measured figures of the reliability and chaos specs: printed in the test output as one
 * `[figure] <name>: key=value …` line each, and appended to test-results/figures.jsonl, from which
 * docs/reliability.md takes its numbers.
 */
const FIGURES_FILE = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test-results', 'figures.jsonl');

export type Figure = number | string | boolean;

export function report(name: string, figures: Record<string, Figure>): void {
  const line = Object.entries(figures)
    .map(([key, value]) => `${key}=${typeof value === 'number' ? round(value) : value}`)
    .join(' ');
  console.info(`[figure] ${name}: ${line}`);
  try {
    mkdirSync(path.dirname(FIGURES_FILE), { recursive: true });
    appendFileSync(FIGURES_FILE, `${JSON.stringify({ at: new Date().toISOString(), name, ...figures })}\n`);
  } catch {
    // The figures are in the output either way.
  }
}

export function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}

/** The p-th percentile (0..100) by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Distribution {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

/** `{ p50, p99 }` → `{ prefix_p50, prefix_p99 }`, for report(). */
export function prefixed(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}_${key}`, value]));
}

/** Event-loop delay of this process (the in-process app shares it with the test's clients). */
export function eventLoopMonitor(resolutionMs = 10) {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  return {
    /** Worst delay beyond the sampling resolution since the last reset, in ms. */
    maxMs: () => Math.max(0, histogram.max / 1e6 - resolutionMs),
    p99Ms: () => Math.max(0, histogram.percentile(99) / 1e6 - resolutionMs),
    reset: () => histogram.reset(),
    stop: () => histogram.disable(),
  };
}

export { sample, scrape } from './prometheus.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
