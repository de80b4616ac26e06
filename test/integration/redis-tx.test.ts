// Transactions through a sharded pool of three real redis-servers: MULTI/EXEC/DISCARD with Redis's semantics
// and texts, the first key fixing the server, CROSSSLOT then EXECABORT for keys elsewhere, atomicity under 50
// concurrent clients sharing the proxy's server connections, and ioredis, node-redis and redis-py using them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { keysOn } from '../helpers/faults';
import { Resp } from '../helpers/resp-client';
import { useShardedPool } from '../helpers/sharded';

const pool = useShardedPool(['redis: true', 'hash_tag: "{}"', 'transaction_max_commands: 50']);

const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

test("MULTI/EXEC/DISCARD: Redis's replies and texts", async () => {
  const c = await Resp.connect(pool.port);
  try {
    assert.equal(await c.cmd('EXEC'), '-ERR EXEC without MULTI\r\n');
    assert.equal(await c.cmd('DISCARD'), '-ERR DISCARD without MULTI\r\n');
    assert.equal(await c.cmd('MULTI'), '+OK\r\n');
    assert.equal(await c.cmd('MULTI'), '-ERR MULTI calls can not be nested\r\n');
    assert.equal(await c.cmd('SET', '{a}x', '1'), '+QUEUED\r\n');
    assert.equal(await c.cmd('INCR', '{a}x'), '+QUEUED\r\n');
    assert.equal(await c.cmd('GET', '{a}x'), '+QUEUED\r\n');
    assert.equal(await c.cmd('PING'), '+QUEUED\r\n');
    assert.equal(await c.cmd('MGET', '{a}x', '{a}y'), '+QUEUED\r\n');
    assert.equal(await c.cmd('WATCH', '{a}x'), '-ERR WATCH inside MULTI is not allowed\r\n');
    assert.equal(await c.cmd('EXEC'), `*5\r\n+OK\r\n:2\r\n${bulk('2')}+PONG\r\n*2\r\n${bulk('2')}$-1\r\n`);
    // DISCARD drops the queue
    assert.equal(await c.cmd('MULTI'), '+OK\r\n');
    assert.equal(await c.cmd('SET', '{a}x', 'discarded'), '+QUEUED\r\n');
    assert.equal(await c.cmd('DISCARD'), '+OK\r\n');
    assert.equal(await c.cmd('GET', '{a}x'), bulk('2'));
    // an empty transaction, a keyless one (it goes to the first live server)
    assert.equal(await c.cmd('MULTI'), '+OK\r\n');
    assert.equal(await c.cmd('EXEC'), '*0\r\n');
    assert.equal(await c.cmd('MULTI'), '+OK\r\n');
    assert.equal(await c.cmd('ECHO', 'e'), '+QUEUED\r\n');
    assert.equal(await c.cmd('EXEC'), `*1\r\n${bulk('e')}\r\n`.slice(0, -2));
  } finally {
    c.close();
  }
});

test('queue-time errors doom the transaction: unknown command, wrong arity, keys on another server (CROSSSLOT), too many commands', async () => {
  const [a, b] = [keysOn(3, 0, 'tx:a:', 1)[0]!, keysOn(3, 1, 'tx:b:', 1)[0]!];
  const c = await Resp.connect(pool.port);
  try {
    assert.equal(await c.cmd('SET', b, 'untouched'), '+OK\r\n');
    assert.equal(await c.cmd('MULTI'), '+OK\r\n');
    assert.equal(await c.cmd('SET', a, '1'), '+QUEUED\r\n');
    assert.equal(await c.cmd('SET', b, '2'), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    assert.equal(await c.cmd('EXEC'), '-EXECABORT Transaction discarded because of previous errors.\r\n');
    assert.equal(await c.cmd('GET', b), bulk('untouched'), 'nothing ran');
    for (const bad of [['NOSUCHCMD'], ['GET'], ['SELECT', '1']]) {
      assert.equal(await c.cmd('MULTI'), '+OK\r\n');
      assert.match(await c.cmd(...bad), /^-ERR /, bad.join(' '));
      assert.equal(await c.cmd('EXEC'), '-EXECABORT Transaction discarded because of previous errors.\r\n', bad.join(' '));
    }
    assert.equal(await c.cmd('MULTI'), '+OK\r\n');
    for (let i = 0; i < 50; i++) c.send('INCR', '{big}n');
    const queued = await c.take(50);
    assert.ok(queued.every((q) => q === '+QUEUED\r\n'));
    assert.equal(await c.cmd('INCR', '{big}n'), '-ERR nutmeg: transaction too large (transaction_max_commands)\r\n');
    assert.equal(await c.cmd('EXEC'), '-EXECABORT Transaction discarded because of previous errors.\r\n');
  } finally {
    c.close();
  }
});

test('50 clients run MULTI/INCR/EXEC on one key through shared server connections: the final value is exact', async (t) => {
  const clients = await Promise.all(Array.from({ length: 50 }, () => Resp.connect(pool.port)));
  const rounds = 40;
  try {
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let i = 0; i < rounds; i++) {
          // a pipelined transaction: MULTI, INCR twice, a read of another client's noise key, EXEC
          c.send('MULTI');
          c.send('INCR', '{hot}n');
          c.send('INCR', '{hot}n');
          c.send('SET', `{hot}c${ci}`, String(i));
          c.send('EXEC');
          const r = await c.take(5, 10000);
          assert.equal(r.length, 5);
          assert.deepEqual(r.slice(0, 4), ['+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '+QUEUED\r\n']);
          // the two INCRs of one EXEC are consecutive: nothing from other clients came between them
          const m = /^\*3\r\n:(\d+)\r\n:(\d+)\r\n\+OK\r\n$/.exec(r[4]!);
          assert.ok(m !== null, r[4]);
          assert.equal(Number(m[2]), Number(m[1]) + 1);
        }
      }),
    );
  } finally {
    for (const c of clients) c.close();
  }
  const check = await Resp.connect(pool.port);
  const final = await check.cmd('GET', '{hot}n');
  check.close();
  assert.equal(final, bulk(String(50 * rounds * 2)));
  t.diagnostic(`50 clients x ${rounds} transactions: {hot}n = ${50 * rounds * 2}`);
});

test('ioredis, node-redis and redis-py transactions through nutmeg', async () => {
  const io = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  try {
    const r = await io.multi().set('{io}k', 'v').incr('{io}n').get('{io}k').exec();
    assert.deepEqual(r, [[null, 'OK'], [null, 1], [null, 'v']]);
  } finally {
    io.disconnect();
  }
  const nr = createClient({ socket: { port: pool.port, host: '127.0.0.1', reconnectStrategy: false }, RESP: 2 });
  nr.on('error', () => {});
  await nr.connect();
  try {
    const r = await nr.multi().set('{nr}k', 'v').incr('{nr}n').get('{nr}k').exec();
    assert.deepEqual(r, ['OK', 1, 'v']);
  } finally {
    await nr.quit();
  }
  const py = spawnSync(
    '/usr/bin/python3', // Debian's, with python3-redis (.ci/run installs it)
    [
      '-c',
      `import redis
r = redis.Redis(port=${pool.port})
p = r.pipeline(transaction=True)
p.set('{py}k', 'v').incr('{py}n').get('{py}k')
print(p.execute())`,
    ],
    { encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout.trim(), "[True, 1, b'v']");
});
