// Bounded chaos (issue 11), short form: the same scenario, seed and fault schedule against nutmeg and then
// the real nutcracker (test/helpers/chaos.ts): self-checking and bad clients on a redis pool and a memcached
// pool of three backends each, which are killed and restarted, stopped past the pool timeout (also in the
// middle of a burst of 1 MB replies) and kept busy with Lua loops, for 10 s. nutmeg must deliver no reply to
// the wrong request, hang nothing, serve from every backend again within server_retry_timeout plus a margin,
// show no error later than server_retry_timeout + 2 s after the faults, and keep its RSS under 300 MB.
// nutcracker is the oracle, held to recovery and no hangs only (twemproxy has a known fragment misdelivery
// bug); both result lines and a table go out as diagnostics. The long form is `npm run chaos`.
// CHAOS_SEED=<n> replays a schedule; CHAOS_NUTMEG_BIN=<path to a bin/nutmeg> tests another nutmeg build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNutmeg, startNutcracker, startProxy, type ProxyProc } from '../helpers/procs';
import { runChaos, formatResult, formatTable, verdict } from '../helpers/chaos';

const FAULT_MS = 10_000;

function startNutmegUnderTest(yaml: string, ports: number[]): Promise<ProxyProc> {
  const bin = process.env.CHAOS_NUTMEG_BIN;
  return bin ? startProxy(process.execPath, ['--max-semi-space-size=2', bin], yaml, ports) : startNutmeg(yaml, ports);
}

test('chaos: under killed, stopped and busy backends nutmeg misdelivers nothing, hangs nothing and recovers like nutcracker', async (t) => {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 0x7fffffff);
  const log = (l: string): void => t.diagnostic(l);
  const nm = await runChaos({ name: 'nutmeg', start: startNutmegUnderTest, faultMs: FAULT_MS, seed, log });
  const nc = await runChaos({ name: 'nutcracker', start: startNutcracker, faultMs: FAULT_MS, seed, log });
  for (const x of [nm, nc]) {
    t.diagnostic(formatResult(x));
    for (const e of x.examples) t.diagnostic(`  ${x.name} ${e}`);
  }
  for (const line of formatTable([nm, nc]).split('\n')) t.diagnostic(line);
  assert.deepEqual(verdict(nc, { oracle: true }), [], `the oracle itself failed: ${formatResult(nc)}`);
  assert.deepEqual(verdict(nm), [], `${formatResult(nm)}\n${nm.examples.join('\n')}`);
});
