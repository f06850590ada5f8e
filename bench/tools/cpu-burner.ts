// A process that keeps one core busy for BUSY ms out of every BUSY + IDLE ms, until killed: run
// one or more beside a bench step to see what the same step does on a machine that busy (the bare
// relay's p99 under load in docs/performance.md, "What the unmet targets would need").
//
//   npm run -s build:bench && node bench/dist/tools/cpu-burner.js [BUSY=4] [IDLE=1] &
const busyMs = Number(process.argv[2] ?? 4);
const idleMs = Number(process.argv[3] ?? 1);

function burn(): void {
  const until = performance.now() + busyMs;
  while (performance.now() < until);
  setTimeout(burn, idleMs);
}
burn();
