import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CpuProfile } from './service.js';

export interface ProfileRow {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  byArea: ProfileRow[];
  byAreaInclusive: ProfileRow[];
  byFunction: ProfileRow[];
}

/**
 * Where the service's CPU went, from the newest V8 .cpuprofile in `dir` (written by
 * `node --cpu-prof` at exit): self time by package / area and by function, as shares of the
 * non-idle time.
 */
export function summarizeProfiles(dir: string, top = 30): ({ file: string } & ProfileSummary) | { file: null } {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(dir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) return { file: null };
  return { file: files[0], ...summarizeProfile(JSON.parse(readFileSync(files[0], 'utf8')) as CpuProfile, top) };
}

type CpuProfileNode = CpuProfile['nodes'][number];

export function summarizeProfile(profile: CpuProfile, top = 30): ProfileSummary {
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((nodeId, i) => selfMicros.set(nodeId, (selfMicros.get(nodeId) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const micros = selfMicros.get(node.id) ?? 0;
    if (!micros) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += micros;
      continue;
    }
    busy += micros;
    const area = areaOf(functionName, url);
    byArea.set(area, (byArea.get(area) ?? 0) + micros);
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  }
  // Inclusive: each sample counts once for every area on its stack (where the time was spent "under").
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuProfileNode>(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const areaCache = new Map<number, Set<string>>();
  const areasOnStack = (id: number): Set<string> => {
    let cached = areaCache.get(id);
    if (cached) return cached;
    const { functionName, url } = (byId.get(id) as CpuProfileNode).callFrame;
    const up = parent.has(id) ? areasOnStack(parent.get(id) as number) : new Set<string>();
    cached = new Set(up);
    if (url) cached.add(areaOf(functionName, url));
    areaCache.set(id, cached);
    return cached;
  };
  const inclusive = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    for (const area of areasOnStack(id)) inclusive.set(area, (inclusive.get(area) ?? 0) + micros);
  }
  const rank = (map: Map<string, number>): ProfileRow[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ name, ms: Math.round(micros / 1000), percent: Math.round((1000 * micros) / busy) / 10 }));
  return { busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000), byArea: rank(byArea), byAreaInclusive: rank(inclusive), byFunction: rank(byFunction) };
}

function areaOf(functionName: string, url: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / builtins)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `service: ${url.slice(dist + 6).split('/').slice(0, -1).join('/') || '.'}`;
  return shortUrl(url);
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 13);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

// `node bench/dist/lib/profile.js <file.cpuprofile | dir>` prints the summary.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const target = process.argv[2] ?? 'bench/results/profiles';
  const summary = target.endsWith('.cpuprofile') ? { file: target, ...summarizeProfile(JSON.parse(readFileSync(target, 'utf8')) as CpuProfile) } : summarizeProfiles(target);
  if (summary.file === null) throw new Error(`no .cpuprofile in ${target}`);
  console.log(`${summary.file}: busy ${summary.busyMs} ms, idle ${summary.idleMs} ms`);
  console.log('\nself time by area:');
  for (const row of summary.byArea) console.log(`  ${String(row.percent).padStart(5)}%  ${String(row.ms).padStart(7)} ms  ${row.name}`);
  console.log('\ninclusive time by area (on the stack):');
  for (const row of summary.byAreaInclusive) console.log(`  ${String(row.percent).padStart(5)}%  ${String(row.ms).padStart(7)} ms  ${row.name}`);
  console.log('\nself time by function:');
  for (const row of summary.byFunction) console.log(`  ${String(row.percent).padStart(5)}%  ${String(row.ms).padStart(7)} ms  ${row.name}`);
}
