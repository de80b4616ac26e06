// Distributions and routing: ketama point counts and hashes (spec §3.4, C unit test), routing decisions observed
// on the real twemproxy binary (Appendix B), modula and random, hash tags (§3.1) and the Router's steps 2-5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ketama, Modula, RandomDist, createDistribution, ketamaHash, ketamaPointCounts } from '../../src/route/dist/index';
import type { DistServer } from '../../src/route/dist/index';
import { TAG, hashTagRange } from '../../src/route/hash-tag';
import { HASHES } from '../../src/route/hash/index';
import { Router, type RouterOptions } from '../../src/route/router';

const key = (s: string): Buffer => Buffer.from(s, 'latin1');

function routeNames(opts: RouterOptions, keys: readonly string[]): string[] {
  const r = new Router(opts);
  return keys.map((k) => {
    const b = key(k);
    const i = r.route(b, 0, b.length);
    const s = opts.servers[i];
    assert.ok(s !== undefined, `index ${i} for ${k}`);
    return s.name;
  });
}

function equalServers(n: number): DistServer[] {
  return Array.from({ length: n }, (_, i) => ({ name: `server${i}`, weight: 1, index: i }));
}

// ---- ketama point counts ------------------------------------------------------------------------------------

test('ketama: equal weights give 160 points per server, except 156 for n = 25, 47, 50, 55, 61, 71, 94, 100', () => {
  const short = new Set([25, 47, 50, 55, 61, 71, 94, 100]);
  for (let n = 1; n <= 100; n++) {
    const counts = ketamaPointCounts(new Array<number>(n).fill(1));
    const expected = short.has(n) ? 156 : 160;
    assert.deepEqual(counts, new Array<number>(n).fill(expected), `n = ${n}`);
  }
});

test('ketama: weighted point counts', () => {
  assert.deepEqual(ketamaPointCounts([1, 2, 5]), [60, 120, 300]);
  assert.deepEqual(ketamaPointCounts([3, 3, 3, 7, 1, 1, 1]), [176, 176, 176, 412, 56, 56, 56]);
  assert.deepEqual(ketamaPointCounts([100000, 1]), [316, 0]);
});

test('ketama: continuum holds the sum of the point counts, sorted ascending', () => {
  const k = new Ketama();
  k.build([
    { name: 'a', weight: 3, index: 0 }, { name: 'b', weight: 3, index: 1 }, { name: 'c', weight: 3, index: 2 },
    { name: 'd', weight: 7, index: 3 }, { name: 'e', weight: 1, index: 4 }, { name: 'f', weight: 1, index: 5 },
    { name: 'g', weight: 1, index: 6 },
  ]);
  assert.equal(k.points, 1108);
  const k2 = new Ketama();
  k2.build(equalServers(25));
  assert.equal(k2.points, 25 * 156);
  // Zero-point server never receives a key.
  const k3 = new Ketama();
  k3.build([{ name: 'big', weight: 100000, index: 0 }, { name: 'tiny', weight: 1, index: 1 }]);
  assert.equal(k3.points, 316);
  for (let h = 0; h < 2 ** 32; h += 0x10001 * 97) assert.equal(k3.dispatch(h), 0);
  assert.equal(k3.dispatch(0xffffffff), 0);
});

test('ketama_hash vectors from the C unit test (server1-8)', () => {
  const b = key('server1-8');
  assert.equal(ketamaHash(b, 0, b.length, 0), 3853726576);
  assert.equal(ketamaHash(b, 0, b.length, 3), 2667054752);
});

test('ketama dispatch: first point >= hash, wrapping past the last point', () => {
  const k = new Ketama();
  k.build([{ name: 'only', weight: 1, index: 7 }, { name: 'other', weight: 1, index: 9 }]);
  // Reconstruct the sorted continuum independently and compare at and around every point.
  const pts: { v: number; s: number }[] = [];
  for (const [name, index] of [['only', 7], ['other', 9]] as const) {
    for (let j = 0; j < 40; j++) {
      const b = key(`${name}-${j}`);
      for (let a = 0; a < 4; a++) pts.push({ v: ketamaHash(b, 0, b.length, a), s: index });
    }
  }
  pts.sort((x, y) => x.v - y.v);
  assert.equal(k.points, 320);
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  assert.equal(k.dispatch(0), first.s);
  assert.equal(k.dispatch(last.v), last.s);
  assert.equal(k.dispatch(last.v + 1), first.s); // wrap
  for (let i = 1; i < pts.length; i++) {
    const p = pts[i]!;
    assert.equal(k.dispatch(p.v), p.s);
    assert.equal(k.dispatch(pts[i - 1]!.v + 1), p.s);
  }
});

test('ketama: names longer than 272 bytes are truncated before hashing', () => {
  const longA = 'x'.repeat(300);
  const longB = 'x'.repeat(280);
  const a = new Ketama();
  a.build([{ name: longA, weight: 1, index: 0 }, { name: 'y', weight: 1, index: 1 }]);
  const b = new Ketama();
  b.build([{ name: longB, weight: 1, index: 0 }, { name: 'y', weight: 1, index: 1 }]);
  // "<name>-<j>" truncated to 272 bytes is all x for both, so every point (and every lookup) is the same.
  for (let h = 0; h < 2 ** 32; h += 0x1000193) assert.equal(a.dispatch(h), b.dispatch(h));
});

test('empty distributions dispatch -1', () => {
  for (const name of ['ketama', 'modula', 'random'] as const) {
    const d = createDistribution(name);
    d.build([]);
    assert.equal(d.dispatch(12345), -1, name);
  }
});

// ---- routing observed on the real binary (Appendix B) -------------------------------------------------------

const KEY0_7 = ['key0', 'key1', 'key2', 'key3', 'key4', 'key5', 'key6', 'key7'];

test('real binary: fnv1a_64/ketama, alpha beta gamma -> key0..key7 all on beta', () => {
  const servers = [{ name: 'beta', weight: 1 }, { name: 'alpha', weight: 1 }, { name: 'gamma', weight: 1 }];
  const got = routeNames({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers }, KEY0_7);
  assert.deepEqual(got, new Array<string>(8).fill('beta'));
});

test('real binary: fnv1a_64/ketama, weights 1,2,5 -> key0..key7 all on 127.0.0.1:7803', () => {
  const servers = [
    { name: '127.0.0.1:7801', weight: 1 }, { name: '127.0.0.1:7802', weight: 2 }, { name: '127.0.0.1:7803', weight: 5 },
  ];
  const got = routeNames({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers }, KEY0_7);
  assert.deepEqual(got, new Array<string>(8).fill('127.0.0.1:7803'));
});

test('real binary: md5/ketama with an 11211 server named by host only', () => {
  const servers = [
    { name: '127.0.0.2', weight: 1 }, // 127.0.0.2:11211, sorts first (shorter)
    { name: '127.0.0.1:7801', weight: 1 }, { name: '127.0.0.1:7802', weight: 1 }, { name: '127.0.0.1:7803', weight: 1 },
  ];
  const got = routeNames({ hash: 'md5', distribution: 'ketama', hashTag: null, servers }, ['key0', 'key1', 'key2', 'key3']);
  assert.deepEqual(got, ['127.0.0.1:7803', '127.0.0.1:7801', '127.0.0.1:7803', '127.0.0.1:7802']);
});

test('real binary: crc32a/modula over b, zeta, server9, server10(w2)', () => {
  const servers = [{ name: 'b', weight: 1 }, { name: 'zeta', weight: 1 }, { name: 'server9', weight: 1 }, { name: 'server10', weight: 2 }];
  const got = routeNames({ hash: 'crc32a', distribution: 'modula', hashTag: null, servers }, ['key0', 'key1', 'key2', 'key3']);
  assert.deepEqual(got, ['server10', 'zeta', 'server10', 'b']);
});

test('real binary: test-suite pool fnv1a_64/modula redis-2100, redis-2101', () => {
  const servers = [{ name: 'redis-2100', weight: 1 }, { name: 'redis-2101', weight: 1 }];
  const got = routeNames({ hash: 'fnv1a_64', distribution: 'modula', hashTag: null, servers }, ['key-1', 'key-2', 'key-3']);
  assert.deepEqual(got, ['redis-2100', 'redis-2101', 'redis-2100']);
});

// ---- modula and random --------------------------------------------------------------------------------------

test('modula: continuum is each live server repeated weight times, indexed by hash % total weight', () => {
  const m = new Modula();
  m.build([{ name: 'b', weight: 1, index: 0 }, { name: 'zeta', weight: 1, index: 1 }, { name: 's9', weight: 1, index: 2 }, { name: 's10', weight: 2, index: 3 }]);
  // 0xffffffff % 5 = 0 and 0xfffffffe % 5 = 4
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 0xffffffff, 0xfffffffe].map((h) => m.dispatch(h)), [0, 1, 2, 3, 3, 0, 1, 0, 3]);
});

test('modula: large total weights (cumulative search) agree with the flat continuum', () => {
  const servers: DistServer[] = [{ name: 'a', weight: 40000, index: 2 }, { name: 'b', weight: 1, index: 5 }, { name: 'c', weight: 60000, index: 6 }];
  const m = new Modula();
  m.build(servers);
  const flat: number[] = [];
  for (const s of servers) for (let i = 0; i < s.weight; i++) flat.push(s.index);
  for (const h of [0, 1, 39999, 40000, 40001, 100000, 100001, 140000, 2 ** 32 - 1, 123456789]) {
    assert.equal(m.dispatch(h), flat[h % flat.length], `hash ${h}`);
  }
});

test('random: picks only live servers, and all of them', () => {
  const r = new RandomDist();
  r.build([{ name: 'a', weight: 1, index: 1 }, { name: 'b', weight: 9, index: 4 }, { name: 'c', weight: 1, index: 6 }]);
  const seen = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    const s = r.dispatch(0);
    seen.set(s, (seen.get(s) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), [1, 4, 6]);
  for (const c of seen.values()) assert.ok(c > 800 && c < 1200, `count ${c}`); // uniform, weight ignored
});

// ---- hash tags -----------------------------------------------------------------------------------------------

const L = '{'.charCodeAt(0);
const R = '}'.charCodeAt(0);
const D = '$'.charCodeAt(0);

function tag(s: string, left: number, right: number): [boolean, string] {
  const b = Buffer.from(`##${s}##`, 'latin1'); // range inside a bigger buffer
  const found = hashTagRange(b, 2, b.length - 2, left, right);
  return [found, b.toString('latin1', TAG.start, TAG.end)];
}

test('hash tag: bytes between the first L and the first R after it', () => {
  assert.deepEqual(tag('{user1}a', L, R), [true, 'user1']);
  assert.deepEqual(tag('x{user1}', L, R), [true, 'user1']);
  assert.deepEqual(tag('a{b{c}d}', L, R), [true, 'b{c']);
  assert.deepEqual(tag('a{}b{c}', L, R), [false, 'a{}b{c}']); // only the first L counts; empty tag -> whole key
  assert.deepEqual(tag('{abc', L, R), [false, '{abc']); // no closing tag
  assert.deepEqual(tag('}a{', L, R), [false, '}a{']); // R only before L
  assert.deepEqual(tag('plain', L, R), [false, 'plain']);
  assert.deepEqual(tag('', L, R), [false, '']);
  assert.deepEqual(tag('a$x$b', D, D), [true, 'x']);
  assert.deepEqual(tag('$$b', D, D), [false, '$$b']);
  assert.deepEqual(tag('a$xy', D, D), [false, 'a$xy']);
  assert.deepEqual(tag('$ab$cd$', D, D), [true, 'ab']);
});

test('hash tag: the search stays within [start, end)', () => {
  const b = Buffer.from('{ab}', 'latin1');
  assert.equal(hashTagRange(b, 0, 3, L, R), false); // '}' is at index 3, outside the range
  assert.deepEqual([TAG.start, TAG.end], [0, 3]);
  assert.equal(hashTagRange(b, 1, 4, L, R), false); // '{' is at index 0, outside the range
  assert.deepEqual([TAG.start, TAG.end], [1, 4]);
});

// ---- Router steps 2-5 ---------------------------------------------------------------------------------------

function serversN(n: number): { name: string; weight: number }[] {
  return Array.from({ length: n }, (_, i) => ({ name: `127.0.0.1:${7000 + i}`, weight: 1 }));
}

test('router: keys with the same hash tag go to the same server, and the tag alone is hashed', () => {
  const opts: RouterOptions = { hash: 'fnv1a_32', distribution: 'modula', hashTag: Buffer.from('{}'), servers: serversN(7) };
  const r = new Router(opts);
  const plain = new Router({ ...opts, hashTag: null });
  const user1 = key('user1');
  const expected = plain.route(user1, 0, user1.length);
  for (const k of ['{user1}a', '{user1}b', 'zz{user1}', '{user1}{x}']) {
    const b = key(k);
    assert.equal(r.route(b, 0, b.length), expected, k);
  }
  // Whole-key fallbacks hash the whole key.
  for (const k of ['a{}b{c}', '{abc', 'plainkey']) {
    const b = key(k);
    assert.equal(r.route(b, 0, b.length), plain.route(b, 0, b.length), k);
    assert.equal(r.route(b, 0, b.length), HASHES.fnv1a_32(b, 0, b.length) % 7, k);
  }
});

test('router: empty key (or empty after tag extraction) dispatches hash 0', () => {
  const servers = serversN(5);
  const r = new Router({ hash: 'md5', distribution: 'modula', hashTag: Buffer.from('$$'), servers });
  // md5 of '' is not 0 mod 5 (3649838548 % 5 = 3), so this tells hash 0 from hashing the empty string.
  assert.equal(3649838548 % 5, 3);
  const b = key('abc');
  assert.equal(r.route(b, 1, 1), 0);
  const k = new Ketama();
  k.build(servers.map((s, index) => ({ ...s, index })));
  const rk = new Router({ hash: 'md5', distribution: 'ketama', hashTag: null, servers });
  assert.equal(rk.route(b, 2, 2), k.dispatch(0));
});

test('router: a one-server pool routes everything to 0 without hashing', () => {
  const real = HASHES.crc16;
  let calls = 0;
  HASHES.crc16 = (buf, start, end) => {
    calls++;
    return real(buf, start, end);
  };
  try {
    const r = new Router({ hash: 'crc16', distribution: 'ketama', hashTag: Buffer.from('{}'), servers: [{ name: 'solo', weight: 1 }] });
    for (const k of ['', 'a', '{x}', 'anything at all']) {
      const b = key(k);
      assert.equal(r.route(b, 0, b.length), 0, k);
    }
    assert.equal(calls, 0);
    // The same spy does see calls from a two-server pool, so the count above is meaningful.
    const r2 = new Router({ hash: 'crc16', distribution: 'ketama', hashTag: null, servers: serversN(2) });
    const b = key('a');
    r2.route(b, 0, b.length);
    assert.equal(calls, 1);
  } finally {
    HASHES.crc16 = real;
  }
});

test('router over a live subset keeps original indices; ketama moves only keys of the removed server', () => {
  const servers = serversN(4);
  const opts = { hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers } as const;
  const r = new Router(opts);
  const keys = Array.from({ length: 2000 }, (_, i) => key(`user:${i * 7919}`));
  const before = keys.map((b) => r.route(b, 0, b.length));
  assert.deepEqual([...new Set(before)].sort(), [0, 1, 2, 3]);
  const r1 = new Router(opts, [true, false, true, true]);
  const after = keys.map((b) => r1.route(b, 0, b.length));
  let moved = 0;
  for (let i = 0; i < keys.length; i++) {
    assert.notEqual(after[i], 1);
    if (before[i] !== 1) assert.equal(after[i], before[i]);
    else moved++;
  }
  assert.ok(moved > 0);
  const none = new Router(opts, [false, false, false, false]);
  assert.equal(none.route(keys[0]!, 0, keys[0]!.length), -1);
  const all = new Router(opts, [true, true, true, true]);
  assert.deepEqual(keys.map((b) => all.route(b, 0, b.length)), before);
});

test('router: modula over live servers uses their weights and original indices', () => {
  const servers = [{ name: 'b', weight: 1 }, { name: 'zeta', weight: 1 }, { name: 'server9', weight: 1 }, { name: 'server10', weight: 2 }];
  const r = new Router({ hash: 'crc32a', distribution: 'modula', hashTag: null, servers }, [false, true, false, true]); // continuum [zeta, server10, server10]
  for (const k of ['key0', 'key1', 'key2', 'key3', 'key4']) {
    const b = key(k);
    assert.equal(r.route(b, 0, b.length), [1, 3, 3][HASHES.crc32a(b, 0, b.length) % 3], k);
  }
});

test('router: rejects a hash tag that is not 2 bytes', () => {
  assert.throws(() => new Router({ hash: 'md5', distribution: 'ketama', hashTag: Buffer.from('{'), servers: serversN(2) }), RangeError);
});
