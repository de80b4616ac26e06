// early-signals: the first module the executable loads. A SIGUSR1 or SIGUSR2 that arrives while the rest of
// nutmeg is still loading is queued (not the inspector, not the default action that ends the process) and
// handed over once main has its handlers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

test('SIGUSR1 and SIGUSR2 during start-up are queued, and the inspector does not start', () => {
  const mod = path.join(__dirname, '..', '..', 'src', 'early-signals.js');
  const script = `
    const early = require(${JSON.stringify(mod)});
    process.kill(process.pid, 'SIGUSR1');
    process.kill(process.pid, 'SIGUSR2');
    setTimeout(() => {
      process.on('SIGUSR1', () => {});
      console.log(JSON.stringify(early.takeEarlySignals()));
    }, 100);`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), ['SIGUSR1', 'SIGUSR2']);
  assert.doesNotMatch(r.stderr, /Debugger listening|inspector/i);
});
