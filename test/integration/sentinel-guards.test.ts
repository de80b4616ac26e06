// What nutmeg does with what sentinels say, driven exactly by a fake sentinel (test/helpers/sentinel.ts) in front
// of real redis-servers: a silent change found by -READONLY, replies of requests in flight on the old master, the
// failover error when that connection dies, a stale announcement (ROLE says slave), an older config-epoch, and a
// configured address corrected at start-up. The same paths run against real Sentinel in sentinel-failover.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startNutmeg, startRedis, freePorts, readStats, until, type Backend, type ProxyProc } from '../helpers/procs';
import { FakeSentinel, redisCmd } from '../helpers/sentinel';
import { RespError } from '../../src/protocol/redis/decode';

let fake: FakeSentinel;
let nm: ProxyProc;
/** a: a master; b: its replica; x, y: masters of their own. */
let a: Backend;
let b: Backend;
let x: Backend;
let y: Backend;
let port = 0;
let betaPort = 0;
let deadPort = 0;

/** Busy for ARGV[1] µs on the server, then SET KEYS[1] ARGV[2]: a request that stays in flight. */
const SLOW = `local t = redis.call('TIME')
local s = tonumber(t[1]) * 1000000 + tonumber(t[2])
while true do
  local n = redis.call('TIME')
  if tonumber(n[1]) * 1000000 + tonumber(n[2]) - s > tonumber(ARGV[1]) then break end
end
return redis.call('SET', KEYS[1], ARGV[2])`;

before(async () => {
  a = await startRedis();
  b = await startRedis(undefined, ['--replicaof', '127.0.0.1', String(a.port)]);
  x = await startRedis();
  y = await startRedis();
  fake = await FakeSentinel.start();
  // nutmeg starts out believing the replica is shard1's master (the sentinel says so too, for now).
  fake.masters.set('shard1', { port: b.port, epoch: 1 });
  fake.masters.set('other', { port: a.port, epoch: 1 });
  [port, betaPort, deadPort] = (await freePorts(3)) as [number, number, number];
  nm = await startNutmeg(yaml([`127.0.0.1:${b.port}:1 shard1`], true), [port, betaPort]);
});

/** alpha: `servers` with sentinels; beta: `other` at a dead port, with sentinels or not. */
function yaml(servers: string[], betaSentinels: boolean): string {
  const pool = (name: string, listen: number, list: string[], sentinels: boolean): string[] => [
    `${name}:`,
    `  listen: 127.0.0.1:${listen}`,
    '  redis: true',
    '  timeout: 3000',
    ...(sentinels ? ['  sentinel_refresh_interval: 0', '  sentinel_user: watcher', '  sentinel_auth: s3cret', '  sentinels:', `    - 127.0.0.1:${fake.port}:1`] : []),
    '  servers:',
    ...list.map((s) => `    - ${s}`),
  ];
  return [...pool('alpha', port, servers, true), ...pool('beta', betaPort, [`127.0.0.1:${deadPort}:1 other`], betaSentinels), ''].join('\n');
}

after(async () => {
  await nm?.stop();
  await fake?.close();
  await Promise.all([a, b, x, y].map((p) => p?.stop()));
});

async function server(pool: string, name: string): Promise<{ address: string; switches: number; epoch: number; out_queue: number }> {
  const st = await readStats(nm.statsPort);
  return (st[pool] as Record<string, { address: string; switches: number; epoch: number; out_queue: number }>)[name] as {
    address: string;
    switches: number;
    epoch: number;
    out_queue: number;
  };
}

async function at(p: number): Promise<void> {
  await until(`shard1 at ${p}`, async () => (await server('alpha', 'shard1')).address === `127.0.0.1:${p}`, 5000);
}

/** A slow request in flight on shard1's master through nutmeg (its reply: 'OK' or the error). */
async function inFlight(key: string, us: number): Promise<{ reply: Promise<unknown> }> {
  const r = redisCmd(port, 'EVAL', SLOW, '1', key, String(us), 'slow');
  await until('the slow request to be on its way', async () => (await server('alpha', 'shard1')).out_queue === 1, 3000);
  // Wrapped: an async function returning the promise itself would wait for it.
  return { reply: r.then((v) => (v instanceof RespError ? v.message : v)) };
}

test('start-up: a configured address Sentinel does not agree with is corrected before serving', async () => {
  // both connections to the sentinel, of each pool, authenticate as sentinel_user with sentinel_auth
  assert.equal(fake.asked.filter((c) => c === 'AUTH watcher s3cret').length, 4);
  const o = await server('beta', 'other');
  assert.deepEqual([o.address, o.switches, o.epoch], [`127.0.0.1:${a.port}`, 0, 1]);
  assert.match(nm.stderr, new RegExp(`sentinel: other is at 127\\.0\\.0\\.1:${a.port}, not at the configured 127\\.0\\.0\\.1:${deadPort} \\(via 127\\.0\\.0\\.1:${fake.port}, epoch 1\\)`));
});

test('-READONLY from the server believed master: the sentinels are asked at once, the write goes to the new master', async () => {
  assert.equal((await server('alpha', 'shard1')).address, `127.0.0.1:${b.port}`);
  fake.masters.set('shard1', { port: a.port, epoch: 2 }); // nobody announces it
  assert.equal(await redisCmd(port, 'SET', 'ro-key', 'v1'), 'OK');
  assert.equal(await redisCmd(a.port, 'GET', 'ro-key'), 'v1');
  const s = await server('alpha', 'shard1');
  assert.deepEqual([s.address, s.switches, s.epoch], [`127.0.0.1:${a.port}`, 1, 2]);
  assert.match(nm.stderr, new RegExp(`sentinel: shard1: -READONLY from 127\\.0\\.0\\.1:${b.port}, asking the sentinels where the master is`));
  assert.match(nm.stderr, new RegExp(`sentinel: shard1 switched 127\\.0\\.0\\.1:${b.port} -> 127\\.0\\.0\\.1:${a.port} \\(via 127\\.0\\.0\\.1:${fake.port}, epoch 2\\)`));
});

test('a switch: the request in flight on the old master gets its reply there; nothing written after it goes there', async () => {
  const slow = await inFlight('inflight-1', 300000);
  fake.masters.set('shard1', { port: x.port, epoch: 3 });
  fake.publish('+switch-master', `shard1 127.0.0.1 ${a.port} 127.0.0.1 ${x.port}`);
  await at(x.port);
  assert.equal(await redisCmd(port, 'SET', 'after-switch', 'new'), 'OK');
  assert.equal(await slow.reply, 'OK', 'the old master answered the request it had');
  assert.equal(await redisCmd(a.port, 'GET', 'inflight-1'), 'slow');
  assert.equal(await redisCmd(x.port, 'GET', 'after-switch'), 'new');
  assert.equal(await redisCmd(a.port, 'GET', 'after-switch'), null, 'nothing went to the old master after the switch');
});

test('a stale announcement is not followed: ROLE on the announced address says slave', async () => {
  fake.masters.set('shard1', { port: b.port, epoch: 5 });
  fake.publish('+switch-master', `shard1 127.0.0.1 ${x.port} 127.0.0.1 ${b.port}`);
  await until('nutmeg to check it', () => nm.stderr.includes(`says 127.0.0.1:${b.port} (+switch-master), not followed: ROLE there says slave`), 5000);
  assert.equal((await server('alpha', 'shard1')).address, `127.0.0.1:${x.port}`);
  assert.equal(await redisCmd(port, 'SET', 'still-x', '1'), 'OK');
  assert.equal(await redisCmd(x.port, 'GET', 'still-x'), '1');
});

test('an announcement with an older config-epoch is not followed, even to a master', async () => {
  fake.masters.set('shard1', { port: y.port, epoch: 2 });
  fake.publish('+switch-master', `shard1 127.0.0.1 ${x.port} 127.0.0.1 ${y.port}`);
  await until('nutmeg to check it', () => nm.stderr.includes(`says 127.0.0.1:${y.port} (+switch-master), not followed: epoch 2 is older than epoch 3 in force`), 5000);
  assert.equal((await server('alpha', 'shard1')).address, `127.0.0.1:${x.port}`);
  fake.masters.set('shard1', { port: x.port, epoch: 3 });
});

test('the old master dies with a request in flight: a clear error, not a hang', async () => {
  const slow = await inFlight('inflight-2', 2000000);
  fake.masters.set('shard1', { port: a.port, epoch: 4 });
  fake.publish('+switch-master', `shard1 127.0.0.1 ${x.port} 127.0.0.1 ${a.port}`);
  await at(a.port);
  await x.stop('SIGKILL');
  assert.equal(await slow.reply, "ERR nutmeg: master 'shard1' failed over while request was in flight");
  assert.equal(await redisCmd(port, 'GET', 'inflight-1'), 'slow');
});

test('reload: a new name is asked about at once, kept names keep following; a pool that drops sentinels serves its configured address', async () => {
  fake.masters.set('extra', { port: y.port, epoch: 1 });
  fs.writeFileSync(`${nm.conf}.tmp`, yaml([`127.0.0.1:${b.port}:1 shard1`, `127.0.0.1:${deadPort}:1 extra`], false));
  fs.renameSync(`${nm.conf}.tmp`, nm.conf);
  nm.signal('SIGUSR1');
  await until('the reload', () => nm.stderr.includes('reload: configuration 2 applied'), 5000);
  await until('extra to be placed', async () => (await server('alpha', 'extra'))?.address === `127.0.0.1:${y.port}`, 5000);
  assert.equal((await server('alpha', 'shard1')).address, `127.0.0.1:${a.port}`, 'shard1 stays where it was followed to');
  const beta = (await readStats(nm.statsPort))['beta'] as Record<string, Record<string, unknown>>;
  assert.equal(beta['other']?.['address'], undefined, 'a pool without sentinels has no follow fields');
  assert.match(nm.stderr, /reload: configuration 2 applied in [0-9.]+ ms: \+1 pool, -1 pool, 1 listener moved, 2 servers added/);
});
