// Pools with sentinels, no failover: replica reads under each read_policy (counted on the servers themselves with
// INFO commandstats), a replica that goes down and comes back, an unknown master name (/healthz, stats, logs),
// and the command table's readonly column against Redis's own COMMAND INFO. Real sentinels, one setup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNutmeg, startRedis, freePorts, readStats, until, type Backend, type ProxyProc } from '../helpers/procs';
import { SentinelLab, redisCmd, keysFor, healthyReplica } from '../helpers/sentinel';
import { httpGet } from '../helpers/http';
import { fieldMap, RespError } from '../../src/protocol/redis/decode';
import { COMMANDS, CmdKind, READ_ONLY_CMD } from '../../src/protocol/redis/commands';
import type { ReadPolicy } from '../../src/config/types';

const NAMES = ['shard1', 'shard2'];
const POLICIES: ReadPolicy[] = ['master', 'prefer_master', 'replica', 'prefer_replica', 'any'];
let lab: SentinelLab;
let nm: ProxyProc;
const ports = new Map<ReadPolicy, number>();
/** Master and replica port of each shard (no failover in this file). */
const master = new Map<string, number>();
const replica = new Map<string, number>();
const extra: (ProxyProc | Backend)[] = [];

before(async () => {
  lab = await SentinelLab.start(NAMES);
  for (const n of NAMES) {
    master.set(n, await lab.masterPort(n));
    replica.set(n, await lab.replicaPort(n));
  }
  const lp = await freePorts(POLICIES.length);
  POLICIES.forEach((p, i) => ports.set(p, lp[i] as number));
  const yaml = POLICIES.map((p) =>
    [
      `${p}:`,
      `  listen: 127.0.0.1:${ports.get(p)}`,
      '  redis: true',
      '  timeout: 2000',
      '  server_retry_timeout: 1000',
      '  sentinel_refresh_interval: 1000',
      `  read_policy: ${p}`,
      ...lab.sentinelLines().map((l) => `  ${l}`),
      '  servers:',
      ...NAMES.map((n) => `    - 127.0.0.1:${master.get(n)}:1 ${n}`),
      '',
    ].join('\n'),
  ).join('');
  nm = await startNutmeg(yaml, [...ports.values()]);
});

after(async () => {
  await Promise.all(extra.map((p) => p.stop()));
  await nm?.stop();
  await lab?.stop();
});

/** `cmdstat_<cmd>` calls at a redis-server (0 for one that is down). */
async function calls(port: number, cmd: string): Promise<number> {
  const r = await redisCmd(port, 'INFO', 'commandstats').catch(() => '');
  const m = typeof r === 'string' ? new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(r) : null;
  return m === null ? 0 : Number(m[1]);
}

/** Calls of `cmd` at the master and the replica of each shard while `fn` runs. */
async function countDuring(cmd: string, fn: () => Promise<void>): Promise<Record<string, number>> {
  const nodes = NAMES.flatMap((n) => [[`${n} master`, master.get(n) as number], [`${n} replica`, replica.get(n) as number]] as const);
  const before = await Promise.all(nodes.map(([, p]) => calls(p, cmd)));
  await fn();
  const after = await Promise.all(nodes.map(([, p]) => calls(p, cmd)));
  const out: Record<string, number> = {};
  nodes.forEach(([name], i) => (out[name] = (after[i] as number) - (before[i] as number)));
  return out;
}

/** The replicas have what the masters have (replication is asynchronous): same replication offset. */
async function replicated(): Promise<void> {
  await until(
    `replicas to catch up`,
    async () => {
      for (const n of NAMES) {
        const r = replica.get(n) as number;
        const m = master.get(n) as number;
        const off = (p: number): Promise<number> =>
          redisCmd(p, 'INFO', 'replication').then((x) => Number(/master_repl_offset:(\d+)/.exec(String(x))?.[1] ?? -1));
        if ((await off(r)) !== (await off(m))) return false;
      }
      return true;
    },
    5000,
  );
}

/** Where reads through each pool's replicas are, once nutmeg knows them. */
async function nutmegReplicas(pool: ReadPolicy): Promise<number[]> {
  const st = await readStats(nm.statsPort);
  const p = st[pool] as Record<string, { replicas?: number }>;
  return NAMES.map((n) => p[n]?.replicas ?? 0);
}

test("what may go to a replica is what Redis flags readonly (COMMAND INFO, subcommands too)", async () => {
  const port = master.get('shard1') as number;
  const wrong: string[] = [];
  for (let i = 0; i < COMMANDS.length; i++) {
    const row = COMMANDS[i]!;
    if (row.kind === CmdKind.UNSUPPORTED || row.kind === CmdKind.LOCAL || row.kind === CmdKind.CONTAINER) continue;
    const r = await redisCmd(port, 'COMMAND', 'INFO', row.name);
    const info = Array.isArray(r) ? r[0] : null;
    const flags = Array.isArray(info) && Array.isArray(info[2]) ? info[2] : [];
    const ro = flags.includes('readonly');
    if (ro !== (READ_ONLY_CMD[i] === 1)) wrong.push(`${row.name}: redis ${ro}, nutmeg ${READ_ONLY_CMD[i] === 1}`);
  }
  assert.deepEqual(wrong, []);
});

test('read_policy: read-only commands go where the policy says, writes to the master', async () => {
  await until('nutmeg to know the replicas', async () => (await nutmegReplicas('replica')).every((n) => n === 1), 10000);
  const keys = new Map(NAMES.map((n) => [n, keysFor(NAMES, n, 'rp:', 25)]));
  const all = [...keys.values()].flat();
  // Written through the pool whose reads go to replicas only: writes still go to the masters.
  for (const k of all) assert.equal(await redisCmd(ports.get('replica') as number, 'SET', k, `v-${k}`), 'OK');
  await replicated();
  const expect: Record<ReadPolicy, (d: Record<string, number>) => void> = {
    master: (d) => assert.deepEqual(d, { 'shard1 master': 25, 'shard1 replica': 0, 'shard2 master': 25, 'shard2 replica': 0 }),
    prefer_master: (d) => assert.deepEqual(d, { 'shard1 master': 25, 'shard1 replica': 0, 'shard2 master': 25, 'shard2 replica': 0 }),
    replica: (d) => assert.deepEqual(d, { 'shard1 master': 0, 'shard1 replica': 25, 'shard2 master': 0, 'shard2 replica': 25 }),
    prefer_replica: (d) => assert.deepEqual(d, { 'shard1 master': 0, 'shard1 replica': 25, 'shard2 master': 0, 'shard2 replica': 25 }),
    any: (d) => {
      for (const n of NAMES) {
        assert.equal((d[`${n} master`] as number) + (d[`${n} replica`] as number), 25, JSON.stringify(d));
        assert.ok((d[`${n} master`] as number) > 0 && (d[`${n} replica`] as number) > 0, `any: both serve ${JSON.stringify(d)}`);
      }
    },
  };
  for (const p of POLICIES) {
    const port = ports.get(p) as number;
    const d = await countDuring('get', async () => {
      for (const k of all) assert.equal(await redisCmd(port, 'GET', k), `v-${k}`, `${p}: GET ${k}`);
    });
    expect[p](d);
    // MGET over both shards: its fragments follow the same policy.
    const m = await countDuring('mget', async () => {
      assert.deepEqual(await redisCmd(port, 'MGET', ...all.slice(0, 10), ...all.slice(-10)), [...all.slice(0, 10), ...all.slice(-10)].map((k) => `v-${k}`));
    });
    const onReplicas = (m['shard1 replica'] as number) + (m['shard2 replica'] as number);
    if (p === 'replica' || p === 'prefer_replica') assert.equal(onReplicas, 2, `${p}: MGET ${JSON.stringify(m)}`);
    if (p === 'master' || p === 'prefer_master') assert.equal(onReplicas, 0, `${p}: MGET ${JSON.stringify(m)}`);
    // A write-flagged command goes to the master (a replica would refuse it: -READONLY; it runs it only replicated).
    const w = await countDuring('incr', async () => {
      assert.equal(await redisCmd(port, 'INCR', `counter-${p}`), 1);
    });
    assert.equal((w['shard1 master'] as number) + (w['shard2 master'] as number), 1, `${p}: INCR ${JSON.stringify(w)}`);
  }
});

test('a replica that goes down is skipped; it serves reads again once it is back', async () => {
  const k2 = keysFor(NAMES, 'shard2', 'down:', 20);
  const k1 = keysFor(NAMES, 'shard1', 'down:', 5);
  for (const k of [...k1, ...k2]) assert.equal(await redisCmd(ports.get('master') as number, 'SET', k, `v-${k}`), 'OK');
  await replicated();
  const r2 = replica.get('shard2') as number;
  await lab.killNode(r2);
  // The first read that meets the dead replica goes to the master instead of failing; after it, the replica is skipped.
  for (const p of ['prefer_replica', 'any'] as const) {
    const d = await countDuring('get', async () => {
      for (const k of k2) assert.equal(await redisCmd(ports.get(p) as number, 'GET', k), `v-${k}`, `${p}: GET ${k}`);
    }).catch((e: unknown) => {
      throw new Error(`${p}: ${String(e)}`);
    });
    assert.equal(d['shard2 master'], 20, `${p}: ${JSON.stringify(d)}`);
  }
  // read_policy replica: no healthy replica of shard2 is an error (the other shard still reads from its replica)
  const rp = ports.get('replica') as number;
  const firstRead = await redisCmd(rp, 'GET', k2[0] as string);
  assert.ok(firstRead === `v-${k2[0]}` || firstRead instanceof RespError, String(firstRead));
  const e = await redisCmd(rp, 'GET', k2[1] as string);
  assert.ok(e instanceof RespError && e.message === "ERR nutmeg: no healthy replica of 'shard2' (read_policy replica)", String(e instanceof RespError ? e.message : e));
  const d1 = await countDuring('get', async () => {
    for (const k of k1) assert.equal(await redisCmd(rp, 'GET', k), `v-${k}`);
  });
  assert.equal(d1['shard1 replica'], 5);
  assert.match(nm.stderr, new RegExp(`sentinel: shard2: replica 127\\.0\\.0\\.1:${r2} failed; reads skip it for 1000 ms`));
  // Back: Sentinel sees it again (-sdown), nutmeg asks, and reads go to it again.
  await lab.restartNodeAsReplica(r2, master.get('shard2') as number);
  await until(
    'Sentinel to count the replica healthy again',
    async () => {
      const reps = await redisCmd(lab.sentinels[0]!.port, 'SENTINEL', 'REPLICAS', 'shard2');
      return Array.isArray(reps) && reps.some((x) => healthyReplica(fieldMap(x)));
    },
    20000,
  );
  await until(
    'reads to go to the replica again',
    async () => {
      const d = await countDuring('get', async () => {
        await redisCmd(ports.get('prefer_replica') as number, 'GET', k2[0] as string);
      });
      return d['shard2 replica'] === 1;
    },
    15000,
  );
});

test('an unknown master name: logged, /healthz says so, its configured address is served', async () => {
  const [lport, hport] = await freePorts(2);
  const spare = await startRedis();
  extra.push(spare);
  const yaml = [
    'beta:',
    `  listen: 127.0.0.1:${lport}`,
    '  redis: true',
    ...lab.sentinelLines().map((l) => `  ${l}`),
    '  servers:',
    `    - 127.0.0.1:${master.get('shard1')}:1 shard1`,
    `    - 127.0.0.1:${spare.port}:1 ghost`,
    '',
  ].join('\n');
  const px = await startNutmeg(yaml, [lport as number], ['--http-port', String(hport)]);
  extra.push(px);
  for (const s of lab.sentinels) assert.match(px.stderr, new RegExp(`sentinel: master 'ghost' unknown to 127\\.0\\.0\\.1:${s.port}`));
  const h = await httpGet(hport as number, '/healthz');
  assert.deepEqual([h.status, h.body], [503, "pool 'beta': master 'ghost' unknown to every sentinel\n"]);
  const st = (await readStats(px.statsPort))['beta'] as Record<string, { role: string; address: string }>;
  assert.deepEqual([st['ghost']?.role, st['ghost']?.address], ['unknown', `127.0.0.1:${spare.port}`]);
  assert.equal(st['shard1']?.role, 'master');
  const k = keysFor(['shard1', 'ghost'], 'ghost', 'ghost:', 1)[0] as string;
  assert.equal(await redisCmd(lport as number, 'SET', k, 'g'), 'OK');
  assert.equal(await redisCmd(spare.port, 'GET', k), 'g');
  const metrics = await httpGet(hport as number, '/metrics');
  assert.match(metrics.body, new RegExp(`nutmeg_sentinel_master\\{pool="beta",server="ghost",address="127\\.0\\.0\\.1:${spare.port}",role="unknown"\\} 1`));
  assert.match(metrics.body, /nutmeg_sentinels_connected\{pool="beta"\} 3/);
  const status = JSON.parse((await httpGet(hport as number, '/status.json')).body) as { healthy: boolean; pools: { servers: { name: string; follow: { role: string } | null }[] }[] };
  assert.equal(status.healthy, false);
  assert.deepEqual(status.pools[0]?.servers.map((s) => [s.name, s.follow?.role]), [['ghost', 'unknown'], ['shard1', 'master']]);
});
