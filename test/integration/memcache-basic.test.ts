// Memcached pool end to end: real memcached backends, nutmeg in front, the `memcached` npm
// client (ASCII protocol) and raw sockets for exact bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Memcached from 'memcached';
import { startMemcached, startNutmeg, freePort, RawClient, type Proc, type ProxyProc } from '../helpers/procs';

let backends: (Proc & { port: number })[] = [];
let proxy: ProxyProc;
let port = 0;

before(async () => {
  backends = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  port = await freePort();
  const yaml = [
    'mc:',
    `  listen: 127.0.0.1:${port}`,
    '  hash: md5',
    '  distribution: ketama',
    '  timeout: 2000',
    '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 mc${i}`),
    '',
  ].join('\n');
  proxy = await startNutmeg(yaml, [port]);
});

after(async () => {
  await proxy?.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

function mcClient(): Memcached {
  return new Memcached(`127.0.0.1:${port}`, { retries: 0, timeout: 3000, poolSize: 2 });
}

function call<T>(fn: (cb: (err: unknown, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(v))));
}

test('set/get/incr/decr/delete/touch/append/prepend/add/replace through a real client', async () => {
  const m = mcClient();
  try {
    assert.equal(await call<boolean>((cb) => m.set('a', 'alpha', 0, cb as never)), true);
    assert.equal(await call<string>((cb) => m.get('a', cb as never)), 'alpha');
    assert.equal(await call<boolean>((cb) => m.append('a', '+', cb as never)), true);
    assert.equal(await call<boolean>((cb) => m.prepend('a', '-', cb as never)), true);
    assert.equal(await call<string>((cb) => m.get('a', cb as never)), '-alpha+');
    assert.equal(await call<boolean>((cb) => m.set('n', 10, 0, cb as never)), true);
    assert.equal(await call<number | boolean>((cb) => m.incr('n', 5, cb as never)), 15);
    assert.equal(await call<number | boolean>((cb) => m.decr('n', 3, cb as never)), 12);
    assert.equal(await call<boolean>((cb) => m.touch('n', 100, cb as never)), true);
    assert.equal(await call<boolean>((cb) => m.del('n', cb as never)), true);
    assert.equal(await call<string | undefined>((cb) => m.get('n', cb as never)), undefined);
    await assert.rejects(call<boolean>((cb) => m.add('a', 'x', 0, cb as never)), /Item is not stored/);
    assert.equal(await call<boolean>((cb) => m.replace('a', 'beta', 0, cb as never)), true);
    assert.equal(await call<string>((cb) => m.get('a', cb as never)), 'beta');
  } finally {
    m.end();
  }
});

test('multi-get across shards comes back as one reply in key order with one END', async () => {
  const m = mcClient();
  const keys = Array.from({ length: 60 }, (_, i) => `mk:${i}`);
  try {
    for (const k of keys) await call<boolean>((cb) => m.set(k, `v-${k}`, 0, cb as never));
    const got = await call<Record<string, string>>((cb) => m.getMulti([...keys, 'mk:none'], cb as never));
    assert.equal(Object.keys(got).length, 60);
    for (const k of keys) assert.equal(got[k], `v-${k}`);
  } finally {
    m.end();
  }
  // exact bytes: order follows the request, misses are skipped, duplicates repeated
  const c = await RawClient.connect(port);
  try {
    c.write('get mk:5 missing1 mk:1 mk:40 mk:5\r\n');
    const out = await c.readUntil('END\r\n');
    const order = [...out.matchAll(/VALUE (\S+) /g)].map((x) => x[1]);
    assert.deepEqual(order, ['mk:5', 'mk:1', 'mk:40', 'mk:5']);
    assert.equal(out.match(/END\r\n/g)?.length, 1);
    c.write('gets mk:1 mk:2\r\n');
    const g = await c.readUntil('END\r\n');
    assert.match(g, /^VALUE mk:1 0 6 \d+\r\nv-mk:1\r\nVALUE mk:2 0 6 \d+\r\nv-mk:2\r\nEND\r\n$/);
  } finally {
    c.destroy();
  }
});

test('cas: gets then cas succeeds once, then EXISTS', async () => {
  const c = await RawClient.connect(port);
  try {
    c.write('set casman 0 0 3\r\nabc\r\n');
    assert.equal(await c.readUntil('\r\n'), 'STORED\r\n');
    c.write('gets casman\r\n');
    const g = await c.readUntil('END\r\n');
    const cas = /VALUE casman 0 3 (\d+)/.exec(g)?.[1];
    assert.ok(cas);
    c.write(`cas casman 0 0 3 ${cas}\r\nxyz\r\ncas casman 0 0 3 ${cas}\r\nqqq\r\n`);
    assert.equal(await c.readUntil('EXISTS\r\n'), 'STORED\r\nEXISTS\r\n');
  } finally {
    c.destroy();
  }
});

test('noreply pipeline: only the final get answers, values all stored', async () => {
  const c = await RawClient.connect(port);
  try {
    let req = '';
    for (let i = 0; i < 500; i++) req += `set nr:${i} 0 0 ${String(i).length} noreply\r\n${i}\r\n`;
    req += 'get nr:0 nr:250 nr:499\r\n';
    c.write(req);
    const out = await c.readUntil('END\r\n');
    assert.equal(out, 'VALUE nr:0 0 1\r\n0\r\nVALUE nr:250 0 3\r\n250\r\nVALUE nr:499 0 3\r\n499\r\nEND\r\n');
  } finally {
    c.destroy();
  }
});

test('1 MB value round-trips', async () => {
  const c = await RawClient.connect(port);
  try {
    const big = Buffer.alloc(1024 * 1000, 'x');
    big.write('head', 0);
    big.write('tail', big.length - 4);
    c.write(Buffer.concat([Buffer.from(`set bigv 0 0 ${big.length}\r\n`), big, Buffer.from('\r\n')]));
    assert.equal(await c.readUntil('\r\n'), 'STORED\r\n');
    c.write('get bigv\r\n');
    const out = await c.readUntil('END\r\n', 10000);
    assert.equal(out.length, `VALUE bigv 0 ${big.length}\r\n`.length + big.length + 2 + 5);
    assert.ok(out.includes('headxxx') && out.includes('xxxtail\r\nEND\r\n'));
  } finally {
    c.destroy();
  }
});

test('bad input: errors in memcached style, connection kept where the stream allows', async () => {
  const c = await RawClient.connect(port);
  try {
    c.write('GET a\r\n');
    assert.equal(await c.readUntil('\r\n'), 'ERROR\r\n');
    c.write(`get ${'k'.repeat(251)}\r\n`);
    assert.equal(await c.readUntil('\r\n'), 'CLIENT_ERROR bad command line format\r\n');
    c.write('set x 0 0 notanumber\r\n');
    assert.match(await c.readUntil('\r\n'), /^CLIENT_ERROR /);
    c.write('version\r\n');
    assert.match(await c.readUntil('\r\n'), /^VERSION \d/);
    c.write('set y 0 0 3\r\nabcdef\r\n');
    assert.equal(await c.readUntil('\r\n'), 'CLIENT_ERROR bad data chunk\r\n');
    assert.equal(await c.waitClose(), true);
  } finally {
    c.destroy();
  }
});

test('meta commands are routed by key; quiet mode and mn keep order', async () => {
  const c = await RawClient.connect(port);
  try {
    c.write('ms metak 2\r\nhi\r\nmg metak v\r\nmg metamissing v q\r\nmg metak s v q\r\nmn\r\n');
    const out = await c.readUntil('MN\r\n');
    assert.equal(out, 'HD\r\nVA 2\r\nhi\r\nVA 2 s2\r\nhi\r\nMN\r\n');
    c.write('md metak q\r\nmg metak v\r\n');
    assert.equal(await c.readUntil('EN\r\n'), 'EN\r\n');
  } finally {
    c.destroy();
  }
});

test('quit closes after earlier replies, with no reply of its own', async () => {
  const c = await RawClient.connect(port);
  c.write('set q 0 0 1\r\n1\r\nquit\r\nget q\r\n');
  const out = await c.readUntil('never', 1000);
  assert.equal(out, 'STORED\r\n');
  assert.equal(c.closed, true);
});
