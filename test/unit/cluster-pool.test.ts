// Redis Cluster pool, control logic without a cluster: CLUSTER SLOTS answers applied (a map covering fewer slots is
// ignored; changes are logged), MOVED/ASK handled as completions that redirect (the map updated at once for MOVED
// only; past cluster_max_redirects the reply becomes a clear error, never the redirection), and triggered refreshes
// rate-limited. Seeds point at 127.0.0.1:1, where nothing listens: refreshes fail fast and change nothing.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfigText } from '../../src/config/load';
import { ClusterPool } from '../../src/server/cluster-pool';
import { redisProtocol } from '../../src/forward/redis';
import { allocMsg, type Msg } from '../../src/forward/msg';
import { REPLY_CLUSTER } from '../../src/forward/protocol';
import { endpointOf, type Backend } from '../../src/server/backend';
import type { ServerConn } from '../../src/server/conn';
import type { SlotRange } from '../../src/server/cluster-topology';
import type { ClusterTable } from '../../src/route/cluster-table';
import { initLog, flushLog } from '../../src/util/log';
import { stopTicker } from '../../src/util/clock';
import { takeSnapshot, health } from '../../src/stats/snapshot';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nutmeg-cpool-'));
const logFile = path.join(dir, 'log');
initLog(6, logFile);
after(() => {
  stopTicker();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Internals {
  apply(ranges: readonly SlotRange[], via: string, why: string): void;
  ctable: ClusterTable<Backend>;
}

function newPool(extra = ''): ClusterPool {
  const c = parseConfigText(`cl:\n  listen: 127.0.0.1:22122\n  redis: true\n  redis_cluster: true\n  cluster_refresh_interval: 0\n${extra}  servers:\n   - 127.0.0.1:1:1\n`, 'c.yml');
  return new ClusterPool(c.pools[0]!, redisProtocol);
}

const ep = (port: number) => endpointOf('127.0.0.1', port, null);
const range = (start: number, end: number, port: number): SlotRange => ({ start, end, master: ep(port), replicas: [] });
const THREE = [range(0, 5460, 7000), range(5461, 10922, 7001), range(10923, 16383, 7002)];

function logText(): string {
  flushLog();
  return fs.readFileSync(logFile, 'utf8');
}

/** A request as the reply reader leaves it after an error reply `line`. */
function replied(line: string): Msg {
  const m = allocMsg();
  const req = Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n');
  m.buf = req;
  m.end = req.length;
  m.reply = Buffer.from(`-${line}\r\n`);
  return m;
}

const SHARED = { lessee: null } as unknown as ServerConn;

test('CLUSTER SLOTS answers: a full map is taken, one covering fewer slots is not; moves are logged', () => {
  const pool = newPool();
  const p = pool as unknown as Internals;
  try {
    p.apply(THREE, '127.0.0.1:7000', 'start-up');
    assert.equal(p.ctable.covered, 16384);
    assert.deepEqual(pool.servers.map((b) => b.name), ['127.0.0.1:7000', '127.0.0.1:7001', '127.0.0.1:7002']);
    const b7001 = pool.servers[1];
    // A node that lost its view (or a stale one) answers with fewer slots: ignored.
    p.apply([range(0, 5460, 7000)], '127.0.0.1:7002', 'periodic');
    assert.equal(p.ctable.covered, 16384);
    // Slots 0-99 moved to 7001: a new table, 7001 kept as the same backend (its connections stay).
    p.apply([range(0, 99, 7001), range(100, 5460, 7000), range(5461, 10922, 7001), range(10923, 16383, 7002)], '127.0.0.1:7001', 'MOVED 5 127.0.0.1:7001');
    assert.equal(pool.servers.find((b) => b.name === '127.0.0.1:7001'), b7001);
    assert.equal(pool.clusterInfo(b7001 as Backend)?.slots, '0-99 5461-10922');
    // 7002 fails over to 7005: a node removed, one added.
    p.apply([range(0, 99, 7001), range(100, 5460, 7000), range(5461, 10922, 7001), range(10923, 16383, 7005)], '127.0.0.1:7000', 'connection to 127.0.0.1:7002 failed');
    const text = logText();
    assert.match(text, /3 masters serve 16384 of 16384 slots \(via 127.0.0.1:7000, start-up\)/);
    assert.match(text, /covers 5461 slots, fewer than the 16384 in force; keeping the map in force/);
    assert.match(text, /slots 0-99 moved 127.0.0.1:7000 -> 127.0.0.1:7001 \(via 127.0.0.1:7001, MOVED 5 127.0.0.1:7001\)/);
    assert.match(text, /node 127.0.0.1:7005 added as a master, serving slots 10923-16383/);
    assert.match(text, /node 127.0.0.1:7002 removed: it serves no slot now/);
    assert.match(text, /slots 10923-16383 moved 127.0.0.1:7002 -> 127.0.0.1:7005/);
  } finally {
    pool.close();
  }
});

test('MOVED updates the slot at once and sends the request again; ASK leaves the map; the limit gives a clear error', () => {
  const pool = newPool('  cluster_max_redirects: 2\n');
  const p = pool as unknown as Internals;
  try {
    p.apply(THREE, '127.0.0.1:7000', 'start-up');
    const from = p.ctable.target(12182);
    assert.equal(from.name, '127.0.0.1:7002');
    const m = replied('MOVED 12182 127.0.0.1:1');
    assert.equal(pool.onRedirect(from, SHARED, m, REPLY_CLUSTER), true, 'taken to be sent again');
    assert.equal(p.ctable.target(12182).name, '127.0.0.1:1', 'the slot moved at once');
    assert.equal(p.ctable.target(12183).name, '127.0.0.1:7002', 'only that slot');
    assert.equal(m.redirects, 1);
    assert.equal(m.reply, null, 'the MOVED reply is dropped');
    const a = replied('ASK 100 127.0.0.1:1');
    const before = p.ctable;
    assert.equal(pool.onRedirect(p.ctable.target(100), SHARED, a, REPLY_CLUSTER), true);
    assert.equal(p.ctable, before, 'ASK does not touch the map');
    assert.equal(a.asking, true);
    // Past the limit: not sent again, and the client gets nutmeg's error instead of the redirection.
    const z = replied('MOVED 5 127.0.0.1:7001');
    z.redirects = 2;
    assert.equal(pool.onRedirect(p.ctable.target(5), SHARED, z, REPLY_CLUSTER), false);
    assert.equal(z.reply?.toString(), '-ERR nutmeg: too many cluster redirections (last: MOVED 5 127.0.0.1:7001)\r\n');
    // On a connection leased to a client (WATCH, BLPOP) the session cannot move: a clear error too.
    const w = replied('ASK 7 127.0.0.1:7001');
    assert.equal(pool.onRedirect(p.ctable.target(7), { lessee: {} } as unknown as ServerConn, w, REPLY_CLUSTER), false);
    assert.match(w.reply?.toString() ?? '', /^-ERR nutmeg: cluster redirection on a connection pinned by WATCH or a blocking command \(ASK 7 127.0.0.1:7001\); try again\r\n$/);
    // A node a refresh retired (failed over, demoted) still answers MOVED for what it was sent: followed too.
    const old = p.ctable.target(11000);
    p.apply([range(0, 5460, 7000), range(5461, 10922, 7001), range(10923, 16383, 7005)], '127.0.0.1:7000', 'failover');
    assert.equal(old.removed, true);
    const late = replied('MOVED 11000 127.0.0.1:1');
    assert.equal(pool.onRedirect(old, SHARED, late, REPLY_CLUSTER), true);
    assert.equal(late.reply, null);
    // CLUSTERDOWN is relayed as it is.
    const d = replied('CLUSTERDOWN The cluster is down');
    assert.equal(pool.onRedirect(p.ctable.target(7), SHARED, d, REPLY_CLUSTER), false);
    assert.equal(d.reply?.toString(), '-CLUSTERDOWN The cluster is down\r\n');
    // Once the pool is removed (reload, shutdown) nothing is sent again, and still no MOVED reaches a client.
    pool.close();
    const gone = replied('MOVED 5 127.0.0.1:7001');
    assert.equal(pool.onRedirect(p.ctable.target(5), SHARED, gone, REPLY_CLUSTER), false);
    assert.equal(gone.reply?.toString(), '-ERR nutmeg: cluster redirection after the pool was removed (MOVED 5 127.0.0.1:7001)\r\n');
    const st = pool.stats;
    assert.deepEqual([st.clusterMoved, st.clusterAsk, st.clusterDown, st.clusterRedirectErrors], [3, 2, 1, 2]);
  } finally {
    pool.close();
  }
});

test('triggered refreshes: one at a time, at most one a second', async () => {
  const pool = newPool();
  try {
    for (let i = 0; i < 50; i++) pool.trigger(`test ${i}`);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 50; i++) pool.trigger(`test ${i}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pool.stats.clusterRefreshes, 1, 'one refresh in the first second');
    assert.equal(pool.stats.clusterRefreshErrors, 1, 'no seed answered (nothing listens on port 1)');
    assert.match(logText(), /no node answered CLUSTER SLOTS \(test 0\): 127.0.0.1:1: ECONNREFUSED; keeping the slot map in force/);
  } finally {
    pool.close();
  }
});

test('/healthz: a cluster pool whose map does not serve every slot is unhealthy; stats list the nodes with their slots', () => {
  const pool = newPool();
  const p = pool as unknown as Internals;
  try {
    const empty = takeSnapshot([pool], { total: 0, current: 0 });
    assert.deepEqual(health(empty, false), { ok: false, reason: "pool 'cl': 0 of 16384 hash slots served by the cluster map" });
    p.apply(THREE, '127.0.0.1:7000', 'start-up');
    const snap = takeSnapshot([pool], { total: 0, current: 0 });
    assert.deepEqual(health(snap, false), { ok: true, reason: 'ok' });
    assert.deepEqual(snap.pools[0]?.servers.map((s) => [s.name, s.cluster?.role, s.cluster?.slots]), [
      ['127.0.0.1:7000', 'master', '0-5460'],
      ['127.0.0.1:7001', 'master', '5461-10922'],
      ['127.0.0.1:7002', 'master', '10923-16383'],
    ]);
  } finally {
    pool.close();
  }
});
