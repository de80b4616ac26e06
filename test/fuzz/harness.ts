// Fuzz harness shared by the fuzz tests and scripts/fuzz-long.ts: input generators (random bytes,
// protocol-alphabet noise, valid requests/replies of both protocols and mutations of them) and a
// driver that feeds one input to a parser whole and in random splits, the way the connections do.
//
//   bytes ─► cuts ─► chunks ─► [rest + chunk in a fresh buffer at a shifted offset] ─► parse ... OK/AGAIN/ERROR
//
// Checked on every call: the status is OK, AGAIN or ERROR; OK ends inside the buffer and after the
// start, with every reported offset inside the message; AGAIN asks for more bytes than are there;
// the number of calls is bounded (no loop without progress). Whole and split runs must agree.

import fc from 'fast-check';
import { OK, AGAIN, ERROR } from '../../src/protocol/parse';
import { RedisRequestParser, EMPTY } from '../../src/protocol/redis/request';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { McRequestParser } from '../../src/protocol/memcache/request';
import { McReplyParser, MODE_RETRIEVAL, MODE_SINGLE, MODE_META, MODE_META_QUIET, K_VALUES } from '../../src/protocol/memcache/reply';

// ---------------------------------------------------------------- generators

const INTERESTING = [13, 10, 0x2a, 0x24, 0x2d, 0x2b, 0x3a, 0x30, 0x39, 0x20, 0, 0xff, 0x71, 0x7b, 0x7d];

interface Mutation {
  kind: number;
  pos: number;
  byte: number;
  len: number;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.integer({ min: 0, max: 5 }),
  pos: fc.nat(),
  byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
  len: fc.integer({ min: 1, max: 12 }),
});

/** Applies byte-level mutations: flip, overwrite, insert, delete, duplicate a run, truncate. */
export function mutate(input: Buffer, ms: readonly Mutation[]): Buffer {
  let b = input;
  for (const m of ms) {
    if (b.length === 0) {
      b = Buffer.from([m.byte]);
      continue;
    }
    const p = m.pos % b.length;
    switch (m.kind) {
      case 0: {
        const c = Buffer.from(b);
        c[p] = c[p]! ^ (1 << (m.byte & 7));
        b = c;
        break;
      }
      case 1: {
        const c = Buffer.from(b);
        c[p] = m.byte;
        b = c;
        break;
      }
      case 2:
        b = Buffer.concat([b.subarray(0, p), Buffer.alloc(m.len, m.byte), b.subarray(p)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + m.len))]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, p + m.len), b.subarray(p)]);
        break;
      default:
        b = b.subarray(0, p);
    }
  }
  return b;
}

function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms));
}

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));

function alphabet(chars: string, max = 200): fc.Arbitrary<Buffer> {
  return fc.array(fc.constantFrom(...chars.split('')), { maxLength: max }).map((a) => Buffer.from(a.join(''), 'latin1'));
}

export function encRedis(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const fuzzKey = fc.constantFrom('fz:a', 'fz:b', 'fz:{t}c', 'fz:d', 'fz:e');
const redisArg: fc.Arbitrary<string | Buffer> = fc.oneof(
  fuzzKey,
  fc.constantFrom('0', '1', '2', '-1', '10', '', 'EX', 'NX', 'default', 'return 1', '2147483648'),
  fc.string({ maxLength: 12 }),
  fc.uint8Array({ maxLength: 16 }).map((u) => Buffer.from(u)),
);
const redisName = fc.constantFrom(
  'GET', 'SET', 'MGET', 'MSET', 'DEL', 'EXISTS', 'INCR', 'PING', 'QUIT', 'ECHO', 'AUTH', 'SELECT', 'HELLO', 'CLIENT',
  'INFO', 'COMMAND', 'EVAL', 'HGETALL', 'LRANGE', 'KEYS', 'MULTI', 'BLPOP', 'get', 'sEt', 'mget', 'NOSUCHCMD', 'TTL', 'APPEND',
);
/** Valid RESP requests (known, unknown and refused commands, any arity). */
export const redisRequests: fc.Arbitrary<Buffer> = fc
  .array(
    fc.tuple(redisName, fc.array(redisArg, { maxLength: 6 })).map(([n, a]) => {
      // EVAL needs a script and a numkeys that mostly makes sense.
      if (n === 'EVAL') return encRedis([n, 'return 1', String(a.length > 0 ? 1 : 0), ...a]);
      return encRedis([n, ...a]);
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((a) => Buffer.concat(a));

const mcKey = fc.oneof(fuzzKey, fc.constantFrom('k', 'x'.repeat(250), 'y'.repeat(251), 'a b'));
const mcNum = fc.constantFrom('0', '1', '5', '100', '-1', 'x', '4294967296', '18446744073709551615', '18446744073709551616', '9223372036854775808', '000000000000000000000001');
const mcData = fc.string({ maxLength: 10 });
const mcLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('get', 'gets'), fc.array(mcKey, { minLength: 0, maxLength: 5 })).map(([v, ks]) => `${v} ${ks.join(' ')}\r\n`),
  fc
    .tuple(fc.constantFrom('set', 'add', 'replace', 'append', 'prepend'), mcKey, mcNum, mcNum, mcData, fc.boolean())
    .map(([v, k, f, e, d, nr]) => `${v} ${k} ${f} ${e} ${d.length}${nr ? ' noreply' : ''}\r\n${d}\r\n`),
  fc.tuple(mcKey, mcData, mcNum).map(([k, d, c]) => `cas ${k} 0 0 ${d.length} ${c}\r\n${d}\r\n`),
  fc.tuple(fc.constantFrom('incr', 'decr', 'touch'), mcKey, mcNum, fc.boolean()).map(([v, k, n, nr]) => `${v} ${k} ${n}${nr ? ' noreply' : ''}\r\n`),
  fc.tuple(mcKey, fc.boolean()).map(([k, nr]) => `delete ${k}${nr ? ' noreply' : ''}\r\n`),
  fc.tuple(fc.constantFrom('mg', 'md', 'ma', 'me'), mcKey, fc.array(fc.constantFrom('v', 't', 'q', 'qX', 'k', 'O123', 'b', 'N30', '!'), { maxLength: 4 })).map(
    ([v, k, fl]) => `${v} ${k}${fl.map((f) => ` ${f}`).join('')}\r\n`,
  ),
  fc.tuple(mcKey, mcData, fc.boolean()).map(([k, d, q]) => `ms ${k} ${d.length}${q ? ' q' : ''} T0\r\n${d}\r\n`),
  fc.constantFrom('version\r\n', 'quit\r\n', 'mn\r\n', 'flush_all\r\n', 'verbosity 1\r\n', 'stats\r\n', '\r\n', 'GET k\r\n'),
);
/** Valid (and deliberately invalid but well-framed) memcache request lines. */
export const mcRequests: fc.Arbitrary<Buffer> = fc.array(mcLine, { minLength: 1, maxLength: 5 }).map((a) => Buffer.from(a.join(''), 'latin1'));

const bulkStr = fc.string({ maxLength: 8 });
const redisReplyArb: fc.Arbitrary<string> = fc.letrec<{ r: string }>((tie) => ({
  r: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('+OK\r\n', '-ERR x\r\n', '-OOM no\r\n', '-BUSY x\r\n', '-LOADING\r\n', ':0\r\n', ':-12\r\n', '$-1\r\n', '*-1\r\n', '*0\r\n', '_\r\n', ',1.5\r\n', '#t\r\n', '(123\r\n'),
    bulkStr.map((s) => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`),
    bulkStr.map((s) => `=${4 + s.length}\r\ntxt:${s}\r\n`),
    fc.array(tie('r'), { maxLength: 4 }).map((a) => `*${a.length}\r\n${a.join('')}`),
    fc.array(tie('r'), { maxLength: 2 }).map((a) => `~${a.length}\r\n${a.join('')}`),
    fc.tuple(tie('r'), tie('r')).map(([k, v]) => `%1\r\n${k}${v}`),
    fc.tuple(tie('r'), tie('r'), tie('r')).map(([k, v, x]) => `|1\r\n${k}${v}${x}`),
  ),
})).r;
/** Valid RESP2/RESP3 replies, nested. */
export const redisReplies: fc.Arbitrary<Buffer> = fc.array(redisReplyArb, { minLength: 1, maxLength: 4 }).map((a) => Buffer.from(a.join(''), 'latin1'));

const mcReplyArb: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.tuple(mcKey, mcData, fc.boolean()), { maxLength: 3 }).map(
    (vs) => vs.map(([k, d, c]) => `VALUE ${k} 0 ${d.length}${c ? ' 7' : ''}\r\n${d}\r\n`).join('') + 'END\r\n',
  ),
  fc.constantFrom('STORED\r\n', 'NOT_STORED\r\n', 'EXISTS\r\n', 'NOT_FOUND\r\n', 'DELETED\r\n', 'TOUCHED\r\n', 'END\r\n', 'VERSION 1.6.18\r\n', '42\r\n', 'ERROR\r\n', 'CLIENT_ERROR bad\r\n', 'SERVER_ERROR oom\r\n', 'HD\r\n', 'EN\r\n', 'NF\r\n', 'NS\r\n', 'EX\r\n', 'MN\r\n', 'ME k exp=0\r\n', 'HD t5\r\n'),
  mcData.map((d) => `VA ${d.length} f0\r\n${d}\r\n`),
);
/** Valid memcache replies of every mode. */
export const mcReplies: fc.Arbitrary<Buffer> = fc.array(mcReplyArb, { minLength: 1, maxLength: 4 }).map((a) => Buffer.from(a.join(''), 'latin1'));

/** Random bytes, protocol-alphabet noise, valid messages, mutated valid messages. */
export function inputs(valid: fc.Arbitrary<Buffer>, chars: string): fc.Arbitrary<Buffer> {
  return fc.oneof(randomBytes, alphabet(chars), valid, mutated(valid), mutated(valid));
}

export const REDIS_CHARS = '*$\r\n0123456789-+:_,#(=%~>|!abcGETSgetsLPINQU ';
export const MC_CHARS = 'getsvalueVALUEND STORED\r\n0123456789 kqnoreplyMNVAHD-';

/** Cut points for an input of length n: none, every byte, or a random set. */
export const cutsArb: fc.Arbitrary<number[] | 'bytes'> = fc.oneof(
  { weight: 1, arbitrary: fc.constant('bytes' as const) },
  { weight: 6, arbitrary: fc.array(fc.nat(), { maxLength: 8 }) },
);

// ---------------------------------------------------------------- targets

interface Parser {
  parse(buf: Buffer, start: number): number;
  readonly end: number;
  readonly need: number;
}

export interface Target<P extends Parser> {
  name: string;
  make(): P;
  /** Set up the parser for message number i (modes); called before every parse() call. */
  before(p: P, i: number, variant: number): void;
  /** Checks and describes a parsed message; r maps an absolute offset to a stream offset, throwing if outside [start, end]. */
  snap(p: P, r: (x: number) => number): string;
  /** After ERROR: the description and where the stream resumes (-1: the connection is closed). */
  error(p: P): { text: string; next: number };
}

class FuzzFailure extends Error {}

function fail(msg: string): never {
  throw new FuzzFailure(msg);
}

function pairs(a: readonly number[], r: (x: number) => number): string {
  if (a.length % 2 !== 0) fail(`odd offset list (${a.length})`);
  const out: string[] = [];
  for (let i = 0; i < a.length; i += 2) {
    const s = a[i]!;
    const e = a[i + 1]!;
    if (s > e) fail(`range ${s} > ${e}`);
    out.push(`${r(s)}-${r(e)}`);
  }
  return out.join(',');
}

export const redisRequestTarget: Target<RedisRequestParser> = {
  name: 'redis request',
  make: () => new RedisRequestParser(),
  before: () => {},
  snap(p, r) {
    if (p.cmd === EMPTY) return 'empty';
    if (p.narg < 1) fail(`narg ${p.narg}`);
    if (p.args.length !== 2 * (p.narg - 1)) fail(`args ${p.args.length} for narg ${p.narg}`);
    const inl = p.inline;
    if (inl !== null) {
      // An inline line: offsets point into its RESP re-encoding, which must be well formed.
      const within = (x: number): number => {
        if (!(Number.isInteger(x) && x >= 0 && x <= inl.length)) fail(`inline offset ${x} outside [0, ${inl.length}]`);
        return x;
      };
      const parts = [inl.toString('latin1', within(p.nameStart), within(p.nameEnd))];
      for (let i = 0; i < p.args.length; i += 2) parts.push(inl.toString('latin1', within(p.args[i]!), within(p.args[i + 1]!)));
      const again = new RedisRequestParser();
      if (again.parse(inl, 0) !== OK || again.end !== inl.length || again.narg !== p.narg) fail('inline re-encoding is not one RESP request');
      return `inline narg=${p.narg} cmd=${p.cmd} ${JSON.stringify(parts)}`;
    }
    return `narg=${p.narg} cmd=${p.cmd} name=${r(p.nameStart)}-${r(p.nameEnd)} args=${pairs(p.args, r)}`;
  },
  error: (p) => ({ text: p.errorText, next: -1 }),
};

export const redisReplyTarget: Target<RedisReplyParser> = {
  name: 'redis reply',
  make: () => new RedisReplyParser(),
  before(p, i, variant) {
    p.collect = ((variant >> i % 8) & 1) === 1;
  },
  snap(p, r) {
    let s = `type=${p.type} count=${p.count} transient=${p.isTransient}`;
    if (p.type === 0x3a) s += ` int=${p.integer}`;
    if (p.collect && p.type === 0x2a && p.count >= 0) {
      if (p.elems.length !== 2 * p.count) fail(`elems ${p.elems.length} for count ${p.count}`);
      s += ` elems=${pairs(p.elems, r)}`;
    }
    return s;
  },
  error: (p) => ({ text: p.errorText, next: -1 }),
};

export const mcRequestTarget: Target<McRequestParser> = {
  name: 'memcache request',
  make: () => new McRequestParser(),
  before: () => {},
  snap(p, r) {
    if (p.keys.length !== 2 * p.nkeys) fail(`keys ${p.keys.length} for nkeys ${p.nkeys}`);
    let s = `cmd=${p.cmd} keys=${pairs(p.keys, r)} noreply=${p.noreply} quiet=${p.quiet} b64=${p.base64Key} head=${r(p.headerEnd)}`;
    if (p.dataStart >= 0) {
      if (p.dataEnd - p.dataStart !== p.dataLen) fail(`data ${p.dataStart}-${p.dataEnd} for length ${p.dataLen}`);
      s += ` data=${r(p.dataStart)}-${r(p.dataEnd)}`;
    }
    return s;
  },
  error: (p) => ({ text: p.replyText, next: p.closeAfter ? -1 : p.end }),
};

const MC_MODES = [MODE_RETRIEVAL, MODE_SINGLE, MODE_META, MODE_META_QUIET];
export const mcReplyTarget: Target<McReplyParser> = {
  name: 'memcache reply',
  make: () => new McReplyParser(),
  before(p, i, variant) {
    p.mode = MC_MODES[(variant >> (2 * (i % 8))) & 3]!;
  },
  snap(p, r) {
    if (p.values.length !== 4 * p.nvalues) fail(`values ${p.values.length} for ${p.nvalues}`);
    let s = `kind=${p.kind} meta=${p.metaCode} body=${r(p.bodyEnd)} values=${pairs(p.values, r)}`;
    if (p.kind === K_VALUES) s += ` endline=${r(p.endLineStart)}`;
    if (p.dataStart >= 0) s += ` data=${r(p.dataStart)}-${r(p.dataEnd)}`;
    return s;
  },
  error: (p) => ({ text: p.errorText, next: -1 }),
};

// ---------------------------------------------------------------- driver

/**
 * Feeds `bytes` cut at `cuts` (sorted, deduplicated, inside) to a fresh parser like a connection does:
 * on AGAIN the partial message is copied with the next chunk into a new buffer at a shifted offset,
 * and parse() is only called again once `need` bytes are there. Returns one line per message.
 */
export function drive<P extends Parser>(t: Target<P>, bytes: Buffer, cuts: readonly number[], variant: number): string[] {
  const p = t.make();
  const ev: string[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let base = 0; // stream offset of buf[0]
  let start = 0;
  let need = 0;
  let idx = 0;
  let calls = 0;
  const maxCalls = 4 * (bytes.length + cuts.length) + 16;
  let prev = 0;
  const bounds = [...cuts, bytes.length];
  for (let c = 0; c < bounds.length; c++) {
    const chunk = bytes.subarray(prev, bounds[c]);
    prev = bounds[c]!;
    const rest = buf.subarray(start);
    const pad = c % 3;
    const nb = Buffer.alloc(pad + rest.length + chunk.length, 0x2a);
    rest.copy(nb, pad);
    chunk.copy(nb, pad + rest.length);
    base += start - pad;
    buf = nb;
    start = pad;
    if (buf.length - start < need) continue;
    while (start < buf.length) {
      if (++calls > maxCalls) fail(`${calls} parse calls for ${bytes.length} bytes: no progress`);
      t.before(p, idx, variant);
      const st = p.parse(buf, start);
      if (st === OK) {
        const end = p.end;
        if (!(end > start && end <= buf.length)) fail(`OK with end ${end} outside (${start}, ${buf.length}]`);
        const s0 = start;
        const r = (x: number): number => {
          if (!(Number.isInteger(x) && x >= s0 && x <= end)) fail(`offset ${x} outside the message [${s0}, ${end}]`);
          return x + base;
        };
        ev.push(`ok ${r(start)}-${r(end)} ${t.snap(p, r)}`);
        idx++;
        start = end;
        need = 0;
      } else if (st === AGAIN) {
        const have = buf.length - start;
        if (!(p.need > have)) fail(`AGAIN with need ${p.need} <= ${have} bytes present`);
        need = p.need;
        break;
      } else if (st === ERROR) {
        const e = t.error(p);
        ev.push(`error at ${start + base}: ${e.text}`);
        idx++;
        if (e.next < 0) return ev;
        if (!(e.next > start && e.next <= buf.length)) fail(`resume offset ${e.next} outside (${start}, ${buf.length}]`);
        start = e.next;
        need = 0;
      } else {
        fail(`status ${String(st)}`);
      }
    }
  }
  ev.push(`left ${buf.length - start}`);
  return ev;
}

function normCuts(cuts: readonly number[] | 'bytes', n: number): number[] {
  if (cuts === 'bytes') return Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1);
  if (n < 2) return [];
  return [...new Set(cuts.map((c) => 1 + (c % (n - 1))))].sort((a, b) => a - b);
}

/**
 * The property: whole and split runs are valid and agree. One difference is allowed: `need` is a lower
 * bound for a valid message, so on invalid bytes a split run may still be waiting for that many bytes
 * where the whole run already saw the error (the connection then errs on more bytes or on its timeout).
 */
export function check<P extends Parser>(t: Target<P>, bytes: Buffer, cuts: readonly number[] | 'bytes', variant: number): void {
  const whole = drive(t, bytes, [], variant);
  const split = drive(t, bytes, normCuts(cuts, bytes.length), variant);
  if (whole.length === split.length && whole.every((w, i) => w === split[i])) return;
  const k = split.length - 1;
  const waiting = split[k]!.startsWith('left ') && (whole[k] ?? '').startsWith('error ') && split.slice(0, k).every((e, i) => e === whole[i]);
  if (!waiting) fail(`whole and split disagree:\n  whole: ${whole.join(' | ')}\n  split: ${split.join(' | ')}`);
}

export interface FuzzCase {
  target: Target<Parser>;
  input: fc.Arbitrary<Buffer>;
}

/** The four parser targets with their input generators. */
export const CASES: readonly FuzzCase[] = [
  { target: redisRequestTarget as unknown as Target<Parser>, input: inputs(redisRequests, REDIS_CHARS) },
  { target: redisReplyTarget as unknown as Target<Parser>, input: inputs(redisReplies, REDIS_CHARS) },
  { target: mcRequestTarget as unknown as Target<Parser>, input: inputs(mcRequests, MC_CHARS) },
  { target: mcReplyTarget as unknown as Target<Parser>, input: inputs(mcReplies, MC_CHARS) },
];

/** fast-check property for one case. */
export function property(c: FuzzCase): fc.IProperty<[Buffer, number[] | 'bytes', number]> {
  return fc.property(c.input, cutsArb, fc.nat(), (bytes, cuts, variant) => {
    check(c.target, bytes, cuts, variant);
  });
}
