// Pools with sentinels, against real Sentinel: 3 sentinels, 2 shards of a master and a replica, all on loopback.
// One setup for the file; the tests run in order and each leaves the lab ready for the next:
//   SENTINEL FAILOVER under SET/GET load (then a reload that keeps following) ─► kill -9 of a master under load
//   ─► the first sentinel killed, then a failover ─► a stale sentinel (an old config) alone does not move nutmeg back.
// Checks under load: no wrong reply; errors only for requests sent before nutmeg switched (in flight on, or sent
// to, the old master); every write sent after the switch is on the new master; the write gap is measured.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startNutmeg, freePort, readStats, until, type ProxyProc } from '../helpers/procs';
import { SentinelLab, SwitchWatch, redisCmd, role, keysFor } from '../helpers/sentinel';
import { SetGetLoad, wallNow, type Op } from '../helpers/setget-load';
import { Router } from '../../src/route/router';

const NAMES = ['shard1', 'shard2'];
let lab: SentinelLab;
let nm: ProxyProc;
let port = 0;
/** A sentinel config from before any failover: what a stale sentinel restarts with. */
let staleConf = '';
/** The config nutmeg started with (the addresses the servers start out at). */
let firstYaml = '';

function yaml(extra: string[] = []): string {
  return [
    'alpha:',
    `  listen: 127.0.0.1:${port}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: true',
    '  timeout: 2000',
    '  server_retry_timeout: 500',
    '  sentinel_refresh_interval: 1000',
    ...extra.map((l) => `  ${l}`),
    ...lab.sentinelLines().map((l) => `  ${l}`),
    '  servers:',
    ...NAMES.map((n) => `    - 127.0.0.1:${firstMasters.get(n) ?? 0}:1 ${n}`),
    '',
  ].join('\n');
}
const firstMasters = new Map<string, number>();

before(async () => {
  lab = await SentinelLab.start(NAMES);
  staleConf = fs.readFileSync((lab.sentinels[2] as { conf: string }).conf, 'utf8');
  for (const n of NAMES) firstMasters.set(n, await lab.masterPort(n));
  port = await freePort();
  firstYaml = yaml();
  nm = await startNutmeg(firstYaml, [port], ['-v', '7']);
});

after(async () => {
  await nm?.stop();
  await lab?.stop();
});

interface ServerView {
  address: string;
  role: string;
  epoch: number;
  switches: number;
  last_switch_at: number;
}

async function view(name: string): Promise<ServerView> {
  const st = await readStats(nm.statsPort);
  return (st['alpha'] as Record<string, ServerView>)[name] as ServerView;
}

/** nutmeg serves `name` at `port`: its stats say so. Resolves with the switch time (wall ms). */
async function nutmegAt(name: string, p: number): Promise<number> {
  await until(`nutmeg to serve ${name} at ${p}`, async () => (await view(name)).address === `127.0.0.1:${p}`, 10000);
  return (await view(name)).last_switch_at / 1000;
}

const router = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers: NAMES.map((n) => ({ name: n, weight: 1 })) });
function shardOf(key: string): string {
  const b = Buffer.from(key);
  return NAMES[router.route(b, 0, b.length)] as string;
}

/** Values of `keys` at a redis-server (MGET in chunks). */
async function valuesAt(p: number, keys: string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const r = await redisCmd(p, 'MGET', ...keys.slice(i, i + 500));
    assert.ok(Array.isArray(r), `MGET at ${p}: ${JSON.stringify(r)}`);
    for (const v of r) out.push(typeof v === 'string' ? v : null);
  }
  return out;
}

interface Verdict {
  ops: number;
  errorsBefore: number;
  errorsAfter: number;
  /** Writes acknowledged before nutmeg's switch and not on the new master (between the promotion and the switch). */
  lostBefore: number;
  /** Writes sent after the first +switch-master that are not on the new master (sent before nutmeg heard of it). */
  lostAfterEvent: number;
  /** When the lost writes were sent, relative to the event. */
  lostWindow: string;
  /** The last lost write was sent this long before the event (ms); -Infinity when none. */
  lastLost: number;
  /** ms from the first +switch-master to the first write acknowledged from the new master. */
  gap: number;
  /** The longest a write to the shard waited for its reply in the second around the event (held during the promotion). */
  longest: number;
}

/** When nutmeg's log says it started holding `name` for a promotion (wall ms, the log's ms precision), or null. */
function promotionHeldAt(name: string): number | null {
  const lines = nm.stderr.split('\n').filter((l) => l.includes(`sentinel: ${name}: `) && l.includes(' is promoting '));
  const m = /"time":"([^"]+)"/.exec(lines.at(-1) ?? '');
  return m === null ? null : Date.parse(m[1] as string);
}

/** nutmeg's own figure (debug line): how long its last check of `name` held the master. */
function checkedIn(name: string): string {
  const m = [...nm.stderr.matchAll(new RegExp(`sentinel: ${name}: \\+switch-master to \\S+ checked in ([0-9.]+) ms`, 'g'))].at(-1);
  return m === undefined ? '?' : `${m[1]} ms`;
}

/**
 * The checks every failover under load makes, for the shard `name` that moved to `to` at nutmeg's switch time
 * `switchAt`; `eventAt` is the first +switch-master the test saw.
 */
async function judge(load: SetGetLoad, name: string, to: number, switchAt: number, eventAt: number): Promise<Verdict> {
  assert.deepEqual(load.wrong, [], 'no reply answers another request');
  const mine: Op[] = [];
  for (const o of load.ops) {
    if (shardOf(o.key) === name) {
      mine.push(o);
      continue;
    }
    // The other shard saw nothing of it.
    assert.equal(o.setReply, 'OK', `write to the other shard: ${o.key} ${o.setReply}`);
    assert.equal(o.getError, null, `read from the other shard: ${o.key} ${o.getError}`);
    assert.equal(o.getValue, o.value, `read from the other shard: ${o.key}`);
  }
  let errorsBefore = 0;
  let errorsAfter = 0;
  const late: string[] = [];
  for (const o of mine) {
    if (o.setReply !== 'OK') {
      if (o.setSent > switchAt) late.push(`SET ${o.key} sent ${(o.setSent - switchAt).toFixed(1)} ms after the switch: ${o.setReply}`);
      else errorsBefore++;
    }
    if (o.getError !== null) {
      if (o.getSent > switchAt) late.push(`GET ${o.key} sent ${(o.getSent - switchAt).toFixed(1)} ms after the switch: ${o.getError}`);
      else errorsBefore++;
    }
    // A read that found nothing: its write went to the old master after the promotion (lost for every client).
    if (o.setReply === 'OK' && o.getError === null && o.getValue === null) {
      assert.ok(o.setSent < switchAt, `${o.key} written ${(o.setSent - switchAt).toFixed(1)} ms after the switch and not read back`);
    }
  }
  errorsAfter = late.length;
  assert.deepEqual(late, [], 'no error for a request sent after the switch');
  // Every write acknowledged since the first +switch-master: where is it?
  const since = mine.filter((o) => o.setReply === 'OK' && o.setSent >= eventAt - 1000);
  const values = await valuesAt(to, since.map((o) => o.key));
  let gap = Infinity;
  let lostBefore = 0;
  let lostAfterEvent = 0;
  let firstLost = Infinity;
  let lastLost = -Infinity;
  since.forEach((o, i) => {
    const there = values[i] === o.value;
    if (!there) {
      firstLost = Math.min(firstLost, o.setSent - eventAt);
      lastLost = Math.max(lastLost, o.setSent - eventAt);
    }
    if (o.setSent > switchAt) assert.ok(there, `${o.key}, written ${(o.setSent - switchAt).toFixed(1)} ms after the switch, is on the new master`);
    if (!there && o.setSent < eventAt) lostBefore++;
    if (!there && o.setSent >= eventAt) lostAfterEvent++;
    if (there && o.setSent >= eventAt) gap = Math.min(gap, o.setDone - eventAt);
  });
  const lostWindow = lostBefore + lostAfterEvent === 0 ? 'none' : `sent ${(-firstLost).toFixed(0)} to ${(-lastLost).toFixed(1)} ms before the event`;
  let longest = 0;
  for (const o of since) if (o.setDone > eventAt - 1000 && o.setSent < eventAt + 1000) longest = Math.max(longest, o.setDone - o.setSent);
  return { ops: load.ops.length, errorsBefore, errorsAfter, lostBefore, lostAfterEvent, lostWindow, lastLost, gap, longest };
}

/** Load until `n` more writes succeeded on shard `name` after `from` (wall ms), bounded. */
async function writesAfter(load: SetGetLoad, name: string, from: number, n: number): Promise<void> {
  await until(
    `${n} writes to ${name} after the switch`,
    () => load.ops.filter((o) => o.setSent > from && o.setReply === 'OK' && shardOf(o.key) === name).length >= n,
    15000,
  );
}

/**
 * Once Sentinel has moved `name` to `to`: nutmeg follows, the load writes a while longer there, stops, and is
 * judged. Returns the first +switch-master the test saw, and the verdict.
 */
async function afterSwitch(load: SetGetLoad, watch: SwitchWatch, name: string, to: number): Promise<{ eventAt: number; v: Verdict }> {
  const switchAt = await nutmegAt(name, to);
  await writesAfter(load, name, switchAt, 300);
  await load.stop();
  const ev = watch.first(name, to);
  assert.ok(ev !== undefined, 'the test saw +switch-master');
  const v = await judge(load, name, to, switchAt, ev.at);
  assert.ok(v.gap < 1000, `write gap ${v.gap} ms`);
  return { eventAt: ev.at, v };
}

test('SENTINEL FAILOVER under SET/GET load: no wrong reply, no write after the switch lost, the write gap', async (t: TestContext) => {
  const watch = await SwitchWatch.start(lab.sentinels.map((s) => s.port));
  const load = SetGetLoad.start(port, 8, 'f1:');
  try {
    await until('load to run', () => load.written >= 500, 10000);
    const { from, to } = await lab.failover('shard1');
    const { eventAt, v } = await afterSwitch(load, watch, 'shard1', to);
    // The old master stays up: requests in flight on it got their replies (at most one per client could fail).
    assert.ok(v.errorsBefore <= 8, `errors ${v.errorsBefore}`);
    // Writes wait from the promotion's start to the switch instead of reaching the old master, where they would be
    // lost: none written after that is lost. (Writes the old master acknowledged before it and had not yet
    // replicated when the replica was promoted are lost for any client: replication is asynchronous.)
    assert.match(nm.stderr, new RegExp(`sentinel: shard1: 127\\.0\\.0\\.1:\\d+ is promoting 127\\.0\\.0\\.1:${to}; requests wait for the switch`));
    const heldAt = promotionHeldAt('shard1');
    assert.ok(heldAt !== null);
    assert.ok(v.lostBefore + v.lostAfterEvent === 0 || eventAt + v.lastLost <= heldAt + 1, `writes lost: ${v.lostWindow}; held ${(eventAt - heldAt).toFixed(0)} ms before the event`);
    const vw = await view('shard1');
    assert.deepEqual([vw.role, vw.switches], ['master', 1]);
    assert.match(nm.stderr, new RegExp(`sentinel: shard1 switched 127\\.0\\.0\\.1:${from} -> 127\\.0\\.0\\.1:${to} \\(via 127\\.0\\.0\\.1:\\d+, epoch ${vw.epoch}\\)`));
    t.diagnostic(
      `SENTINEL FAILOVER: write gap ${v.gap.toFixed(1)} ms after +switch-master (nutmeg's check ${checkedIn('shard1')}); ` +
        `errors ${v.errorsBefore} (after the switch ${v.errorsAfter}); writes lost ${v.lostBefore + v.lostAfterEvent} (${v.lostWindow}; ` +
        `held from the promotion's start, ${(eventAt - heldAt).toFixed(0)} ms before the event: the longest write took ${v.longest.toFixed(0)} ms); ${v.ops} SET+GET`,
    );
    // The old master rejoins as a replica now (Sentinel would in ~10 s), so that shard1 can fail over again later.
    await lab.rejoin(from, to);
  } finally {
    await load.stop();
    watch.close();
  }
});

test('a reload (SIGUSR1) keeps a followed master where Sentinel put it', async () => {
  const before = await view('shard1');
  assert.notEqual(before.address, `127.0.0.1:${firstMasters.get('shard1')}`, 'shard1 moved in the previous test');
  const switched = (nm.stderr.match(/switched/g) ?? []).length;
  fs.writeFileSync(`${nm.conf}.tmp`, yaml(['read_policy: prefer_master']));
  fs.renameSync(`${nm.conf}.tmp`, nm.conf);
  nm.signal('SIGUSR1');
  await until('the reload', () => nm.stderr.includes('reload: configuration 2 applied'), 10000);
  const after = await view('shard1');
  assert.equal(after.address, before.address, 'the configured (old) address did not come back');
  assert.equal((nm.stderr.match(/switched/g) ?? []).length, switched);
  const k = keysFor(NAMES, 'shard1', 'reload:', 1)[0] as string;
  assert.equal(await redisCmd(port, 'SET', k, 'x'), 'OK');
  assert.equal(await redisCmd(Number(after.address.split(':')[1]), 'GET', k), 'x');
});

test('kill -9 of a master under load: nutmeg follows the failover Sentinel makes', async (t: TestContext) => {
  const watch = await SwitchWatch.start(lab.sentinels.map((s) => s.port));
  const load = SetGetLoad.start(port, 8, 'f2:');
  const from = await lab.masterPort('shard2');
  try {
    await until('load to run', () => load.written >= 500, 10000);
    const killAt = wallNow();
    await lab.killNode(from);
    await until('Sentinel to fail shard2 over', async () => (await lab.masterPort('shard2')) !== from, 20000);
    const to = await lab.masterPort('shard2');
    const { eventAt, v } = await afterSwitch(load, watch, 'shard2', to);
    // read_policy prefer_master (since the reload): while the master's connection fails, reads go to its replica.
    const outage = load.ops.filter((o) => shardOf(o.key) === 'shard2' && o.getSent > killAt + 100 && o.getSent < eventAt - 1000);
    const served = outage.filter((o) => o.getError === null).length;
    assert.ok(served > 0, `reads served during the outage: ${served} of ${outage.length}`);
    t.diagnostic(
      `kill -9: write gap ${v.gap.toFixed(1)} ms after +switch-master (check ${checkedIn('shard2')}), ${(eventAt + v.gap - killAt).toFixed(0)} ms after the kill ` +
        `(Sentinel: down-after 1000 ms, then the failover); errors ${v.errorsBefore}, all for requests sent before the switch ` +
        `(in flight at the kill, or refused while the master was down); after the switch ${v.errorsAfter}; writes lost ${v.lostBefore + v.lostAfterEvent}; ` +
        `reads served by the replica while the master was down (prefer_master): ${served} of ${outage.length}; ${v.ops} SET+GET`,
    );
    // Back as a replica of the new master, for the tests after this one.
    await lab.restartNodeAsReplica(from, to);
    await lab.waitReady();
  } finally {
    await load.stop();
    watch.close();
  }
});

test('the first sentinel killed, then a failover: nutmeg still follows', async () => {
  const s0 = lab.sentinels[0]!;
  await lab.killSentinel(s0);
  await until('nutmeg to see the sentinel go', () => nm.stderr.includes(`127.0.0.1:${s0.port} unavailable`), 10000);
  await lab.waitReady(); // shard1's replica (the old master) is healthy again
  const { to } = await lab.failover('shard1');
  await nutmegAt('shard1', to);
  const st = await readStats(nm.statsPort);
  assert.equal((st['alpha'] as Record<string, { switches: number }>)['shard1']?.switches, 2);
  const k = keysFor(NAMES, 'shard1', 'after-kill:', 1)[0] as string;
  assert.equal(await redisCmd(port, 'SET', k, 'y'), 'OK');
  assert.equal(await redisCmd(to, 'GET', k), 'y');
});

/** The master port of `name` in a sentinel config file (`sentinel monitor <name> <ip> <port> <quorum>`). */
function monitored(conf: string, name: string): number {
  return Number(new RegExp(`^sentinel monitor ${name} \\S+ (\\d+) `, 'm').exec(conf)?.[1] ?? 0);
}

test('a stale sentinel restarted with an old config does not move nutmeg back (redis#12798)', async () => {
  // The pre-failover config is wrong now about shard2 (killed and failed over above), or about any shard Sentinel
  // moved since on its own (down-after 1000 ms on a busy machine): pick such a shard.
  let name = '';
  let old = 0;
  for (const n of NAMES) {
    const was = monitored(staleConf, n);
    if (was !== (await lab.masterPort(n))) {
      name = n;
      old = was;
      break;
    }
  }
  assert.ok(name !== '', 'a shard moved since the stale config was written');
  const now = await view(name);
  assert.equal(now.address, `127.0.0.1:${await lab.masterPort(name)}`, 'nutmeg is where Sentinel says');
  // Sentinel turns the old master into a replica on its own time after it came back: wait for it.
  await until('the old master to be a replica', async () => (await role(old)) === 'slave', 15000);
  // Alone (the up-to-date sentinels gone, so nothing corrects it), sentinel 2 comes back believing the old topology.
  const [, s1, s2] = lab.sentinels;
  await lab.killSentinel(s1!);
  await lab.killSentinel(s2!);
  await lab.restartSentinel(s2!, staleConf);
  let r: unknown = null;
  await until('the restarted sentinel to answer', async () => {
    r = await redisCmd(s2!.port, 'SENTINEL', 'get-master-addr-by-name', name).catch(() => null);
    return Array.isArray(r);
  }, 10000);
  assert.deepEqual(r, ['127.0.0.1', String(old)], 'the restarted sentinel is stale');
  const staleEpoch = Number(new RegExp(`^sentinel config-epoch ${name} (\\d+)`, 'm').exec(staleConf)?.[1] ?? 0);
  // nutmeg reconnects, asks it about every name, and keeps the newer epoch.
  await until(
    'nutmeg to ignore the stale answer',
    () => nm.stderr.includes(`sentinel: ${name}: 127.0.0.1:${s2!.port} says 127.0.0.1:${old} with epoch ${staleEpoch}, older than epoch ${now.epoch} in force`),
    10000,
  );
  // and keeps ignoring it through the periodic queries (sentinel_refresh_interval 1000): watched for 1.5 s
  const end = wallNow() + 1500;
  while (wallNow() < end) {
    assert.equal((await view(name)).address, now.address);
    await new Promise((res) => setTimeout(res, 100));
  }
  const after = await view(name);
  assert.equal(after.address, now.address);
  assert.equal(after.switches, now.switches);
  const k = keysFor(NAMES, name, 'stale:', 1)[0] as string;
  assert.equal(await redisCmd(port, 'SET', k, 'z'), 'OK');
});
