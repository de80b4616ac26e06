import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OK } from '../../src/protocol/parse';
import { mergeRetrieval } from '../../src/protocol/memcache/merge';
import { McReplyParser, MODE_RETRIEVAL, K_VALUES } from '../../src/protocol/memcache/reply';
import { McRequestParser } from '../../src/protocol/memcache/request';
import { REPLY_END, REPLY_MN, REPLY_ERROR, serverError, clientError } from '../../src/protocol/memcache/replies';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Parses `get …` and each fragment reply (behind a junk prefix), then merges. */
function merge(request: string, keyFrag: number[], replies: string[]): string {
  const rq = new McRequestParser();
  const reqBuf = b('##' + request);
  assert.equal(rq.parse(reqBuf, 2), OK);
  assert.equal(rq.nkeys, keyFrag.length);
  const keys = rq.keys.slice();
  const rp = new McReplyParser();
  const bufs: Buffer[] = [];
  const vals: number[][] = [];
  for (const r of replies) {
    const buf = b('junk' + r);
    rp.mode = MODE_RETRIEVAL;
    assert.equal(rp.parse(buf, 4), OK);
    assert.equal(rp.kind, K_VALUES);
    assert.equal(rp.end, buf.length);
    bufs.push(buf);
    vals.push(rp.values.slice());
  }
  return mergeRetrieval(reqBuf, keys, keyFrag, bufs, vals).toString('latin1');
}

const V = (k: string, d: string, cas?: number): string => `VALUE ${k} 0 ${d.length}${cas === undefined ? '' : ' ' + cas}\r\n${d}\r\n`;

test('all keys present: request order restored', () => {
  const out = merge('get a b c d\r\n', [0, 1, 0, 1], [V('a', '1') + V('c', '3') + 'END\r\n', V('b', '2') + V('d', '4') + 'END\r\n']);
  assert.equal(out, V('a', '1') + V('b', '2') + V('c', '3') + V('d', '4') + 'END\r\n');
});

test('missing keys are skipped, the remaining order is kept', () => {
  const out = merge('get a b c d e\r\n', [0, 1, 0, 1, 0], [V('c', '3') + 'END\r\n', V('b', '2') + V('d', '4') + 'END\r\n']);
  assert.equal(out, V('b', '2') + V('c', '3') + V('d', '4') + 'END\r\n');
  assert.equal(merge('get a b\r\n', [0, 1], ['END\r\n', 'END\r\n']), 'END\r\n');
  const out2 = merge('get x y z\r\n', [0, 0, 0], [V('x', 'X') + V('z', 'Z') + 'END\r\n']);
  assert.equal(out2, V('x', 'X') + V('z', 'Z') + 'END\r\n');
});

test('duplicate keys get one block each', () => {
  const out = merge('get a b a\r\n', [0, 1, 0], [V('a', '1') + V('a', '1') + 'END\r\n', 'END\r\n']);
  assert.equal(out, V('a', '1') + V('a', '1') + 'END\r\n');
});

test('gets blocks keep their cas; binary data with CRLF inside', () => {
  const out = merge('gets k1 k2 k3\r\n', [1, 0, 1], [V('k2', 'two', 22) + 'END\r\n', V('k1', 'o\r\nne', 11) + V('k3', '', 33) + 'END\r\n']);
  assert.equal(out, V('k1', 'o\r\nne', 11) + V('k2', 'two', 22) + V('k3', '', 33) + 'END\r\n');
});

test('a key that is a prefix of another does not match', () => {
  const out = merge('get ab abc\r\n', [0, 0], [V('abc', '3') + 'END\r\n']);
  assert.equal(out, V('abc', '3') + 'END\r\n');
});

test('exact size, one allocation, many fragments', () => {
  const n = 300;
  const keys: string[] = [];
  const frag: number[] = [];
  const reps: string[][] = [[], [], [], [], []];
  const want: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = `key:${i}`;
    keys.push(k);
    frag.push((i * 7) % 5);
    if (i % 3 !== 0) {
      reps[(i * 7) % 5]!.push(V(k, 'v'.repeat(i)));
      want.push(V(k, 'v'.repeat(i)));
    }
  }
  const out = merge(`get ${keys.join(' ')}\r\n`, frag, reps.map((r) => r.join('') + 'END\r\n'));
  assert.equal(out, want.join('') + 'END\r\n');
});

test('property: random hits and misses over random fragments', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ key: fc.stringMatching(/^[a-z0-9:]{1,12}$/), frag: fc.nat({ max: 3 }), hit: fc.boolean(), data: fc.string({ maxLength: 20 }) }), {
        minLength: 1,
        maxLength: 30,
      }),
      (items) => {
        // one value per distinct key (as a server would hold it); each key always goes to one fragment
        const fragOf = new Map<string, number>();
        const dataOf = new Map<string, string>();
        const hitOf = new Map<string, boolean>();
        for (const it of items) {
          if (!fragOf.has(it.key)) {
            fragOf.set(it.key, it.frag);
            dataOf.set(it.key, it.data);
            hitOf.set(it.key, it.hit);
          }
        }
        const keyFrag = items.map((it) => fragOf.get(it.key)!);
        const reps = ['', '', '', ''];
        let want = '';
        for (const it of items) {
          if (!hitOf.get(it.key)) continue;
          const v = V(it.key, Buffer.from(dataOf.get(it.key)!, 'utf8').toString('latin1'));
          reps[fragOf.get(it.key)!] += v;
          want += v;
        }
        const out = merge(`get ${items.map((it) => it.key).join(' ')}\r\n`, keyFrag, reps.map((r) => r + 'END\r\n'));
        assert.equal(out, want + 'END\r\n');
      },
    ),
    { numRuns: 300 },
  );
});

test('constant replies', () => {
  assert.equal(REPLY_END.toString(), 'END\r\n');
  assert.equal(REPLY_MN.toString(), 'MN\r\n');
  assert.equal(REPLY_ERROR.toString(), 'ERROR\r\n');
  assert.equal(serverError('Connection refused').toString(), 'SERVER_ERROR Connection refused\r\n');
  assert.equal(serverError('Connection refused'), serverError('Connection refused'));
  assert.equal(clientError('bad\r\nthing').toString(), 'CLIENT_ERROR bad  thing\r\n');
});
