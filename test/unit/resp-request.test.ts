// Redis request parser and command table: every case whole, byte by byte (growing buffer and
// fresh buffers with a junk prefix), and split in two at every byte boundary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OK, AGAIN, ERROR, type ParseStatus } from '../../src/protocol/parse';
import { feed, allModes, type Snap } from '../helpers/resp-feed';
import { RedisRequestParser, EMPTY } from '../../src/protocol/redis/request';
import {
  COMMANDS,
  CmdKind,
  MergeKind,
  lookupCommand,
  checkArity,
  lookupSubcommand,
  CmdFlag,
  parseNumkeys,
} from '../../src/protocol/redis/commands';
import { RAW_COMMANDS } from '../../src/protocol/redis/command-specs';

function reqSnap(p: RedisRequestParser, input: Buffer, start: number): Snap {
  if (p.cmd === EMPTY) return { len: p.end - start, empty: true };
  // An inline request's offsets point into its RESP re-encoding.
  const buf = p.inline ?? input;
  const base = p.inline === null ? start : 0;
  const limit = p.inline === null ? p.end : p.inline.length;
  const args: string[] = [];
  assert.equal(p.args.length, 2 * (p.narg - 1));
  assert.ok(p.nameStart >= base && p.nameEnd <= limit);
  for (let i = 0; i < p.args.length; i += 2) {
    const s = p.args[i]!;
    const e = p.args[i + 1]!;
    assert.ok(s >= base && e <= limit && s <= e, 'absolute offsets inside the request');
    args.push(buf.toString('latin1', s, e));
  }
  return {
    len: p.end - start,
    narg: p.narg,
    cmd: p.cmd,
    name: buf.toString('latin1', p.nameStart, p.nameEnd),
    args,
    ...(p.inline !== null ? { inline: true } : {}),
  };
}

/** An inline request as the parser reports it: `len` bytes of input, these arguments. */
function inl(len: number, ...args: string[]): Snap {
  return { ...req(...args), len, inline: true };
}

function enc(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function req(...args: string[]): Snap {
  const b = enc(...args);
  const name = args[0]!;
  return { len: b.length, narg: args.length, cmd: lookupCommand(Buffer.from(name, 'latin1'), 0, name.length), name, args: args.slice(1) };
}

const idx = (name: string): number => lookupCommand(Buffer.from(name), 0, name.length);

const parser = new RedisRequestParser();
const check = (input: Buffer | string, expected: Snap[]): void => {
  const b = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  assert.deepEqual(allModes(parser, b, reqSnap), expected);
};

// --- valid requests

test('request: PING', () => {
  check('*1\r\n$4\r\nPING\r\n', [req('PING')]);
  assert.equal(COMMANDS[idx('ping')]!.kind, CmdKind.LOCAL);
});

test('request: GET key, args offsets', () => {
  const b = Buffer.concat([Buffer.from('xyz'), enc('GET', 'key')]);
  const p = new RedisRequestParser();
  assert.equal(p.parse(b, 3), OK);
  assert.equal(p.end, b.length);
  assert.equal(p.narg, 2);
  assert.equal(p.cmd, idx('get'));
  assert.deepEqual([p.nameStart, p.nameEnd], [3 + 8, 3 + 11]);
  assert.deepEqual(p.args, [3 + 17, 3 + 20]);
  check(enc('GET', 'key'), [req('GET', 'key')]);
});

test('request: pipeline of several requests', () => {
  const parts = [enc('SET', 'a', '1'), enc('get', 'a'), enc('MGET', 'a', 'b', 'c'), enc('PING')];
  check(Buffer.concat(parts), [req('SET', 'a', '1'), req('get', 'a'), req('MGET', 'a', 'b', 'c'), req('PING')]);
});

test('request: empty bulks', () => {
  check('*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n', [req('SET', '', '')]);
});

test('request: empty command name is parsed with cmd -1', () => {
  check('*1\r\n$0\r\n\r\n', [{ len: 10, narg: 1, cmd: -1, name: '', args: [] }]);
});

test('request: binary bytes including CRLF inside bulks', () => {
  const v = '\r\n\r\n\x00\xff*$\n\r';
  check(enc('SET', '\r\n', v), [req('SET', '\r\n', v)]);
});

test('request: unknown command', () => {
  check(enc('FOOBAR', 'x'), [{ ...req('FOOBAR', 'x'), cmd: -1 }]);
});

test('request: many arguments and multi-digit lengths', () => {
  const args = ['MSET'];
  for (let i = 0; i < 50; i++) args.push(`key:${i}`, 'v'.repeat(i * 3));
  check(enc(...args), [req(...args)]);
});

test('request: args array is reused and resized', () => {
  const p = new RedisRequestParser();
  const arr = p.args;
  const b = Buffer.concat([enc('MGET', 'a', 'b', 'c'), enc('GET', 'x'), enc('PING')]);
  assert.equal(p.parse(b, 0), OK);
  assert.equal(p.args.length, 6);
  assert.equal(p.parse(b, p.end), OK);
  assert.equal(p.args.length, 2);
  assert.equal(b.toString('latin1', p.args[0], p.args[1]), 'x');
  assert.equal(p.parse(b, p.end), OK);
  assert.equal(p.args.length, 0);
  assert.equal(p.args, arr);
});

test('request: leading zeros in counts are accepted', () => {
  check('*01\r\n$04\r\nPING\r\n', [{ len: 16, narg: 1, cmd: idx('ping'), name: 'PING', args: [] }]);
});

test('request: huge counts are incomplete, not errors', () => {
  check('*2147483647\r\n', [{ incomplete: true, need: 14 }]);
  check('*1\r\n$536870912\r\n', [{ incomplete: true, need: 4 + 12 + 536870912 + 2 }]);
});

// --- malformed requests (spec §4.1)

const MB = 'Protocol error: invalid multibulk length';
const BL = 'Protocol error: invalid bulk length';
const CRLF = 'Protocol error: bulk data not followed by CRLF';
const bad: [string, string][] = [
  ['"unbalanced\r\n', 'Protocol error: unbalanced quotes in request'],
  ['GET "a"b\r\n', 'Protocol error: unbalanced quotes in request'],
  ["GET 'a\r\n", 'Protocol error: unbalanced quotes in request'],
  ['*-\r\n', MB],
  ['*abc\r\n', MB],
  ['*\r\n', MB],
  ['*3x\r\n', MB],
  ['*3\rx', MB],
  ['*3\n', MB],
  ['*1 GET\r\n', MB],
  ['*2147483648\r\n', MB],
  ['*99999999999999999999\r\n', MB],
  ['*3\r\n*abcde\r\n', "Protocol error: expected '$', got '*'"],
  ['*2\r\n$3\r\nGET\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
  ['*1\r\n$-1\r\n', BL],
  ['*1\r\n$\r\n', BL],
  ['*1\r\n$3x\r\n', BL],
  ['*1\r\n$3\rx', BL],
  ['*1\r\n$ 3\r\n', BL],
  ['*1\r\n$536870913\r\n', BL],
  ['*1\r\n$3\r\nGETx\r\n', CRLF],
  ['*1\r\n$3\r\nGET\n\r', CRLF],
  ['*1\r\n$3\r\nGET\rx', CRLF],
  ['*1\r\n$3\r\nGE\r\n\r\n', CRLF],
];
for (const [input, text] of bad) {
  test(`request: malformed ${JSON.stringify(input)}`, () => {
    check(input, [{ error: text }]);
  });
}

test('request: error after a good request in a pipeline', () => {
  check(Buffer.concat([enc('GET', 'a'), Buffer.from('*x\r\n')]), [req('GET', 'a'), { error: MB }]);
});

test('request: inline commands, split as Redis splits them (quotes, escapes), in a pipeline with RESP', () => {
  check('PING\r\n', [inl(6, 'PING')]);
  check('PING\n', [inl(5, 'PING')]);
  check('  set  k   v \r\n', [inl(15, 'set', 'k', 'v')]);
  check('MSET A A A\r\n', [inl(12, 'MSET', 'A', 'A', 'A')]);
  check('$1\r\na\r\n', [inl(4, '$1'), inl(3, 'a')]);
  check('SET k "a b\\x41\\n\\"" \'c\\\'d\'\r\n', [inl(28, 'SET', 'k', 'a bA\n"', "c'd")]);
  check(Buffer.concat([Buffer.from('GET a\r\n'), enc('GET', 'b'), Buffer.from('GET c\r\n')]), [inl(7, 'GET', 'a'), req('GET', 'b'), inl(7, 'GET', 'c')]);
});

test('request: *0, *-1 and empty inline lines are skipped without a reply, as Redis does', () => {
  check('*0\r\n', [{ len: 4, empty: true }]);
  check('*-1\r\n', [{ len: 5, empty: true }]);
  check('*-10\r\n', [{ len: 6, empty: true }]);
  check('\r\n', [{ len: 2, empty: true }]);
  check('   \n', [{ len: 4, empty: true }]);
  check(Buffer.concat([Buffer.from('*-1\r\n'), enc('PING')]), [{ len: 5, empty: true }, req('PING')]);
});

test('request: an inline line longer than 64 KB is an error', () => {
  const p = new RedisRequestParser();
  assert.equal(p.parse(Buffer.from('x'.repeat(70 * 1024)), 0), ERROR);
  assert.equal(p.errorText, 'Protocol error: too big inline request');
});

test('request: reset drops partial state and a previous error', () => {
  const p = new RedisRequestParser();
  assert.equal(p.parse(Buffer.from('*2\r\n$3\r\nGE'), 0), AGAIN);
  p.reset();
  assert.equal(p.parse(enc('PING'), 0), OK);
  assert.equal(p.parse(Buffer.from('*x'), 0), ERROR);
  assert.equal(p.parse(enc('PING'), 0), ERROR);
  p.reset();
  assert.equal(p.parse(enc('PING'), 0), OK);
  assert.equal(p.cmd, idx('ping'));
});

// --- a 20 MB value: need lets the caller collect chunks without concatenating

test('request: 20 MB bulk, need after the header is header+len+2', () => {
  const len = 20 * 1024 * 1024;
  const header = Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${len}\r\n`);
  const body = Buffer.alloc(len, 0x61);
  body.write('\r\n', 1000);
  const input = Buffer.concat([header, body, Buffer.from('\r\n')]);
  const expected = [{ len: input.length, narg: 3, cmd: idx('set'), name: 'SET', args: ['k', body.toString('latin1')] }];
  const splits = [[5], [header.length - 3], [header.length], [header.length + 1], [header.length + 1000, header.length + len + 1]];
  for (const cuts of splits) {
    const chunks: Buffer[] = [];
    let prev = 0;
    for (const c of cuts) {
      chunks.push(input.subarray(prev, c));
      prev = c;
    }
    chunks.push(input.subarray(prev));
    assert.deepEqual(feed(parser, chunks, true, reqSnap), expected);
    assert.deepEqual(feed(parser, chunks, false, reqSnap), expected);
  }
  // header alone → need is exact
  const p = new RedisRequestParser();
  assert.equal(p.parse(header, 0), AGAIN);
  assert.equal(p.need, header.length + len + 2);
  // a caller fed 64 KB chunks concatenates only when `need` bytes are there
  p.reset();
  const list: Buffer[] = [];
  let have = 0;
  let need = 0;
  let calls = 0;
  let status: ParseStatus = AGAIN;
  for (let off = 0; off < input.length; off += 65536) {
    const chunk = input.subarray(off, off + 65536);
    list.push(chunk);
    have += chunk.length;
    if (have < need) continue;
    const buf = list.length === 1 ? chunk : Buffer.concat(list, have);
    list.length = 0;
    list.push(buf);
    calls++;
    status = p.parse(buf, 0);
    if (status === AGAIN) need = p.need;
  }
  assert.equal(status, OK);
  assert.equal(p.end, input.length);
  assert.equal(calls, 2);
});

// --- command table

test('lookup: every row in lower, UPPER and MiXeD case, inside a larger buffer', () => {
  for (let i = 0; i < COMMANDS.length; i++) {
    const name = COMMANDS[i]!.name;
    const mixed = [...name].map((c, j) => (j % 2 === 0 ? c.toUpperCase() : c)).join('');
    for (const v of [name, name.toUpperCase(), mixed]) {
      const b = Buffer.from(`$$${v}\r\n`);
      assert.equal(lookupCommand(b, 2, 2 + v.length), i, v);
    }
  }
});

test('lookup: misses', () => {
  for (const s of ['', 'g', 'ge', 'gett', 'getx', 'xget', 'eval\x7fro', 'EVAL\x7fRO', 'g\xe9t', 'get ', 'zremrangebyscorex', 'a'.repeat(100)]) {
    const b = Buffer.from(s, 'latin1');
    assert.equal(lookupCommand(b, 0, b.length), -1, JSON.stringify(s));
  }
  // '@' | 0x20 is '`': same hash bucket as nothing real, equality is byte-wise
  assert.equal(lookupCommand(Buffer.from('G@T'), 0, 3), -1);
});

// spec §4.2: the 137 twemproxy names and their argument-count rules
const SPEC: [number, string][] = [
  [1, 'PING QUIT COMMAND'],
  [-1, 'LOLWUT'],
  [2, 'PERSIST PTTL TTL TYPE DUMP DECR GET GETDEL INCR STRLEN HGETALL HKEYS HLEN HVALS LLEN SCARD SMEMBERS ZCARD AUTH'],
  [3, 'EXPIRE EXPIREAT PEXPIRE PEXPIREAT MOVE APPEND DECRBY GETBIT GETSET INCRBY INCRBYFLOAT SETNX HEXISTS HGET HSTRLEN LINDEX RPOPLPUSH SISMEMBER ZRANK ZREVRANK ZSCORE'],
  [4, 'GETRANGE PSETEX SETBIT SETEX SETRANGE HINCRBY HINCRBYFLOAT HSETNX LRANGE LREM LSET LTRIM SMOVE ZCOUNT ZLEXCOUNT ZINCRBY ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE'],
  [5, 'LINSERT LMOVE'],
  [-2, 'SORT COPY BITCOUNT BITPOS BITFIELD EXISTS GETEX SET HDEL HMGET HMSET HSCAN HSET HRANDFIELD LPUSH LPUSHX RPUSH RPUSHX LPOP RPOP LPOS SADD SDIFF SDIFFSTORE SINTER SINTERSTORE SREM SUNION SUNIONSTORE SRANDMEMBER SSCAN SPOP SMISMEMBER PFADD PFMERGE PFCOUNT ZADD ZDIFF ZDIFFSTORE ZINTER ZINTERSTORE ZMSCORE ZPOPMAX ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZREM ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZSCAN ZUNION ZUNIONSTORE GEODIST GEOPOS GEOHASH GEOADD GEORADIUS GEORADIUSBYMEMBER GEOSEARCH GEOSEARCHSTORE RESTORE'],
  [-2, 'MGET DEL UNLINK TOUCH'],
  [-3, 'MSET'],
  [-4, 'EVAL EVALSHA'],
];
// deliberate difference, documented in commands.ts
const SPEC_EXCEPT = new Set(['MOVE']);

test("table: covers the 137 spec names with Redis 7.0's own arity", () => {
  let count = 0;
  for (const [arity, names] of SPEC) {
    for (const n of names.split(' ')) {
      count++;
      const i = idx(n);
      assert.ok(i >= 0, n);
      const r = COMMANDS[i]!;
      const raw = RAW_COMMANDS.find((c) => c[0] === r.name);
      assert.ok(raw !== undefined, `${n} is in Redis's COMMAND data`);
      assert.equal(r.arity, raw[1], `${n}: Redis's arity`);
      if (SPEC_EXCEPT.has(n)) continue;
      assert.notEqual(r.kind, CmdKind.UNSUPPORTED, n);
      // twemproxy's count is accepted unless Redis itself needs more (COPY: Redis -3, twemproxy -2)
      const lo = arity > 0 ? arity : -arity;
      const redisMin = r.arity > 0 ? r.arity : -r.arity;
      assert.equal(checkArity(i, lo), lo >= redisMin && (r.arity < 0 || lo === r.arity), `${n} narg ${lo}`);
      assert.equal(checkArity(i, 0), false, `${n} narg 0`);
    }
  }
  assert.equal(count, 137);
  assert.equal(COMMANDS[idx('move')]!.kind, CmdKind.UNSUPPORTED);
  assert.equal(COMMANDS[idx('command')]!.kind, CmdKind.CONTAINER);
  assert.equal(checkArity(idx('command'), 1), true);
  assert.equal(checkArity(idx('command'), 3), true);
});

test('table: one row per Redis 7.0 command and subcommand, kinds, routing keys and merges', () => {
  assert.equal(COMMANDS.length, RAW_COMMANDS.length);
  for (let i = 0; i < COMMANDS.length; i++) {
    const r = COMMANDS[i]!;
    assert.equal(r.name, r.name.toLowerCase());
    const min = r.arity > 0 ? r.arity : -r.arity;
    if (r.kind === CmdKind.SINGLE || r.kind === CmdKind.MULTI_KEY || r.kind === CmdKind.MSET) {
      assert.ok(r.firstKey >= 1 && min > r.firstKey, `${r.name}: the routing key always exists`);
    }
    if (r.kind === CmdKind.KEYS) assert.ok(r.specs.length > 0, `${r.name}: key specs`);
    if (r.kind === CmdKind.UNSUPPORTED) assert.ok(r.reason.length > 0, r.name);
    else assert.equal(r.reason, '', r.name);
    if (r.kind !== CmdKind.MULTI_KEY && r.kind !== CmdKind.MSET && r.kind !== CmdKind.BROADCAST && r.kind !== CmdKind.SCAN) assert.equal(r.merge, MergeKind.NONE, r.name);
    if (r.kind === CmdKind.CONTAINER) assert.ok(r.subs !== null && r.subs.size > 0, r.name);
  }
  const kind = (n: string): number => COMMANDS[idx(n)]!.kind;
  const merge = (n: string): number => COMMANDS[idx(n)]!.merge;
  for (const n of 'ping quit auth echo select hello client reset multi exec discard watch unwatch subscribe psubscribe unsubscribe punsubscribe ssubscribe sunsubscribe pubsub'.split(' ')) {
    assert.equal(kind(n), CmdKind.LOCAL, n);
  }
  for (const n of 'keys dbsize randomkey flushdb flushall info'.split(' ')) assert.equal(kind(n), CmdKind.BROADCAST, n);
  assert.equal(kind('scan'), CmdKind.SCAN);
  for (const n of 'lolwut time'.split(' ')) assert.equal(kind(n), CmdKind.ANY, n);
  assert.equal(merge('mget'), MergeKind.MGET);
  for (const n of 'del unlink touch exists'.split(' ')) {
    assert.equal(kind(n), CmdKind.MULTI_KEY, n);
    assert.equal(merge(n), MergeKind.SUM, n);
  }
  assert.equal(kind('mset'), CmdKind.MSET);
  assert.equal(merge('mset'), MergeKind.ALL_OK);
  // keys by key specs: numkeys first, several keys, keyword searches
  const byKeys = `eval evalsha eval_ro evalsha_ro fcall fcall_ro zunion zunionstore zinter zintercard sintercard lmpop zmpop
    msetnx rename renamenx smove lmove rpoplpush bitop pfmerge sinterstore copy georadius xread xreadgroup sort`;
  for (const n of byKeys.split(/\s+/)) assert.equal(kind(n), CmdKind.KEYS, n);
  for (const n of 'publish spublish get set'.split(' ')) {
    assert.equal(kind(n), CmdKind.SINGLE, n);
    assert.equal(COMMANDS[idx(n)]!.firstKey, 1, n);
  }
  const unsupported = `config shutdown save bgsave monitor slaveof replicaof wait debug swapdb migrate cluster readonly
    readwrite sync psync`;
  for (const n of 'blpop brpop brpoplpush blmove bzpopmin bzpopmax blmpop bzmpop'.split(' ')) {
    assert.equal(kind(n), CmdKind.KEYS, n);
    assert.ok((COMMANDS[idx(n)]!.flags & CmdFlag.BLOCKING) !== 0, n);
  }
  for (const n of unsupported.split(/\s+/)) assert.equal(kind(n), CmdKind.UNSUPPORTED, n);
  for (const n of ['xinfo', 'xgroup', 'object', 'command', 'memory', 'script', 'function']) assert.equal(kind(n), CmdKind.CONTAINER, n);
  const sub = (c: string, s: string): number => lookupSubcommand(idx(c), Buffer.from(s), 0, s.length);
  assert.equal(COMMANDS[sub('xinfo', 'STREAM')]!.name, 'xinfo|stream');
  assert.equal(COMMANDS[sub('xinfo', 'stream')]!.kind, CmdKind.SINGLE);
  assert.equal(COMMANDS[sub('xinfo', 'stream')]!.firstKey, 2);
  assert.equal(COMMANDS[sub('object', 'encoding')]!.firstKey, 2);
  assert.equal(COMMANDS[sub('xinfo', 'help')]!.kind, CmdKind.ANY);
  assert.equal(COMMANDS[sub('memory', 'usage')]!.kind, CmdKind.SINGLE);
  assert.equal(COMMANDS[sub('memory', 'doctor')]!.kind, CmdKind.UNSUPPORTED);
  assert.equal(sub('xinfo', 'nope'), -1);
});

test('arity: Redis 7.0 rules, MSET odd, unknown', () => {
  const a = (n: string, narg: number): boolean => checkArity(idx(n), narg);
  assert.equal(a('ping', 1), true);
  assert.equal(a('ping', 2), true);
  assert.equal(a('auth', 2), true);
  assert.equal(a('auth', 3), true);
  assert.equal(a('auth', 1), false);
  assert.equal(a('get', 2), true);
  assert.equal(a('get', 3), false);
  assert.equal(a('expire', 3), true);
  assert.equal(a('expire', 4), true, 'EXPIRE key seconds NX');
  assert.equal(a('linsert', 5), true);
  assert.equal(a('set', 3), true);
  assert.equal(a('set', 2), false);
  assert.equal(a('mget', 1), false);
  assert.equal(a('mget', 100), true);
  assert.equal(a('mset', 2), false);
  assert.equal(a('mset', 3), true);
  assert.equal(a('mset', 4), false);
  assert.equal(a('mset', 5), true);
  assert.equal(a('eval', 2), false);
  assert.equal(a('eval', 3), true, 'EVAL script 0');
  assert.equal(a('lolwut', 1), true);
  assert.equal(checkArity(-1, 1), false);
  assert.equal(checkArity(COMMANDS.length, 1), false);
});

test('numkeys', () => {
  const n = (s: string): number => parseNumkeys(Buffer.from(s), 0, s.length);
  assert.equal(n('1'), 1);
  assert.equal(n('12'), 12);
  assert.equal(n('0'), -1);
  assert.equal(n(''), -1);
  assert.equal(n('-1'), -1);
  assert.equal(n('1a'), -1);
  assert.equal(n(' 1'), -1);
  assert.equal(n('99999999999'), -1);
});

// --- property: random binary requests, pipelined, split at random points

test('property: random binary requests round-trip at random split points', () => {
  const p = new RedisRequestParser();
  const arbReq = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(fc.array(arbReq, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (reqs, cuts, fresh) => {
      const input = Buffer.concat(reqs.map((r) => enc(...r.map((a) => Buffer.from(a)))));
      const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const c of points) {
        chunks.push(input.subarray(prev, c));
        prev = c;
      }
      chunks.push(input.subarray(prev));
      const got = feed(p, chunks, fresh, reqSnap);
      const want = reqs.map((r) => {
        const args = r.map((a) => Buffer.from(a).toString('latin1'));
        const name = args[0]!;
        return {
          len: enc(...r.map((a) => Buffer.from(a))).length,
          narg: r.length,
          cmd: lookupCommand(Buffer.from(name, 'latin1'), 0, name.length),
          name,
          args: args.slice(1),
        };
      });
      assert.deepEqual(got, want);
    }),
    { numRuns: 400 },
  );
});
