// Redis pool end to end: real redis-server backends, nutmeg in front, ioredis and raw sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, startNutmeg, freePort, RawClient, readStats, type Proc, type ProxyProc } from '../helpers/procs';

let backends: (Proc & { port: number })[] = [];
let proxy: ProxyProc;
let port = 0;
let direct: Redis[] = [];

function yaml(listen: number): string {
  return [
    'alpha:',
    `  listen: 127.0.0.1:${listen}`,
    '  hash: murmur',
    '  distribution: ketama',
    '  redis: true',
    '  timeout: 2000',
    '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 server${i}`),
    '',
  ].join('\n');
}

before(async () => {
  backends = await Promise.all([startRedis(), startRedis(), startRedis()]);
  port = await freePort();
  proxy = await startNutmeg(yaml(port), [port]);
  direct = backends.map((b) => new Redis({ port: b.port, lazyConnect: false }));
});

after(async () => {
  for (const d of direct) d.disconnect();
  await proxy?.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

function client(): Redis {
  return new Redis({ port, maxRetriesPerRequest: 0 });
}

test('ioredis connects (INFO ready check) and SET/GET round-trip', async () => {
  const r = client();
  try {
    assert.equal(await r.set('hello', 'world'), 'OK');
    assert.equal(await r.get('hello'), 'world');
    assert.equal(await r.get('missing-key-xyz'), null);
    assert.equal(await r.ping(), 'PONG');
    assert.equal(await r.echo('abc'), 'abc');
  } finally {
    r.disconnect();
  }
});

test('keys spread over all backends, each key on exactly one', async () => {
  const r = client();
  try {
    const keys = Array.from({ length: 300 }, (_, i) => `spread:${i}`);
    await Promise.all(keys.map((k) => r.set(k, k)));
    const per = await Promise.all(direct.map(async (d) => (await d.keys('spread:*')).length));
    assert.equal(per.reduce((a, b) => a + b, 0), 300);
    for (const n of per) assert.ok(n > 30, `every backend gets keys: ${per.join(',')}`);
  } finally {
    r.disconnect();
  }
});

test('MGET/MSET/DEL/EXISTS/TOUCH/UNLINK split across shards and merged in key order', async () => {
  const r = client();
  try {
    const keys = Array.from({ length: 50 }, (_, i) => `multi:${i}`);
    const args: string[] = [];
    keys.forEach((k, i) => args.push(k, `v${i}`));
    assert.equal(await r.mset(...args), 'OK');
    const withMissing = [...keys.slice(0, 10), 'multi:none', ...keys.slice(10), keys[3]!];
    const got = await r.mget(...withMissing);
    assert.deepEqual(got, [...keys.slice(0, 10).map((_, i) => `v${i}`), null, ...keys.slice(10).map((_, i) => `v${i + 10}`), 'v3']);
    assert.equal(await r.exists(...keys, 'multi:none'), 50);
    assert.equal(await r.touch(...keys.slice(0, 20)), 20);
    assert.equal(await r.del(...keys.slice(0, 25), 'multi:none'), 25);
    assert.equal(await r.unlink(...keys.slice(25)), 25);
    assert.deepEqual(await r.mget(keys[0]!, keys[49]!), [null, null]);
  } finally {
    r.disconnect();
  }
});

test('MSET/MGET fragments carry every argument byte for byte: lengths at digit boundaries, binary keys and values', async () => {
  const r = client();
  try {
    // Keys and values of 0..1001 bytes (one to four length digits) holding '$', '*', CR, LF and NUL.
    const lens = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001];
    const bytes = (seed: number, n: number): Buffer => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = [0x24, 0x2a, 13, 10, 0, 0x41 + ((seed + i) % 26)][(seed * 7 + i) % 6]!;
      return b;
    };
    const keys = lens.map((n, i) => Buffer.concat([Buffer.from(`frag$${i}:`), bytes(i, n)]));
    const values = lens.map((_, i) => bytes(100 + i, lens[lens.length - 1 - i]!));
    const args: Buffer[] = [];
    keys.forEach((k, i) => args.push(k, values[i]!));
    assert.equal(await r.mset(...args), 'OK');
    assert.deepEqual(await r.mgetBuffer(...keys), values);
    // Each key sits on exactly one backend, with its value intact.
    for (let i = 0; i < keys.length; i++) {
      const found = (await Promise.all(direct.map((d) => d.getBuffer(keys[i]!)))).filter((v) => v !== null);
      assert.deepEqual(found, [values[i]], `key ${i}`);
    }
    assert.equal(await r.del(...keys), keys.length);
  } finally {
    r.disconnect();
  }
});

test('pipeline of 2000 mixed commands returns replies in request order', async () => {
  const r = client();
  try {
    const p = r.pipeline();
    for (let i = 0; i < 1000; i++) {
      p.set(`pipe:${i}`, String(i));
      p.get(`pipe:${i}`);
    }
    const res = await p.exec();
    assert.ok(res);
    for (let i = 0; i < 1000; i++) {
      assert.deepEqual(res[2 * i], [null, 'OK']);
      assert.deepEqual(res[2 * i + 1], [null, String(i)]);
    }
  } finally {
    r.disconnect();
  }
});

test('unknown and unsupported commands get a named error; the connection stays usable', async () => {
  const c = await RawClient.connect(port);
  try {
    c.write('*1\r\n$7\r\nFOOBARZ\r\n');
    assert.match((await c.readUntil('\r\n')), /^-ERR unknown command 'FOOBARZ'/);
    c.write('*1\r\n$7\r\nMONITOR\r\n');
    assert.match((await c.readUntil('\r\n')), /^-ERR 'monitor' is not supported by nutmeg: server administration/);
    c.write('*1\r\n$3\r\nGET\r\n');
    assert.equal(await c.readUntil('\r\n'), "-ERR wrong number of arguments for 'get' command\r\n");
    c.write('*1\r\n$4\r\nPING\r\n');
    assert.equal(await c.readUntil('\r\n'), '+PONG\r\n');
  } finally {
    c.destroy();
  }
});

test('malformed RESP gets an error reply and then the connection is closed', async () => {
  const c = await RawClient.connect(port);
  c.write('*1\r\n$4\r\nPING\r\n*x\r\n');
  const out = await c.readUntil('\r\n-never');
  assert.match(out, /^\+PONG\r\n-ERR Protocol error/);
  assert.equal(await c.waitClose(), true);
});

test('PING sent one byte at a time', async () => {
  const c = await RawClient.connect(port);
  try {
    for (const ch of '*1\r\n$4\r\nPING\r\n') {
      c.write(ch);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(await c.readUntil('\r\n'), '+PONG\r\n');
  } finally {
    c.destroy();
  }
});

test('QUIT replies +OK and closes after earlier replies', async () => {
  const c = await RawClient.connect(port);
  c.write('*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\n1\r\n*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n');
  const out = await c.readUntil('never', 1000);
  assert.equal(out, '+OK\r\n+OK\r\n');
  assert.equal(c.closed, true);
});

test('a 20 MB value passes through intact', async () => {
  const r = client();
  try {
    const big = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    assert.equal(await r.set('big', big), 'OK');
    const back = await r.getBuffer('big');
    assert.ok(back && back.equals(big));
  } finally {
    r.disconnect();
  }
});

test('stats JSON counts requests and responses per server', async () => {
  const s = await readStats(proxy.statsPort);
  assert.equal(s.service, 'nutcracker');
  const pool = s.alpha as Record<string, unknown>;
  assert.ok(pool);
  let req = 0;
  let resp = 0;
  for (const v of Object.values(pool)) {
    if (typeof v === 'object' && v !== null) {
      req += (v as Record<string, number>).requests ?? 0;
      resp += (v as Record<string, number>).responses ?? 0;
    }
  }
  assert.ok(req > 2000);
  assert.equal(req, resp);
});
