// Where a Node process's CPU goes, from `perf record -e cpu-clock -g` (on-CPU samples only, so
// unlike V8's wall-clock profiler, time spent descheduled is not counted). Run the process with
// `--perf-basic-prof --interpreted-frames-native-stack` so JIT frames have names.
//
//   perf script -i perf.data | node bench/dist/tools/perf-breakdown.js [µs of CPU per message]
//
// Each sample is charged to the nearest JavaScript frame on its stack (so V8 builtins, ICs and
// allocation count against the JS code that called them), grouped by package; GC and kernel
// time not under a JS frame are their own groups. "inclusive" counts a sample once for every
// group anywhere on its stack.
import { createInterface } from 'node:readline';

const perMessage = Number(process.argv[2] ?? 0);
interface Frame {
  sym: string;
  dso: string;
}

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const fns = new Map<string, number>();
let total = 0;
let stack: Frame[] = [];
let thread = '';

function groupOf(frame: Frame): string | null {
  const js = /JS:[*~^]?(.*)$/.exec(frame.sym);
  if (js) {
    const where = js[1];
    const modules = where.lastIndexOf('node_modules/');
    if (modules >= 0) {
      const parts = where.slice(modules + 13).split('/');
      return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    }
    const dist = where.indexOf('/dist/');
    if (dist >= 0) return `service: ${where.slice(dist + 6).split('/')[0].split(':')[0]}`;
    const node = /node:([a-z_]+)/.exec(where);
    if (node) return `node:${node[1]}`;
    return 'js (other)';
  }
  return null;
}

function flush() {
  if (stack.length === 0) return;
  total++;
  const groups = stack.map(groupOf);
  let owner = groups.find((g) => g !== null);
  if (!owner) {
    const leaf = stack[0];
    if (/Scaveng|MarkCompact|ConcurrentMarking|Sweeper|Heap::|Evacuat|IncrementalMarking|MinorMC|GCTracer/.test(stack.map((f) => f.sym).join(' '))) owner = 'GC (outside JS frames)';
    else if (leaf.dso.includes('kernel')) owner = 'kernel (outside JS frames)';
    else owner = `native (${thread === 'node' ? 'main thread' : thread})`;
  }
  self.set(owner, (self.get(owner) ?? 0) + 1);
  for (const group of new Set(groups.filter((g): g is string => g !== null))) inclusive.set(group, (inclusive.get(group) ?? 0) + 1);
  const leafJs = stack.find((f) => groupOf(f));
  if (leafJs) fns.set(leafJs.sym, (fns.get(leafJs.sym) ?? 0) + 1);
  stack = [];
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) {
    flush();
    continue;
  }
  if (!line.startsWith('\t') && !line.startsWith(' ')) {
    flush();
    thread = line.trim().split(/\s+/)[0];
    continue;
  }
  const match = /^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/.exec(line);
  if (match) stack.push({ sym: match[1].replace(/\+0x[0-9a-f]+$/, ''), dso: match[2] });
}
flush();

const show = (title: string, map: Map<string, number>, top: number) => {
  console.log(`\n${title}`);
  for (const [name, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const share = (100 * n) / total;
    console.log(`  ${share.toFixed(1).padStart(5)}%${perMessage ? `  ${((share * perMessage) / 100).toFixed(1).padStart(6)} µs/msg` : ''}  ${name}`);
  }
};
console.log(`${total} on-CPU samples`);
show('self (charged to the nearest JS frame, by package):', self, 30);
show('inclusive (anywhere on the stack):', inclusive, 30);
show('hottest JS functions (nearest JS frame):', fns, 30);
