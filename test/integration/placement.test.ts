// Oracle test, routing stage: the real nutcracker and nutmeg run the same many-pool config in front of the
// SAME backends, the same keys go through both, and every key must land on the same backend through both.
//
//   keys ──► nutcracker pool P ──HSET key c:P──► backend b   (redis: one hash per key, one field per proxy+pool)
//        └─► nutmeg     pool P ──HSET key m:P──► backend b'  then read every backend directly: b == b' per key
//
// Memcache does the same with `append key "c:P,"` onto keys pre-set to "" on every backend.
// One proxy process of each kind serves every pool (one pool per hash × distribution, each on its own port).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, startMemcached, startNutmeg, startNutcracker, freePorts, exchange, type Proc, type ProxyProc } from '../helpers/procs';
import { mulberry32 } from '../helpers/prng';

const HASHES = ['one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64', 'fnv1a_64', 'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins'];

type Backend = Proc & { port: number };

interface PoolDef {
  name: string;
  /** Extra directive lines (hash, distribution, hash_tag). */
  lines: string[];
  /** Server lines given the backend ports. */
  servers: (ports: number[]) => string[];
  /** Backend indices (into the backend array) this pool uses. */
  uses: number[];
  /** Check-only pools: random placement cannot be compared key by key. */
  random?: boolean;
  /** Backends that must receive no key at all (0 ketama points). */
  empty?: number[];
  /**
   * No spread expected: crc32 yields 15-bit values, below nearly every ketama point, so (in twemproxy too)
   * nearly every key goes to the server owning the ring's first point; modula with weights 100000,1 likewise.
   */
  narrow?: boolean;
}

// ---- keys ---------------------------------------------------------------------------------------------


/**
 * The key set: empty and 1..16-byte keys (every hash tail length), ASCII, random binary (bytes >= 0x80
 * included), high-byte-only, UTF-8, long keys, and keys with and without `{...}` hash tags.
 * `allowed` maps a random byte into the byte range the protocol accepts in a key.
 */
function makeKeys(seed: number, allowed: (b: number) => number, maxLen: number, allowEmpty: boolean): Buffer[] {
  const rnd = mulberry32(seed);
  const byte = (): number => allowed(Math.floor(rnd() * 256));
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, byte));
  const hi = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => allowed(0x80 + Math.floor(rnd() * 128))));
  const out: Buffer[] = [];
  const s = (t: string): void => void out.push(Buffer.from(t, 'utf8'));
  if (allowEmpty) out.push(Buffer.alloc(0));
  for (const t of ['a', 'z', '0', '~', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh', 'abcdefghi']) s(t);
  for (const t of ['abcdefghij', 'abcdefghijk', 'abcdefghijkl', 'abcdefghijklm', 'abcdefghijklmn', 'abcdefghijklmnop']) s(t);
  for (const b of [0x00, 0x01, 0x7f, 0x80, 0x81, 0xc3, 0xfe, 0xff]) out.push(Buffer.from([allowed(b)]));
  for (let i = 0; i < 100; i++) s(`key:${i}`);
  for (let i = 0; i < 10; i++) s(`key${i}`);
  for (let i = 0; i < 70; i++) out.push(bytes(1 + Math.floor(rnd() * 40)));
  for (let i = 0; i < 25; i++) out.push(hi(1 + Math.floor(rnd() * 20)));
  for (const t of ['ключ', '键', 'clé', 'naïve:1', '🙂', 'Straße']) s(t);
  for (const n of [64, 100, 200, 249, 250, 251, 272, 273, 300, 1000, 4096, 10000]) {
    if (n <= maxLen) out.push(Buffer.concat([Buffer.from(`long${n}:`), bytes(n - `long${n}:`.length)]));
  }
  // Hash-tag shapes (meaningful for hash_tag "{}" pools, ordinary keys elsewhere).
  for (let i = 0; i < 20; i++) s(`{user${i}}:profile`);
  for (let i = 0; i < 20; i++) s(`pre{t${i % 5}}post${i}`);
  for (let i = 0; i < 10; i++) s(`{user${i % 3}}:${i}`);
  for (const t of ['{}', 'a{}b{c}', '{', '}', '}{x}', '{{x}}', 'x{y', 'x}y{z', '{a}', 'q{a}', '{a}q', '{ab}{cd}', '}}{{', '{}x{y}']) s(t);
  for (let i = 0; i < 10; i++) out.push(Buffer.concat([bytes(3), Buffer.from('{'), hi(4), Buffer.from('}'), bytes(3)]));
  for (let i = 0; i < 5; i++) out.push(Buffer.concat([Buffer.from('{'), hi(2 + i), Buffer.from('}')]));
  // Unique, in a stable order.
  const seen = new Set<string>();
  return out.filter((k) => {
    const h = k.toString('hex');
    if (seen.has(h) || k.length > maxLen) return false;
    seen.add(h);
    return true;
  });
}

const REDIS_KEYS = makeKeys(0x5eed, (b) => b, 16000, true);
/** Memcache keys: 1..250 bytes, no space or control bytes. */
const MC_KEYS = makeKeys(0xbeef, (b) => (b <= 0x20 ? 0x21 + b : b === 0x7f ? 0x7e : b), 250, false);

// ---- pools --------------------------------------------------------------------------------------------

/** 4 backends, weights 1,1,2,3, three named and one named `host:port` (names sort as: b, alpha, server10, 127.0.0.1:p). */
const mixed = (ports: number[]): string[] => [
  `127.0.0.1:${ports[0]}:1 alpha`,
  `127.0.0.1:${ports[1]}:1`,
  `127.0.0.1:${ports[2]}:2 server10`,
  `127.0.0.1:${ports[3]}:3 b`,
];
const ALL = [0, 1, 2, 3];

function redisPools(): PoolDef[] {
  const pools: PoolDef[] = [];
  for (const h of HASHES) {
    for (const d of ['ketama', 'modula']) {
      const narrow = h === 'crc32' && d === 'ketama';
      pools.push({ name: `${h}_${d}`, lines: [`hash: ${h}`, `distribution: ${d}`], servers: mixed, uses: ALL, narrow });
      pools.push({ name: `${h}_${d}_tag`, lines: [`hash: ${h}`, `distribution: ${d}`, 'hash_tag: "{}"'], servers: mixed, uses: ALL, narrow });
    }
  }
  pools.push({ name: 'defaults', lines: [], servers: mixed, uses: ALL });
  pools.push({
    name: 'unnamed',
    lines: ['hash: md5', 'distribution: ketama'],
    servers: (p) => p.map((port, i) => `127.0.0.1:${port}:${i + 1}`),
    uses: ALL,
  });
  pools.push({ name: 'dollar_tag', lines: ['hash: murmur', 'hash_tag: "$$"'], servers: mixed, uses: ALL });
  pools.push({ name: 'single', lines: ['hash: md5', 'distribution: ketama'], servers: (p) => [`127.0.0.1:${p[2]}:3 only`], uses: [2] });
  pools.push({ name: 'single_modula', lines: ['hash: crc16', 'distribution: modula'], servers: (p) => [`127.0.0.1:${p[1]}:1`], uses: [1] });
  for (const h of ['hsieh', 'fnv1a_64', 'md5']) {
    pools.push({
      name: `zero_${h}`,
      lines: [`hash: ${h}`, 'distribution: ketama'],
      servers: (p) => [`127.0.0.1:${p[0]}:100000 big`, `127.0.0.1:${p[3]}:1 tiny`],
      uses: [0, 3],
      empty: [3],
    });
  }
  pools.push({
    name: 'zero_modula',
    lines: ['hash: hsieh', 'distribution: modula'],
    servers: (p) => [`127.0.0.1:${p[0]}:100000 big`, `127.0.0.1:${p[3]}:1 tiny`],
    uses: [0, 3],
    narrow: true,
  });
  pools.push({ name: 'random', lines: ['hash: md5', 'distribution: random'], servers: mixed, uses: ALL, random: true });
  pools.push({ name: 'random_tag', lines: ['distribution: random', 'hash_tag: "{}"'], servers: mixed, uses: ALL, random: true });
  return pools;
}

function mcPools(): PoolDef[] {
  const pools: PoolDef[] = [];
  for (const h of HASHES) {
    pools.push({ name: `mc_${h}_ketama`, lines: [`hash: ${h}`, 'distribution: ketama'], servers: mixed, uses: ALL, narrow: h === 'crc32' });
  }
  for (const h of ['md5', 'crc32', 'fnv1a_64', 'hsieh', 'murmur', 'jenkins']) {
    pools.push({ name: `mc_${h}_modula`, lines: [`hash: ${h}`, 'distribution: modula'], servers: mixed, uses: ALL });
  }
  pools.push({ name: 'mc_tag', lines: ['hash: crc32a', 'hash_tag: "{}"'], servers: mixed, uses: ALL });
  pools.push({
    name: 'mc_zero',
    lines: ['hash: hsieh', 'distribution: ketama'],
    servers: (p) => [`127.0.0.1:${p[1]}:100000 big`, `127.0.0.1:${p[2]}:1 tiny`],
    uses: [1, 2],
    empty: [2],
  });
  pools.push({ name: 'mc_single', lines: ['hash: murmur'], servers: (p) => [`127.0.0.1:${p[3]}:1`], uses: [3] });
  pools.push({ name: 'mc_random', lines: ['distribution: random'], servers: mixed, uses: ALL, random: true });
  return pools;
}

function yaml(pools: PoolDef[], ports: number[], redis: boolean, backendPorts: number[]): string {
  const out: string[] = [];
  pools.forEach((p, i) => {
    out.push(`${p.name}:`, `  listen: 127.0.0.1:${ports[i]}`, `  redis: ${redis}`, ...p.lines.map((l) => `  ${l}`), '  servers:');
    for (const s of p.servers(backendPorts)) out.push(`    - ${s}`);
  });
  return out.join('\n') + '\n';
}

// ---- traffic ------------------------------------------------------------------------------------------

function resp(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Sends `cmds` pipelined on one connection; every reply must be exactly `reply` (fixed length). */
async function pipeline(port: number, cmds: Buffer[], reply: string, replyLen: number): Promise<void> {
  const want = cmds.length * replyLen;
  const got = await exchange(port, Buffer.concat(cmds), (b) => b.length >= want, 15000);
  const text = got.data.toString('latin1');
  for (let i = 0; i < cmds.length; i++) {
    const r = text.slice(i * replyLen, (i + 1) * replyLen);
    if (r !== reply) assert.fail(`port ${port}: reply ${i} of ${cmds.length} is ${JSON.stringify(r)} (total ${got.data.length} bytes, closed=${got.closed})`);
  }
}

/** key hex -> backend indices it was found on, per pool and per proxy tag ('c' nutcracker, 'm' nutmeg). */
type Placement = Map<string, Map<string, number[]>>;

function record(pl: Placement, field: string, keyHex: string, backend: number): void {
  let m = pl.get(field);
  if (!m) pl.set(field, (m = new Map()));
  const l = m.get(keyHex);
  if (l) l.push(backend);
  else m.set(keyHex, [backend]);
}

/** Parses `VALUE k f n\r\ndata\r\n... END\r\n` (latin1 text) into key -> data. */
function parseValues(text: string, into: Map<string, string>): void {
  let i = 0;
  for (;;) {
    if (text.startsWith('END\r\n', i)) return;
    const eol = text.indexOf('\r\n', i);
    const m = /^VALUE ([^ ]+) \d+ (\d+)$/.exec(text.slice(i, eol));
    if (!m) throw new Error(`bad memcached reply at ${i}: ${JSON.stringify(text.slice(i, i + 80))}`);
    const n = Number(m[2]);
    into.set(m[1]!, text.slice(eol + 2, eol + 2 + n));
    i = eol + 2 + n + 2;
  }
}

// ---- setup --------------------------------------------------------------------------------------------

const R_POOLS = redisPools();
const M_POOLS = mcPools();
let redisB: Backend[] = [];
let mcB: Backend[] = [];
const procs: ProxyProc[] = [];
const redisPl: Placement = new Map();
const mcPl: Placement = new Map();

before(async () => {
  [redisB, mcB] = await Promise.all([Promise.all(ALL.map(() => startRedis())), Promise.all(ALL.map(() => startMemcached()))]);
  const rp = redisB.map((b) => b.port);
  const mp = mcB.map((b) => b.port);
  const n = R_POOLS.length + M_POOLS.length;
  const ports = await freePorts(2 * n);
  const ncPorts = ports.slice(0, n);
  const nmPorts = ports.slice(n);
  const conf = (lp: number[]): string => yaml(R_POOLS, lp, true, rp) + yaml(M_POOLS, lp.slice(R_POOLS.length), false, mp);
  procs.push(await startNutcracker(conf(ncPorts), ncPorts));
  procs.push(await startNutmeg(conf(nmPorts), nmPorts));

  // Memcache: every key exists (empty) on every backend, so `append` through a proxy works wherever it lands.
  await Promise.all(
    mcB.map((b) => pipeline(b.port, MC_KEYS.map((k) => Buffer.concat([Buffer.from('set '), k, Buffer.from(' 0 0 0\r\n\r\n')])), 'STORED\r\n', 8)),
  );

  const sends: Promise<void>[] = [];
  for (const [tag, lp] of [['c', ncPorts], ['m', nmPorts]] as const) {
    R_POOLS.forEach((p, i) => {
      const field = Buffer.from(`${tag}:${p.name}`);
      sends.push(pipeline(lp[i]!, REDIS_KEYS.map((k) => resp([Buffer.from('HSET'), k, field, Buffer.from('1')])), ':1\r\n', 4));
    });
    M_POOLS.forEach((p, i) => {
      const v = `${tag}:${p.name},`;
      const cmds = MC_KEYS.map((k) => Buffer.concat([Buffer.from('append '), k, Buffer.from(` 0 0 ${v.length}\r\n${v}\r\n`)]));
      sends.push(pipeline(lp[R_POOLS.length + i]!, cmds, 'STORED\r\n', 8));
    });
  }
  await Promise.all(sends);

  // Where did every key go? Read each backend directly.
  await Promise.all(
    redisB.map(async (b, bi) => {
      const r = new Redis({ port: b.port, lazyConnect: false });
      try {
        const keys = await r.keysBuffer('*');
        const p = r.pipeline();
        for (const k of keys) p.hkeys(k);
        const res = (await p.exec()) ?? [];
        keys.forEach((k, i) => {
          const [err, fields] = res[i] ?? [null, []];
          assert.equal(err, null);
          for (const f of fields as string[]) record(redisPl, f, k.toString('hex'), bi);
        });
      } finally {
        r.disconnect();
      }
    }),
  );
  await Promise.all(
    mcB.map(async (b, bi) => {
      const values = new Map<string, string>();
      for (let i = 0; i < MC_KEYS.length; i += 40) {
        const batch = MC_KEYS.slice(i, i + 40);
        const get = Buffer.concat([Buffer.from('get'), ...batch.flatMap((k) => [Buffer.from(' '), k]), Buffer.from('\r\n')]);
        const got = await exchange(b.port, get, (r) => r.toString('latin1').endsWith('END\r\n'));
        parseValues(got.data.toString('latin1'), values);
      }
      for (const [k, v] of values) {
        for (const f of v.split(',')) if (f !== '') record(mcPl, f, Buffer.from(k, 'latin1').toString('hex'), bi);
      }
    }),
  );
});

after(async () => {
  for (const p of procs) await p.stop();
  await Promise.all([...redisB, ...mcB].map((b) => b.stop()));
});

// ---- checks -------------------------------------------------------------------------------------------

function placementOf(pl: Placement, field: string, keys: Buffer[]): number[] {
  const m = pl.get(field) ?? new Map<string, number[]>();
  return keys.map((k) => {
    const at = m.get(k.toString('hex')) ?? [];
    assert.equal(at.length, 1, `${field}: key ${k.toString('hex')} found on backends [${at.join(',')}], expected exactly one`);
    return at[0]!;
  });
}

function check(pl: Placement, p: PoolDef, keys: Buffer[]): void {
  const nc = placementOf(pl, `c:${p.name}`, keys);
  const nm = placementOf(pl, `m:${p.name}`, keys);
  for (const [who, where] of [['nutcracker', nc], ['nutmeg', nm]] as const) {
    const counts = ALL.map((b) => where.filter((x) => x === b).length);
    for (const b of ALL) {
      if (!p.uses.includes(b)) assert.equal(counts[b], 0, `${who} ${p.name}: backend ${b} is not in the pool`);
    }
    for (const b of p.empty ?? []) assert.equal(counts[b], 0, `${who} ${p.name}: a server with 0 ketama points got keys`);
    if (p.uses.length > 1 && !p.empty && !p.narrow) {
      assert.ok(counts.filter((c) => (c ?? 0) > 0).length >= 2, `${who} ${p.name}: keys not spread: ${counts.join(',')}`);
    }
    if (p.random || p.uses.length === 1) {
      for (const b of p.uses) assert.ok((counts[b] ?? 0) > 0, `${who} ${p.name}: backend ${b} got no keys: ${counts.join(',')}`);
    }
  }
  if (p.random) return;
  const diff: string[] = [];
  keys.forEach((k, i) => {
    if (nc[i] !== nm[i]) diff.push(`${k.toString('hex')}: nutcracker ${nc[i]} nutmeg ${nm[i]}`);
  });
  assert.deepEqual(diff.slice(0, 10), [], `${p.name}: ${diff.length} of ${keys.length} keys placed differently`);
}

test('key sets cover the interesting shapes', () => {
  assert.ok(REDIS_KEYS.length >= 300, `${REDIS_KEYS.length}`);
  assert.ok(MC_KEYS.length >= 300, `${MC_KEYS.length}`);
  assert.ok(REDIS_KEYS.some((k) => k.length === 0));
  assert.ok(REDIS_KEYS.filter((k) => k.some((b) => b >= 0x80)).length > 50);
  assert.ok(MC_KEYS.filter((k) => k.some((b) => b >= 0x80)).length > 50);
  assert.ok(MC_KEYS.every((k) => k.length >= 1 && k.length <= 250 && k.every((b) => b > 0x20 && b !== 0x7f)));
});

for (const p of R_POOLS) {
  test(`redis placement: ${p.name}`, () => check(redisPl, p, REDIS_KEYS));
}
for (const p of M_POOLS) {
  test(`memcache placement: ${p.name}`, () => check(mcPl, p, MC_KEYS));
}
