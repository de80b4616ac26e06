// Long chaos run (not part of CI; `npm run chaos -- --seconds 120`): the scenario of
// test/integration/chaos.test.ts (test/helpers/chaos.ts) with a longer fault schedule and larger loads,
// against nutmeg and the real nutcracker one after the other, with the same seed. Prints each run's
// result line, a side-by-side table (requests, errors, misdelivered replies, hangs, recovery time, late
// errors, peak RSS) and examples; exits 1 when nutmeg fails what the short test asserts.
//
// Usage: node dist/scripts/chaos.js [--seconds 120] [--seed N] [--proxy both|nutmeg|nutcracker]
//          [--nutmeg-bin path/to/bin/nutmeg] [--checkers 8] [--mc-checkers 4] [--pipeline 8] [--pipeliner-batch 1000]
//          [--big-bytes 1048576] [--big-pipeline 8] [--big-burst 48] [--never-read 5000] [--max-rss-mb 300]

import { runChaos, formatResult, formatTable, verdict, type ChaosResult } from '../test/helpers/chaos';
import { startNutmeg, startNutcracker, startProxy, NUTMEG_NODE, NUTMEG_NODE_FLAGS, type ProxyProc } from '../test/helpers/procs';

const USAGE =
  'usage: node dist/scripts/chaos.js [--seconds 120] [--seed N] [--proxy both|nutmeg|nutcracker] [--nutmeg-bin PATH]\n' +
  '         [--checkers 8] [--mc-checkers 4 (0: no memcached pool)] [--pipeline 8] [--pipeliner-batch 1000] [--big-bytes 1048576] [--big-pipeline 8]\n' +
  '         [--big-burst 48] [--never-read 5000] [--max-rss-mb 300]\n';

const NUMERIC = ['seconds', 'seed', 'checkers', 'mc-checkers', 'pipeline', 'pipeliner-batch', 'big-bytes', 'big-pipeline', 'big-burst', 'never-read', 'max-rss-mb'];

function parseArgs(argv: string[]): Map<string, string> | null {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) return null;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) return null;
    if (!['proxy', 'nutmeg-bin', ...NUMERIC].includes(name)) return null;
    if (NUMERIC.includes(name) && !(Number.isFinite(Number(value)) && Number(value) >= 0)) return null;
    out.set(name, value);
  }
  const proxy = out.get('proxy') ?? 'both';
  return ['both', 'nutmeg', 'nutcracker'].includes(proxy) ? out : null;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args === null) {
    process.stderr.write(USAGE);
    return 2;
  }
  const num = (name: string, dflt: number): number => Number(args.get(name) ?? dflt);
  const seconds = num('seconds', 120);
  const seed = num('seed', Date.now() % 0x7fffffff);
  const proxy = args.get('proxy') ?? 'both';
  const bin = args.get('nutmeg-bin');
  const maxRssMb = num('max-rss-mb', 300);
  const startNm = (yaml: string, ports: number[]): Promise<ProxyProc> =>
    bin ? startProxy(NUTMEG_NODE, [...NUTMEG_NODE_FLAGS, bin], yaml, ports) : startNutmeg(yaml, ports);
  const common = {
    faultMs: seconds * 1000,
    seed,
    checkers: num('checkers', 8),
    mcCheckers: num('mc-checkers', 4),
    pipeline: num('pipeline', 8),
    pipelinerBatch: num('pipeliner-batch', 1000),
    bigBytes: num('big-bytes', 1 << 20),
    bigPipeline: num('big-pipeline', 8),
    bigBurst: num('big-burst', 48),
    neverReadCount: num('never-read', 5000),
    log: (l: string): void => void process.stdout.write(`${l}\n`),
  };
  process.stdout.write(`chaos: ${seconds} s of faults per proxy, seed ${seed}${bin ? `, nutmeg ${bin}` : ''}\n`);
  const runs: ChaosResult[] = [];
  if (proxy !== 'nutcracker') runs.push(await runChaos({ ...common, name: 'nutmeg', start: startNm }));
  if (proxy !== 'nutmeg') runs.push(await runChaos({ ...common, name: 'nutcracker', start: startNutcracker }));
  process.stdout.write('\n');
  for (const x of runs) {
    process.stdout.write(`${formatResult(x)}\n`);
    const kinds = Object.entries(x.errorKinds).sort((a, b) => b[1] - a[1]);
    process.stdout.write(`  errors by kind: ${kinds.map(([k, n]) => `${k} ${n}`).join('; ') || 'none'}\n`);
    for (const e of x.examples) process.stdout.write(`  ${e}\n`);
  }
  process.stdout.write(`\n${formatTable(runs)}\n\n`);
  let failed = false;
  for (const x of runs) {
    const v = verdict(x, { oracle: x.name === 'nutcracker', maxRssMb });
    process.stdout.write(`${x.name}: ${v.length === 0 ? 'PASS' : `FAIL: ${v.join('; ')}`}${x.name === 'nutcracker' ? ' (held to recovery and no hangs only)' : ''}\n`);
    if (v.length > 0 && x.name === 'nutmeg') failed = true;
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
