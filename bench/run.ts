// npm run bench: the micro-benchmarks (parsers, hashes, ketama, merge), then the end-to-end
// comparison against direct backends and nutcracker. Arguments go to the end-to-end run.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const dir = __dirname;
const steps: [string, string[]][] = [
  ['micro/hash.js', []],
  ['micro/resp.js', ['300000']],
  ['micro/memcache.js', ['300000']],
  ['micro/merge.js', []],
  ['e2e.js', process.argv.slice(2)],
];
let failed = 0;
for (const [file, args] of steps) {
  console.log(`\n== ${file} ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [path.join(dir, file), ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
