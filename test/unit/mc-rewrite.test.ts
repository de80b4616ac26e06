// Memcache routes, the bytes they change: capped exptimes for failover writes, cas mirrored as set, warm-up adds
// built from VALUE blocks; and the failover pool's ring that keeps a down server's place (ROUTE_DOWN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addFromValue, capExptime, capTtl, casAsSet, scanLine } from '../../src/protocol/memcache/rewrite';
import { McRequestParser } from '../../src/protocol/memcache/request';
import { McReplyParser, MODE_RETRIEVAL } from '../../src/protocol/memcache/reply';
import { OK } from '../../src/protocol/parse';
import { Router, ROUTE_DOWN } from '../../src/route/router';

const NOW = 1_800_000_000;

/** capExptime of one request, as text (the input unchanged when nothing is capped); the output must parse. */
function capped(req: string, cap = 60): string {
  const buf = Buffer.from(`xx${req}yy`, 'latin1'); // not at offset 0, and bytes after it
  const p = new McRequestParser();
  assert.equal(p.parse(buf.subarray(0, buf.length - 2), 2), OK, `valid: ${req}`);
  const out = capExptime(buf, 2, p.end, p.cmd, cap, NOW);
  if (out === null) return req;
  const q = new McRequestParser();
  assert.equal(q.parse(out, 0), OK, `still valid: ${out.toString('latin1')}`);
  assert.equal(q.end, out.length);
  return out.toString('latin1');
}

test('capTtl: memcached exptime semantics', () => {
  assert.equal(capTtl(0, 60, NOW), 60); // never expires ─► the cap
  assert.equal(capTtl(3600, 60, NOW), 60);
  assert.equal(capTtl(30, 60, NOW), 30);
  assert.equal(capTtl(-1, 60, NOW), -1); // already expired stays so
  assert.equal(capTtl(NOW + 30, 60, NOW), NOW + 30); // a unix time sooner than the cap is kept
  assert.equal(capTtl(NOW + 3600, 60, NOW), 60);
  assert.equal(capTtl(2592000, 60, NOW), 60); // 30 days is still relative
});

test('capExptime: storage commands, touch, meta TTL flags; other commands unchanged', () => {
  assert.equal(capped('set k 5 3600 2\r\nab\r\n'), 'set k 5 60 2\r\nab\r\n');
  assert.equal(capped('set k 5 0 2 noreply\r\nab\r\n'), 'set k 5 60 2 noreply\r\nab\r\n');
  assert.equal(capped('add k 0 10 2\r\nab\r\n'), 'add k 0 10 2\r\nab\r\n');
  assert.equal(capped('replace k 0 99999 1\r\nx\r\n', 2), 'replace k 0 2 1\r\nx\r\n');
  assert.equal(capped('cas k 1 0 1 77\r\nx\r\n'), 'cas k 1 60 1 77\r\nx\r\n');
  assert.equal(capped('append k 0 0 1\r\nx\r\n'), 'append k 0 0 1\r\nx\r\n'); // memcached ignores it
  assert.equal(capped('touch k 3600\r\n'), 'touch k 60\r\n');
  assert.equal(capped('touch k 5 noreply\r\n'), 'touch k 5 noreply\r\n');
  assert.equal(capped('get k\r\n'), 'get k\r\n');
  assert.equal(capped('delete k\r\n'), 'delete k\r\n');
  assert.equal(capped('incr k 1\r\n'), 'incr k 1\r\n');
  assert.equal(capped('ms k 2 T0 F3\r\nab\r\n'), 'ms k 2 T60 F3\r\nab\r\n');
  assert.equal(capped('ms k 2\r\nab\r\n'), 'ms k 2 T60\r\nab\r\n'); // no T: it would never expire
  assert.equal(capped('ms k 2 q T5\r\nab\r\n'), 'ms k 2 q T5\r\nab\r\n');
  assert.equal(capped('mg k v N0 T9999\r\n'), 'mg k v N60 T60\r\n');
  assert.equal(capped('mg k v\r\n'), 'mg k v\r\n');
  assert.equal(capped('ma k N100 D3\r\n'), 'ma k N60 D3\r\n');
  assert.equal(capped('md k I T30\r\n'), 'md k I T30\r\n');
  // a large value: only the line changes
  const v = 'x'.repeat(100_000);
  assert.equal(capped(`set big 0 0 ${v.length}\r\n${v}\r\n`), `set big 0 60 ${v.length}\r\n${v}\r\n`);
});

test('casAsSet: the cas unique and noreply go (a mirror copy is always answered), data is copied as is', () => {
  const req = Buffer.from('..cas key 12 300 5 9876\r\nhello\r\n', 'latin1');
  assert.equal(casAsSet(req, 2, req.length).toString('latin1'), 'set key 12 300 5\r\nhello\r\n');
  const nr = Buffer.from('cas key 0 0 3 1 noreply\r\na\r\n\r\n', 'latin1');
  assert.equal(casAsSet(nr, 0, nr.length).toString('latin1'), 'set key 0 0 3\r\na\r\n\r\n');
});

test('addFromValue: a VALUE block (get or gets) becomes add … noreply with the warm-up exptime', () => {
  const rep = Buffer.from('VALUE k1 7 3\r\nabc\r\nVALUE key-two 0 4 12345\r\nab\r\n\r\nEND\r\n', 'latin1');
  const p = new McReplyParser();
  p.mode = MODE_RETRIEVAL;
  assert.equal(p.parse(rep, 0), OK);
  const v = p.values;
  assert.equal(addFromValue(rep, v[0]!, v[1]!, v[2]!, v[3]!, 3600).toString('latin1'), 'add k1 7 3600 3 noreply\r\nabc\r\n');
  assert.equal(addFromValue(rep, v[4]!, v[5]!, v[6]!, v[7]!, 0).toString('latin1'), 'add key-two 0 0 4 noreply\r\nab\r\n\r\n');
});

test('scanLine: tokens and the CR of a command line', () => {
  const b = Buffer.from('  get  a bb \r\n', 'latin1');
  const l = scanLine(b, 2);
  assert.equal(l.n, 3);
  assert.deepEqual([0, 1, 2].map((i) => b.toString('latin1', l.s[i], l.e[i])), ['get', 'a', 'bb']);
  assert.equal(b[l.cr], 13);
});

test('keepRing: a down server keeps its points and answers ROUTE_DOWN; the others keep their keys', () => {
  const servers = ['a', 'b', 'c', 'd'].map((name) => ({ name, weight: 1 }));
  const opts = { hash: 'md5' as const, distribution: 'ketama' as const, hashTag: null, servers };
  const all = new Router(opts);
  const kept = new Router({ ...opts, keepRing: true }, [true, false, true, true]);
  const moved = new Router(opts, [true, false, true, true]);
  let down = 0;
  let movedAway = 0;
  for (let i = 0; i < 2000; i++) {
    const k = Buffer.from(`key:${i}`);
    const home = all.route(k, 0, k.length);
    const r = kept.route(k, 0, k.length);
    if (home === 1) {
      assert.equal(r, ROUTE_DOWN);
      down++;
      if (moved.route(k, 0, k.length) !== 1) movedAway++;
    } else {
      assert.equal(r, home, 'a healthy server keeps its keys');
    }
  }
  assert.ok(down > 300, `server b had ${down} of 2000 keys`);
  assert.equal(movedAway, down, 'without keepRing the same keys move to other servers');
  assert.equal(new Router({ ...opts, keepRing: true }, [false, false, false, false]).route(Buffer.from('x'), 0, 1), -1);
  const one = new Router({ ...opts, servers: [{ name: 'solo', weight: 1 }], keepRing: true }, [false]);
  assert.equal(one.route(Buffer.from('x'), 0, 1), -1);
  // modula and random keep the down server too
  for (const distribution of ['modula', 'random'] as const) {
    const r = new Router({ ...opts, distribution, keepRing: true }, [true, false, true, true]);
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) seen.add(r.route(Buffer.from(`k${i}`), 0, `k${i}`.length));
    assert.deepEqual([...seen].sort(), [-2, 0, 2, 3].sort(), distribution);
  }
});
