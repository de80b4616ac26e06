// Micro-benchmark of the Redis fragment merge: an MGET of 10 keys split over 4 servers, merged
// back in key order from the fragments' reply slices. Run: node dist/bench/micro/merge.js [count]

import { redisProtocol } from '../../src/forward/redis';
import { COMMANDS } from '../../src/protocol/redis/commands';
import { Msg } from '../../src/forward/msg';

const N = Number(process.argv[2] ?? 200000);
const mget = COMMANDS.findIndex((c) => c.name === 'mget');

// 10 keys over 4 fragments: 3, 3, 2, 2 elements.
const sizes = [3, 3, 2, 2];
const keyFrag = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1];
const frags = sizes.map((n, f) => {
  const body = Array.from({ length: n }, (_, i) => `$12\r\nvalue-${f}-${i}...\r\n`).join('');
  const reply = Buffer.from(`*${n}\r\n${body}`);
  const offs: number[] = [];
  let o = reply.indexOf('\r\n') + 2;
  for (let i = 0; i < n; i++) {
    offs.push(o, o + 19);
    o += 19;
  }
  return { reply, offs };
});

function once(): Buffer {
  const parent = new Msg();
  parent.cmd = mget;
  parent.keyFrag = keyFrag;
  parent.frags = frags.map((fr) => {
    const m = new Msg();
    m.fragReply = fr.reply;
    m.fragOffsets = fr.offs;
    m.fragType = 0x2a;
    return m;
  });
  redisProtocol.merge(parent);
  return parent.reply!;
}

const check = once().toString();
if (!check.startsWith('*10\r\n$12\r\nvalue-0-0...\r\n$12\r\nvalue-1-0...\r\n')) throw new Error(`bad merge: ${check}`);
let sum = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) sum += once().length;
const ns = Number(process.hrtime.bigint() - t0) / N;
console.log(`redis MGET merge, 10 keys over 4 fragments: ${ns.toFixed(0)} ns/op (checksum ${sum % 1000})`);
