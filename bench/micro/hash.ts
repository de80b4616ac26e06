// Micro-benchmark for the router's hash and lookup stages: each hash function over 1M 16-byte keys, and
// ketama dispatch over 4- and 100-server continuums. Plain script: node dist/bench/micro/hash.js

import { Ketama } from '../../src/route/dist/ketama';
import { HASHES, HASH_NAMES } from '../../src/route/hash/index';

const KEYS = 1 << 20; // 1M keys
const KEY_LEN = 16;

/** 1M distinct 16-byte keys packed into one buffer (like keys sitting in a receive buffer). */
function makeKeys(): Buffer {
  const buf = Buffer.alloc(KEYS * KEY_LEN);
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = 0x21 + ((x >>> 0) % 94); // printable ASCII
  }
  return buf;
}

function nsPerOp(start: bigint, ops: number): string {
  return (Number(process.hrtime.bigint() - start) / ops).toFixed(1).padStart(7);
}

const keys = makeKeys();
let sink = 0;

console.log(`hash functions, ${KEYS} keys of ${KEY_LEN} bytes`);
for (const name of HASH_NAMES) {
  const fn = HASHES[name];
  for (let off = 0; off < 100_000 * KEY_LEN; off += KEY_LEN) sink ^= fn(keys, off, off + KEY_LEN); // warm-up
  const t0 = process.hrtime.bigint();
  for (let off = 0; off < keys.length; off += KEY_LEN) sink ^= fn(keys, off, off + KEY_LEN);
  console.log(`  ${name.padEnd(14)} ${nsPerOp(t0, KEYS)} ns/op`);
}

const hashes = new Uint32Array(KEYS);
for (let i = 0; i < KEYS; i++) hashes[i] = HASHES.fnv1a_64(keys, i * KEY_LEN, i * KEY_LEN + KEY_LEN);

console.log('ketama dispatch (fnv1a_64 hashes precomputed)');
for (const n of [4, 100]) {
  const k = new Ketama();
  k.build(Array.from({ length: n }, (_, i) => ({ name: `127.0.0.1:${7000 + i}`, weight: 1, index: i })));
  for (let i = 0; i < 100_000; i++) sink ^= k.dispatch(hashes[i]!); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < KEYS; i++) sink ^= k.dispatch(hashes[i]!);
  console.log(`  ${String(n).padStart(3)} servers, ${String(k.points).padStart(5)} points ${nsPerOp(t0, KEYS)} ns/op`);
}

console.log(`(checksum ${sink >>> 0})`);
