// --workers 2 (node:cluster): the primary and two workers in front of real redis-servers and a memcached, on a TCP
// redis pool, a memcache pool and a redis pool behind a unix socket. Replies from several clients at once, the
// process tree, the stats port summing every worker to the exact traffic in the single-process layout, /metrics,
// signals passed on, a killed worker restarted with service and counters intact, and a draining SIGTERM exit 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  startRedis,
  startMemcached,
  startNutmeg,
  freePorts,
  readStats,
  readStatsRaw,
  sleep,
  tmpDir,
  until,
  waitPort,
  type Backend,
  type ProxyProc,
} from '../helpers/procs';
import { httpGet } from '../helpers/http';
import { parseProm, one } from '../helpers/prom';
import { resp } from '../helpers/resp';
import { alive, childrenOf } from '../helpers/pids';

type Stats = Record<string, unknown>;
type Counters = Record<string, number>;

let redisB: Backend[] = [];
let mc: Backend;
let proxy: ProxyProc;
let alphaPort = 0;
let betaPort = 0;
let httpPort = 0;
let dir = '';
let sock = '';
let pidFile = '';
/** Requests sent so far per pool (every one forwarded: SET/GET and set/get). */
const sent: Record<string, number> = { alpha: 0, beta: 0, gamma: 0 };

function yaml(alpha: number, beta: number, gammaSock: string): string {
  const [r0, r1] = redisB.map((b) => b.port);
  return [
    'alpha:',
    `  listen: 127.0.0.1:${alpha}`,
    '  redis: true',
    '  hash: fnv1a_64',
    '  timeout: 3000',
    '  servers:',
    `    - 127.0.0.1:${r0}:1 r0`,
    `    - 127.0.0.1:${r1}:1 r1`,
    'beta:',
    `  listen: 127.0.0.1:${beta}`,
    '  redis: false',
    '  servers:',
    `    - 127.0.0.1:${mc.port}:1 m0`,
    'gamma:',
    `  listen: ${gammaSock} 0666`,
    '  redis: true',
    '  servers:',
    `    - 127.0.0.1:${r1}:1 g0`,
    '',
  ].join('\n');
}

/** Write `data` on a fresh connection (TCP port or unix path), read until `want` bytes came (or 10 s), close. */
function talk(to: number | string, data: string, want: number): Promise<string> {
  return new Promise((resolve) => {
    const s = typeof to === 'number' ? net.connect({ port: to, host: '127.0.0.1' }) : net.connect({ path: to });
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 10000);
    s.once('connect', () => s.write(data));
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length >= want) done();
    });
    s.on('close', done);
    s.on('error', () => {});
  });
}

/** One redis client: n SETs then n GETs pipelined, replies checked byte for byte. */
async function redisClient(to: number | string, pool: string, tag: string, n: number): Promise<void> {
  const keys = Array.from({ length: n }, (_, i) => `${i}:${tag}`);
  const req = keys.map((k) => resp('SET', k, `v-${k}`)).join('') + keys.map((k) => resp('GET', k)).join('');
  const want = '+OK\r\n'.repeat(n) + keys.map((k) => `$${`v-${k}`.length}\r\nv-${k}\r\n`).join('');
  assert.equal(await talk(to, req, want.length), want, `${pool} client ${tag}`);
  sent[pool] = (sent[pool] ?? 0) + 2 * n;
}

async function memcacheClient(tag: string, n: number): Promise<void> {
  const keys = Array.from({ length: n }, (_, i) => `${tag}:${i}`);
  const req = keys.map((k) => `set ${k} 0 0 ${k.length}\r\n${k}\r\n`).join('') + keys.map((k) => `get ${k}\r\n`).join('');
  const want = 'STORED\r\n'.repeat(n) + keys.map((k) => `VALUE ${k} 0 ${k.length}\r\n${k}\r\nEND\r\n`).join('');
  assert.equal(await talk(betaPort, req, want.length), want, `memcache client ${tag}`);
  sent['beta'] = (sent['beta'] ?? 0) + 2 * n;
}

/** Traffic from 13 clients at once on the three pools. */
async function traffic(round: string): Promise<void> {
  await Promise.all([
    ...Array.from({ length: 8 }, (_, c) => redisClient(alphaPort, 'alpha', `${round}c${c}`, 50)),
    ...Array.from({ length: 3 }, (_, c) => memcacheClient(`${round}m${c}`, 20)),
    ...Array.from({ length: 2 }, (_, c) => redisClient(sock, 'gamma', `${round}u${c}`, 10)),
  ]);
}

/** Body of GET urlPath on the HTTP port. */
async function get(urlPath: string): Promise<string> {
  return (await httpGet(httpPort, urlPath)).body;
}

/** Σ of a server counter over a pool's servers in a stats document. */
function sum(stats: Stats, pool: string, field: string): number {
  const p = stats[pool] as Record<string, unknown>;
  let n = 0;
  for (const v of Object.values(p)) if (typeof v === 'object' && v !== null) n += (v as Counters)[field] ?? 0;
  return n;
}

function poolStat(stats: Stats, pool: string, field: string): number {
  return (stats[pool] as Counters)[field] ?? -1;
}

/** Every pool's Σ requests == Σ responses == what was sent. */
function assertSums(stats: Stats): void {
  for (const pool of ['alpha', 'beta', 'gamma']) {
    assert.equal(sum(stats, pool, 'requests'), sent[pool], `${pool} requests`);
    assert.equal(sum(stats, pool, 'responses'), sent[pool], `${pool} responses`);
  }
}

function lines(text: string): { pid: number; msg: string }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { pid: number; msg: string });
}

before(async () => {
  [redisB, mc] = await Promise.all([Promise.all([startRedis(), startRedis()]), startMemcached()]);
  [alphaPort, betaPort, httpPort] = (await freePorts(3)) as [number, number, number];
  dir = tmpDir('nutmeg-workers-');
  sock = path.join(dir, 'gamma.sock');
  pidFile = path.join(dir, 'nutmeg.pid');
  proxy = await startNutmeg(yaml(alphaPort, betaPort, sock), [alphaPort, betaPort], ['--workers', '2', '--http-port', String(httpPort), '-p', pidFile]);
  await waitPort(httpPort);
  await until('the unix socket', () => new Promise((resolve) => {
    const s = net.connect({ path: sock });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  }));
});

after(async () => {
  await proxy?.stop();
  await Promise.all([...redisB, mc].map((b) => b?.stop()));
});

test('the primary (pid file) has exactly 2 worker children', () => {
  assert.equal(fs.readFileSync(pidFile, 'utf8'), String(proxy.pid));
  assert.equal(childrenOf(proxy.pid).length, 2);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o666);
});

test('13 clients on three pools get correct replies; the stats port sums every worker to the exact traffic', async () => {
  const start = await readStats(proxy.statsPort);
  await traffic('a');
  const stats = await readStats(proxy.statsPort);
  assertSums(stats);
  assert.equal(sent['alpha'], 800);
  // Gauges settle once the workers have seen the clients close.
  await until('client_connections 0', async () => {
    const s = await readStats(proxy.statsPort);
    return ['alpha', 'beta', 'gamma'].every((p) => poolStat(s, p, 'client_connections') === 0);
  });
  const s = await readStats(proxy.statsPort);
  // (the start-up probes of the test harness closed connections too: counted from `start`)
  assert.equal(poolStat(s, 'alpha', 'client_eof') - poolStat(start, 'alpha', 'client_eof'), 8);
  assert.equal(poolStat(s, 'beta', 'client_eof') - poolStat(start, 'beta', 'client_eof'), 3);
  assert.equal(poolStat(s, 'gamma', 'client_eof') - poolStat(start, 'gamma', 'client_eof'), 2);
  // Each worker that had clients holds its own server connection: 1 or 2 per alpha server, never more.
  const conns = sum(s, 'alpha', 'server_connections');
  assert.ok(conns >= 1 && conns <= 4, `alpha server connections ${conns}`);
  // 3 listeners (the primary's) + the open server connections; at least 3 + 13 clients + server connections ever.
  assert.equal(s['curr_connections'], 3 + sum(s, 'alpha', 'server_connections') + sum(s, 'beta', 'server_connections') + sum(s, 'gamma', 'server_connections'));
  assert.ok((s['total_connections'] as number) >= 3 + 13 + 3);
});

test('the stats document has the single-process layout, byte for byte apart from the numbers', async () => {
  const [a, b] = (await freePorts(2)) as [number, number];
  const single = await startNutmeg(yaml(a, b, path.join(dir, 'single.sock')), [a, b]);
  try {
    const norm = (raw: string): string => raw.replace(/":\d+/g, '":N');
    const one = await readStatsRaw(single.statsPort);
    const two = await readStatsRaw(proxy.statsPort);
    assert.equal(norm(two), norm(one));
    assert.ok(two.endsWith('}\n'));
    assert.equal(childrenOf(single.pid).length, 0, 'no cluster with --workers 1');
  } finally {
    await single.stop('SIGTERM');
  }
});

test('/metrics and /status.json aggregate the workers (latency histograms included)', async () => {
  const stats = await readStats(proxy.statsPort);
  const metrics = parseProm(await get('/metrics'));
  const value = (name: string, labels: Record<string, string>): number => one(metrics, name, labels);
  let count = 0;
  for (const srv of ['r0', 'r1']) {
    const labels = { pool: 'alpha', server: srv };
    const js = (stats['alpha'] as Record<string, Counters>)[srv] ?? {};
    assert.equal(value('nutmeg_server_requests_total', labels), js['requests']);
    assert.equal(value('nutmeg_server_responses_total', labels), js['responses']);
    assert.equal(value('nutmeg_request_duration_seconds_count', labels), js['responses']);
    assert.equal(value('nutmeg_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), js['responses']);
    count += value('nutmeg_request_duration_seconds_count', labels);
  }
  assert.equal(count, sent['alpha']);
  const status = JSON.parse(await get('/status.json')) as { workers: number; pid: number; healthy: boolean };
  assert.equal(status.workers, 2);
  assert.equal(status.pid, proxy.pid);
  assert.equal(status.healthy, true);
  assert.equal(await get('/healthz'), 'ok\n');
});

test('SIGTTIN/SIGTTOU are applied in the primary and passed on to both workers', async () => {
  const pids = [proxy.pid, ...childrenOf(proxy.pid)];
  proxy.signal('SIGTTIN');
  await until('3 processes at level 6', () => new Set(lines(proxy.stderr).filter((l) => l.msg === 'up log level to 6').map((l) => l.pid)).size === 3);
  assert.deepEqual([...new Set(lines(proxy.stderr).filter((l) => l.msg === 'up log level to 6').map((l) => l.pid))].sort(), pids.sort());
  proxy.signal('SIGTTOU');
  await until('3 processes back at 5', () => lines(proxy.stderr).filter((l) => l.msg === 'down log level to 5').length === 3);
});

test('kill -9 of a worker: it is restarted, service continues, counters stay exact', async () => {
  const before = childrenOf(proxy.pid);
  const victim = before[0] as number;
  process.kill(victim, 'SIGKILL');
  await until('a replacement worker', () => {
    const now = childrenOf(proxy.pid);
    return now.length === 2 && !now.includes(victim);
  });
  // The primary logs before it forks, but this process may see the new child before the log line arrives.
  const exitLine = new RegExp(`\\(pid ${victim}\\) exited with signal SIGKILL, restarting`);
  await until('the exit logged', () => exitLine.test(proxy.stderr));
  assert.ok(fs.existsSync(sock), 'the unix socket file is still there');
  // Wait until the replacement listens (it reports ready before it is counted in the stats).
  await until('2 workers in /status.json', async () => (JSON.parse(await get('/status.json')) as { workers: number }).workers === 2);
  await traffic('b');
  assertSums(await readStats(proxy.statsPort));
  assert.equal(sent['alpha'], 1600);
});

test('SIGTERM drains an in-flight request, then the primary and both workers exit 0', async () => {
  const workers = childrenOf(proxy.pid);
  assert.equal(workers.length, 2);
  // Hold every alpha backend for a while: the request below is in flight when SIGTERM comes.
  for (const b of redisB) assert.equal(await talk(b.port, resp('CLIENT', 'PAUSE', '1000', 'ALL'), 5), '+OK\r\n');
  const reply = talk(alphaPort, resp('GET', '0:ac0'), '$7\r\nv-0:ac0\r\n'.length);
  await sleep(200);
  const t0 = Date.now();
  proxy.signal('SIGTERM');
  assert.equal(await reply, '$7\r\nv-0:ac0\r\n');
  assert.equal(await proxy.exited, 0);
  assert.ok(Date.now() - t0 < 8000, `exit within 8 s (took ${Date.now() - t0} ms)`);
  for (const w of workers) assert.ok(!alive(w), `worker ${w} gone`);
  const exits = lines(proxy.stderr).filter((l) => / exited with code 0$/.test(l.msg));
  assert.equal(exits.length, 2, 'both workers exited with code 0');
  assert.ok(lines(proxy.stderr).some((l) => l.msg.startsWith('done')));
  assert.equal(fs.existsSync(pidFile), false, 'pid file removed');
  assert.equal(fs.existsSync(sock), false, 'unix socket file removed');
});
