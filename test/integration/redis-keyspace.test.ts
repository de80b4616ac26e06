// Whole-keyspace commands through a sharded pool of three real redis-servers: SCAN with the server index in the
// cursor (redis-py's scan_iter and redis-cli --scan see every key exactly once), KEYS, DBSIZE, RANDOMKEY,
// FLUSHDB behind redis_admin_commands, SCRIPT and FUNCTION on every server, INFO with the keyspace summed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { Resp, direct } from '../helpers/resp-client';
import { useShardedPool } from '../helpers/sharded';
import { until } from '../helpers/procs';

const N = 10000;
const pool = useShardedPool(['redis: true'], ['redis: true', 'redis_admin_commands: true'], 3, async (s) => {
  const c = await Resp.connect(s.port);
  for (let i = 0; i < N; i += 500) {
    const args = ['MSET'];
    for (let j = i; j < i + 500; j++) args.push(`sk:${j}`, String(j));
    assert.equal(await c.cmd(...args), '+OK\r\n');
  }
  c.close();
});

test('SCAN over 10,000 keys on 3 servers: redis-py scan_iter and redis-cli --scan see every key exactly once', async () => {
  const py = spawnSync(
    '/usr/bin/python3', // Debian's, with python3-redis (.ci/run installs it)
    ['-c', `import redis, collections\nr = redis.Redis(port=${pool.port})\nc = collections.Counter(r.scan_iter(match='sk:*', count=200))\nprint(len(c), max(c.values()))`],
    { encoding: 'utf8', timeout: 60000 },
  );
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout.trim(), `${N} 1`);
  const cli = spawnSync('redis-cli', ['-p', String(pool.port), '--scan', '--pattern', 'sk:*'], { encoding: 'utf8', timeout: 60000, maxBuffer: 1 << 24 });
  assert.equal(cli.status, 0, cli.stderr);
  const keys = cli.stdout.trim().split('\n');
  assert.equal(keys.length, N);
  assert.equal(new Set(keys).size, N);
  // every server held some (the scan crossed all three)
  for (const b of pool.backends) assert.match(await direct(b, 'DBSIZE'), /^:[1-9]\d*\r\n$/);
});

test('SCAN cursors: plain decimals, the server index in the low 10 bits, invalid ones refused', async () => {
  const c = await Resp.connect(pool.port);
  try {
    const r = await c.cmd('SCAN', '0', 'COUNT', '10');
    const cursor = BigInt(r.split('\r\n')[2]!);
    assert.ok(cursor > 0n);
    assert.ok(Number(cursor & 1023n) < 3);
    assert.equal(await c.cmd('SCAN', '5'), '-ERR invalid cursor\r\n', 'server index 5 of 3');
    assert.equal(await c.cmd('SCAN', 'abc'), '-ERR invalid cursor\r\n');
    assert.equal(await c.cmd('SCAN', '18446744073709551616'), '-ERR invalid cursor\r\n');
  } finally {
    c.close();
  }
});

test('KEYS, DBSIZE and RANDOMKEY over every server; FLUSHDB only with redis_admin_commands', async () => {
  const io = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  try {
    assert.equal((await io.keys('sk:1*')).length, 1 + 10 + 100 + 1000);
    assert.ok((await io.dbsize()) >= N);
    const k = await io.randomkey();
    assert.ok(k !== null && (await io.exists(k)) === 1);
    await assert.rejects(io.flushdb(), /redis_admin_commands/);
    const admin = new Redis({ port: pool.betaPort, maxRetriesPerRequest: 0 });
    try {
      await admin.set('{x}tmp', '1');
      assert.equal(await admin.select(0), 'OK');
    } finally {
      admin.disconnect();
    }
  } finally {
    io.disconnect();
  }
});

test('SCRIPT LOAD/EXISTS/FLUSH and FUNCTION LOAD/LIST/DELETE reach every server; EVALSHA and FCALL work for keys anywhere', async () => {
  const c = await Resp.connect(pool.port);
  try {
    const load = await c.cmd('SCRIPT', 'LOAD', "return redis.call('get', KEYS[1])");
    const sha = load.split('\r\n')[1]!;
    assert.equal(sha.length, 40);
    for (const b of pool.backends) assert.equal(await direct(b, 'SCRIPT', 'EXISTS', sha), '*1\r\n:1\r\n');
    for (const i of [1, 2, 3, 4, 5]) assert.equal(await c.cmd('EVALSHA', sha, '1', `sk:${i}`), `$1\r\n${i}\r\n`);
    assert.equal(await c.cmd('SCRIPT', 'EXISTS', sha, 'f'.repeat(40)), '*2\r\n:1\r\n:0\r\n');
    await direct(pool.backends[1]!, 'SCRIPT', 'FLUSH');
    assert.equal(await c.cmd('SCRIPT', 'EXISTS', sha), '*1\r\n:0\r\n', 'missing on one server: 0');
    assert.equal(await c.cmd('SCRIPT', 'FLUSH'), '+OK\r\n');
    const lib = "#!lua name=nmlib\nredis.register_function('nmget', function(keys, args) return redis.call('get', keys[1]) end)";
    assert.equal(await c.cmd('FUNCTION', 'LOAD', lib), '$5\r\nnmlib\r\n');
    for (const i of [6, 7, 8]) assert.equal(await c.cmd('FCALL', 'nmget', '1', `sk:${i}`), `$1\r\n${i}\r\n`);
    assert.match(await c.cmd('FUNCTION', 'LIST'), /nmlib/);
    assert.equal(await c.cmd('FUNCTION', 'DELETE', 'nmlib'), '+OK\r\n');
    for (const b of pool.backends) assert.equal(await direct(b, 'FUNCTION', 'LIST'), '*0\r\n');
  } finally {
    c.close();
  }
});

test('INFO: the servers keyspace summed, the lowest redis_version, the proxy named', async () => {
  const c = await Resp.connect(pool.port);
  try {
    const r = await c.cmd('INFO');
    let total = 0;
    for (const b of pool.backends) total += Number((await direct(b, 'DBSIZE')).slice(1, -2));
    assert.match(r, new RegExp(`\\r\\ndb0:keys=${total},expires=0,`));
    assert.match(r, /\r\nproxy:nutmeg\r\n/);
    assert.match(r, /\r\nredis_version:7\.0\.\d+\r\n/);
    assert.match(r, /\r\nloading:0\r\n/);
    const ks = await c.cmd('INFO', 'keyspace');
    assert.match(ks, new RegExp(`^\\$\\d+\\r\\n# Keyspace\\r\\ndb0:keys=${total},`));
  } finally {
    c.close();
  }
});

test('EVALSHA answered -NOSCRIPT by a server that lost its scripts (a restart) is sent again as EVAL, once, on the same server', async () => {
  const c = await Resp.connect(pool.port);
  try {
    const sha = (await c.cmd('SCRIPT', 'LOAD', "return 'body:' .. KEYS[1]")).split('\r\n')[1]!;
    for (const b of pool.backends) await direct(b, 'SCRIPT', 'FLUSH'); // every server forgot it
    for (const i of [1, 2, 3]) {
      const k = `sk:${i}`;
      assert.equal(await c.cmd('EVALSHA', sha, '1', k), `$${5 + k.length}\r\nbody:${k}\r\n`);
    }
    assert.match(await c.cmd('EVALSHA', 'a'.repeat(40), '0'), /^-NOSCRIPT /, 'an unknown script: the server says so');
  } finally {
    c.close();
  }
});

test('SCRIPT KILL reaches a server whose shared connection runs a busy script (on a connection of its own)', async () => {
  for (const b of pool.backends) await direct(b, 'CONFIG', 'SET', 'lua-time-limit', '50');
  const a = await Resp.connect(pool.port);
  const c = await Resp.connect(pool.port);
  try {
    const busy = a.cmd('EVAL', 'while true do end', '0');
    // the script runs on one server: wait until that server answers BUSY to a direct client
    await until('a server busy with the script', async () => {
      for (const b of pool.backends) if ((await direct(b, 'PING')).startsWith('-BUSY')) return true;
      return false;
    });
    // Without its own connection the kill would queue behind the script on the shared connection, forever.
    assert.equal(await c.cmd('SCRIPT', 'KILL'), '+OK\r\n');
    assert.match(await busy, /^-ERR .*Script killed by user/);
    assert.equal(await c.cmd('GET', 'sk:1'), '$1\r\n1\r\n', 'the shared connections serve on');
  } finally {
    a.close();
    c.close();
    for (const b of pool.backends) await direct(b, 'CONFIG', 'SET', 'lua-time-limit', '5000');
  }
});
