import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OK, AGAIN, ERROR } from '../../src/protocol/parse';
import {
  McReplyParser,
  MODE_RETRIEVAL,
  MODE_SINGLE,
  MODE_META,
  MODE_META_QUIET,
  K_END,
  K_VALUES,
  K_STORED,
  K_NOT_STORED,
  K_EXISTS,
  K_NOT_FOUND,
  K_DELETED,
  K_TOUCHED,
  K_VERSION,
  K_NUMBER,
  K_ERROR,
  K_CLIENT_ERROR,
  K_SERVER_ERROR,
  K_META,
  META_VA,
  META_HD,
  META_EN,
  META_NF,
  META_NS,
  META_EX,
  META_MN,
  META_ME,
  MC_MAX_REPLY_LINE,
} from '../../src/protocol/memcache/reply';
import { check, feed, str, type Harness } from '../helpers/mc-split';

interface Snap {
  st: 'OK';
  kind: number;
  end: number;
  values: [string, string][];
  endLine: number | null;
  body: number;
  meta: number;
  data: string | null;
}

/** A harness whose messages use modes[i] (the last one repeats). */
function harness(modes: number[]): Harness<McReplyParser> {
  return {
    make: () => new McReplyParser(),
    prepare(p, i) {
      p.mode = modes[Math.min(i, modes.length - 1)]!;
    },
    stops: () => true,
    snap(p, buf, start, st): Snap | { st: 'ERROR' } {
      if (st === ERROR) {
        assert.ok(p.errorText.length > 0);
        return { st: 'ERROR' };
      }
      const values: [string, string][] = [];
      assert.equal(p.values.length, 4 * p.nvalues);
      for (let i = 0; i < p.nvalues; i++) {
        const v = p.values;
        values.push([str(buf, v[4 * i]!, v[4 * i + 1]!), str(buf, v[4 * i + 2]!, v[4 * i + 3]!)]);
      }
      return {
        st: 'OK',
        kind: p.kind,
        end: p.end - start,
        values,
        endLine: p.kind === K_VALUES ? p.endLineStart - start : null,
        body: p.bodyEnd - start,
        meta: p.metaCode,
        data: p.dataStart >= 0 ? str(buf, p.dataStart, p.dataEnd) : null,
      };
    },
  };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function snap(text: string, kind: number, more: Partial<Snap> = {}): Snap {
  return { st: 'OK', kind, end: text.length, values: [], endLine: null, body: text.length, meta: 0, data: null, ...more };
}

/** Expected retrieval snapshot: blocks are full `VALUE …\r\ndata\r\n` strings. */
function values(blocks: [string, string][], tail = 'END\r\n'): [string, Snap] {
  const text = blocks.map((x) => x[0]).join('') + tail;
  const isEnd = tail === 'END\r\n';
  const kind = isEnd ? K_VALUES : tail.startsWith('SERVER') ? K_SERVER_ERROR : tail.startsWith('CLIENT') ? K_CLIENT_ERROR : K_ERROR;
  return [text, snap(text, kind, { values: blocks, endLine: isEnd ? text.length - 5 : null })];
}

const BAD = { st: 'ERROR' } as const;

test('retrieval replies', () => {
  const H = harness([MODE_RETRIEVAL]);
  const cases: [string, unknown][] = [
    values([]),
    values([['VALUE k 0 5\r\nhello\r\n', 'k']]),
    values([['VALUE key:1 4294967295 5 12345678901234567890\r\nhello\r\n', 'key:1']]),
    values([
      ['VALUE a 0 1\r\n1\r\n', 'a'],
      ['VALUE c 7 10\r\nab\r\ncd\r\nef\r\n', 'c'],
      ['VALUE a 0 0\r\n\r\n', 'a'],
    ]),
    values([['VALUE a\nb 0 3\r\nEND\r\n', 'a\nb']]),
    values([], 'SERVER_ERROR out of memory\r\n'),
    values([], 'ERROR\r\n'),
    values([], 'CLIENT_ERROR bad command line format\r\n'),
    values([['VALUE a 0 1\r\n1\r\n', 'a']], 'SERVER_ERROR out of memory writing get response\r\n'),
  ];
  for (const [text, exp] of cases) check(H, b(text), [exp]);
  const bad = [
    'ENDD\r\n',
    'END \r\n',
    'end\r\n',
    'STORED\r\n',
    '-1\r\n',
    'VALUE k 0 5\r\nhelloX\r\nEND\r\n',
    'VALUE  0 5\r\nhello\r\nEND\r\n',
    'VALUE k x 5\r\nhello\r\nEND\r\n',
    'VALUE k 0\r\nEND\r\n',
    'VALUE k 0 -5\r\nEND\r\n',
    'VALUE k 0 5 x\r\nhello\r\nEND\r\n',
    'VALUE k 0 1\r\nx\r\nBOGUS\r\n',
    'END\r\r',
    'ERRORS\r\n',
  ];
  for (const text of bad) check(H, b(text), [BAD]);
});

test('multi-get reply with values missing, pipelined with other replies', () => {
  const H = harness([MODE_RETRIEVAL, MODE_SINGLE, MODE_RETRIEVAL, MODE_SINGLE]);
  const [t1, s1] = values([
    ['VALUE a 0 2\r\naa\r\n', 'a'],
    ['VALUE c 0 2\r\ncc\r\n', 'c'],
  ]);
  const [t3, s3] = values([]);
  const input = t1 + 'STORED\r\n' + t3 + '42\r\n';
  check(H, b(input), [s1, snap('STORED\r\n', K_STORED), s3, snap('42\r\n', K_NUMBER)]);
});

test('single-line replies', () => {
  const H = harness([MODE_SINGLE]);
  const cases: [string, number][] = [
    ['STORED\r\n', K_STORED],
    ['NOT_STORED\r\n', K_NOT_STORED],
    ['EXISTS\r\n', K_EXISTS],
    ['NOT_FOUND\r\n', K_NOT_FOUND],
    ['DELETED\r\n', K_DELETED],
    ['TOUCHED\r\n', K_TOUCHED],
    ['END\r\n', K_END],
    ['VERSION 1.6.21\r\n', K_VERSION],
    ['VERSION\r\n', K_VERSION],
    ['0\r\n', K_NUMBER],
    ['18446744073709551615\r\n', K_NUMBER],
    ['12345   \r\n', K_NUMBER],
    ['ERROR\r\n', K_ERROR],
    ['ERROR unknown command\r\n', K_ERROR],
    ['CLIENT_ERROR bad data chunk\r\n', K_CLIENT_ERROR],
    ['SERVER_ERROR out of memory storing object\r\n', K_SERVER_ERROR],
  ];
  for (const [text, kind] of cases) check(H, b(text), [snap(text, kind)]);
  const all = cases.map((c) => c[0]).join('');
  check(H, b(all), cases.map(([t, k]) => snap(t, k)));
  const bad = ['-1\r\n', 'ENDD\r\n', 'STORED \r\n', 'stored\r\n', ':x\r\n', '\r\n', ' 1\r\n', '12a\r\n', 'VERSIONX\r\n', 'VALUE k 0 1\r\n', 'OK\r\n', 'STORED\r\r'];
  for (const text of bad) check(H, b(text), [BAD]);
  // a bare LF does not end a line
  check(H, b('STORED\n'), [{ again: 9 }]);
});

test('meta replies', () => {
  const H = harness([MODE_META]);
  const cases: [string, Snap][] = [
    ['HD\r\n', snap('HD\r\n', K_META, { meta: META_HD })],
    ['HD c123 t-1 Oabc\r\n', snap('HD c123 t-1 Oabc\r\n', K_META, { meta: META_HD })],
    ['EN\r\n', snap('EN\r\n', K_META, { meta: META_EN })],
    ['NF\r\n', snap('NF\r\n', K_META, { meta: META_NF })],
    ['NS\r\n', snap('NS\r\n', K_META, { meta: META_NS })],
    ['EX c5\r\n', snap('EX c5\r\n', K_META, { meta: META_EX })],
    ['MN\r\n', snap('MN\r\n', K_META, { meta: META_MN })],
    ['ME key exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\n', snap('ME key exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\n', K_META, { meta: META_ME })],
    ['VA 5 t-1 f0\r\nhello\r\n', snap('VA 5 t-1 f0\r\nhello\r\n', K_META, { meta: META_VA, data: 'hello' })],
    ['VA 0\r\n\r\n', snap('VA 0\r\n\r\n', K_META, { meta: META_VA, data: '' })],
    ['VA 6 k\r\nab\r\ncd\r\n', snap('VA 6 k\r\nab\r\ncd\r\n', K_META, { meta: META_VA, data: 'ab\r\ncd' })],
    ['CLIENT_ERROR bad command line format\r\n', snap('CLIENT_ERROR bad command line format\r\n', K_CLIENT_ERROR)],
    ['SERVER_ERROR out of memory\r\n', snap('SERVER_ERROR out of memory\r\n', K_SERVER_ERROR)],
    ['ERROR\r\n', snap('ERROR\r\n', K_ERROR)],
  ];
  for (const [text, exp] of cases) check(H, b(text), [exp]);
  check(H, b(cases.map((c) => c[0]).join('')), cases.map((c) => c[1]));
  const bad = ['XX\r\n', 'HDX\r\n', 'H\r\n', 'VA x\r\n', 'VA\r\n', 'VA 5\r\nhelloXY', 'MN x\r\n', 'hd\r\n', 'VALUE k 0 1\r\nx\r\nEND\r\n'];
  for (const text of bad) check(H, b(text), [BAD]);
});

test('quiet meta replies end at MN; bodyEnd marks the MN line', () => {
  const H = harness([MODE_META_QUIET]);
  const q = (body: string, kind: number, meta: number, data: string | null = null): [string, Snap] => {
    const text = body + 'MN\r\n';
    return [text, snap(text, kind, { body: body.length, meta, data })];
  };
  const cases = [
    q('', K_META, META_MN),
    q('EN\r\n', K_META, META_EN),
    q('HD\r\n', K_META, META_HD),
    q('NS\r\n', K_META, META_NS),
    q('VA 2 f\r\nhi\r\n', K_META, META_VA, 'hi'),
    q('VA 4\r\nMN\r\n\r\n', K_META, META_VA, 'MN\r\n'),
    q('CLIENT_ERROR bad command line format\r\n', K_CLIENT_ERROR, 0),
  ];
  for (const [text, exp] of cases) check(H, b(text), [exp]);
  check(H, b(cases.map((c) => c[0]).join('')), cases.map((c) => c[1]));
  for (const text of ['HD\r\nHD\r\nMN\r\n', 'VA 2\r\nhi\r\nEN\r\nMN\r\n', 'STORED\r\nMN\r\n', 'MN \r\n']) check(H, b(text), [BAD]);
  // partial: after a VA block the MN line is still needed
  assert.deepStrictEqual(feed(H, b('VA 2\r\nh'), [], false), [{ again: 14 }]);
  assert.deepStrictEqual(feed(H, b('HD\r\n'), [], false), [{ again: 6 }]);
});

test('mixed modes in one pipeline', () => {
  const [rt, rs] = values([['VALUE k 1 1 9\r\nx\r\n', 'k']]);
  const parts: [number, string, Snap][] = [
    [MODE_SINGLE, 'STORED\r\n', snap('STORED\r\n', K_STORED)],
    [MODE_META_QUIET, 'MN\r\n', snap('MN\r\n', K_META, { body: 0, meta: META_MN })],
    [MODE_META, 'VA 1\r\nx\r\n', snap('VA 1\r\nx\r\n', K_META, { meta: META_VA, data: 'x' })],
    [MODE_RETRIEVAL, rt, rs],
    [MODE_META_QUIET, 'EN\r\nMN\r\n', snap('EN\r\nMN\r\n', K_META, { body: 4, meta: META_EN })],
    [MODE_SINGLE, 'VERSION 1.6.2\r\n', snap('VERSION 1.6.2\r\n', K_VERSION)],
  ];
  check(harness(parts.map((p) => p[0])), b(parts.map((p) => p[1]).join('')), parts.map((p) => p[2]));
});

test('1 MB value: need and a few splits', () => {
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
  data.write('\r\nEND\r\n', 5000, 'latin1');
  const head = b(`VALUE big 0 ${data.length}\r\n`);
  const input = Buffer.concat([head, data, b('\r\nEND\r\n')]);
  const blockEnd = head.length + data.length + 2;
  const exp = [snap('', K_VALUES, { end: input.length, body: input.length, values: [[input.toString('latin1', 0, blockEnd), 'big']], endLine: blockEnd })];
  check(harness([MODE_RETRIEVAL]), input, exp);
  const p = new McReplyParser();
  p.mode = MODE_RETRIEVAL;
  assert.equal(p.parse(input.subarray(0, head.length + 3), 0), AGAIN);
  assert.equal(p.need, blockEnd + 5);
  assert.equal(p.parse(input.subarray(0, blockEnd), 0), AGAIN);
  assert.equal(p.need, blockEnd + 2);
  assert.equal(p.parse(input, 0), OK);
  assert.deepStrictEqual(p.values, [0, blockEnd, 6, 9]);
  assert.equal(p.endLineStart, blockEnd);
});

test('reply line length limit', () => {
  const H = harness([MODE_SINGLE]);
  const okLine = 'SERVER_ERROR ' + 'x'.repeat(MC_MAX_REPLY_LINE - 15) + '\r\n';
  assert.equal(okLine.length, MC_MAX_REPLY_LINE);
  check(H, b(okLine), [snap(okLine, K_SERVER_ERROR)], 0);
  const long = 'SERVER_ERROR ' + 'x'.repeat(MC_MAX_REPLY_LINE - 14) + '\r\n';
  check(H, b(long), [BAD], 0);
  check(H, b('x'.repeat(MC_MAX_REPLY_LINE * 2)), [BAD], 0);
});

test('offsets are absolute in the buffer passed in; values array is reused', () => {
  const p = new McReplyParser();
  p.mode = MODE_RETRIEVAL;
  const arr = p.values;
  const buf = b('..VALUE a 0 1\r\nx\r\nEND\r\n');
  assert.equal(p.parse(buf, 2), OK);
  assert.deepStrictEqual(p.values, [2, 18, 8, 9]);
  assert.equal(p.endLineStart, 18);
  assert.equal(p.end, buf.length);
  assert.equal(p.values, arr);
  assert.equal(p.parse(b('END\r\n'), 0), OK);
  assert.deepStrictEqual(p.values, []);
  assert.equal(p.nvalues, 0);
});
