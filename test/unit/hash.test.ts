// Golden vectors for the 12 hash functions (spec §3.2 and Appendix B), sub-range hashing, and
// cross-checks against independent references (node:crypto MD5, zlib CRC-32, BigInt FNV-1-64).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { HASHES, HASH_NAMES, type HashName } from '../../src/route/hash/index';
import { MD5_OUT, md5Words } from '../../src/route/hash/md5';

const KEYS: readonly Buffer[] = [
  Buffer.from('apple'),
  Buffer.from('a'),
  Buffer.from('foo'),
  Buffer.from([0xff, 0x80]),
  Buffer.from('hello world'),
  Buffer.from('0123456789abcdef'),
  Buffer.alloc(0),
];

// Columns follow KEYS: apple (§3.2), a, foo, ff 80, hello world, 0123456789abcdef (Appendix B), empty key.
const VECTORS: Record<HashName, readonly number[]> = {
  one_at_a_time: [2297466611, 3392050242, 596015325, 3637588423, 1045060183, 4028760775, 0],
  md5: [3195025439, 3111502092, 3675831724, 82539146, 3141252702, 2377069120, 3649838548],
  crc16: [3662830516, 31879, 205303702, 2003575, 4060494820, 3596871845, 0],
  crc32: [10542, 26807, 3187, 16197, 3402, 26820, 0],
  crc32a: [2838417488, 3904355907, 2356372769, 1061514413, 222957957, 1757737011, 0],
  fnv1_64: [473199127, 2248259518, 1805727027, 3035328992, 2979073647, 998436033, 2216829733],
  fnv1a_64: [1488911807, 2248273036, 4275688823, 3035557738, 37540583, 3853346685, 2216829733],
  fnv1_32: [67176023, 84696446, 1083137555, 309762336, 1418570095, 2652598081, 2166136261],
  fnv1a_32: [280767167, 3826002220, 2851307223, 1400454730, 3582672807, 2277258045, 2166136261],
  hsieh: [3738850110, 2472816263, 1993659431, 3181452272, 1333368947, 3097489547, 0],
  murmur: [4142305122, 1262581116, 3303027599, 1759350492, 1578702139, 43138349, 0],
  jenkins: [1442444624, 3768813200, 2583187353, 2875642111, 355681275, 3760384329, 3735928572],
};

/** Deterministic byte source (xorshift32) so failures are reproducible. */
function randomBytes(seed: number, n: number): Buffer {
  let x = seed | 0 || 1;
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

test('HASH_NAMES lists the 12 twemproxy hash names, each with a function', () => {
  assert.deepEqual(
    [...HASH_NAMES].sort(),
    ['crc16', 'crc32', 'crc32a', 'fnv1_32', 'fnv1_64', 'fnv1a_32', 'fnv1a_64', 'hsieh', 'jenkins', 'md5', 'murmur', 'one_at_a_time'],
  );
  assert.deepEqual(Object.keys(HASHES).sort(), [...HASH_NAMES].sort());
});

for (const name of HASH_NAMES) {
  test(`${name}: spec vectors (apple, Appendix B, empty key)`, () => {
    const fn = HASHES[name];
    const got = KEYS.map((k) => fn(k, 0, k.length));
    assert.deepEqual(got, VECTORS[name]);
  });

  test(`${name}: a sub-range of a bigger buffer hashes like a copy of it`, () => {
    const fn = HASHES[name];
    const big = randomBytes(0x5eed + name.length, 300);
    // Lengths 0..150 cover every tail case of the block-based hashes (4, 12 and 64 byte blocks, MD5 padding at 55/56).
    for (let len = 0; len <= 150; len++) {
      for (const start of [0, 1, 3, 7, 77]) {
        const copy = Buffer.from(big.subarray(start, start + len));
        const expected = fn(copy, 0, copy.length);
        assert.equal(fn(big, start, start + len), expected, `len ${len} start ${start}`);
        // The bytes around the range must not matter either.
        const padded = Buffer.concat([Buffer.from([0xff, 0x00, 0x80]), copy, Buffer.from([0x7f, 0xff, 0x01])]);
        assert.equal(fn(padded, 3, 3 + len), expected, `padded len ${len}`);
      }
    }
  });

  test(`${name}: result is an unsigned 32-bit integer`, () => {
    const fn = HASHES[name];
    for (let i = 0; i < 200; i++) {
      const k = randomBytes(i + 1, i % 40);
      const h = fn(k, 0, k.length);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff, `${h}`);
    }
  });
}

test('crc16 is not masked to 16 bits, but its low 16 bits are CRC-16/XMODEM', () => {
  const k = Buffer.from('123456789');
  const h = HASHES.crc16(k, 0, k.length);
  assert.equal(h & 0xffff, 0x31c3); // CRC-16/XMODEM check value
  assert.ok(h > 0xffff);
});

test('md5Words matches node:crypto for every length 0..200 and for random binary keys', () => {
  for (let len = 0; len <= 200; len++) {
    const k = randomBytes(len * 7 + 3, len);
    md5Words(k, 0, k.length);
    const d = createHash('md5').update(k).digest();
    assert.deepEqual([...MD5_OUT], [d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)], `len ${len}`);
  }
  const long = randomBytes(99, 100_000);
  md5Words(long, 5, 99_001);
  const d = createHash('md5').update(long.subarray(5, 99_001)).digest();
  assert.equal(MD5_OUT[0], d.readUInt32LE(0));
  assert.equal(MD5_OUT[3], d.readUInt32LE(12));
});

test('crc32a is the standard CRC-32 (zlib) and crc32 is its libmemcached 15-bit cut', () => {
  for (let len = 0; len <= 100; len++) {
    const k = randomBytes(len + 1000, len);
    const real = zlib.crc32(k);
    assert.equal(HASHES.crc32a(k, 0, k.length), real, `len ${len}`);
    assert.equal(HASHES.crc32(k, 0, k.length), len === 0 ? 0 : (real >>> 16) & 0x7fff, `len ${len}`);
  }
});

test('fnv1_64 equals the low 32 bits of full 64-bit FNV-1 with sign-extended bytes (BigInt reference)', () => {
  const MASK = (1n << 64n) - 1n;
  const ref = (k: Buffer): number => {
    let h = 0xcbf29ce484222325n;
    for (const b of k) {
      h = (h * 0x100000001b3n) & MASK;
      h ^= BigInt.asUintN(64, BigInt((b << 24) >> 24));
    }
    return Number(h & 0xffffffffn);
  };
  for (let i = 0; i < 300; i++) {
    const k = randomBytes(i * 31 + 17, i % 50);
    assert.equal(HASHES.fnv1_64(k, 0, k.length), ref(k), `key ${k.toString('hex')}`);
  }
});

test('fnv1a_64 (32-bit truncated constants) equals the low 32 bits of 64-bit FNV-1a with sign-extended bytes', () => {
  // Low bits of a product mod 2^64 depend only on the low bits of its factors, so the truncated computation
  // agrees with the low half of the 64-bit one (with sx64 bytes). The spec's "not the low half" holds only
  // against an FNV-1a-64 that reads bytes unsigned; the ff 80 vector pins the signed reading.
  const MASK = (1n << 64n) - 1n;
  const ref = (k: Buffer): number => {
    let h = 0xcbf29ce484222325n;
    for (const b of k) h = ((h ^ BigInt.asUintN(64, BigInt((b << 24) >> 24))) * 0x100000001b3n) & MASK;
    return Number(h & 0xffffffffn);
  };
  for (let i = 0; i < 300; i++) {
    const k = randomBytes(i * 13 + 5, i % 50);
    assert.equal(HASHES.fnv1a_64(k, 0, k.length), ref(k), `key ${k.toString('hex')}`);
  }
});

test('sign extension: bytes >= 0x80 differ from their 7-bit counterparts where the spec says sx()', () => {
  // ff 80 vs 7f 00 would collide if bytes were masked to 7 bits; check the sx functions against a direct formula.
  const k = Buffer.from([0xff, 0x80]);
  let v = 0x84222325 | 0;
  for (const b of k) v = Math.imul(v ^ ((b << 24) >> 24), 0x1b3);
  assert.equal(HASHES.fnv1a_64(k, 0, 2), v >>> 0);
  let u = 0x84222325 | 0;
  for (const b of k) u = Math.imul(u ^ b, 0x1b3); // unsigned bytes give another value
  assert.notEqual(HASHES.fnv1a_64(k, 0, 2), u >>> 0);
});
