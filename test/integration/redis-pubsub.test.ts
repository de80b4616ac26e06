// Pub/sub through a sharded pool of three real redis-servers: channels placed like keys, one upstream
// subscription per channel per server whatever the number of clients, patterns on every server, Redis's
// confirmations, counts and subscribed-mode rules, a killed server not stopping the others' subscribers and
// resubscribed when it is back, a slow subscriber cut off, and ioredis / redis-py subscribers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import Redis from 'ioredis';
import { startRedis, until, readStats } from '../helpers/procs';
import { Resp, direct } from '../helpers/resp-client';
import { Router } from '../../src/route/router';
import { useShardedPool } from '../helpers/sharded';

const pool = useShardedPool(['redis: true', 'pubsub_client_buffer: 1mb']);

const ROUTER = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers: [0, 1, 2].map((i) => ({ name: `s${i}`, weight: 1 })) });
function serverOf(channel: string): number {
  const b = Buffer.from(channel);
  return ROUTER.route(b, 0, b.length);
}
const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

test('confirmations and counts as Redis makes them; the subscribed-mode rule; PING in subscribed mode', async () => {
  const c = await Resp.connect(pool.port);
  try {
    c.send('SUBSCRIBE', 'a', 'b');
    assert.deepEqual(await c.take(2), [`*3\r\n${bulk('subscribe')}${bulk('a')}:1\r\n`, `*3\r\n${bulk('subscribe')}${bulk('b')}:2\r\n`]);
    assert.equal(await c.cmd('PSUBSCRIBE', 'x*'), `*3\r\n${bulk('psubscribe')}${bulk('x*')}:3\r\n`);
    assert.equal(
      await c.cmd('GET', 'k'),
      "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    assert.equal(await c.cmd('PING'), `*2\r\n${bulk('pong')}${bulk('')}`);
    assert.equal(await c.cmd('PING', 'hi'), `*2\r\n${bulk('pong')}${bulk('hi')}`);
    c.send('UNSUBSCRIBE');
    assert.deepEqual((await c.take(2)).sort(), [`*3\r\n${bulk('unsubscribe')}${bulk('a')}:2\r\n`, `*3\r\n${bulk('unsubscribe')}${bulk('b')}:1\r\n`].sort());
    assert.equal(await c.cmd('PUNSUBSCRIBE'), `*3\r\n${bulk('punsubscribe')}${bulk('x*')}:0\r\n`);
    assert.equal(await c.cmd('UNSUBSCRIBE'), `*3\r\n${bulk('unsubscribe')}$-1\r\n:0\r\n`);
    assert.equal(await c.cmd('GET', 'k'), '$-1\r\n', 'not subscribed any more');
  } finally {
    c.close();
  }
});

test('100 channels on 3 servers and a pattern: every message arrives exactly once per subscription; one upstream subscription per channel per server', async () => {
  // (names like news:N all land on one server with fnv1a_64 + ketama over s0..s2: these spread)
  const channels = Array.from({ length: 100 }, (_, i) => `channel-${i * 7919}-${i}`);
  const subs = await Promise.all([0, 1, 2].map(() => Resp.connect(pool.port)));
  const pat = await Resp.connect(pool.port);
  const pub = await Resp.connect(pool.port);
  try {
    for (const s of subs) {
      s.send('SUBSCRIBE', ...channels);
      assert.equal((await s.take(100, 10000)).length, 100);
    }
    assert.equal(await pat.cmd('PSUBSCRIBE', 'channel-*'), `*3\r\n${bulk('psubscribe')}${bulk('channel-*')}:1\r\n`);
    // one upstream subscription per channel on its own server, none elsewhere; the pattern on every server
    for (let i = 0; i < 3; i++) {
      const mine = channels.filter((ch) => serverOf(ch) === i);
      const numsub = await direct(pool.backends[i]!, 'PUBSUB', 'NUMSUB', ...mine.slice(0, 5));
      for (const ch of mine.slice(0, 5)) assert.ok(numsub.includes(`${bulk(ch)}:1\r\n`), `${ch} on s${i}: ${numsub}`);
      assert.equal(await direct(pool.backends[i]!, 'PUBSUB', 'NUMPAT'), ':1\r\n');
      assert.equal(await direct(pool.backends[i]!, 'PUBSUB', 'NUMSUB', channels.find((ch) => serverOf(ch) !== i)!), `*2\r\n${bulk(channels.find((ch) => serverOf(ch) !== i)!)}:0\r\n`);
    }
    // the proxy's own view: 3 clients per channel, 1 pattern; PUBLISH counts clients (3 + the pattern's 1)
    assert.equal(await pub.cmd('PUBSUB', 'NUMSUB', channels[7]!), `*2\r\n${bulk(channels[7]!)}:3\r\n`);
    assert.equal(await pub.cmd('PUBSUB', 'NUMPAT'), ':1\r\n');
    assert.equal((await pub.cmd('PUBSUB', 'CHANNELS', 'channel-*')).split('\r\n')[0], '*100');
    assert.equal((await pub.cmd('PUBSUB', 'CHANNELS', 'channel-?-?')).split('\r\n')[0], '*1', 'channel-0-0 only');
    for (const ch of channels) assert.equal(await pub.cmd('PUBLISH', ch, `m:${ch}`), ':4\r\n', ch);
    for (const s of subs) {
      const got = await s.take(100, 10000);
      assert.equal(got.length, 100);
      // one of each (across servers the order is not kept: each server delivers on its own connection)
      assert.deepEqual(got.slice().sort(), channels.map((ch) => `*3\r\n${bulk('message')}${bulk(ch)}${bulk(`m:${ch}`)}`).sort());
    }
    const pm = await pat.take(100, 10000);
    assert.equal(pm.length, 100);
    assert.equal(new Set(pm).size, 100, 'each pmessage once');
    await new Promise((r) => setTimeout(r, 100));
    for (const s of [...subs, pat]) assert.deepEqual(await s.take(0, 1), [], 'nothing more');
  } finally {
    for (const s of [...subs, pat, pub]) s.close();
  }
});

test('a killed server stops only its own channels; its subscriptions are made again when it is back', async () => {
  const victim = 2;
  const names = Array.from({ length: 50 }, (_, i) => `channel-${i * 7919}-${i}`);
  const [chDead, chAlive] = [names.find((c) => serverOf(c) === victim)!, names.find((c) => serverOf(c) !== victim)!];
  const sub = await Resp.connect(pool.port);
  const pub = await Resp.connect(pool.port);
  try {
    sub.send('SUBSCRIBE', chDead, chAlive);
    assert.equal((await sub.take(2)).length, 2);
    const port2 = pool.backends[victim]!.port;
    await pool.backends[victim]!.stop();
    assert.equal(await pub.cmd('PUBLISH', chAlive, 'still'), ':1\r\n');
    assert.deepEqual(await sub.take(1), [`*3\r\n${bulk('message')}${bulk(chAlive)}${bulk('still')}`]);
    pool.backends[victim] = await startRedis(port2);
    await until('resubscribed', async () => (await direct(pool.backends[victim]!, 'PUBSUB', 'NUMSUB', chDead)).endsWith(':1\r\n'), 5000);
    assert.equal(await pub.cmd('PUBLISH', chDead, 'back'), ':1\r\n');
    assert.deepEqual(await sub.take(1), [`*3\r\n${bulk('message')}${bulk(chDead)}${bulk('back')}`]);
    await until('the gap is logged', () => /pubsub: subscriber connection to 's2' back after \d+ ms; 1 subscriptions made again/.test(pool.px.stderr));
  } finally {
    sub.close();
    pub.close();
  }
});

test('a subscriber that does not read is closed at pubsub_client_buffer; the others go on', async () => {
  const slow = await Resp.connect(pool.port);
  const fast = await Resp.connect(pool.port);
  const pub = await Resp.connect(pool.port);
  try {
    slow.send('SUBSCRIBE', 'flood');
    assert.equal((await slow.take(1)).length, 1);
    fast.send('SUBSCRIBE', 'flood');
    assert.equal((await fast.take(1)).length, 1);
    slow.sock.pause();
    const payload = 'p'.repeat(64 * 1024);
    let received = 0;
    for (let i = 0; i < 400 && !slow.closed; i++) {
      await pub.cmd('PUBLISH', 'flood', payload);
      received += (await fast.take(1)).length;
    }
    await until('the slow subscriber is counted as closed', async () => {
      const st = (await readStats(pool.px.statsPort)) as Record<string, Record<string, number>>;
      return (st.alpha?.client_overflow ?? 0) >= 1;
    }, 5000);
    assert.ok(received >= 20, `the fast subscriber got ${received}`);
  } finally {
    slow.close();
    fast.close();
    pub.close();
  }
});

test('ioredis and redis-py subscribe through nutmeg', async () => {
  const sub = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  const pub = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
  try {
    const got: string[] = [];
    sub.on('message', (ch: string, m: string) => got.push(`${ch}=${m}`));
    sub.on('pmessage', (p: string, ch: string, m: string) => got.push(`${p}:${ch}=${m}`));
    await sub.subscribe('io:a', 'io:b');
    await sub.psubscribe('io:*');
    await pub.publish('io:a', '1');
    await pub.publish('io:b', '2');
    await until('4 messages', () => got.length === 4);
    assert.deepEqual(got.sort(), ['io:*:io:a=1', 'io:*:io:b=2', 'io:a=1', 'io:b=2']);
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
  const py = spawn('/usr/bin/python3', [
    '-c',
    `import redis, sys
r = redis.Redis(port=${pool.port})
p = r.pubsub()
p.subscribe('py:ch')
print('ready', flush=True)
for m in p.listen():
    if m['type'] == 'message':
        print(m['channel'].decode(), m['data'].decode(), flush=True)
        break`,
  ]);
  let out = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until('redis-py subscribed', () => out.includes('ready'), 10000);
    const p2 = new Redis({ port: pool.port, maxRetriesPerRequest: 0 });
    await until('delivered', async () => {
      await p2.publish('py:ch', 'hello');
      return out.includes('py:ch hello');
    }, 10000);
    p2.disconnect();
  } finally {
    py.kill();
  }
});
