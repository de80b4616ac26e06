// Oracle test, stats stage: the real nutcracker and nutmeg run the same config in front of the same backends,
// get the same traffic, and must serve the same stats document (keys, order, layout, per-server counts),
// the same `-D` description and the same `-t` exit codes.
//
// Known, intended difference: twemproxy declares the pool counter `fragments` but never increments it (always 0);
// nutmeg counts one per sub-request sent for a multi-key request (MGET/DEL/... and memcache multi-key get).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  startRedis,
  startMemcached,
  startNutmeg,
  startNutcracker,
  freePorts,
  exchange,
  readStats,
  readStatsRaw,
  sleep,
  tmpDir,
  NUTMEG_BIN,
  type Backend,
  type ProxyProc,
} from '../helpers/procs';
import { resp } from '../helpers/resp';
import { OWN_POOL_STATS as OWN_POOL_STAT_DESCS } from '../../src/stats/descriptions';

type Obj = Record<string, unknown>;

const VOLATILE = new Set(['source', 'uptime', 'timestamp', 'version']);
/** nutmeg's own pool counters: in each pool object, after twemproxy's counters and before the servers. */
const OWN_POOL_STATS = OWN_POOL_STAT_DESCS.map((d) => d.name);

let redisB: Backend[] = [];
let mcB: Backend[] = [];
let nc: ProxyProc;
let nm: ProxyProc;
let ncPorts: number[] = [];
let nmPorts: number[] = [];
let conf = '';
/** Replies each proxy gave to the same traffic: [redis, memcache]. */
const replies: { nc: Buffer[]; nm: Buffer[] } = { nc: [], nm: [] };
/** Sub-requests (distinct servers) of the redis MGET and of the memcache multi-key get. */
let mgetServers = 0;
let mcGetServers = 0;
let ncStats: Obj = {};
let nmStats: Obj = {};
let ncRaw = '';
let nmRaw = '';

function yaml(ports: number[]): string {
  const [r0, r1] = redisB.map((b) => b.port);
  return [
    'alpha:',
    `  listen: 127.0.0.1:${ports[0]}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: true',
    '  timeout: 2000',
    '  servers:',
    `    - 127.0.0.1:${r0}:1 server1`,
    `    - 127.0.0.1:${r1}:1 server2`,
    ...beta(ports[1]!),
    // A pool nobody sends to: idle counters and never-connected servers must look the same too.
    'zz:',
    `  listen: 127.0.0.1:${ports[2]}`,
    '  redis: true',
    '  servers:',
    `    - 127.0.0.1:${r1}:1`,
    '',
  ].join('\n');
}

/** The memcache pool: one server named `host:port` (port-dependent placement), one named. */
function beta(port: number): string[] {
  const [m0, m1] = mcB.map((b) => b.port);
  return ['beta:', `  listen: 127.0.0.1:${port}`, '  hash: md5', '  redis: false', '  timeout: 2000', '  servers:', `    - 127.0.0.1:${m0}:1`, `    - 127.0.0.1:${m1}:2 mc`];
}

// Keys vary at the front: fnv1a_64 (32-bit FNV, multiplier 0x1b3) clusters keys that differ only in the last byte.
const R_KEYS = Array.from({ length: 10 }, (_, i) => `${i}:stats:key`);
/** Memcache keys, chosen in before() so that 3 land on each server (the unnamed server's name holds its port). */
let M_KEYS: string[] = [];

/** 10 SET + 10 GET + one 10-key MGET. */
function redisTraffic(): string {
  return R_KEYS.map((k, i) => resp('SET', k, `value-${i}`)).join('') + R_KEYS.map((k) => resp('GET', k)).join('') + resp('MGET', ...R_KEYS);
}
function redisReplyLen(): number {
  const vals = R_KEYS.map((_, i) => `$${`value-${i}`.length}\r\nvalue-${i}\r\n`).join('');
  return 10 * '+OK\r\n'.length + 2 * Buffer.byteLength(vals) + `*10\r\n`.length;
}

/** 6 set + 6 get + one 6-key get + a delete of a missing key; ends with END of the multi-get then NOT_FOUND. */
function mcTraffic(): string {
  return (
    M_KEYS.map((k, i) => `set ${k} ${i} 0 ${`v${i}`.length}\r\nv${i}\r\n`).join('') +
    M_KEYS.map((k) => `get ${k}\r\n`).join('') +
    `get ${M_KEYS.join(' ')}\r\n` +
    'delete nosuchkey\r\n'
  );
}

async function drive(redisPort: number, mcPort: number): Promise<Buffer[]> {
  const want = redisReplyLen();
  const r = await exchange(redisPort, redisTraffic(), (b) => b.length >= want);
  const m = await exchange(mcPort, mcTraffic(), (b) => b.toString('latin1').endsWith('NOT_FOUND\r\n'));
  return [r.data, m.data];
}

/** Number of distinct backends (of `backends`, read directly) holding at least one of `keys`. */
async function serversHolding(keys: string[], redis: boolean, backends: Backend[]): Promise<number> {
  let n = 0;
  for (const b of backends) {
    const q = redis ? resp('EXISTS', ...keys) : `get ${keys.join(' ')}\r\n`;
    const got = await exchange(b.port, q, (d) => d.toString().endsWith('\r\n') && (redis || d.toString().endsWith('END\r\n')));
    const text = got.data.toString();
    const has = redis ? text !== ':0\r\n' : text !== 'END\r\n';
    if (has) n++;
  }
  return n;
}

/** Places 40 candidate keys through a throw-away nutcracker running pool beta alone; returns 3 keys per server. */
async function pickMemcacheKeys(port: number): Promise<string[]> {
  const cand = Array.from({ length: 40 }, (_, i) => `mkey${i}`);
  const probe = await startNutcracker(beta(port).join('\n') + '\n', [port]);
  try {
    await exchange(port, cand.map((k) => `set ${k} 0 0 1\r\nx\r\n`).join(''), (b) => b.length >= 8 * cand.length);
  } finally {
    await probe.stop();
  }
  const picked: string[] = [];
  for (const b of mcB) {
    const got = (await exchange(b.port, `get ${cand.join(' ')}\r\n`, (d) => d.toString().endsWith('END\r\n'))).data.toString();
    const held = cand.filter((k) => got.includes(`VALUE ${k} `));
    assert.ok(held.length >= 3, `probe: server ${b.port} holds ${held.length} of 40 keys`);
    picked.push(...held.slice(0, 3));
    await exchange(b.port, cand.map((k) => `delete ${k}\r\n`).join(''), (d) => d.toString().split('\r\n').length > cand.length);
  }
  return picked;
}

before(async () => {
  [redisB, mcB] = await Promise.all([Promise.all([startRedis(), startRedis()]), Promise.all([startMemcached(), startMemcached()])]);
  const ports = await freePorts(7);
  M_KEYS = await pickMemcacheKeys(ports[6]!);
  ncPorts = ports.slice(0, 3);
  nmPorts = ports.slice(3, 6);
  conf = yaml(ncPorts);
  nc = await startNutcracker(yaml(ncPorts), ncPorts);
  nm = await startNutmeg(yaml(nmPorts), nmPorts);
  // The same traffic through each proxy in turn (same backends, same values, so the same replies).
  replies.nc = await drive(ncPorts[0]!, ncPorts[1]!);
  replies.nm = await drive(nmPorts[0]!, nmPorts[1]!);
  mgetServers = await serversHolding(R_KEYS, true, redisB);
  mcGetServers = await serversHolding(M_KEYS, false, mcB);
  await sleep(1200);
  [ncStats, nmStats, ncRaw, nmRaw] = await Promise.all([readStats(nc.statsPort), readStats(nm.statsPort), readStatsRaw(nc.statsPort), readStatsRaw(nm.statsPort)]);
});

after(async () => {
  await Promise.all([nc?.stop(), nm?.stop()]);
  await Promise.all([...redisB, ...mcB].map((b) => b.stop()));
});

function objects(o: Obj): [string, Obj][] {
  return Object.entries(o).filter((e): e is [string, Obj] => typeof e[1] === 'object' && e[1] !== null);
}

test('both proxies gave the same replies to the same traffic', () => {
  assert.equal(replies.nc[0]!.length, redisReplyLen());
  assert.equal(replies.nm[0]!.toString('latin1'), replies.nc[0]!.toString('latin1'));
  assert.match(replies.nc[1]!.toString(), /END\r\nNOT_FOUND\r\n$/);
  assert.equal(replies.nm[1]!.toString('latin1'), replies.nc[1]!.toString('latin1'));
});

test('the multi-key requests were spread over both servers of their pool', () => {
  assert.equal(mgetServers, 2);
  assert.equal(mcGetServers, 2);
});

test("same key order at the top level, per pool and per server (nutmeg's own pool counters after twemproxy's)", () => {
  assert.deepEqual(Object.keys(nmStats), Object.keys(ncStats));
  for (const [pool, ncPool] of objects(ncStats)) {
    const nmPool = nmStats[pool] as Obj;
    const ncKeys = Object.keys(ncPool);
    const counters = ncKeys.filter((k) => typeof ncPool[k] !== 'object');
    assert.deepEqual(Object.keys(nmPool), [...counters, ...OWN_POOL_STATS, ...ncKeys.slice(counters.length)], `pool ${pool}`);
    for (const k of OWN_POOL_STATS) assert.equal(nmPool[k], 0, `${pool} ${k}`);
    for (const [server, ncServer] of objects(ncPool)) {
      assert.deepEqual(Object.keys(nmPool[server] as Obj), Object.keys(ncServer), `server ${pool}/${server}`);
    }
  }
  assert.deepEqual(
    objects(ncStats).map(([p]) => p),
    ['zz', 'beta', 'alpha'],
  );
  assert.deepEqual(Object.keys(ncStats.beta as Obj).slice(6), ['mc', `127.0.0.1:${mcB[0]!.port}`]);
});

test('same values everywhere except source/uptime/timestamp/version and fragments', () => {
  for (const [k, v] of Object.entries(ncStats)) {
    if (VOLATILE.has(k) || typeof v === 'object') continue;
    assert.equal(nmStats[k], v, `top-level ${k}`);
  }
  assert.equal(nmStats.service, 'nutcracker');
  assert.equal(nmStats.version, ncStats.version);
  for (const [pool, ncPool] of objects(ncStats)) {
    const nmPool = nmStats[pool] as Obj;
    for (const [k, v] of Object.entries(ncPool)) {
      if (typeof v === 'object') {
        assert.deepEqual(nmPool[k], v, `server ${pool}/${k}`);
      } else if (k !== 'fragments') {
        assert.equal(nmPool[k], v, `pool ${pool} ${k}`);
      }
    }
  }
});

test('per-server requests, responses and bytes add up to the traffic sent', () => {
  const sum = (s: Obj, pool: string, f: string): number => objects(s[pool] as Obj).reduce((a, [, o]) => a + (o[f] as number), 0);
  for (const s of [ncStats, nmStats]) {
    // 10 SET + 10 GET + one MGET fragment per server (the test suite's Σ requests = Σ responses = 22).
    assert.equal(sum(s, 'alpha', 'requests'), 20 + mgetServers);
    assert.equal(sum(s, 'alpha', 'responses'), 20 + mgetServers);
    assert.equal(sum(s, 'beta', 'requests'), 12 + mcGetServers + 1);
    assert.equal(sum(s, 'beta', 'responses'), 12 + mcGetServers + 1);
    assert.equal(sum(s, 'zz', 'requests'), 0);
    for (const pool of ['alpha', 'beta']) {
      for (const [server, o] of objects(s[pool] as Obj)) {
        for (const f of ['requests', 'request_bytes', 'responses', 'response_bytes']) {
          assert.equal(o[f], ((nmStats[pool] as Obj)[server] as Obj)[f], `${pool}/${server} ${f}`);
          assert.equal(o[f], ((ncStats[pool] as Obj)[server] as Obj)[f], `${pool}/${server} ${f}`);
        }
      }
    }
  }
});

test('fragments: nutcracker never counts them (always 0), nutmeg counts one per sub-request', () => {
  for (const pool of ['alpha', 'beta', 'zz']) assert.equal((ncStats[pool] as Obj).fragments, 0, pool);
  assert.equal((nmStats.alpha as Obj).fragments, mgetServers);
  assert.equal((nmStats.beta as Obj).fragments, mcGetServers);
  assert.equal((nmStats.zz as Obj).fragments, 0);
});

test("same raw layout: separators, spacing and terminator (with nutmeg's own pool counters taken out)", () => {
  const norm = (raw: string): string => raw.replace(/"source":"[^"]*"/, '"source":"HOST"').replace(/\d+/g, '0');
  const own = new RegExp(`, "(?:${OWN_POOL_STATS.join('|')})":\\d+`, 'g');
  assert.ok(ncRaw.endsWith('}}}\n'));
  assert.ok(own.exec(nmRaw) !== null);
  assert.equal(norm(nmRaw.replace(own, '')), norm(ncRaw));
});

function run(cmd: string, args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Everything after the banner (the banner ends at the first empty line). */
function afterBanner(text: string): string {
  const i = text.indexOf('\n\n');
  return i < 0 ? text : text.slice(i + 2);
}

test('-D: same stats description after the banner, exit 0', () => {
  const a = run('nutcracker', ['-D']);
  const b = run(process.execPath, [NUTMEG_BIN, '-D']);
  assert.equal(a.status, 0);
  assert.equal(b.status, 0, b.stderr);
  assert.match(a.stderr, /^This is nutcracker-0\.5\.0\n/);
  assert.match(b.stderr, /^This is nutmeg-/);
  assert.match(afterBanner(a.stderr), /^pool stats:\n {2}client_eof {10}"# eof on client connections"\n/);
  const ownLines = OWN_POOL_STAT_DESCS.map((d) => `  ${d.name.padEnd(20)}"${d.desc}"\n`).join('');
  assert.equal(afterBanner(b.stderr), afterBanner(a.stderr).replace('\n\nserver stats:', `\n${ownLines}\nserver stats:`));
  assert.equal(b.stdout, a.stdout);
});

test('-t: same exit codes on a good and a bad config', () => {
  const dir = tmpDir();
  const good = path.join(dir, 'good.yml');
  const bad = path.join(dir, 'bad.yml');
  fs.writeFileSync(good, conf);
  fs.writeFileSync(bad, conf.replace('hash: md5', 'hash: md6'));
  for (const [file, status, word] of [[good, 0, 'ok'], [bad, 1, 'invalid']] as const) {
    const a = run('nutcracker', ['-t', '-c', file]);
    const b = run(process.execPath, [NUTMEG_BIN, '-t', '-c', file]);
    assert.equal(a.status, status, a.stderr);
    assert.equal(b.status, status, b.stderr);
    assert.ok(a.stderr.includes(`configuration file '${file}' syntax is ${word}`), a.stderr);
    assert.ok(b.stderr.includes(`configuration file '${file}' syntax is ${word}`), b.stderr);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
