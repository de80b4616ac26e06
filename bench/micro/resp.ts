// Micro-benchmark of the Redis parsers on the data path: request parse (+ command lookup) and reply framing.
// Run: npx tsc -p tsconfig.json && node dist/bench/micro/resp.js [count]

import { OK } from '../../src/protocol/parse';
import { RedisRequestParser } from '../../src/protocol/redis/request';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { lookupCommand } from '../../src/protocol/redis/commands';

const N = Number(process.argv[2] ?? 1_000_000);

function build(n: number, one: (i: number) => string): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(one(i));
  return Buffer.from(parts.join(''), 'latin1');
}

const pad = (i: number): string => String(i % 1_000_000).padStart(6, '0');
const requests = build(N, (i) => `*2\r\n$3\r\nGET\r\n$10\r\nkey:${pad(i)}\r\n`);
const replies = build(N, (i) => `$10\r\nvalue${pad(i).slice(1)}\r\n`);
const mgetReplies = build(N / 10, () => `*10\r\n${'$10\r\n0123456789\r\n'.repeat(10)}`);

function runRequests(buf: Buffer): number {
  const p = new RedisRequestParser();
  let off = 0;
  let n = 0;
  let sum = 0;
  while (off < buf.length) {
    if (p.parse(buf, off) !== OK) throw new Error('request parse failed');
    sum += p.cmd + p.args[0]!;
    off = p.end;
    n++;
  }
  if (sum === -1) console.log('');
  return n;
}

function runReplies(buf: Buffer, collect: boolean): number {
  const p = new RedisReplyParser();
  p.collect = collect;
  let off = 0;
  let n = 0;
  while (off < buf.length) {
    if (p.parse(buf, off) !== OK) throw new Error('reply parse failed');
    off = p.end;
    n++;
  }
  return n;
}

function runLookup(n: number): number {
  const names = ['GET', 'set', 'MGET', 'hgetall', 'ZREVRANGEBYSCORE', 'nosuchcmd'].map((s) => Buffer.from(s));
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const b = names[i % names.length]!;
    sum += lookupCommand(b, 0, b.length);
  }
  return sum;
}

function time(label: string, ops: number, fn: () => unknown): void {
  fn(); // warm-up
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns < best) best = ns;
  }
  console.log(`${label.padEnd(44)} ${(best / ops).toFixed(1).padStart(7)} ns/op  (${((ops * 1e9) / best / 1e6).toFixed(1)} M ops/s)`);
}

time(`request  GET key:NNNNNN x${N}`, N, () => runRequests(requests));
time(`reply    $10 bulk x${N}`, N, () => runReplies(replies, false));
time(`reply    *10 MGET array x${N / 10} (collect)`, N / 10, () => runReplies(mgetReplies, true));
time(`lookup   command name x${N}`, N, () => runLookup(N));
