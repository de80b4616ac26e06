// Long parser fuzz run (not part of CI): the properties of test/fuzz/parsers.test.ts over many more inputs.
// Usage: node dist/scripts/fuzz-long.js [count=1000000] [seed]
// Inputs are split evenly over the four parsers and run in batches with their own seeds; prints counts,
// inputs/s per batch and overall, and the outcome (the first counterexample per parser, with its seed).

import fc from 'fast-check';
import { CASES, property } from '../test/fuzz/harness';

const BATCH = 50_000;

function main(): number {
  const total = Number(process.argv[2] ?? 1_000_000);
  const seed0 = Number(process.argv[3] ?? Date.now() % 0x7fffffff);
  if (!Number.isFinite(total) || total < 1) {
    process.stderr.write('usage: node dist/scripts/fuzz-long.js [count] [seed]\n');
    return 2;
  }
  const per = Math.ceil(total / CASES.length);
  process.stdout.write(`fuzz-long: ${total} inputs (${per} per parser), batches of ${BATCH}, seed ${seed0}\n`);
  const t0 = process.hrtime.bigint();
  let done = 0;
  let failures = 0;
  for (let ci = 0; ci < CASES.length; ci++) {
    const c = CASES[ci]!;
    const prop = property(c);
    let left = per;
    let batch = 0;
    const tc = process.hrtime.bigint();
    while (left > 0) {
      const n = Math.min(BATCH, left);
      const seed = (seed0 + 7919 * (ci * 100000 + batch)) % 0x7fffffff;
      const tb = process.hrtime.bigint();
      const r = fc.check(prop, { numRuns: n, seed, includeErrorInReport: true });
      const ms = Number(process.hrtime.bigint() - tb) / 1e6;
      done += r.numRuns;
      left -= n;
      batch++;
      process.stdout.write(`  ${c.target.name}: batch ${batch} seed ${seed}: ${r.numRuns} inputs in ${ms.toFixed(0)} ms (${Math.round((r.numRuns * 1000) / ms)} inputs/s)\n`);
      if (r.failed) {
        failures++;
        process.stdout.write(`  FAILED ${c.target.name}: ${fc.defaultReportMessage(r) ?? ''}\n`);
        break;
      }
    }
    const cms = Number(process.hrtime.bigint() - tc) / 1e6;
    process.stdout.write(`${c.target.name}: ${per - Math.max(0, left)} inputs, ${(cms / 1000).toFixed(1)} s\n`);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(
    `fuzz-long: ${done} inputs in ${secs.toFixed(1)} s (${Math.round(done / secs)} inputs/s): ${failures === 0 ? 'no failures' : `${failures} parser(s) FAILED`}\n`,
  );
  return failures === 0 ? 0 : 1;
}

process.exitCode = main();
