import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OK, AGAIN, ERROR } from '../../src/protocol/parse';
import { McRequestParser, MC_MAX_GET_LINE, MC_MAX_LINE } from '../../src/protocol/memcache/request';
import { MC_COMMANDS, MC_UNKNOWN, MC_GET, MC_SET, lookupCommand } from '../../src/protocol/memcache/commands';
import { check, feed, str, type Harness } from '../helpers/mc-split';

interface Ok {
  st: 'OK';
  cmd: string;
  keys: string[];
  noreply: boolean;
  header: number;
  end: number;
  data: string | null;
  quiet: boolean;
  b64: boolean;
}
interface Err {
  st: 'ERROR';
  reply: string;
  close: boolean;
  end: number | null;
}

const H: Harness<McRequestParser> = {
  make: () => new McRequestParser(),
  stops: (p) => p.closeAfter,
  snap(p, buf, start, st): Ok | Err {
    if (st === ERROR) {
      return { st: 'ERROR', reply: p.replyText, close: p.closeAfter, end: p.closeAfter ? null : p.end - start };
    }
    const keys: string[] = [];
    assert.equal(p.keys.length, 2 * p.nkeys);
    for (let i = 0; i < p.nkeys; i++) keys.push(str(buf, p.keys[2 * i]!, p.keys[2 * i + 1]!));
    const row = MC_COMMANDS[p.cmd]!;
    if (row.isStorage) {
      assert.equal(p.dataEnd - p.dataStart, p.dataLen);
      assert.equal(p.dataStart, p.headerEnd);
      assert.equal(p.end, p.dataEnd + 2);
    } else {
      assert.equal(p.dataStart, -1);
      assert.equal(p.headerEnd, p.end);
    }
    return {
      st: 'OK',
      cmd: row.name,
      keys,
      noreply: p.noreply,
      header: p.headerEnd - start,
      end: p.end - start,
      data: row.isStorage ? str(buf, p.dataStart, p.dataEnd) : null,
      quiet: p.quiet,
      b64: p.base64Key,
    };
  },
};

/** Expected OK snapshot of one request `text` (header length found from the first CRLF). */
function ok(text: string, cmd: string, keys: string[], more: Partial<Ok> = {}): Ok {
  const header = text.indexOf('\r\n') + 2;
  const row = MC_COMMANDS.find((c) => c.name === cmd)!;
  const data = row.isStorage ? text.slice(header, text.length - 2) : null;
  return { st: 'OK', cmd, keys, noreply: false, header, end: text.length, data, quiet: false, b64: false, ...more };
}

const ERR = 'ERROR\r\n';
const FORMAT = 'CLIENT_ERROR bad command line format\r\n';
const CHUNK = 'CLIENT_ERROR bad data chunk\r\n';
const LONG = 'CLIENT_ERROR line too long\r\n';

function err(reply: string, end: number | null): Err {
  return { st: 'ERROR', reply, close: end === null, end };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const K250 = 'k'.repeat(250);
const K251 = 'k'.repeat(251);

// [input, expected snapshots]
const VALID: [string, Ok][] = [
  ['get key\r\n', ok('get key\r\n', 'get', ['key'])],
  ['gets key\r\n', ok('gets key\r\n', 'gets', ['key'])],
  ['get k1 k2 k3\r\n', ok('get k1 k2 k3\r\n', 'get', ['k1', 'k2', 'k3'])],
  ['   get   k1    k2  \r\n', ok('   get   k1    k2  \r\n', 'get', ['k1', 'k2'])],
  ['get a\tb\x01c\r\n', ok('get a\tb\x01c\r\n', 'get', ['a\tb\x01c'])],
  ['get noreply\r\n', ok('get noreply\r\n', 'get', ['noreply'])],
  [`get ${K250}\r\n`, ok(`get ${K250}\r\n`, 'get', [K250])],
  ['set key 0 600 5\r\nvalue\r\n', ok('set key 0 600 5\r\nvalue\r\n', 'set', ['key'])],
  ['set key 0 600 5 noreply\r\nvalue\r\n', ok('set key 0 600 5 noreply\r\nvalue\r\n', 'set', ['key'], { noreply: true })],
  ['add key 0 0 1 noreply\r\n\n\r\n', ok('add key 0 0 1 noreply\r\n\n\r\n', 'add', ['key'], { noreply: true })],
  ['replace key 1 2 3\r\nabc\r\n', ok('replace key 1 2 3\r\nabc\r\n', 'replace', ['key'])],
  ['append key 0 0 0\r\n\r\n', ok('append key 0 0 0\r\n\r\n', 'append', ['key'])],
  ['prepend key 4294967295 0 2\r\nab\r\n', ok('prepend key 4294967295 0 2\r\nab\r\n', 'prepend', ['key'])],
  ['set bin 0 0 10\r\nab\r\ncd\r\nef\r\n', ok('set bin 0 0 10\r\nab\r\ncd\r\nef\r\n', 'set', ['bin'])],
  [`set ${K250} 0 0 1\r\nx\r\n`, ok(`set ${K250} 0 0 1\r\nx\r\n`, 'set', [K250])],
  ['cas key 0 600 5 123456\r\nvalue\r\n', ok('cas key 0 600 5 123456\r\nvalue\r\n', 'cas', ['key'])],
  ['cas key 0 600 5 1 noreply\r\nvalue\r\n', ok('cas key 0 600 5 1 noreply\r\nvalue\r\n', 'cas', ['key'], { noreply: true })],
  ['incr key 1\r\n', ok('incr key 1\r\n', 'incr', ['key'])],
  ['incr key 9223372036854775807 noreply\r\n', ok('incr key 9223372036854775807 noreply\r\n', 'incr', ['key'], { noreply: true })],
  ['decr key -5\r\n', ok('decr key -5\r\n', 'decr', ['key'])],
  ['touch key 12345\r\n', ok('touch key 12345\r\n', 'touch', ['key'])],
  ['touch key 0 noreply\r\n', ok('touch key 0 noreply\r\n', 'touch', ['key'], { noreply: true })],
  ['delete key\r\n', ok('delete key\r\n', 'delete', ['key'])],
  ['delete key noreply\r\n', ok('delete key noreply\r\n', 'delete', ['key'], { noreply: true })],
  ['version\r\n', ok('version\r\n', 'version', [])],
  ['version   \r\n', ok('version   \r\n', 'version', [])],
  ['quit\r\n', ok('quit\r\n', 'quit', [])],
  // meta
  ['mg key v t\r\n', ok('mg key v t\r\n', 'mg', ['key'])],
  ['mg key q v k O123\r\n', ok('mg key q v k O123\r\n', 'mg', ['key'], { quiet: true })],
  ['mg a2V5 b v\r\n', ok('mg a2V5 b v\r\n', 'mg', ['a2V5'], { b64: true })],
  [`mg ${'A'.repeat(336)} b\r\n`, ok(`mg ${'A'.repeat(336)} b\r\n`, 'mg', ['A'.repeat(336)], { b64: true })],
  ['ms key 5\r\nhello\r\n', ok('ms key 5\r\nhello\r\n', 'ms', ['key'])],
  ['ms key 5 T30 F7 q\r\nhello\r\n', ok('ms key 5 T30 F7 q\r\nhello\r\n', 'ms', ['key'], { quiet: true })],
  ['ms key 6 MA\r\nhe\r\nl\n\r\n', ok('ms key 6 MA\r\nhe\r\nl\n\r\n', 'ms', ['key'])],
  ['md key q\r\n', ok('md key q\r\n', 'md', ['key'], { quiet: true })],
  ['md key\r\n', ok('md key\r\n', 'md', ['key'])],
  ['ma key N30 J13 MI D2\r\n', ok('ma key N30 J13 MI D2\r\n', 'ma', ['key'])],
  ['mn\r\n', ok('mn\r\n', 'mn', [])],
  ['me key\r\n', ok('me key\r\n', 'me', ['key'])],
];

// [input, expected]; `end` is where the next request starts, null when the connection closes.
const INVALID: [string, Err][] = [
  ['get \r\n', err(ERR, 6)],
  ['get\r\n', err(ERR, 5)],
  ['get key\r\r', err(FORMAT, null)],
  ['cas key 0 600 5 \r\n', err(ERR, 18)],
  ['decr key 0 extra\r\n', err(FORMAT, 18)],
  ['DELETE key\r\n', err(ERR, 12)],
  ['GET key\r\n', err(ERR, 9)],
  ['Get key\r\n', err(ERR, 9)],
  ['touch missingarg\r\n', err(ERR, 18)],
  ['version extra\r\n', err(ERR, 15)],
  ['quit now\r\n', err(ERR, 10)],
  ['set key 0 600 5\r\nvaluee\r\n', err(CHUNK, null)],
  ['set key 0 600 5\r\nvalue\n\r', err(CHUNK, null)],
  ['stats\r\n', err(ERR, 7)],
  ['flush_all\r\n', err(ERR, 11)],
  ['gat 0 key\r\n', err(ERR, 11)],
  ['\r\n', err(ERR, 2)],
  ['    \r\n', err(ERR, 6)],
  [`get ${K251}\r\n`, err(FORMAT, 257)],
  [`get a ${K251} b\r\n`, err(FORMAT, 261)],
  [`delete ${K251}\r\n`, err(FORMAT, 260)],
  ['delete key 0\r\n', err(FORMAT, 14)],
  ['delete key noreply 0\r\n', err(ERR, 22)],
  ['incr key abc\r\n', err(FORMAT, 14)],
  ['incr key -\r\n', err(FORMAT, 12)],
  ['incr key 1 norep\r\n', err(FORMAT, 18)],
  ['touch key x1\r\n', err(FORMAT, 14)],
  ['set key 0 0\r\n', err(ERR, 13)],
  ['set key 0 0 x\r\n', err(FORMAT, 15)],
  ['set key 0 0 -5\r\n', err(FORMAT, 16)],
  // bad token but a valid length: the data block is swallowed, one reply
  ['set key 0 -1 5\r\nhello\r\n', err(FORMAT, 23)],
  ['set key x 0 5\r\nhello\r\n', err(FORMAT, 22)],
  ['set key 0 0 5 norepl\r\nhello\r\n', err(FORMAT, 29)],
  [`set ${K251} 0 0 1\r\nx\r\n`, err(FORMAT, 266)],
  ['cas key 0 0 1 x\r\nx\r\n', err(FORMAT, 20)],
  ['set key 0 -1 5\r\nhelloXX', err(CHUNK, null)],
  ['set key 0 0 2000000000\r\n', err('SERVER_ERROR object too large for cache\r\n', null)],
  ['mg\r\n', err(ERR, 4)],
  ['mg key 1x\r\n', err(FORMAT, 11)],
  [`mg ${K251}\r\n`, err(FORMAT, 256)],
  [`mg ${'A'.repeat(337)} b\r\n`, err(FORMAT, 344)],
  ['mn extra\r\n', err(ERR, 10)],
  ['ms key\r\n', err(ERR, 8)],
  ['ms key abc\r\n', err(FORMAT, 12)],
  ['ms key 2 9\r\nab\r\n', err(FORMAT, 16)],
  ['ms key 2\r\nabc\r\n', err(CHUNK, null)],
];

// Lines memcached would read differently from the parser: refused, the stream stays in step.
const U64 = '18446744073709551615';
const I64 = '9223372036854775807';
/** Refused with `reply`; the whole input (line, and data block if any) is consumed. */
const skipped = (input: string, reply: string): [string, Err] => [input, err(reply, input.length)];
const MEMCACHED_READS: [string, Ok | Err][] = [
  // a NUL (ends memcached's token scan) or a bare LF (ends its line) inside an otherwise valid line
  skipped('get a\nb\tc\r\n', FORMAT),
  skipped('get a\x00b\r\n', FORMAT),
  skipped('gets a b\n\r\n', FORMAT),
  skipped('delete k\n\r\n', FORMAT),
  skipped('incr k 1\x00\r\n', FORMAT),
  skipped('version \x00\r\n', ERR), // wrong token count wins, as before
  skipped('get\n a\r\n', ERR), // unknown name wins
  skipped('mg k v\x00\r\n', FORMAT),
  skipped('me k\n\r\n', FORMAT),
  // storage: a valid length swallows the data block, one reply
  skipped('set a\x00b 0 0 1\r\nx\r\n', FORMAT),
  skipped('set k\n 0 0 1\r\nx\r\n', FORMAT),
  skipped('cas k 0 0 1 5\n\r\nx\r\n', FORMAT),
  skipped('ms k 1 T\x00\r\nx\r\n', FORMAT),
  ['set a\nb 0 0 1\r\nxy\r\n', err(CHUNK, null)], // a bad chunk still closes
  ['get a\nb\r\r', err(FORMAT, null)], // CR without LF still closes
  // flags ≤ 2^64-1, exptime ≤ 2^63-1, cas ≤ 2^64-1 on storage commands (leading zeros allowed)
  [`set k ${U64} ${I64} 1\r\nx\r\n`, ok(`set k ${U64} ${I64} 1\r\nx\r\n`, 'set', ['k'])],
  [`add k 000${U64} 0${I64} 1\r\nx\r\n`, ok(`add k 000${U64} 0${I64} 1\r\nx\r\n`, 'add', ['k'])],
  [`cas k 0 0 1 ${U64} noreply\r\nx\r\n`, ok(`cas k 0 0 1 ${U64} noreply\r\nx\r\n`, 'cas', ['k'], { noreply: true })],
  skipped('set k 18446744073709551616 0 1\r\nx\r\n', FORMAT),
  skipped('append k 99999999999999999999 0 1\r\nx\r\n', FORMAT),
  skipped('prepend k 100000000000000000000 0 1\r\nx\r\n', FORMAT),
  skipped('replace k 0 9223372036854775808 1\r\nx\r\n', FORMAT),
  skipped('set k 0 10000000000000000000 1 noreply\r\nx\r\n', FORMAT),
  skipped('cas k 0 0 1 18446744073709551616\r\nx\r\n', FORMAT),
  ['incr k 99999999999999999999\r\n', ok('incr k 99999999999999999999\r\n', 'incr', ['k'])], // storage only
  // a meta flag token starting with `q` is quiet, whatever follows
  ['mg key qx v\r\n', ok('mg key qx v\r\n', 'mg', ['key'], { quiet: true })],
  ['md key v qq\r\n', ok('md key v qq\r\n', 'md', ['key'], { quiet: true })],
  ['ma key q1\r\n', ok('ma key q1\r\n', 'ma', ['key'], { quiet: true })],
  ['ms key 2 qa T0\r\nhi\r\n', ok('ms key 2 qa T0\r\nhi\r\n', 'ms', ['key'], { quiet: true })],
  ['mg key Q v\r\n', ok('mg key Q v\r\n', 'mg', ['key'])],
  ['mg a2V5 bq\r\n', ok('mg a2V5 bq\r\n', 'mg', ['a2V5'])],
];

test('valid requests: whole, byte by byte, every split', () => {
  for (const [input, exp] of VALID) check(H, b(input), [exp]);
});

test('invalid requests: reply, resynchronisation, every split', () => {
  for (const [input, exp] of INVALID) check(H, b(input), [exp]);
});

test('lines memcached would read differently: NUL, bare LF, 64-bit numbers, q… flags; every split', () => {
  for (const [input, exp] of MEMCACHED_READS) check(H, b(input), [exp]);
  // the stream goes on after each refusal
  check(H, b('get a\nb\r\nget c\r\n'), [err(FORMAT, 9), ok('get c\r\n', 'get', ['c'])]);
  check(H, b('set a\x00 0 0 2\r\nhi\r\nmg c qv\r\n'), [err(FORMAT, 18), ok('mg c qv\r\n', 'mg', ['c'], { quiet: true })]);
  check(H, b(`set k 0 ${I64}0 1\r\nx\r\nget k\r\n`), [err(FORMAT, 35), ok('get k\r\n', 'get', ['k'])]);
  // a bad byte in the length token: the line alone is skipped, the data is then read as a command
  check(H, b('set k 0 0 1\n\r\nx\r\nget k\r\n'), [err(FORMAT, 14), err(ERR, 3), ok('get k\r\n', 'get', ['k'])]);
  // the flag is per request: a clean line after a refused one is OK
  check(H, b('mg k\x00\r\nmg k\r\n'), [err(FORMAT, 7), ok('mg k\r\n', 'mg', ['k'])]);
});

test('a request after a recoverable error is parsed normally', () => {
  const input = 'GET key\r\nget key\r\nset k 0 -1 1\r\nx\r\nget k2\r\n';
  check(H, b(input), [err(ERR, 9), ok('get key\r\n', 'get', ['key']), err(FORMAT, 17), ok('get k2\r\n', 'get', ['k2'])]);
  // memcached style: a line with a bad length is skipped alone, its data is then read as a command
  check(H, b('set key 0 0 x\r\nhello\r\nget a\r\n'), [err(FORMAT, 15), err(ERR, 7), ok('get a\r\n', 'get', ['a'])]);
});

test('an unrecoverable error ends the stream', () => {
  check(H, b('get a\r\nget b\r\rget c\r\n'), [ok('get a\r\n', 'get', ['a']), err(FORMAT, null)]);
});

test('pipeline of mixed commands in one buffer', () => {
  const parts: [string, Ok][] = [
    ['get a b\r\n', ok('get a b\r\n', 'get', ['a', 'b'])],
    ['set k 1 2 3 noreply\r\nx\r\n\r\n', ok('set k 1 2 3 noreply\r\nx\r\n\r\n', 'set', ['k'], { noreply: true })],
    ['incr n 5\r\n', ok('incr n 5\r\n', 'incr', ['n'])],
    ['mg k q v\r\n', ok('mg k q v\r\n', 'mg', ['k'], { quiet: true })],
    ['ms k 2 q\r\nhi\r\n', ok('ms k 2 q\r\nhi\r\n', 'ms', ['k'], { quiet: true })],
    ['mn\r\n', ok('mn\r\n', 'mn', [])],
    ['delete k noreply\r\n', ok('delete k noreply\r\n', 'delete', ['k'], { noreply: true })],
    ['gets a\r\n', ok('gets a\r\n', 'gets', ['a'])],
    ['version\r\n', ok('version\r\n', 'version', [])],
    ['cas k 0 0 1 99\r\nz\r\n', ok('cas k 0 0 1 99\r\nz\r\n', 'cas', ['k'])],
    ['quit\r\n', ok('quit\r\n', 'quit', [])],
  ];
  check(H, b(parts.map((p) => p[0]).join('')), parts.map((p) => p[1]));
});

test('partial input reports AGAIN with need', () => {
  assert.deepStrictEqual(feed(H, b('get ke'), [], false), [{ again: 8 }]);
  assert.deepStrictEqual(feed(H, b('get key\r'), [], false), [{ again: 9 }]);
  assert.deepStrictEqual(feed(H, b('set k 0 0 5\r\nhel'), [], false), [{ again: 20 }]);
  assert.deepStrictEqual(feed(H, b('get a\r\nset k 0 0 5\r\n'), [], false), [ok('get a\r\n', 'get', ['a']), { again: 20 }]);
});

test('1 MB data block: need, few splits', () => {
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 7)) & 0xff;
  data.write('\r\n', 1000, 'latin1');
  const header = b(`set big 0 0 ${data.length}\r\n`);
  const req = Buffer.concat([header, data, b('\r\nget big\r\n')]);
  const total = header.length + data.length + 2;
  const exp = [
    { st: 'OK', cmd: 'set', keys: ['big'], noreply: false, header: header.length, end: total, data: data.toString('latin1'), quiet: false, b64: false },
    ok('get big\r\n', 'get', ['big']),
  ];
  check(H, req, exp);
  const cuts = [3, header.length, header.length + 1, header.length + 65536, total - 2, total - 1, total, total + 4];
  assert.deepStrictEqual(feed(H, req, cuts, true), exp);
  assert.deepStrictEqual(feed(H, req, cuts, false), exp);
  const chunks: number[] = [];
  for (let c = 65536; c < req.length; c += 65536) chunks.push(c);
  assert.deepStrictEqual(feed(H, req, chunks, true), exp);
  // need == the whole request once the line is in
  const p = new McRequestParser();
  assert.equal(p.parse(req.subarray(0, header.length - 1), 0), AGAIN);
  assert.equal(p.need, header.length);
  assert.equal(p.parse(req.subarray(0, header.length + 10), 0), AGAIN);
  assert.equal(p.need, total);
  assert.equal(p.parse(req.subarray(0, total - 1), 0), AGAIN);
  assert.equal(p.need, total);
  assert.equal(p.parse(req, 0), OK);
  assert.equal(p.dataStart, header.length);
  assert.equal(p.dataEnd, header.length + data.length);
  assert.equal(p.dataLen, data.length);
  assert.equal(p.end, total);
});

test('line limits: 2048 for most commands, MC_MAX_GET_LINE for get/gets', () => {
  // a set line of exactly MC_MAX_LINE bytes (CRLF included) is accepted
  const pre = 'set ';
  const tail = ' 0 0 1\r\n';
  const key = 'k'.repeat(MC_MAX_LINE - pre.length - tail.length);
  const exact = `${pre}${key}${tail}x\r\n`;
  assert.equal(exact.indexOf('\r\n') + 2, MC_MAX_LINE);
  check(H, b(exact), [err(FORMAT, exact.length)]); // key > 250, data swallowed
  // one byte more: line too long
  const over = `${pre}k${key}${tail}x\r\n`;
  check(H, b(over), [err(LONG, null)]);
  check(H, b('x'.repeat(5000)), [err(LONG, null)]);
  check(H, b(' '.repeat(3000) + 'get a\r\n'), [err(LONG, null)]);
  // a long multi-get line
  const keys: string[] = [];
  for (let i = 0; i < 400; i++) keys.push(`key:${String(i).padStart(6, '0')}`);
  const get = `get ${keys.join(' ')}\r\n`;
  assert.ok(get.length > MC_MAX_LINE);
  check(H, b(get), [ok(get, 'get', keys)], 8192);
  // get line over the get limit
  const huge = b(`gets ${'abcdefghi '.repeat(MC_MAX_GET_LINE / 10 + 1)}\r\n`);
  check(H, huge, [err(LONG, null)]);
  const fits = Buffer.concat([b('get '), Buffer.alloc(MC_MAX_GET_LINE - 6, 0x61), b('\r\n')]);
  for (let i = 8; i < fits.length - 2; i += 9) fits[i] = 0x20;
  const p = new McRequestParser();
  assert.equal(p.parse(fits, 0), OK);
  assert.equal(p.end, MC_MAX_GET_LINE);
});

test('command lookup: lowercase table names only', () => {
  for (const row of MC_COMMANDS) assert.equal(lookupCommand(b(row.name), 0, row.name.length), row.id);
  assert.equal(lookupCommand(b('GET'), 0, 3), MC_UNKNOWN);
  assert.equal(lookupCommand(b('getx'), 0, 4), MC_UNKNOWN);
  assert.equal(lookupCommand(b('prepends'), 0, 8), MC_UNKNOWN);
  assert.equal(lookupCommand(b('g'), 0, 1), MC_UNKNOWN);
  assert.equal(MC_COMMANDS[MC_GET]!.isRetrieval, true);
  assert.equal(MC_COMMANDS[MC_SET]!.isStorage, true);
});

test('the parser reuses its keys array and start offsets are honoured', () => {
  const p = new McRequestParser();
  const keys = p.keys;
  const buf = b('xxget a b c\r\nget d\r\n');
  assert.equal(p.parse(buf, 2), OK);
  assert.deepStrictEqual(p.keys, [6, 7, 8, 9, 10, 11]);
  assert.equal(p.parse(buf, p.end), OK);
  assert.deepStrictEqual(p.keys, [17, 18]);
  assert.equal(p.keys, keys);
});

// --- property: random storage commands, random data, random splits

// no separator (SP, CR) and nothing memcached would end the line at (NUL, LF)
const KEY_BYTE = fc.integer({ min: 0, max: 255 }).map((c) => (c === 32 || c === 13 || c === 0 || c === 10 ? 0x5f : c));
const STORAGE = ['set', 'add', 'replace', 'append', 'prepend', 'cas', 'ms'] as const;
const cmdArb = fc.record({
  name: fc.constantFrom(...STORAGE),
  key: fc.array(KEY_BYTE, { minLength: 1, maxLength: 250 }),
  flags: fc.nat({ max: 0xffffffff }),
  exptime: fc.nat({ max: 100000 }),
  cas: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  noreply: fc.boolean(),
  quiet: fc.boolean(),
  data: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  spaces: fc.integer({ min: 1, max: 3 }),
});
type Cmd = typeof cmdArb extends fc.Arbitrary<infer T> ? T : never;

function encode(c: Cmd): { bytes: Buffer; exp: Ok } {
  const key = Buffer.from(c.key);
  const sp = ' '.repeat(c.spaces);
  let line: string;
  if (c.name === 'ms') line = `${sp}${c.data.length} T${c.exptime}${c.quiet ? ' q' : ''}`;
  else {
    line = `${sp}${c.flags}${sp}${c.exptime}${sp}${c.data.length}`;
    if (c.name === 'cas') line += ` ${c.cas}`;
    if (c.noreply) line += ' noreply';
  }
  const header = Buffer.concat([b(c.name + ' '), key, b(line + '\r\n')]);
  const bytes = Buffer.concat([header, Buffer.from(c.data), b('\r\n')]);
  const exp: Ok = {
    st: 'OK',
    cmd: c.name,
    keys: [key.toString('latin1')],
    noreply: c.name !== 'ms' && c.noreply,
    header: header.length,
    end: bytes.length,
    data: Buffer.from(c.data).toString('latin1'),
    quiet: c.name === 'ms' && c.quiet,
    b64: false,
  };
  return { bytes, exp };
}

test('property: random storage pipelines at random splits', () => {
  fc.assert(
    fc.property(
      fc.array(cmdArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.boolean(),
      (cmds, rawCuts, newBuffer) => {
        const enc = cmds.map(encode);
        const input = Buffer.concat(enc.map((e) => e.bytes));
        const cuts = [...new Set(rawCuts.map((c) => c % input.length))].filter((c) => c > 0).sort((x, y) => x - y);
        assert.deepStrictEqual(feed(H, input, cuts, newBuffer), enc.map((e) => e.exp));
      },
    ),
    { numRuns: 400 },
  );
});
