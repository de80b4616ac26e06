// Micro-benchmark of the memcached ASCII parsers on the data path: request parse (+ command lookup),
// reply parse (VALUE + END), storage requests, and a 10-key multi-get merge.
// Run: npx tsc -p tsconfig.json && node dist/bench/micro/memcache.js [count]

import { OK } from '../../src/protocol/parse';
import { McRequestParser } from '../../src/protocol/memcache/request';
import { McReplyParser, MODE_RETRIEVAL } from '../../src/protocol/memcache/reply';
import { mergeRetrieval } from '../../src/protocol/memcache/merge';

const N = Number(process.argv[2] ?? 1_000_000);

function build(n: number, one: (i: number) => string): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(one(i));
  return Buffer.from(parts.join(''), 'latin1');
}

const pad = (i: number): string => String(i % 1_000_000).padStart(6, '0');
const gets = build(N, (i) => `get key:${pad(i)}\r\n`);
const sets = build(N, (i) => `set key:${pad(i)} 0 0 10\r\nvalue${pad(i).slice(1)}\r\n`);
const values = build(N, (i) => `VALUE key:${pad(i)} 0 10\r\nvalue${pad(i).slice(1)}\r\nEND\r\n`);

function runRequests(buf: Buffer): number {
  const p = new McRequestParser();
  let off = 0;
  let sum = 0;
  while (off < buf.length) {
    if (p.parse(buf, off) !== OK) throw new Error('request parse failed');
    sum += p.cmd + p.keys[0]!;
    off = p.end;
  }
  return sum;
}

function runReplies(buf: Buffer): number {
  const p = new McReplyParser();
  let off = 0;
  let sum = 0;
  while (off < buf.length) {
    p.mode = MODE_RETRIEVAL;
    if (p.parse(buf, off) !== OK) throw new Error('reply parse failed');
    sum += p.kind + p.nvalues;
    off = p.end;
  }
  return sum;
}

// 10-key get split over 3 servers, every key present.
const mgReq = Buffer.from(`get ${Array.from({ length: 10 }, (_, i) => `key:${pad(i)}`).join(' ')}\r\n`, 'latin1');
const rq = new McRequestParser();
rq.parse(mgReq, 0);
const mgKeys = rq.keys.slice();
const keyFrag = Array.from({ length: 10 }, (_, i) => i % 3);
const fragBufs: Buffer[] = [];
const fragVals: number[][] = [];
for (let f = 0; f < 3; f++) {
  let s = '';
  for (let i = f; i < 10; i += 3) s += `VALUE key:${pad(i)} 0 10\r\nvalue${pad(i).slice(1)}\r\n`;
  const buf = Buffer.from(s + 'END\r\n', 'latin1');
  const rp = new McReplyParser();
  rp.mode = MODE_RETRIEVAL;
  rp.parse(buf, 0);
  fragBufs.push(buf);
  fragVals.push(rp.values.slice());
}

function runMerge(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += mergeRetrieval(mgReq, mgKeys, keyFrag, fragBufs, fragVals).length;
  return sum;
}

function time(label: string, ops: number, fn: () => number): void {
  fn(); // warm-up
  const t0 = process.hrtime.bigint();
  const sink = fn();
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(`${label.padEnd(44)} ${(ns / ops).toFixed(1).padStart(7)} ns/op   (${ops} ops, sink ${sink % 1000})`);
}

time(`request  get key:000123\\r\\n`, N, () => runRequests(gets));
time(`request  set key:000123 0 0 10 + data`, N, () => runRequests(sets));
time(`reply    VALUE key:000123 0 10 + data + END`, N, () => runReplies(values));
time(`merge    10-key get over 3 fragments`, N, () => runMerge(N));
