// Redis Cluster pools while the cluster changes, against a real cluster (3 masters + 3 replicas, node timeout
// 2000 ms, one lab for the file; the tests run in order and each leaves the cluster serving every slot):
//   `redis-cli --cluster reshard` of 600 slots under INCR load ─► CLUSTER FAILOVER on a replica under load
//   ─► a new empty master added, slots moved to it ─► kill -9 of a master under load (no MOVED will come).
// Under load: every INCR reply is an integer or an error that names its cause, never MOVED/ASK; final values are
// exact where nothing failed (each key's value is its successful INCRs, plus at most its failed ones). Recovery
// times are measured and printed; the bounds asserted are generous (the machine is shared).
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Redis, { Cluster } from 'ioredis';
import { startNutmeg, freePort, readStats, until, type ProxyProc } from '../helpers/procs';
import { ClusterLab, IncrLoad, redisCli, redisCmd, keyList } from '../helpers/cluster';
import { keySlot } from '../../src/route/slot';

const NODE_TIMEOUT = 2000;
let lab: ClusterLab;
let nm: ProxyProc;
let port = 0;
let direct: Cluster;

function slotOf(key: string): number {
  const b = Buffer.from(key);
  return keySlot(b, 0, b.length);
}

before(async () => {
  lab = await ClusterLab.start(3, 1, NODE_TIMEOUT);
  port = await freePort();
  const masters = await lab.masters();
  const yaml = [
    'cl:',
    `  listen: 127.0.0.1:${port}`,
    '  redis: true',
    '  redis_cluster: true',
    '  timeout: 1000',
    '  cluster_refresh_interval: 5000',
    '  servers:',
    ...masters.map((m) => `    - 127.0.0.1:${m}:1`),
    '',
  ].join('\n');
  nm = await startNutmeg(yaml, [port], ['-v', '6']);
  direct = new Cluster([{ host: '127.0.0.1', port: masters[0] as number }], { lazyConnect: false });
});

after(async () => {
  direct?.disconnect();
  await nm?.stop();
  await lab?.stop();
});

/** After the load stopped: every key's value is within [ok, ok + failed]; returns the keys where it is not exact. */
async function checkValues(load: IncrLoad, keys: readonly string[]): Promise<number> {
  let inexact = 0;
  for (const k of keys) {
    const v = Number((await direct.get(k)) ?? 0);
    const ok = load.ok.get(k) ?? 0;
    const failed = load.failed.get(k) ?? 0;
    assert.ok(v >= ok && v <= ok + failed, `${k}: value ${v}, ${ok} INCRs answered, ${failed} failed`);
    if (v !== ok) inexact++;
  }
  return inexact;
}

function noRedirectLeaked(load: IncrLoad): void {
  for (const e of load.errors()) assert.doesNotMatch(e.error, /^(MOVED|ASK) /, 'a redirection reached the client');
}

async function poolStats(): Promise<Record<string, number>> {
  return (await readStats(nm.statsPort))['cl'] as Record<string, number>;
}

/**
 * One client that loops MSET of 10 of its own keys (split per slot) then MGET of them, checking it reads what it
 * wrote: the multi-key split, ASK and TRYAGAIN under a migration. Bounded in rounds and time.
 */
class MsetMgetLoad {
  rounds = 0;
  mismatches = 0;
  readonly errors: string[] = [];
  private running = true;
  private done: Promise<void> = Promise.resolve();

  start(maxRounds = 20000, maxMs = 90000): void {
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    const deadline = Date.now() + maxMs;
    this.done = (async () => {
      while (this.running && this.rounds < maxRounds && Date.now() < deadline) {
        const ks = Array.from({ length: 10 }, () => `mm:${Math.floor(Math.random() * 1000)}`);
        const v = `r${this.rounds}`;
        try {
          await c.mset(...ks.flatMap((k) => [k, v]));
          const got = await c.mget(...ks);
          if (got.some((x) => x !== v)) this.mismatches++;
        } catch (e) {
          this.errors.push((e as Error).message);
        }
        this.rounds++;
      }
      c.disconnect();
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

test('reshard of 600 slots under INCR load over 1000 keys: exact sums, no MOVED/ASK to clients', async (t: TestContext) => {
  const keys = keyList('rs', 1000);
  await direct.del(...keys.slice(0, 1)); // connects the direct client
  const masters = await lab.masters();
  const [from, to] = [masters[0] as number, masters[1] as number];
  const load = new IncrLoad(port, keys, 400000, 90000);
  await load.start(4);
  const multi = new MsetMgetLoad();
  multi.start();
  await until('load running', () => load.ops.length > 500, 10000);
  const t0 = Date.now();
  await redisCli(['--cluster', 'reshard', `127.0.0.1:${from}`, '--cluster-from', await lab.id(from), '--cluster-to', await lab.id(to), '--cluster-slots', '600', '--cluster-yes', '--cluster-pipeline', '50'], 120000);
  const took = Date.now() - t0;
  const seen = load.ops.length;
  await until('load goes on after the reshard', () => load.ops.length > seen + 500, 10000);
  await load.stop();
  await multi.stop();
  await lab.waitOk();
  const st = await poolStats();
  noRedirectLeaked(load);
  const inexact = await checkValues(load, keys);
  t.diagnostic(`reshard of 600 slots took ${took} ms; ${load.ops.length} INCRs, ${load.errors().length} errors (${load.errorSummary()}); ` +
    `${inexact} keys not exact; MSET+MGET rounds ${multi.rounds}, mismatches ${multi.mismatches}, errors ${multi.errors.length} (${[...new Set(multi.errors)].join('; ') || 'none'}); ` +
    `MOVED ${st['cluster_moved']}, ASK ${st['cluster_ask']}, TRYAGAIN ${st['cluster_tryagain']}, refreshes ${st['cluster_refreshes']}`);
  assert.equal(multi.mismatches, 0, 'MGET reads what MSET wrote');
  for (const e of multi.errors) assert.doesNotMatch(e, /^(MOVED|ASK) /, 'a redirection reached the client');
  assert.equal(load.errors().length, 0, `no INCR failed during the reshard: ${load.errorSummary()}`);
  assert.equal(inexact, 0);
  assert.ok(st['cluster_moved']! > 0, 'MOVED replies were followed');
  const owners = await lab.slotOwners(to);
  const moved = owners.filter((o) => o[2] === to).reduce((n, o) => n + o[1] - o[0] + 1, 0);
  assert.ok(moved >= 600 + 5000, `the target serves the moved slots (${moved})`);
});

test('CLUSTER FAILOVER on a replica under load: nutmeg follows, errors bounded, no MOVED/ASK to clients', async (t: TestContext) => {
  const keys = keyList('fo', 1000);
  const masters = await lab.masters();
  const victim = masters[2] as number;
  const replica = (await lab.replicasOf(victim))[0];
  assert.ok(replica !== undefined, 'the master has a replica');
  const load = new IncrLoad(port, keys, 400000, 60000);
  await load.start(4);
  await until('load running', () => load.ops.length > 500, 10000);
  const t0 = Date.now();
  assert.equal(await redisCmd(replica, 'CLUSTER', 'FAILOVER'), 'OK');
  await until('the replica is a master', async () => (await lab.masters()).includes(replica), 15000);
  const promotedAt = Date.now();
  // Recovered: INCRs succeed through nutmeg again after the promotion.
  let recoveredAt = 0;
  await until('writes to the promoted replica go through nutmeg', async () => {
    const n = load.ops.filter((o) => o.ok && o.at > promotedAt).length;
    if (n > 200 && recoveredAt === 0) recoveredAt = Date.now();
    return recoveredAt !== 0;
  }, 15000);
  const seen = load.ops.length;
  await until('load goes on', () => load.ops.length > seen + 500, 10000);
  await load.stop();
  const st = await poolStats();
  noRedirectLeaked(load);
  const errors = load.errors();
  const lastError = load.lastErrorAt(t0);
  const inexact = await checkValues(load, keys);
  t.diagnostic(`CLUSTER FAILOVER: promoted ${promotedAt - t0} ms after the command; last client error ${lastError - t0} ms after it; ` +
    `${load.ops.length} INCRs, ${errors.length} errors (${load.errorSummary()}); ${inexact} keys not exact; MOVED ${st['cluster_moved']}, refreshes ${st['cluster_refreshes']}`);
  // A graceful failover: the old master stops writes, then answers MOVED; at most the requests in flight then fail.
  assert.ok(errors.length <= 4 * 20, `errors bounded by what was in flight (${errors.length}: ${load.errorSummary()})`);
  assert.ok(lastError - t0 <= NODE_TIMEOUT + 5000, `recovered within node-timeout plus a refresh (${lastError - t0} ms)`);
  await until('the stats show the promoted node as a master', async () => {
    const s = (await readStats(nm.statsPort))['cl'] as Record<string, Record<string, unknown>>;
    return s[`127.0.0.1:${replica}`]?.['role'] === 'master' && s[`127.0.0.1:${victim}`] === undefined;
  }, 10000);
  await lab.waitOk();
});

test('a new empty master added, slots moved to it: nutmeg routes to it', async (t: TestContext) => {
  const masters = await lab.masters();
  const node = await lab.startNode();
  await redisCli(['--cluster', 'add-node', `127.0.0.1:${node.port}`, `127.0.0.1:${masters[0]}`]);
  await until('every node knows the new one', async () => {
    for (const n of lab.running()) {
      const nodes = await redisCmd(n.port, 'CLUSTER', 'NODES');
      if (typeof nodes !== 'string' || !nodes.includes(`:${node.port}@`)) return false;
    }
    return true;
  }, 20000);
  await lab.waitOk();
  const t0 = Date.now();
  await redisCli(['--cluster', 'reshard', `127.0.0.1:${masters[0]}`, '--cluster-from', await lab.id(masters[0] as number), '--cluster-to', await lab.id(node.port), '--cluster-slots', '100', '--cluster-yes'], 60000);
  await lab.waitOk();
  const owners = await lab.slotOwners(node.port);
  const mine = owners.filter((o) => o[2] === node.port);
  assert.ok(mine.length > 0, 'the new node serves slots');
  const first = (mine[0] as [number, number, number])[0];
  // A key of a slot the new node serves, written through nutmeg, is on the new node.
  let key = '';
  for (let i = 0; i < 200000 && key === ''; i++) if (slotOf(`new:${i}`) === first) key = `new:${i}`;
  const c = new Redis({ port, host: '127.0.0.1' });
  try {
    assert.equal(await c.set(key, 'here'), 'OK');
    assert.equal(await redisCmd(node.port, 'GET', key), 'here');
  } finally {
    c.disconnect();
  }
  await until('nutmeg lists the new node as a master with its slots', async () => {
    const s = (await readStats(nm.statsPort))['cl'] as Record<string, Record<string, unknown>>;
    const n = s[`127.0.0.1:${node.port}`];
    return n?.['role'] === 'master' && typeof n['slots'] === 'string' && (n['slots'] as string).length > 0;
  }, 10000);
  t.diagnostic(`new master serves ${mine.reduce((n, o) => n + o[1] - o[0] + 1, 0)} slots; routed to it ${Date.now() - t0} ms after the reshard started`);
});

test('kill -9 of a master under load: recovery within node-timeout plus a refresh, measured', async (t: TestContext) => {
  const keys = keyList('kill', 1000);
  const masters = await lab.masters();
  // A master with a replica (the new node added above has none).
  let victim = 0;
  for (const m of masters) if ((await lab.replicasOf(m)).length > 0) victim = m;
  assert.ok(victim > 0);
  const replica = (await lab.replicasOf(victim))[0] as number;
  // A subscriber whose channel nutmeg places on the victim (by the channel's slot).
  let channel = '';
  for (let i = 0; i < 100000 && channel === ''; i++) if ((await lab.ownerOf(slotOf(`ch:${i}`))) === victim) channel = `ch:${i}`;
  const sub = new Redis({ port, host: '127.0.0.1' });
  t.after(() => sub.disconnect());
  const heard: string[] = [];
  sub.on('message', (_ch: string, m: string) => heard.push(m));
  await sub.subscribe(channel);
  const load = new IncrLoad(port, keys, 600000, 60000);
  await load.start(4);
  t.after(() => load.stop());
  await until('load running', () => load.ops.length > 500, 10000);
  const t0 = Date.now();
  await (lab.nodes.get(victim) as { proc: { stop(sig?: NodeJS.Signals): Promise<void> } }).proc.stop('SIGKILL');
  await until('the replica is promoted', async () => {
    const r = await redisCmd(replica, 'ROLE').catch(() => null);
    return Array.isArray(r) && r[0] === 'master';
  }, 20000);
  const promotedAt = Date.now();
  let lastErr = 0;
  await until('no INCR error for 1 s after the promotion', () => {
    lastErr = load.lastErrorAt(t0);
    return Date.now() - Math.max(lastErr, promotedAt) > 1000 && load.okBetween(Math.max(lastErr, promotedAt), Date.now()) > 200;
  }, 20000);
  await load.stop();
  const st = await poolStats();
  noRedirectLeaked(load);
  const errors = load.errors();
  const inexact = await checkValues(load, keys);
  t.diagnostic(`kill -9: replica promoted ${promotedAt - t0} ms after the kill; last client error ${lastErr - t0} ms after it ` +
    `(${lastErr - promotedAt} ms after the promotion); ${load.ops.length} INCRs, ${errors.length} errors (${load.errorSummary()}); ` +
    `${inexact} keys not exact; refreshes ${st['cluster_refreshes']}, refresh errors ${st['cluster_refresh_err']}`);
  // Refused/reset/broken pipe/EOF ("ERR unknown", twemproxy's text for a server that closed): the dead master;
  // CLUSTERDOWN: the cluster itself refuses every request from when the master is marked failed until the promotion.
  for (const e of errors) assert.match(e.error, /Connection refused|ECONNREFUSED|Connection reset|Broken pipe|timed out|^ERR unknown$|CLUSTERDOWN|not served/, `an error that names its cause: ${e.error}`);
  assert.ok(lastErr - t0 <= NODE_TIMEOUT + 8000, `recovered within node-timeout plus a refresh (${lastErr - t0} ms)`);
  assert.ok(lastErr - promotedAt <= 3000, `nutmeg followed the promotion within a refresh (${lastErr - promotedAt} ms)`);
  // The subscription placed on the dead node moved with its slots: messages published now reach the subscriber.
  const pub = new Redis({ port, host: '127.0.0.1' });
  try {
    let n = 0;
    await until('the subscriber hears a message published after the failover', async () => {
      await pub.publish(channel, `after-${n++}`);
      return heard.some((m) => m.startsWith('after-'));
    }, 10000);
  } finally {
    pub.disconnect();
  }
});
