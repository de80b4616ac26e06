// Real client libraries use the stateful commands through a sharded pool as they would against one Redis:
// node-redis pub/sub and BLPOP, ioredis BLPOP and BRPOPLPUSH, redis-py BLPOP and pub/sub with a pattern.
// (Their transactions are in redis-tx.test.ts, WATCH in redis-session.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { until } from '../helpers/procs';
import { useShardedPool } from '../helpers/sharded';
import { direct } from '../helpers/resp-client';

const pool = useShardedPool(['redis: true', 'hash_tag: "{}"']);

/** Some backend has a client blocked in BLPOP/BRPOPLPUSH. */
async function blocked(cmd: string): Promise<boolean> {
  for (const b of pool.backends) if ((await direct(b, 'CLIENT', 'LIST')).includes(`cmd=${cmd}`)) return true;
  return false;
}

function nodeRedis() {
  const c = createClient({ socket: { port: pool.port, host: '127.0.0.1', reconnectStrategy: false }, RESP: 2 });
  c.on('error', () => {});
  return c;
}

test('node-redis: SUBSCRIBE and PSUBSCRIBE listeners, BLPOP answered by another client', async () => {
  const sub = nodeRedis();
  const cmd = nodeRedis();
  const blocker = nodeRedis();
  await Promise.all([sub.connect(), cmd.connect(), blocker.connect()]);
  try {
    const got: string[] = [];
    await sub.subscribe('nr:ch', (m, ch) => got.push(`${ch}=${m}`));
    await sub.pSubscribe('nr:*', (m, ch) => got.push(`p ${ch}=${m}`));
    assert.equal(await cmd.publish('nr:ch', 'hello'), 2);
    await until('both deliveries', () => got.length === 2);
    assert.deepEqual(got.sort(), ['nr:ch=hello', 'p nr:ch=hello']);
    const popped = blocker.blPop('{nr}list', 5);
    await until('BLPOP blocked on its server', () => blocked('blpop'));
    await cmd.lPush('{nr}list', 'item');
    assert.deepEqual(await popped, { key: '{nr}list', element: 'item' });
  } finally {
    await Promise.all([sub.quit(), cmd.quit(), blocker.quit()]);
  }
});

test('ioredis: BLPOP and BRPOPLPUSH on keys sharing a tag, answered by other clients', async () => {
  const a = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  const b = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  try {
    const p1 = a.blpop('{io}q', 5);
    await until('BLPOP blocked on its server', () => blocked('blpop'));
    await b.rpush('{io}q', 'x');
    assert.deepEqual(await p1, ['{io}q', 'x']);
    const p2 = a.brpoplpush('{io}src', '{io}dst', 5);
    await until('BRPOPLPUSH blocked on its server', () => blocked('brpoplpush'));
    await b.rpush('{io}src', 'y');
    assert.equal(await p2, 'y');
    assert.deepEqual(await b.lrange('{io}dst', 0, -1), ['y']);
  } finally {
    a.disconnect();
    b.disconnect();
  }
});

test('redis-py: BLPOP with a timeout, and a pattern subscription', () => {
  const py = spawnSync(
    '/usr/bin/python3', // Debian's, with python3-redis (.ci/run installs it)
    [
      '-c',
      `import redis, threading, time
r = redis.Redis(port=${pool.port})
print(r.blpop(['{py}empty'], timeout=1))
def later():
    time.sleep(0.3)
    redis.Redis(port=${pool.port}).rpush('{py}q', 'v')
threading.Thread(target=later).start()
print(r.blpop(['{py}q'], timeout=5))
p = r.pubsub()
p.psubscribe('py:*')
while p.get_message(timeout=1) is None: pass
n = r.publish('py:x', 'hi')
m = None
while m is None or m['type'] != 'pmessage': m = p.get_message(timeout=1)
print(n, m['channel'], m['data'])`,
    ],
    { encoding: 'utf8', timeout: 30000 },
  );
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout.trim(), "None\n(b'{py}q', b'v')\n1 b'py:x' b'hi'");
});
