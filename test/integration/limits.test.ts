// Resource limits: client_connections, a client that never reads its replies (nutmeg's RSS must stay bounded:
// past client_buffer_limit the client is closed and counted in client_overflow), a 100 MB value, a
// 1,000,000-key MGET and an oversized memcache get line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import Redis from 'ioredis';
import { startRedis, startMemcached, startNutmeg, freePorts, RawClient, sleep, until, readStats, type Proc, type ProxyProc } from '../helpers/procs';

const procs: Proc[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
});

async function track<T extends Proc>(p: Promise<T>): Promise<T> {
  const x = await p;
  procs.push(x);
  return x;
}

function yaml(name: string, listen: number, ports: number[], redis: boolean, extra: string[] = []): string {
  return [
    `${name}:`,
    `  listen: 127.0.0.1:${listen}`,
    '  hash: fnv1a_64',
    `  redis: ${redis}`,
    '  timeout: 10000',
    ...extra.map((l) => `  ${l}`),
    '  servers:',
    ...ports.map((p, i) => `    - 127.0.0.1:${p}:1 s${i}`),
    '',
  ].join('\n');
}

/** Resident set size of a process in MB (VmRSS). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Write, and when the socket buffer is full wait for 'drain' (at most 500 ms). */
async function writeOrWait(sock: net.Socket, data: Buffer): Promise<void> {
  if (sock.write(data)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      sock.off('drain', done);
      resolve();
    };
    const t = setTimeout(done, 500);
    sock.on('drain', done);
  });
}

/** Samples a process's RSS every 50 ms until stopped; returns the peak. */
function rssSampler(pid: number): { stop: () => number } {
  let peak = rssMb(pid);
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // process gone
    }
  }, 50);
  return {
    stop: () => {
      clearInterval(t);
      return peak;
    },
  };
}

test('client_connections: the N+1th client gets an error and is closed; a freed slot is reusable', async () => {
  const r = await track(startRedis());
  const m = await track(startMemcached());
  const [pr, pm] = await freePorts(2);
  await track(startNutmeg(yaml('alpha', pr!, [r.port], true, ['client_connections: 3']) + yaml('beta', pm!, [m.port], false, ['client_connections: 2']), [pr!, pm!]));
  const held: RawClient[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect(pr!);
      c.write('*1\r\n$4\r\nPING\r\n');
      assert.equal(await c.readUntil('\r\n'), '+PONG\r\n');
      held.push(c);
    }
    const extra = await RawClient.connect(pr!);
    assert.equal(await extra.readUntil('\r\n'), '-ERR max number of clients reached\r\n');
    assert.equal(await extra.waitClose(), true);
    held.shift()!.destroy();
    await sleep(100);
    const again = await RawClient.connect(pr!);
    again.write('*1\r\n$4\r\nPING\r\n');
    assert.equal(await again.readUntil('\r\n'), '+PONG\r\n', 'a freed slot is reusable');
    held.push(again);
    // memcache pool: limit 2
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(pm!);
      c.write('version\r\n');
      assert.match(await c.readUntil('\r\n'), /^VERSION /);
      held.push(c);
    }
    const mx = await RawClient.connect(pm!);
    assert.match(await mx.readUntil('\r\n'), /^SERVER_ERROR /);
    assert.equal(await mx.waitClose(), true);
  } finally {
    for (const c of held) c.destroy();
  }
});

/** client_overflow of a pool, from the stats port. */
async function overflows(px: ProxyProc, pool: string): Promise<number> {
  const st = await readStats(px.statsPort);
  return (st[pool] as Record<string, number>).client_overflow ?? -1;
}

test('a client that tries to write 200 MB of GETs for a 100 KB value and never reads: closed past client_buffer_limit, RSS bounded, others served', async (t) => {
  const r = await track(startRedis());
  const [port] = await freePorts(1);
  const px = await track(startNutmeg(yaml('alpha', port!, [r.port], true, ['client_buffer_limit: 64mb']), [port!]));
  const good = new Redis({ port: port!, maxRetriesPerRequest: 0 });
  t.after(() => good.disconnect());
  const value = 'v'.repeat(100 * 1024);
  await good.set('big', value);
  const base = rssMb(px.pid);
  const sampler = rssSampler(px.pid);
  const hog = net.connect({ port: port!, host: '127.0.0.1' });
  hog.on('error', () => {});
  await new Promise((resolve) => hog.once('connect', resolve));
  hog.pause(); // never read
  let hogClosed = false;
  hog.on('close', () => (hogClosed = true));
  const req = Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n');
  const batch = Buffer.concat(Array.from({ length: 3000 }, () => req));
  const total = 200 * 1024 * 1024;
  let written = 0;
  let stop = false;
  const writer = (async () => {
    const deadline = Date.now() + 12000;
    while (!stop && !hogClosed && written < total && Date.now() < deadline) {
      written += batch.length;
      await writeOrWait(hog, batch);
    }
  })();
  // Meanwhile a well-behaved client is served, in bounded time, with correct values.
  let served = 0;
  let worst = 0;
  const goodLoop = (async () => {
    for (let i = 0; !stop && i < 100000; i++) {
      const t0 = Date.now();
      assert.equal(await good.set(`g:${i}`, `v${i}`), 'OK');
      assert.equal(await good.get(`g:${i}`), `v${i}`);
      worst = Math.max(worst, Date.now() - t0);
      served++;
      await sleep(5);
    }
  })();
  await sleep(8000);
  stop = true;
  await writer;
  await goodLoop;
  const peak = sampler.stop();
  t.diagnostic(`wrote ${(written / 1048576).toFixed(0)} MB of GETs; nutmeg RSS ${base.toFixed(0)} MB at start, peak ${peak.toFixed(0)} MB; good client ${served} round trips, worst ${worst} ms`);
  hog.destroy();
  good.disconnect();
  assert.ok(hogClosed, 'the client that never reads was closed');
  assert.equal(await overflows(px, 'alpha'), 1);
  assert.ok(peak < 300, `peak RSS ${peak.toFixed(0)} MB`);
  assert.ok(served > 100, `good client served ${served}`);
  assert.ok(worst < 2000, `good client worst latency ${worst} ms`);
  // The proxy is fine afterwards.
  const after = new Redis({ port: port!, maxRetriesPerRequest: 0 });
  assert.equal((await after.get('big'))?.length, value.length);
  after.disconnect();
});

test('a memcache client that never reads its replies: closed past client_buffer_limit, RSS bounded', async (t) => {
  const m = await track(startMemcached());
  const [port] = await freePorts(1);
  const px = await track(startNutmeg(yaml('beta', port!, [m.port], false, ['client_buffer_limit: 64mb']), [port!]));
  const c = await RawClient.connect(port!);
  const value = 'm'.repeat(100 * 1024);
  c.write(`set big 0 0 ${value.length}\r\n${value}\r\n`);
  assert.equal(await c.readUntil('\r\n'), 'STORED\r\n');
  c.destroy();
  const sampler = rssSampler(px.pid);
  const hog = net.connect({ port: port!, host: '127.0.0.1' });
  hog.on('error', () => {});
  await new Promise((resolve) => hog.once('connect', resolve));
  hog.pause();
  let hogClosed = false;
  hog.on('close', () => (hogClosed = true));
  const batch = Buffer.from('get big\r\n'.repeat(5000));
  let written = 0;
  const deadline = Date.now() + 5000;
  while (!hogClosed && written < 100 * 1024 * 1024 && Date.now() < deadline) {
    written += batch.length;
    await writeOrWait(hog, batch);
  }
  await until('the client that never reads is closed', () => hogClosed, 5000);
  assert.equal(await overflows(px, 'beta'), 1);
  const peak = sampler.stop();
  t.diagnostic(`wrote ${(written / 1048576).toFixed(0)} MB of gets; nutmeg peak RSS ${peak.toFixed(0)} MB`);
  hog.destroy();
  assert.ok(peak < 300, `peak RSS ${peak.toFixed(0)} MB`);
  const d = await RawClient.connect(port!);
  d.write('get big\r\n');
  assert.equal((await d.readUntil('END\r\n')).length, value.length + 'VALUE big 0 102400\r\n\r\nEND\r\n'.length);
  d.destroy();
});

test('a 100 MB value: SET and GET through the proxy, RSS under 1 GB', async (t) => {
  const r = await track(startRedis());
  const [port] = await freePorts(1);
  const px = await track(startNutmeg(yaml('alpha', port!, [r.port], true), [port!]));
  const sampler = rssSampler(px.pid);
  const c = new Redis({ port: port!, maxRetriesPerRequest: 0 });
  try {
    const big = Buffer.alloc(100 * 1024 * 1024, 0x61);
    for (let i = 0; i < big.length; i += 65536) big.writeUInt32BE(i, i);
    assert.equal(await c.set('huge', big), 'OK');
    const back = await c.getBuffer('huge');
    assert.ok(back !== null && back.equals(big), 'same bytes back');
    assert.equal(await c.del('huge'), 1);
  } finally {
    c.disconnect();
  }
  const peak = sampler.stop();
  t.diagnostic(`nutmeg peak RSS ${peak.toFixed(0)} MB`);
  assert.ok(peak < 1024, `peak RSS ${peak.toFixed(0)} MB`);
});

test('MGET of 1,000,000 keys over 3 servers: merged in order, RSS under 1 GB', async (t) => {
  const rs = await Promise.all([track(startRedis()), track(startRedis()), track(startRedis())]);
  const [port] = await freePorts(1);
  const px = await track(startNutmeg(yaml('alpha', port!, rs.map((r) => r.port), true), [port!]));
  const c = new Redis({ port: port!, maxRetriesPerRequest: 0, commandTimeout: 30000 });
  const sampler = rssSampler(px.pid);
  try {
    const n = 1_000_000;
    const keys = Array.from({ length: n }, (_, i) => `mk:${i}`);
    const present: string[] = [];
    for (let i = 0; i < n; i += 997) present.push(keys[i]!, `val${i}`);
    assert.equal(await c.mset(...present), 'OK');
    const t0 = Date.now();
    const got = await c.mget(keys);
    const dt = Date.now() - t0;
    assert.equal(got.length, n);
    for (let i = 0; i < n; i++) {
      const want = i % 997 === 0 ? `val${i}` : null;
      if (got[i] !== want) assert.fail(`key ${i}: ${got[i]} != ${want}`);
    }
    const peak = sampler.stop();
    t.diagnostic(`MGET 1M keys in ${dt} ms; nutmeg peak RSS ${peak.toFixed(0)} MB`);
    assert.ok(peak < 1024, `peak RSS ${peak.toFixed(0)} MB`);
    assert.ok(dt < 10000);
  } finally {
    sampler.stop();
    c.disconnect();
  }
});

test('memcache get with too many keys for one line is refused with a clear error', async () => {
  const m = await track(startMemcached());
  const [port] = await freePorts(1);
  await track(startNutmeg(yaml('beta', port!, [m.port], false), [port!]));
  const c = await RawClient.connect(port!);
  const keys = Array.from({ length: 200_000 }, (_, i) => `k${i}`).join(' ');
  c.write(`get ${keys}\r\n`);
  assert.equal(await c.readUntil('\r\n'), 'CLIENT_ERROR line too long\r\n');
  assert.equal(await c.waitClose(), true);
});

test('a pipeline held back by backpressure is still served in full after the client half-closes', async () => {
  const r = await track(startRedis());
  const [port] = await freePorts(1);
  await track(startNutmeg(yaml('alpha', port!, [r.port], true), [port!]));
  const value = 'h'.repeat(100 * 1024);
  const setup = await RawClient.connect(port!);
  setup.write(`*3\r\n$3\r\nSET\r\n$4\r\nheld\r\n$${value.length}\r\n${value}\r\n`);
  assert.equal(await setup.readUntil('\r\n'), '+OK\r\n');
  setup.destroy();
  const n = 3000; // 3000 × 100 KB = 300 MB of replies: far past the bound, so most requests are held
  const sock = net.connect({ port: port!, host: '127.0.0.1' });
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.pause();
  sock.end(Buffer.from('*2\r\n$3\r\nGET\r\n$4\r\nheld\r\n'.repeat(n) + '*1\r\n$4\r\nPING\r\n'));
  await sleep(500); // not reading yet: the proxy holds the rest of the pipeline
  const one = `$${value.length}\r\n${value}\r\n`.length;
  let got = 0;
  let tail = '';
  sock.on('data', (d: Buffer) => {
    got += d.length;
    tail = (tail + d.toString('latin1', Math.max(0, d.length - 16))).slice(-16);
  });
  sock.resume();
  const closed = await Promise.race([new Promise((resolve) => sock.once('close', () => resolve(true))), sleep(20000).then(() => false)]);
  assert.equal(closed, true, 'closed after the last reply');
  assert.equal(got, n * one + '+PONG\r\n'.length, 'every reply, nothing more');
  assert.ok(tail.endsWith('\r\n+PONG\r\n'));
});
