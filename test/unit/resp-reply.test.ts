// Redis reply parser: every case whole, byte by byte (growing buffer and fresh buffers with a
// junk prefix), and split in two at every byte boundary; MGET element offsets; RESP3 framing.

import { strerror } from '../../src/util/errors';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OK, AGAIN, ERROR, type ParseStatus } from '../../src/protocol/parse';
import { RedisReplyParser, REPLY_ERROR_READONLY } from '../../src/protocol/redis/reply';
import * as R from '../../src/protocol/redis/replies';
import { feed, allModes, type Snap } from '../helpers/resp-feed';

function snap(p: RedisReplyParser, buf: Buffer, start: number): Snap {
  const s: Snap = { text: buf.toString('latin1', start, p.end), type: String.fromCharCode(p.type) };
  if (p.type === 58) s['integer'] = p.integer;
  if (p.isTransient) s['transient'] = true;
  if (p.errorKind === REPLY_ERROR_READONLY) s['readonly'] = true;
  if (p.count !== -1 || p.type === 42) s['count'] = p.count;
  if (p.collect && p.type === 42 && p.count >= 0) {
    assert.equal(p.elems.length, 2 * p.count);
    const el: string[] = [];
    for (let i = 0; i < p.elems.length; i += 2) {
      const a = p.elems[i]!;
      const b = p.elems[i + 1]!;
      assert.ok(a >= start && b <= p.end && a < b, 'absolute offsets inside the reply');
      if (i > 0) assert.equal(a, p.elems[i - 1], 'elements are contiguous');
      el.push(buf.toString('latin1', a, b));
    }
    s['elems'] = el;
  }
  return s;
}

const parser = new RedisReplyParser();
parser.collect = true;
const plain = new RedisReplyParser();

function check(input: string | Buffer, expected: Snap[]): void {
  const b = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  assert.deepEqual(allModes(parser, b, snap), expected);
  const noElems = expected.map((e) => {
    const c = { ...e };
    delete c['elems'];
    return c;
  });
  assert.deepEqual(feed(plain, [b], false, snap), noElems, 'collect=false');
}

/** Expected snapshot for one whole reply. */
function r(text: string, extra: Snap = {}): Snap {
  return { text, type: text[0], ...extra };
}

// --- RESP2

test('reply: status, error, integer', () => {
  check('+OK\r\n', [r('+OK\r\n')]);
  check('+\r\n', [r('+\r\n')]);
  check('-ERR wrong\r\n', [r('-ERR wrong\r\n')]);
  check('-CUSTOMERR\r\n', [r('-CUSTOMERR\r\n')]);
  check(':123\r\n', [r(':123\r\n', { integer: 123 })]);
  check(':-5\r\n', [r(':-5\r\n', { integer: -5 })]);
  check(':0\r\n', [r(':0\r\n', { integer: 0 })]);
  check(':9007199254740991\r\n', [r(':9007199254740991\r\n', { integer: 9007199254740991 })]);
});

test('reply: bulk strings, empty, null, binary with CRLF inside', () => {
  check('$3\r\nfoo\r\n', [r('$3\r\nfoo\r\n')]);
  check('$0\r\n\r\n', [r('$0\r\n\r\n')]);
  check('$-1\r\n', [r('$-1\r\n')]);
  check('$6\r\n\r\n\x00\xff\r\n\r\n', [r('$6\r\n\r\n\x00\xff\r\n\r\n')]);
});

test('reply: arrays, null array, empty array', () => {
  check('*-1\r\n', [r('*-1\r\n', { count: -1 })]);
  check('*0\r\n', [r('*0\r\n', { count: 0, elems: [] })]);
  check('*2\r\n$1\r\na\r\n$-1\r\n', [r('*2\r\n$1\r\na\r\n$-1\r\n', { count: 2, elems: ['$1\r\na\r\n', '$-1\r\n'] })]);
});

test('reply: MGET-like elements of every type, nested, collected', () => {
  const els = ['$3\r\nfoo\r\n', '$-1\r\n', '$0\r\n\r\n', ':7\r\n', '+OK\r\n', '-ERR x\r\n', '*2\r\n:1\r\n*1\r\n$1\r\nz\r\n', '*-1\r\n', '*0\r\n'];
  const text = `*${els.length}\r\n${els.join('')}`;
  check(text, [r(text, { count: els.length, elems: els })]);
});

test('reply: pipeline of several replies', () => {
  check('+OK\r\n:1\r\n$-1\r\n*1\r\n$1\r\nx\r\n-ERR e\r\n', [
    r('+OK\r\n'),
    r(':1\r\n', { integer: 1 }),
    r('$-1\r\n'),
    r('*1\r\n$1\r\nx\r\n', { count: 1, elems: ['$1\r\nx\r\n'] }),
    r('-ERR e\r\n'),
  ]);
});

test('reply: nested arrays 20 levels deep (test_issue_323)', () => {
  let t = ':5050\r\n';
  for (let i = 0; i < 20; i++) t = `*1\r\n${t}`;
  check(t, [r(t, { count: 1, elems: [t.slice(4)] })]);
  let u = '$1\r\nx\r\n';
  for (let i = 0; i < 20; i++) u = `*2\r\n:${i}\r\n${u}`;
  check(u, [r(u, { count: 2, elems: [':19\r\n', u.slice(4 + 5)] })]);
});

test('reply: nested arrays 100 levels deep', () => {
  let t = '$-1\r\n';
  for (let i = 0; i < 100; i++) t = `*2\r\n${t}+a\r\n`;
  check(t, [r(t, { count: 2, elems: [t.slice(4, t.length - 4), '+a\r\n'] })]);
});

test('reply: deep nesting without recursion (100000 levels)', () => {
  const depth = 100000;
  const b = Buffer.concat([Buffer.from('*1\r\n'.repeat(depth)), Buffer.from(':1\r\n')]);
  const p = new RedisReplyParser();
  assert.equal(p.parse(b, 0), OK);
  assert.equal(p.end, b.length);
  assert.equal(p.parse(b.subarray(0, b.length - 2), 0), AGAIN);
});

test('reply: transient errors (spec §6.5)', () => {
  const yes = ['-OOM command not allowed\r\n', '-OOM\r\n', '-BUSY Redis is busy running a script\r\n', '-BUSY\r\n', '-LOADING Redis is loading\r\n', '-LOADING\r\n'];
  const no = ['-OOMX\r\n', '-BUSYKEY Target key name already exists.\r\n', '-ERR LOADING\r\n', '-LOAD\r\n', '-OO\r\n', '-oom x\r\n', '-\r\n', '+OOM \r\n'];
  for (const t of yes) check(t, [r(t, { transient: true })]);
  for (const t of no) check(t, [r(t)]);
  // nested errors are not transient replies
  check('*1\r\n-OOM x\r\n', [r('*1\r\n-OOM x\r\n', { count: 1, elems: ['-OOM x\r\n'] })]);
});

test('reply: -READONLY, a demoted master (wave2 §0 item 5)', () => {
  const yes = ["-READONLY You can't write against a read only replica.\r\n", '-READONLY\r\n'];
  const no = ['-READONLYX\r\n', '-ERR READONLY\r\n', '-READ\r\n', '-readonly x\r\n', '+READONLY \r\n'];
  for (const t of yes) check(t, [r(t, { readonly: true })]);
  for (const t of no) check(t, [r(t)]);
  check('*1\r\n-READONLY x\r\n', [r('*1\r\n-READONLY x\r\n', { count: 1, elems: ['-READONLY x\r\n'] })]);
  // a reply after it is an ordinary one again
  check("-READONLY x\r\n+OK\r\n", [r('-READONLY x\r\n', { readonly: true }), r('+OK\r\n')]);
});

// --- RESP3 framing

test('reply: RESP3 scalar types', () => {
  for (const t of ['_\r\n', ',3.14\r\n', ',-inf\r\n', '#t\r\n', '#f\r\n', '(3492890328409238509324850943850943825024385\r\n']) check(t, [r(t)]);
  check('=15\r\ntxt:Some string\r\n', [r('=15\r\ntxt:Some string\r\n')]);
  check('!21\r\nSYNTAX invalid syntax\r\n', [r('!21\r\nSYNTAX invalid syntax\r\n')]);
});

test('reply: RESP3 aggregates: map, set, push, attribute', () => {
  check('%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n', [r('%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n')]);
  check('%0\r\n', [r('%0\r\n')]);
  check('~2\r\n+a\r\n+b\r\n', [r('~2\r\n+a\r\n+b\r\n')]);
  check('>2\r\n+message\r\n$1\r\nx\r\n', [r('>2\r\n+message\r\n$1\r\nx\r\n')]);
  const attr = '|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:1\r\n:2\r\n';
  check(attr, [r(attr)]);
  check('|0\r\n+OK\r\n:1\r\n', [r('|0\r\n+OK\r\n'), r(':1\r\n', { integer: 1 })]);
  // an attribute inside an array belongs to the element that follows it
  const inArr = '*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n%1\r\n_\r\n#t\r\n';
  check(inArr, [r(inArr, { count: 2, elems: ['|1\r\n+k\r\n+v\r\n:1\r\n', '%1\r\n_\r\n#t\r\n'] })]);
});

// --- invalid replies (spec §10 vectors and friends)

const BULK = 'Protocol error: invalid bulk length in reply';
const MB = 'Protocol error: invalid multibulk length in reply';
const INT = 'Protocol error: invalid integer in reply';
const LINE = 'Protocol error: invalid line in reply';
const CRLF = 'Protocol error: bulk data not followed by CRLF in reply';
const bad: [string, string][] = [
  ['$0\r\nx\r\n', CRLF],
  ['$3\r\nfoo\n\n', CRLF],
  ['$3\r\nfoox\r\n', CRLF],
  [':x\r\n', INT],
  [':\r\n', INT],
  [':-\r\n', INT],
  [':1x\r\n', INT],
  [':1\rx', INT],
  ['$-2\r\n', BULK],
  ['$-0\r\n', BULK],
  ['$\r\n', BULK],
  ['$x\r\n', BULK],
  ['=-1\r\n', BULK],
  ['$4294967297\r\n', BULK],
  ['*-2\r\n', MB],
  ['*x\r\n', MB],
  ['%-1\r\n', MB],
  ['*2147483648\r\n', MB],
  ['+OK\n', LINE],
  ['+OK\rx', LINE],
  ['?\r\n', "Protocol error: invalid reply type byte '?'"],
  ['ENDD\r\n', "Protocol error: invalid reply type byte 'E'"],
  ['*1\r\n?', "Protocol error: invalid reply type byte '?'"],
  ['\r\n', "Protocol error: invalid reply type byte '\r'"],
];
for (const [input, text] of bad) {
  test(`reply: malformed ${JSON.stringify(input)}`, () => {
    check(input, [{ error: text }]);
  });
}

test('reply: good reply then garbage', () => {
  check('+OK\r\n:x\r\n', [r('+OK\r\n'), { error: INT }]);
});

test('reply: incomplete replies report need', () => {
  check('*2\r\n$3\r\nfoo\r\n', [{ incomplete: true, need: 14 }]);
  check('$10\r\nab', [{ incomplete: true, need: 17 }]);
  check('*3\r\n', [{ incomplete: true, need: 5 }]);
});

test('reply: reset drops partial state and a previous error', () => {
  const p = new RedisReplyParser();
  assert.equal(p.parse(Buffer.from('*2\r\n:1\r\n'), 0), AGAIN);
  p.reset();
  assert.equal(p.parse(Buffer.from(':7\r\n'), 0), OK);
  assert.equal(p.integer, 7);
  assert.equal(p.parse(Buffer.from('x'), 0), ERROR);
  assert.equal(p.parse(Buffer.from('+OK\r\n'), 0), ERROR);
  p.reset();
  assert.equal(p.parse(Buffer.from('+OK\r\n'), 0), OK);
});

test('reply: elems array is reused and offsets are absolute', () => {
  const p = new RedisReplyParser();
  p.collect = true;
  const arr = p.elems;
  const b = Buffer.from('xx*2\r\n:1\r\n:2\r\n*1\r\n+a\r\n');
  assert.equal(p.parse(b, 2), OK);
  assert.deepEqual(p.elems, [6, 10, 10, 14]);
  assert.equal(p.count, 2);
  assert.equal(p.parse(b, p.end), OK);
  assert.deepEqual(p.elems, [18, 22]);
  assert.equal(p.elems, arr);
});

// --- a 20 MB bulk reply

test('reply: 20 MB bulk, need after the header is header+len+2', () => {
  const len = 20 * 1024 * 1024;
  const header = Buffer.from(`$${len}\r\n`);
  const body = Buffer.alloc(len, 0x62);
  body.write('\r\n', 5);
  const input = Buffer.concat([header, body, Buffer.from('\r\n')]);
  const mget = Buffer.concat([Buffer.from('*2\r\n'), input, Buffer.from('$-1\r\n')]);
  const hl = header.length;
  for (const cuts of [[3], [hl], [hl + 7], [hl + len + 1], [2, hl + 100, hl + len]]) {
    for (const [buf, off] of [[input, 0], [mget, 4]] as [Buffer, number][]) {
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const c of cuts) {
        chunks.push(buf.subarray(prev, c + off));
        prev = c + off;
      }
      chunks.push(buf.subarray(prev));
      for (const fresh of [true, false]) {
        const got = feed(parser, chunks, fresh, snap);
        assert.equal(got.length, 1);
        const g = got[0]!;
        assert.equal((g['text'] as string).length, buf.length);
        if (off > 0) assert.deepEqual((g['elems'] as string[]).map((e) => e.length), [input.length, 5]);
      }
    }
  }
  const p = new RedisReplyParser();
  assert.equal(p.parse(header, 0), AGAIN);
  assert.equal(p.need, hl + len + 2);
  p.reset();
  assert.equal(p.parse(Buffer.concat([Buffer.from('*1\r\n'), header]), 0), AGAIN);
  assert.equal(p.need, 4 + hl + len + 2);
});

// --- constant replies

test('replies: constants and builders', () => {
  assert.equal(R.PONG.toString(), '+PONG\r\n');
  assert.equal(R.OK.toString(), '+OK\r\n');
  assert.equal(R.NOAUTH.toString(), '-NOAUTH Authentication required\r\n');
  assert.equal(R.ERR_INVALID_PASSWORD.toString(), '-ERR invalid password\r\n');
  assert.equal(R.ERR_NO_PASSWORD.toString(), '-ERR Client sent AUTH, but no password is set\r\n');
  assert.equal(R.ERR_INVALID_ARGUMENT.toString(), '-ERR Invalid argument\r\n');
  assert.equal(R.ERR_UNKNOWN.toString(), '-ERR unknown\r\n');
  assert.equal(R.errorReply('ERR Connection refused').toString(), '-ERR Connection refused\r\n');
  assert.equal(R.integerReply(-42).toString(), ':-42\r\n');
  assert.equal(R.bulkReply('héllo').toString('latin1'), '$6\r\nh\xc3\xa9llo\r\n');
  assert.equal(R.bulkReply(Buffer.from([0, 13, 10])).toString('latin1'), '$3\r\n\x00\r\n\r\n');
  assert.equal(R.bulkReply('').toString(), '$0\r\n\r\n');
  assert.equal(strerror('ECONNREFUSED'), 'Connection refused');
  assert.equal(strerror('ECONNRESET'), 'Connection reset by peer');
  assert.equal(strerror(undefined), 'unknown');
  assert.equal(strerror('constructor'), 'unknown');
  for (const b of [R.PONG, R.OK, R.NOAUTH, R.ERR_UNKNOWN, R.NULL_BULK, R.NULL_ARRAY, R.EMPTY_ARRAY, R.integerReply(3), R.bulkReply('x')]) {
    const p = new RedisReplyParser();
    assert.equal(p.parse(b, 0), OK);
    assert.equal(p.end, b.length);
  }
});

// --- property: random nested replies at random split points

type Val = { t: 'bulk'; v: Uint8Array | null } | { t: 'int'; v: number } | { t: 'str'; v: string } | { t: 'err'; v: string } | { t: 'arr'; v: Val[] | null };

function encode(v: Val): Buffer {
  switch (v.t) {
    case 'bulk':
      return v.v === null ? Buffer.from('$-1\r\n') : Buffer.concat([Buffer.from(`$${v.v.length}\r\n`), Buffer.from(v.v), Buffer.from('\r\n')]);
    case 'int':
      return Buffer.from(`:${v.v}\r\n`);
    case 'str':
      return Buffer.from(`+${v.v}\r\n`);
    case 'err':
      return Buffer.from(`-${v.v}\r\n`);
    case 'arr':
      return v.v === null ? Buffer.from('*-1\r\n') : Buffer.concat([Buffer.from(`*${v.v.length}\r\n`), ...v.v.map(encode)]);
  }
}

const line = fc.string({ maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ' '));
const { val } = fc.letrec<{ val: Val }>((tie) => ({
  val: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('bulk' as const), v: fc.option(fc.uint8Array({ maxLength: 30 }), { nil: null }) }),
    fc.record({ t: fc.constant('int' as const), v: fc.integer() }),
    fc.record({ t: fc.constant('str' as const), v: line }),
    fc.record({ t: fc.constant('err' as const), v: line.map((s) => `ERR${s}`) }),
    fc.record({ t: fc.constant('arr' as const), v: fc.option(fc.array(tie('val'), { maxLength: 5 }), { nil: null }) }),
  ),
}));

test('property: random nested replies round-trip at random split points', () => {
  fc.assert(
    fc.property(fc.array(val, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (vals, cuts, fresh) => {
      const parts = vals.map(encode);
      const input = Buffer.concat(parts);
      const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const c of points) {
        chunks.push(input.subarray(prev, c));
        prev = c;
      }
      chunks.push(input.subarray(prev));
      const got = feed(parser, chunks, fresh, snap);
      assert.equal(got.length, vals.length);
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i]!;
        const g = got[i]!;
        assert.equal(g['text'], parts[i]!.toString('latin1'));
        if (v.t === 'int') assert.equal(g['integer'], v.v);
        if (v.t === 'arr') {
          assert.equal(g['count'], v.v === null ? -1 : v.v.length);
          if (v.v !== null) assert.deepEqual(g['elems'], v.v.map((e) => encode(e).toString('latin1')));
        }
      }
    }),
    { numRuns: 400 },
  );
});
