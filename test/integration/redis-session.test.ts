// WATCH and blocking commands through a sharded pool (three real redis-servers): each runs on a server connection
// leased to the client, with Redis's semantics. WATCH + a concurrent change makes EXEC return null; a blocked
// BLPOP is answered by a later LPUSH; a client killed while blocked loses no element; leases are bounded and reused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { until } from '../helpers/procs';
import { keysOn } from '../helpers/faults';
import { Resp, direct } from '../helpers/resp-client';
import { Router } from '../../src/route/router';
import { useShardedPool } from '../helpers/sharded';

const pool = useShardedPool(['redis: true', 'hash_tag: "{}"', 'timeout: 500', 'server_private_connections: 3'], ['redis: true', 'redis_databases: 4'], 1);

const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

const ROUTER = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: Buffer.from('{}'), servers: [0, 1, 2].map((i) => ({ name: `s${i}`, weight: 1 })) });

/** The server (index) the pool sends a key to. */
function serverOf(key: string): number {
  const b = Buffer.from(key);
  return ROUTER.route(b, 0, b.length);
}


test('WATCH: a concurrent change makes EXEC return null; without one EXEC runs; keys elsewhere get CROSSSLOT', async () => {
  const a = await Resp.connect(pool.port);
  const b = await Resp.connect(pool.port);
  try {
    assert.equal(await a.cmd('SET', '{w}k', '1'), '+OK\r\n');
    assert.equal(await a.cmd('WATCH', '{w}k'), '+OK\r\n');
    assert.equal(await a.cmd('GET', '{w}k'), bulk('1'));
    assert.equal(await b.cmd('SET', '{w}k', 'changed'), '+OK\r\n');
    assert.equal(await a.cmd('MULTI'), '+OK\r\n');
    assert.equal(await a.cmd('SET', '{w}k', 'mine'), '+QUEUED\r\n');
    assert.equal(await a.cmd('EXEC'), '*-1\r\n', 'the watched key changed: nothing ran');
    assert.equal(await a.cmd('GET', '{w}k'), bulk('changed'));
    // no change: it runs (and the WATCH state ended with the EXEC)
    assert.equal(await a.cmd('WATCH', '{w}k'), '+OK\r\n');
    assert.equal(await a.cmd('MULTI'), '+OK\r\n');
    assert.equal(await a.cmd('INCR', '{w}n'), '+QUEUED\r\n');
    assert.equal(await a.cmd('EXEC'), '*1\r\n:1\r\n');
    // UNWATCH, DISCARD end it too
    assert.equal(await a.cmd('WATCH', '{w}k'), '+OK\r\n');
    assert.equal(await a.cmd('UNWATCH'), '+OK\r\n');
    assert.equal(await b.cmd('SET', '{w}k', 'again'), '+OK\r\n');
    assert.equal(await a.cmd('MULTI'), '+OK\r\n');
    assert.equal(await a.cmd('INCR', '{w}n'), '+QUEUED\r\n');
    assert.equal(await a.cmd('EXEC'), '*1\r\n:2\r\n', 'not watched any more');
    // keys on two servers, or a transaction key away from the watched one
    const [x, y] = [keysOn(3, 0, 'wx:', 1)[0]!, keysOn(3, 1, 'wy:', 1)[0]!];
    assert.equal(await a.cmd('WATCH', x, y), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    assert.equal(await a.cmd('WATCH', x), '+OK\r\n');
    assert.equal(await a.cmd('MULTI'), '+OK\r\n');
    assert.equal(await a.cmd('SET', y, '1'), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    assert.equal(await a.cmd('EXEC'), '-EXECABORT Transaction discarded because of previous errors.\r\n');
  } finally {
    a.close();
    b.close();
  }
});

test('WATCH through ioredis and redis-py, racing another client: retried transactions add up exactly', async () => {
  const io = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  const other = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  try {
    await io.set('{race}n', '0');
    let retries = 0;
    for (let i = 0; i < 20; i++) {
      for (let attempt = 0; attempt < 5; attempt++) {
        await io.watch('{race}n');
        const v = Number(await io.get('{race}n'));
        if (i % 4 === 0 && attempt === 0) await other.incr('{race}n'); // a concurrent change, once
        const r = await io.multi().set('{race}n', String(v + 1)).exec();
        if (r !== null) break;
        retries++;
      }
    }
    assert.equal(Number(await io.get('{race}n')), 20 + 5, '20 increments by the watcher + 5 by the other client');
    assert.equal(retries, 5, 'each concurrent change cost one retry');
  } finally {
    io.disconnect();
    other.disconnect();
  }
  const py = spawnSync(
    '/usr/bin/python3', // Debian's, with python3-redis (.ci/run installs it)
    [
      '-c',
      `import redis
r = redis.Redis(port=${pool.port})
r.set('{py}w', 5)
with r.pipeline() as p:
    p.watch('{py}w')
    v = int(p.get('{py}w'))
    p.multi()
    p.set('{py}w', v * 2)
    print(p.execute())
print(r.get('{py}w'))`,
    ],
    { encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout.trim(), "[True]\nb'10'");
});

test('BLPOP is answered by a later LPUSH from another client; a block time past the pool timeout is not a proxy timeout', async () => {
  const a = await Resp.connect(pool.port);
  const b = await Resp.connect(pool.port);
  try {
    a.send('BLPOP', '{q}list', '5');
    await until('BLPOP is blocked on its server', async () => (await direct(pool.backends[serverOf('{q}list')]!, 'CLIENT', 'LIST')).includes('cmd=blpop'));
    // a's next request waits behind its blocked one (reply order), b's traffic does not wait at all
    a.send('PING');
    assert.equal(await b.cmd('SET', '{q}other', 'x'), '+OK\r\n');
    assert.equal(await b.cmd('LPUSH', '{q}list', 'hello'), ':1\r\n');
    assert.deepEqual(await a.take(2), [`*2\r\n${bulk('{q}list')}${bulk('hello')}`, '+PONG\r\n']);
    // 1 s of blocking with a 500 ms pool timeout: Redis's nil, not -ERR Connection timed out
    const t0 = Date.now();
    assert.equal(await a.cmd('BLPOP', '{q}empty', '1'), '*-1\r\n');
    assert.ok(Date.now() - t0 >= 900, `answered after ${Date.now() - t0} ms`);
    assert.equal(await a.cmd('BLPOP', '{q}list', keysOn(3, serverOf('{q}list') === 0 ? 1 : 0, 'bq:', 1)[0]!, '1'), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  } finally {
    a.close();
    b.close();
  }
});

test('a client killed while blocked loses no element: its leased connection is closed at once', async () => {
  const srv = pool.backends[serverOf('{dead}list')]!;
  const a = await Resp.connect(pool.port);
  a.send('BLPOP', '{dead}list', '0');
  await until('BLPOP is blocked on its server', async () => (await direct(srv, 'CLIENT', 'LIST')).includes('cmd=blpop'));
  a.close();
  await until('the blocked connection is gone', async () => !(await direct(srv, 'CLIENT', 'LIST')).includes('cmd=blpop'), 5000);
  const b = await Resp.connect(pool.port);
  try {
    assert.equal(await b.cmd('LPUSH', '{dead}list', 'precious'), ':1\r\n');
    assert.equal(await b.cmd('LRANGE', '{dead}list', '0', '-1'), `*1\r\n${bulk('precious')}`);
  } finally {
    b.close();
  }
});

test('leases are bounded per server (server_private_connections: 3) and reused once released', async () => {
  const srv = pool.backends[serverOf('{lease}l')]!;
  const clients = await Promise.all(Array.from({ length: 4 }, () => Resp.connect(pool.port)));
  try {
    for (let i = 0; i < 3; i++) clients[i]!.send('BLPOP', '{lease}l', '0');
    await until('three blocked', async () => (await direct(srv, 'CLIENT', 'LIST')).split('cmd=blpop').length - 1 === 3);
    assert.equal(await clients[3]!.cmd('BLPOP', '{lease}l', '0'), '-ERR nutmeg: no private connection available (server_private_connections)\r\n');
    const pusher = await Resp.connect(pool.port);
    assert.equal(await pusher.cmd('RPUSH', '{lease}l', 'a', 'b', 'c'), ':3\r\n');
    pusher.close();
    const got = await Promise.all(clients.slice(0, 3).map((c) => c.take(1)));
    assert.deepEqual(got.map((g) => g[0]!.split('\r\n')[4]).sort(), ['a', 'b', 'c']);
    // released: the fourth client gets one now, on a reused connection (no new one on the server)
    const before = (await direct(srv, 'CLIENT', 'LIST')).split('\n').filter((l) => l.includes('id=')).length;
    clients[3]!.send('BLPOP', '{lease}l', '1');
    assert.deepEqual(await clients[3]!.take(1, 3000), ['*-1\r\n']);
    const afterCount = (await direct(srv, 'CLIENT', 'LIST')).split('\n').filter((l) => l.includes('id=')).length;
    assert.equal(afterCount, before);
  } finally {
    for (const c of clients) c.close();
  }
});

test('redis_databases: 4: each client its own database, on server connections SELECTed to it; transactions and BLPOP there too', async () => {
  const a = await Resp.connect(pool.betaPort);
  const b = await Resp.connect(pool.betaPort);
  try {
    assert.equal(await a.cmd('SELECT', '2'), '+OK\r\n');
    assert.equal(await a.cmd('SET', 'dbk', 'in2'), '+OK\r\n');
    assert.equal(await b.cmd('GET', 'dbk'), '$-1\r\n', 'database 0 does not have it');
    assert.equal(await b.cmd('SELECT', '4'), '-ERR DB index is out of range\r\n');
    assert.equal(await b.cmd('SELECT', '2'), '+OK\r\n');
    assert.equal(await b.cmd('GET', 'dbk'), bulk('in2'));
    assert.equal(await a.cmd('MULTI'), '+OK\r\n');
    assert.equal(await a.cmd('INCR', 'dbn'), '+QUEUED\r\n');
    assert.equal(await a.cmd('EXEC'), '*1\r\n:1\r\n');
    a.send('BLPOP', 'dbl', '5');
    await until('blocked', async () => (await direct(pool.backends[0]!, 'CLIENT', 'LIST')).includes('cmd=blpop'));
    assert.equal(await b.cmd('RPUSH', 'dbl', 'x'), ':1\r\n');
    assert.deepEqual(await a.take(1), [`*2\r\n${bulk('dbl')}${bulk('x')}`]);
    assert.equal(await b.cmd('SELECT', '0'), '+OK\r\n');
    assert.equal(await b.cmd('GET', 'dbn'), '$-1\r\n');
    // on the server: database 2 holds the keys, database 0 not
    const d = await Resp.connect(pool.backends[0]!.port);
    assert.equal(await d.cmd('SELECT', '2'), '+OK\r\n');
    assert.equal(await d.cmd('MGET', 'dbk', 'dbn'), `*2\r\n${bulk('in2')}${bulk('1')}`);
    d.close();
  } finally {
    a.close();
    b.close();
  }
});
