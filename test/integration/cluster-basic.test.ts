// Redis Cluster pools against a real cluster (3 masters + 3 replicas on loopback, one lab for the file): keys on
// every master through MGET/MSET/DEL/EXISTS compared with a direct cluster client (ioredis Cluster), the local
// CLUSTER answers, CROSSSLOT, SELECT, transactions on one slot, stats; then a manual slot migration (ASK, and
// TRYAGAIN for a multi-key command whose keys are split by it) with no MOVED/ASK reaching a client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import Redis, { Cluster } from 'ioredis';
import { startNutmeg, freePort, readStats, until, type ProxyProc } from '../helpers/procs';
import { httpGet } from '../helpers/http';
import { ClusterLab, redisCmd, keyList } from '../helpers/cluster';
import { keySlot } from '../../src/route/slot';

let lab: ClusterLab;
let nm: ProxyProc;
let port = 0;
let rport = 0;
let hport = 0;
let direct: Cluster;
let client: Redis;

function yaml(masters: readonly number[], readPolicy = 'replica', refresh = 2000): string {
  return [
    'cl:',
    `  listen: 127.0.0.1:${port}`,
    '  redis: true',
    '  redis_cluster: true',
    '  timeout: 2000',
    `  cluster_refresh_interval: ${refresh}`,
    '  servers:',
    `    - 127.0.0.1:${masters[0]}:1`,
    'rd:',
    `  listen: 127.0.0.1:${rport}`,
    '  redis: true',
    '  redis_cluster: true',
    '  timeout: 2000',
    `  read_policy: ${readPolicy}`,
    '  cluster_refresh_interval: 1000',
    '  servers:',
    ...masters.map((m) => `    - 127.0.0.1:${m}:1`),
    '',
  ].join('\n');
}

function slotOf(key: string): number {
  const b = Buffer.from(key);
  return keySlot(b, 0, b.length);
}

before(async () => {
  lab = await ClusterLab.start(3, 1, 2000);
  port = await freePort();
  rport = await freePort();
  hport = await freePort();
  const masters = await lab.masters();
  nm = await startNutmeg(yaml(masters), [port, rport], ['-v', '6', '--http-port', String(hport)]);
  direct = new Cluster([{ host: '127.0.0.1', port: masters[0] as number }], { lazyConnect: false });
  client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
});

after(async () => {
  client?.disconnect();
  direct?.disconnect();
  await nm?.stop();
  await lab?.stop();
});

test('keys on every master through MSET, MGET, EXISTS and DEL agree with a direct cluster client', async () => {
  const keys = keyList('basic', 300);
  const masters = new Set<number>();
  for (const k of keys.slice(0, 30)) masters.add(await lab.ownerOf(slotOf(k)));
  assert.equal(masters.size, 3, 'the keys land on all three masters');
  const args: string[] = [];
  keys.forEach((k, i) => args.push(k, `v${i}`));
  assert.equal(await client.mset(...args), 'OK');
  // What nutmeg wrote, read straight from the cluster; and what the cluster has, read through nutmeg.
  const viaDirect = await Promise.all(keys.map((k) => direct.get(k)));
  assert.deepEqual(viaDirect, keys.map((_, i) => `v${i}`));
  assert.deepEqual(await client.mget(...keys, 'basic:missing'), [...keys.map((_, i) => `v${i}`), null]);
  await direct.set('basic:direct', 'd');
  assert.equal(await client.get('basic:direct'), 'd');
  assert.equal(await client.exists(...keys, 'basic:missing', keys[0] as string), keys.length + 1);
  assert.equal(await client.del(...keys.slice(0, 100)), 100);
  assert.equal(await client.exists(...keys), 200);
  assert.deepEqual(await Promise.all(keys.slice(0, 100).map((k) => direct.exists(k))), keys.slice(0, 100).map(() => 0));
  assert.equal(await client.unlink(...keys.slice(100)), 200);
  assert.equal(await client.touch(...keys), 0);
  const st = await readStats(nm.statsPort);
  const pool = st['cl'] as Record<string, unknown>;
  assert.ok((pool['fragments'] as number) > 100, 'split per slot: many fragments');
  assert.equal(pool['cluster_moved'], 0);
});

test('CLUSTER KEYSLOT and CLUSTER INFO are answered locally; other CLUSTER subcommands and SELECT 1 are refused', async () => {
  const masters = await lab.masters();
  for (const k of ['foo', 'bar', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'a{b}c{d}', '{}x', '']) {
    const real = await redisCmd(masters[0] as number, 'CLUSTER', 'KEYSLOT', k);
    assert.equal(await client.call('CLUSTER', 'KEYSLOT', k), real, k);
  }
  const info = String(await client.call('CLUSTER', 'INFO'));
  assert.match(info, /cluster_state:ok/);
  assert.match(info, /cluster_slots_assigned:16384/);
  assert.match(info, /cluster_size:3/);
  await assert.rejects(client.call('CLUSTER', 'NODES'), /This instance has cluster support disabled/);
  await assert.rejects(client.call('CLUSTER', 'SLOTS'), /This instance has cluster support disabled/);
  assert.equal(await client.select(0), 'OK');
  await assert.rejects(client.select(1), /DB index is out of range/);
});

test('multi-key commands across slots get CROSSSLOT; with one hash tag they run', async () => {
  await assert.rejects(client.sunionstore('cs:a', 'cs:b', 'cs:c'), /CROSSSLOT Keys in request don't hash to the same slot/);
  await assert.rejects(client.rename('cs:a', 'cs:b'), /CROSSSLOT/);
  await client.sadd('{cs}:b', 'x');
  await client.sadd('{cs}:c', 'y');
  assert.equal(await client.sunionstore('{cs}:a', '{cs}:b', '{cs}:c'), 2);
  assert.equal(await client.rename('{cs}:a', '{cs}:d'), 'OK');
  assert.deepEqual((await direct.smembers('{cs}:d')).sort(), ['x', 'y']);
  // A transaction whose keys share a slot runs on that slot's master.
  const r = await client.multi().set('{tx}:1', 'a').incr('{tx}:n').get('{tx}:1').exec();
  assert.deepEqual(r, [[null, 'OK'], [null, 1], [null, 'a']]);
  await assert.rejects(client.multi().set('{tx}:1', 'a').set('{ty}:1', 'b').exec(), /EXECABORT|CROSSSLOT/);
  // Keyspace commands go to every master once.
  await client.set('ks:one', '1');
  const size = await client.dbsize();
  let total = 0;
  for (const m of await lab.masters()) total += (await redisCmd(m, 'DBSIZE')) as number;
  assert.equal(size, total);
  const scanned = new Set<string>();
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    for (const k of batch) scanned.add(k);
    cursor = next;
    rounds++;
  } while (cursor !== '0' && rounds < 100);
  assert.equal(scanned.size, total, 'SCAN visits every master');
});

test('stats show the nodes with their slot ranges, and the cluster counters in the pool object', async () => {
  const st = await readStats(nm.statsPort);
  const pool = st['cl'] as Record<string, unknown>;
  for (const k of ['cluster_moved', 'cluster_ask', 'cluster_tryagain', 'cluster_refreshes']) assert.equal(typeof pool[k], 'number', k);
  const nodes = Object.entries(pool).filter(([, v]) => typeof v === 'object' && v !== null) as [string, Record<string, unknown>][];
  assert.equal(nodes.length, 3);
  const rd = st['rd'] as Record<string, Record<string, unknown>>;
  assert.equal(Object.values(rd).filter((v) => typeof v === 'object' && v['role'] === 'replica').length, 3, 'the replica-read pool lists the replicas');
  const owners = await lab.slotOwners((await lab.masters())[0] as number);
  for (const [name, n] of nodes) {
    assert.equal(n['role'], 'master');
    const port = Number(name.split(':')[1]);
    const mine = owners.filter((o) => o[2] === port).map((o) => (o[0] === o[1] ? `${o[0]}` : `${o[0]}-${o[1]}`));
    assert.equal(n['slots'], mine.join(' '), name);
  }
  assert.equal((await httpGet(hport, '/healthz')).status, 200);
  const m = (await httpGet(hport, '/metrics')).body;
  assert.match(m, /nutmeg_cluster_node_slots\{pool="cl",server="127\.0\.0\.1:\d+",role="master"\} 5461/);
  assert.match(m, /nutmeg_pool_cluster_moved_total\{pool="cl"\} \d+/);
  const status = JSON.parse((await httpGet(hport, '/status.json')).body) as { pools: { name: string; slotsServed: number; servers: { cluster: { role: string; slots: string } | null }[] }[] };
  const cl = status.pools.find((p) => p.name === 'cl');
  assert.equal(cl?.servers.filter((s) => s.cluster?.role === 'master').length, 3);
  assert.equal(cl?.slotsServed, 16384);
  assert.match((await httpGet(hport, '/')).body, /slots served/);
});

test('a manual slot migration: ASK is followed (ASKING + command), TRYAGAIN retried, no MOVED/ASK reaches the client', async () => {
  const key = 'mig:{m1}:a';
  const slot = slotOf(key);
  const src = await lab.ownerOf(slot);
  const dst = (await lab.masters()).find((m) => m !== src) as number;
  const [srcId, dstId] = [await lab.id(src), await lab.id(dst)];
  const keys = ['mig:{m1}:a', 'mig:{m1}:b', 'mig:{m1}:c'];
  await client.mset(keys[0] as string, '1', keys[1] as string, '2', keys[2] as string, '3');
  assert.equal(await redisCmd(dst, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', srcId), 'OK');
  assert.equal(await redisCmd(src, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId), 'OK');
  // One key moved: reads of it get ASK from the source; nutmeg follows with ASKING.
  assert.equal(await redisCmd(src, 'MIGRATE', '127.0.0.1', String(dst), '', '0', '5000', 'KEYS', keys[0] as string), 'OK');
  assert.equal(await client.get(keys[0] as string), '1');
  assert.equal(await client.get(keys[1] as string), '2');
  // A new key of the migrating slot is created on the importing node (ASK for a missing key).
  assert.equal(await client.set('mig:{m1}:new', 'n'), 'OK');
  assert.equal(await redisCmdAsking(dst, 'mig:{m1}:new'), 'n');
  const st0 = (await readStats(nm.statsPort))['cl'] as Record<string, number>;
  assert.ok(st0['cluster_ask']! >= 2, `ASK followed (${st0['cluster_ask']})`);
  // Keys split between the two nodes: a multi-key command of the slot gets TRYAGAIN, retried every 50 ms up to
  // cluster_max_redirects, then a clear error (never the TRYAGAIN itself).
  await assert.rejects(client.mget(keys[0] as string, keys[1] as string), /nutmeg: too many cluster redirections \(last: TRYAGAIN/);
  const st1 = (await readStats(nm.statsPort))['cl'] as Record<string, number>;
  assert.ok(st1['cluster_tryagain']! >= 5, `TRYAGAIN retried (${st1['cluster_tryagain']})`);
  // The migration ends: the slot is dst's, and the old owner answers MOVED, which nutmeg follows.
  assert.equal(await redisCmd(src, 'MIGRATE', '127.0.0.1', String(dst), '', '0', '5000', 'KEYS', keys[1] as string, keys[2] as string), 'OK');
  for (const p of [dst, src, ...(await lab.masters()).filter((m) => m !== src && m !== dst)]) {
    await redisCmd(p, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
  }
  assert.deepEqual(await client.mget(...keys), ['1', '2', '3']);
  const st = (await readStats(nm.statsPort))['cl'] as Record<string, number>;
  assert.ok(st['cluster_moved']! >= 1, `MOVED followed (${st['cluster_moved']})`);
  await until('the refresh sees the slot on its new master', async () => {
    const s = (await readStats(nm.statsPort))['cl'] as Record<string, Record<string, unknown>>;
    const n = s[`127.0.0.1:${dst}`];
    return typeof n?.['slots'] === 'string' && (n['slots'] as string).split(' ').some((x) => x === String(slot) || inRange(x, slot));
  }, 6000);
  await lab.waitOk();
});

function inRange(r: string, slot: number): boolean {
  const [a, b] = r.split('-').map(Number);
  return b !== undefined && (a as number) <= slot && slot <= b;
}

/** GET on a connection that sent ASKING first (the importing node answers it only so). */
async function redisCmdAsking(port: number, key: string): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await r.connect();
  try {
    await r.call('ASKING');
    return await r.get(key);
  } finally {
    r.disconnect();
  }
}

test('read_policy replica: reads go to replicas (READONLY sent), writes to masters', async () => {
  const r = new Redis({ port: rport, host: '127.0.0.1' });
  try {
    const keys = keyList('rp', 50);
    const args: string[] = [];
    keys.forEach((k, i) => args.push(k, `r${i}`));
    assert.equal(await r.mset(...args), 'OK');
    // Replication is asynchronous: read until the replicas have it.
    await until('replica reads see the writes', async () => JSON.stringify(await r.mget(...keys)) === JSON.stringify(keys.map((_, i) => `r${i}`)), 5000);
    assert.equal(await r.set('rp:one', 'x'), 'OK');
    const st = (await readStats(nm.statsPort))['rd'] as Record<string, Record<string, unknown>>;
    let replicaRequests = 0;
    for (const v of Object.values(st)) if (typeof v === 'object' && v['role'] === 'replica') replicaRequests += v['requests'] as number;
    assert.ok(replicaRequests >= 1, `replicas served reads (${replicaRequests})`);
  } finally {
    r.disconnect();
  }
});

test('a reload keeps a cluster pool serving (settings change in place, nodes and map kept) and adds a new one', async () => {
  const masters = await lab.masters();
  const nport = await freePort();
  const added = ['nw:', `  listen: 127.0.0.1:${nport}`, '  redis: true', '  redis_cluster: true', '  servers:', `    - 127.0.0.1:${masters[1]}:1`, ''].join('\n');
  fs.writeFileSync(nm.conf, yaml(masters, 'prefer_replica', 3000) + added);
  nm.signal('SIGUSR1');
  await until('the reload', () => nm.stderr.includes('reload: configuration 2 applied'), 10000);
  assert.equal(await client.set('reload:k', 'v'), 'OK');
  assert.equal(await client.get('reload:k'), 'v');
  const st = (await readStats(nm.statsPort))['cl'] as Record<string, unknown>;
  assert.equal(Object.values(st).filter((v) => typeof v === 'object').length, 3);
  assert.match(nm.stderr, /cluster: pool 'cl': 3 masters serve 16384 of 16384 slots/);
  // The new pool asked the cluster for its map before the new configuration went into force.
  const n = new Redis({ port: nport, host: '127.0.0.1' });
  try {
    assert.equal(await n.get('reload:k'), 'v');
  } finally {
    n.disconnect();
  }
  assert.match(nm.stderr, /cluster: pool 'nw': 3 masters serve 16384 of 16384 slots/);
});

test('sessions: WATCH on one slot, BLPOP on a leased connection, SUBSCRIBE/PUBLISH and SSUBSCRIBE/SPUBLISH', async () => {
  const a = new Redis({ port, host: '127.0.0.1' });
  const b = new Redis({ port, host: '127.0.0.1' });
  const s = new Redis({ port, host: '127.0.0.1' });
  try {
    // WATCH, a change by another client, EXEC: null (the transaction did not run), as on one Redis.
    await a.watch('{w}:k');
    await client.set('{w}:k', 'changed');
    assert.equal(await a.multi().set('{w}:k', 'mine').exec(), null);
    assert.equal(await client.get('{w}:k'), 'changed');
    // BLPOP waits on a connection of its own to the slot's master, and gets the element pushed by another client.
    const list = '{bl}:list';
    const owner = await lab.ownerOf(slotOf(list));
    const popped = b.blpop(list, 5);
    await until('BLPOP blocked on the master', async () => String(await redisCmd(owner, 'CLIENT', 'LIST')).includes('cmd=blpop'), 5000);
    await client.lpush(list, 'x');
    assert.deepEqual(await popped, [list, 'x']);
    // PUBLISH reaches every node of a cluster: a subscriber through nutmeg gets it once.
    await s.subscribe('chan1');
    const got = new Promise<string[]>((res) => s.once('message', (ch: string, m: string) => res([ch, m])));
    // The count is the node's own subscribers: poll until the upstream SUBSCRIBE is in place there (it raced once).
    await until('PUBLISH to reach the subscriber', async () => (await client.publish('chan1', 'hello')) === 1, 5000);
    assert.deepEqual(await got, ['chan1', 'hello']);
    await s.unsubscribe('chan1');
    await s.ssubscribe('schan');
    const got2 = new Promise<string[]>((res) => s.once('smessage', (ch: string, m: string) => res([ch, m])));
    await until('SPUBLISH to reach the subscriber', async () => (await client.call('SPUBLISH', 'schan', 'hi')) === 1, 5000);
    assert.deepEqual(await got2, ['schan', 'hi']);
    // PSUBSCRIBE: one upstream pattern subscription on one node (every node sees every PUBLISH: more would duplicate).
    await a.psubscribe('pat:*');
    const pm = new Promise<string[]>((res) => a.once('pmessage', (pat: string, ch: string, m: string) => res([pat, ch, m])));
    await client.publish('pat:1', 'p');
    assert.deepEqual(await pm, ['pat:*', 'pat:1', 'p']);
    let numpat = 0;
    for (const m of await lab.masters()) numpat += (await redisCmd(m, 'PUBSUB', 'NUMPAT')) as number;
    assert.equal(numpat, 1);
  } finally {
    a.disconnect();
    b.disconnect();
    s.disconnect();
  }
});

test('a transaction queued for a slot that moved gets EXECABORT once; the MOVED inside it updates the map', async () => {
  const key = '{txm}:k';
  const slot = slotOf(key);
  const src = await lab.ownerOf(slot);
  const dst = (await lab.masters()).find((m) => m !== src) as number;
  const dstId = await lab.id(dst);
  assert.equal(await client.get(key), null); // nutmeg's map: slot on src
  assert.equal(await redisCmd(dst, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', await lab.id(src)), 'OK');
  assert.equal(await redisCmd(src, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId), 'OK');
  for (const p of [dst, src, ...(await lab.masters()).filter((m) => m !== src && m !== dst)]) await redisCmd(p, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
  const before = ((await readStats(nm.statsPort))['cl'] as Record<string, number>)['cluster_moved'] as number;
  // (A periodic refresh between the SETSLOTs and this EXEC would have taught nutmeg the move already: then it runs.)
  const first = await client.multi().set(key, '1').exec().then(() => 'ran', (e: Error) => e.message);
  if (first !== 'ran') assert.match(first, /EXECABORT/);
  const r = await client.multi().set(key, '2').get(key).exec();
  assert.deepEqual(r, [[null, 'OK'], [null, '2']]);
  assert.equal(await redisCmd(dst, 'GET', key), '2');
  const after = ((await readStats(nm.statsPort))['cl'] as Record<string, number>)['cluster_moved'] as number;
  if (first !== 'ran') assert.ok(after > before, 'the MOVED was counted');
  await lab.waitOk();
});

test('--workers 2: each worker follows the cluster; the stats port lists the nodes the workers learnt', async () => {
  const wport = await freePort();
  const masters = await lab.masters();
  const w = await startNutmeg(
    ['cw:', `  listen: 127.0.0.1:${wport}`, '  redis: true', '  redis_cluster: true', '  timeout: 2000', '  servers:', `    - 127.0.0.1:${masters[0]}:1`, ''].join('\n'),
    [wport],
    ['--workers', '2'],
  );
  const clients = [0, 1, 2, 3].map(() => new Redis({ port: wport, host: '127.0.0.1' }));
  try {
    const keys = keyList('wk', 100);
    await Promise.all(clients.map((c, i) => c.mset(...keys.flatMap((k) => [k, `w${i}`]))));
    assert.equal(await clients[0]!.exists(...keys), 100);
    await until('the summed stats list the 3 masters with their slots and every request', async () => {
      const pool = (await readStats(w.statsPort))['cw'] as Record<string, Record<string, unknown>>;
      const nodes = Object.values(pool).filter((v) => typeof v === 'object' && v !== null);
      const slots = nodes.map((n) => String(n['slots'])).join(' ');
      const requests = nodes.reduce((n, v) => n + (v['requests'] as number), 0);
      return nodes.length === 3 && nodes.every((n) => n['role'] === 'master') && slots.includes('0-') && requests >= 4 * 3 + 3;
    }, 10000);
  } finally {
    for (const c of clients) c.disconnect();
    await w.stop('SIGTERM');
  }
});

test('read_policy prefer_replica: a replica that dies costs no read (they go to its master)', async () => {
  const r = new Redis({ port: rport, host: '127.0.0.1' });
  try {
    const keys = keyList('rk', 60);
    await client.mset(...keys.flatMap((k) => [k, 'v']));
    await until('replicas have the keys', async () => (await r.mget(...keys)).every((v) => v === 'v'), 5000);
    const masters = await lab.masters();
    const victim = (await lab.replicasOf(masters[0] as number))[0] as number;
    await (lab.nodes.get(victim) as { proc: { stop(): Promise<void> } }).proc.stop();
    for (let i = 0; i < 20; i++) assert.deepEqual(await r.mget(...keys), keys.map(() => 'v'), `round ${i}`);
    for (const k of keys.slice(0, 20)) assert.equal(await r.get(k), 'v');
  } finally {
    r.disconnect();
  }
});
