// Real Redis clients connect cleanly and work through nutmeg: node-redis (`redis`), redis-cli,
// redis-py (Debian python3-redis), redis-benchmark (no errors on get/set/mset -P 16), and the
// handshakes go-redis, Jedis and Lettuce send, byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createClient } from 'redis';
import { startRedis, startNutmeg, freePort, RawClient, type Proc, type ProxyProc } from '../helpers/procs';

let backends: (Proc & { port: number })[] = [];
let proxy: ProxyProc;
let port = 0;

before(async () => {
  backends = await Promise.all([startRedis(), startRedis()]);
  port = await freePort();
  const yaml = ['p:', `  listen: 127.0.0.1:${port}`, '  redis: true', '  timeout: 3000', '  servers:', ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 s${i}`), ''].join('\n');
  proxy = await startNutmeg(yaml, [port]);
});

after(async () => {
  await proxy?.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

test('node-redis connects (RESP2) and runs commands, MGET across shards', async () => {
  const c = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false }, RESP: 2 });
  c.on('error', () => {});
  await c.connect();
  try {
    assert.equal(await c.set('nr:a', '1'), 'OK');
    await c.mSet([['nr:b', '2'], ['nr:c', '3']]);
    assert.deepEqual(await c.mGet(['nr:a', 'nr:b', 'nr:c', 'nr:none']), ['1', '2', '3', null]);
    assert.equal(await c.incr('nr:a'), 2);
    assert.equal(await c.ping(), 'PONG');
  } finally {
    await c.quit().catch(() => undefined);
  }
});

test('redis-cli works through the proxy', () => {
  const run = (...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 });
    return r.stdout.trim();
  };
  assert.equal(run('set', 'cli:k', 'v'), 'OK');
  assert.equal(run('get', 'cli:k'), 'v');
  assert.equal(run('ping'), 'PONG');
  assert.equal(run('keys', 'cli:*'), 'cli:k');
  assert.match(run('monitor'), /not supported by nutmeg/);
});

test('redis-py (Debian python3-redis) connects and pipelines', (t) => {
  if (spawnSync('/usr/bin/python3', ['-c', 'import redis']).status !== 0) {
    t.skip('python3-redis is not installed');
    return;
  }
  const py = `
import redis
r = redis.Redis(port=${port})
assert r.set('py:a', 'x') is True
assert r.get('py:a') == b'x'
p = r.pipeline(transaction=False)
for i in range(100):
    p.set('py:%d' % i, i)
    p.get('py:%d' % i)
res = p.execute()
assert res[1::2] == [str(i).encode() for i in range(100)], res[:6]
assert r.mget(['py:1', 'py:2', 'py:none']) == [b'1', b'2', None]
assert r.delete('py:1', 'py:2', 'py:none') == 2
print('ok')
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.stdout.trim(), 'ok', r.stderr);
});

test('redis-benchmark get,set,mset -P 16 through nutmeg: no errors', () => {
  const r = spawnSync('redis-benchmark', ['-p', String(port), '-t', 'get,set,mset', '-n', '20000', '-c', '20', '-P', '16', '-r', '10000', '--csv'], {
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('"'));
  const names = rows.map((l) => l.split(',')[0]);
  assert.ok(names.includes('"SET"') && names.includes('"GET"') && names.some((n) => n?.startsWith('"MSET')), r.stdout);
  assert.doesNotMatch(r.stdout + r.stderr, /ERR|error/i);
});

test('handshakes of go-redis, Jedis and Lettuce get sensible replies', async () => {
  const c = await RawClient.connect(port);
  const cmd = (...a: string[]): string => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
  try {
    // go-redis v9: HELLO 3 (falls back to RESP2 on error), CLIENT SETINFO, SELECT 0
    c.write(cmd('HELLO', '3'));
    assert.match(await c.readUntil('\r\n'), /^-NOPROTO /);
    c.write(cmd('CLIENT', 'SETINFO', 'LIB-NAME', 'go-redis(,go1.22)') + cmd('CLIENT', 'SETINFO', 'LIB-VER', '9.5.1') + cmd('SELECT', '0'));
    assert.equal(await c.readUntil('+OK\r\n+OK\r\n+OK\r\n'), '+OK\r\n+OK\r\n+OK\r\n');
    // Jedis 5: CLIENT SETNAME, then PING; Lettuce 6: HELLO 3 → fallback, CLIENT SETNAME, PING
    c.write(cmd('CLIENT', 'SETNAME', 'jedis') + cmd('PING') + cmd('CLIENT', 'GETNAME'));
    assert.equal(await c.readUntil('jedis\r\n'), '+OK\r\n+PONG\r\n$5\r\njedis\r\n');
    c.write(cmd('COMMAND', 'COUNT'));
    assert.match(await c.readUntil('\r\n'), /^:\d+\r\n$/);
  } finally {
    c.destroy();
  }
});
