// Redis Cluster pools, the pure parts: the slot function (values from a real node's CLUSTER KEYSLOT), the {tag}
// rule, the slot table, CLUSTER SLOTS and MOVED/ASK parsing, and -t's messages for redis_cluster pools.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keySlot, SLOTS } from '../../src/route/slot';
import { ClusterTable, slotRanges } from '../../src/route/cluster-table';
import { FragScratch } from '../../src/forward/protocol';
import { parseClusterSlots, parseRedirect, coveredSlots } from '../../src/server/cluster-topology';
import { RespError, decodeReply, type RespValue } from '../../src/protocol/redis/decode';
import { endpointOf } from '../../src/server/backend';
import { parseConfigText } from '../../src/config/load';
import { ConfigError } from '../../src/config/errors';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK } from '../../src/protocol/parse';

function slot(key: string): number {
  const b = Buffer.from(key, 'latin1');
  return keySlot(b, 0, b.length);
}

test('keySlot: CRC16/XMODEM mod 16384, as CLUSTER KEYSLOT of Redis 7.0.15 answers', () => {
  const known: [string, number][] = [
    ['foo', 12182],
    ['bar', 5061],
    ['somekey', 11058],
    ['123456789', 12739],
    ['{user1000}.following', 3443],
    ['{user1000}.followers', 3443],
    ['foo{}{bar}', 8363], // empty tag: the whole key
    ['foo{{bar}}zap', 4015], // tag "{bar"
    ['foo{bar}{zap}', 5061], // the first tag: "bar"
    ['{}', 15257],
    ['a{', 14311], // no closing brace: the whole key
  ];
  for (const [k, s] of known) assert.equal(slot(k), s, k);
  // A key inside a larger buffer: only its bytes count.
  const b = Buffer.from('xx{user1000}.followingyy');
  assert.equal(keySlot(b, 2, b.length - 2), 3443);
  for (let i = 0; i < 1000; i++) {
    const s = slot(`k${i}`);
    assert.ok(s >= 0 && s < SLOTS);
  }
});

test('ClusterTable: slot indices, distinct nodes, MOVED as a new table, ranges', () => {
  const a = { name: 'a' };
  const b = { name: 'b' };
  const slots = new Array<{ name: string } | null>(SLOTS).fill(null);
  for (let s = 0; s < 8192; s++) slots[s] = a;
  for (let s = 8192; s < SLOTS - 1; s++) slots[s] = b;
  const t = new ClusterTable(slots, 400, new FragScratch(SLOTS));
  assert.equal(t.covered, SLOTS - 1);
  assert.equal(t.nodeCount, 2);
  assert.equal(t.target(t.node(0)), a);
  assert.equal(t.target(t.node(1)), b);
  const foo = Buffer.from('foo');
  assert.equal(t.route(foo, 0, 3), 12182);
  assert.equal(t.target(12182), b);
  assert.equal(t.isLive(SLOTS - 1), false);
  assert.equal(t.clustered, true);
  assert.equal(t.rangesOf(b), '8192-16382');
  const t2 = t.withSlot(12182, a);
  assert.equal(t2.target(12182), a);
  assert.equal(t.target(12182), b, 'the old table is unchanged');
  assert.equal(t2.rangesOf(a), '0-8191 12182');
  assert.equal(t2.rangesOf(b), '8192-12181 12183-16382');
  assert.ok(t2.version > t.version);
  const none = ClusterTable.empty(0, new FragScratch(SLOTS));
  assert.equal(none.route(foo, 0, 3), -1);
  assert.equal(none.firstLive(), -1);
  assert.equal(slotRanges([1, 1, 0, 1], (x) => x === 1), '0-1 3');
});

function decode(text: string): RespValue {
  const buf = Buffer.from(text.replace(/\n/g, '\r\n'));
  const p = new RedisReplyParser();
  assert.equal(p.parse(buf, 0), OK);
  return decodeReply(buf, 0);
}

test('CLUSTER SLOTS parsing: masters, replicas, an empty address is the node asked, `?` is left out', () => {
  const via = endpointOf('10.0.0.9', 7000, null);
  const v = decode(
    [
      '*3',
      '*4', ':0', ':5460', '*3', '$9', '127.0.0.1', ':7000', '$4', 'id-a', '*4', '$9', '127.0.0.1', ':7003', '$4', 'id-d', '%0',
      '*3', ':5461', ':10922', '*3', '$0', '', ':7001', '$4', 'id-b',
      '*3', ':10923', ':16383', '*3', '$1', '?', ':7002', '$4', 'id-c',
      '',
    ].join('\n'),
  );
  const r = parseClusterSlots(v, via);
  assert.ok(Array.isArray(r), String(r));
  assert.equal(r.length, 2);
  assert.deepEqual(r[0], { start: 0, end: 5460, master: endpointOf('127.0.0.1', 7000, null), replicas: [endpointOf('127.0.0.1', 7003, null)] });
  assert.equal(r[1]?.master.address, '10.0.0.9:7001');
  assert.equal(coveredSlots(r), 10923);
  assert.equal(parseClusterSlots(new RespError('ERR This instance has cluster support disabled'), via), 'ERR This instance has cluster support disabled');
  assert.match(String(parseClusterSlots([[5, 3, ['h', 1]]], via)), /bad slot range/);
  assert.match(String(parseClusterSlots('x', via)), /not answer an array/);
});

test('MOVED/ASK parsing', () => {
  assert.deepEqual(parseRedirect('MOVED 3999 127.0.0.1:6381'), { slot: 3999, to: endpointOf('127.0.0.1', 6381, null) });
  assert.deepEqual(parseRedirect('ASK 3999 [::1]:6381'), { slot: 3999, to: endpointOf('::1', 6381, null) });
  assert.deepEqual(parseRedirect('MOVED 1 :6381'), { slot: 1, to: endpointOf('', 6381, null) });
  assert.equal(parseRedirect('MOVED 16384 127.0.0.1:6381'), null);
  assert.equal(parseRedirect('MOVED 12'), null);
  assert.equal(parseRedirect('MOVED x 127.0.0.1:1'), null);
});

const F = 'conf/c.yml';
function cluster(extra: string, head = '  redis: true\n  redis_cluster: true\n'): string {
  return `cl:\n  listen: 127.0.0.1:22122\n${head}${extra}  servers:\n   - 127.0.0.1:7000:1\n`;
}

function rejects(text: string, key: string, message: string): void {
  assert.throws(
    () => parseConfigText(text, F),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, 'ECLUSTER');
      assert.equal(e.pool, 'cl');
      assert.equal(e.key, key);
      assert.equal(e.message, message);
      return true;
    },
  );
}

test('redis_cluster: defaults, and -t names the pool and key that make no sense with it', () => {
  const p = parseConfigText(cluster(''), F).pools[0];
  assert.ok(p !== undefined);
  assert.equal(p.redisCluster, true);
  assert.equal(p.clusterRefreshInterval, 10000);
  assert.equal(p.clusterMaxRedirects, 5);
  assert.equal(p.readPolicy, 'master');
  const q = parseConfigText(cluster('  cluster_refresh_interval: 2000\n  cluster_max_redirects: 3\n  read_policy: prefer_replica\n  redis_db: 0\n'), F).pools[0];
  assert.equal(q?.clusterRefreshInterval, 2000);
  assert.equal(q?.clusterMaxRedirects, 3);
  assert.equal(q?.readPolicy, 'prefer_replica');
  rejects(cluster('  hash: murmur\n'), 'hash', `${F}: pool 'cl': key 'hash': not valid with 'redis_cluster: true' (Redis Cluster places keys by CRC16 slot) at line 5`);
  rejects(cluster('  distribution: modula\n'), 'distribution', `${F}: pool 'cl': key 'distribution': not valid with 'redis_cluster: true' (Redis Cluster places keys by CRC16 slot) at line 5`);
  rejects(cluster('  hash_tag: "{}"\n'), 'hash_tag', `${F}: pool 'cl': key 'hash_tag': not valid with 'redis_cluster: true' (Redis Cluster's {...} hash tags always apply) at line 5`);
  rejects(cluster('  auto_eject_hosts: true\n'), 'auto_eject_hosts', `${F}: pool 'cl': key 'auto_eject_hosts': not valid with 'redis_cluster: true' (the cluster fails over; nutmeg follows CLUSTER SLOTS instead of ejecting nodes) at line 5`);
  rejects(cluster('  server_retry_timeout: 100\n'), 'server_retry_timeout', `${F}: pool 'cl': key 'server_retry_timeout': not valid with 'redis_cluster: true' (nodes are never ejected in a cluster pool) at line 5`);
  rejects(cluster('  sentinels:\n   - 127.0.0.1:26379:1\n'), 'sentinels', `${F}: pool 'cl': key 'sentinels': not valid with 'redis_cluster: true' (Redis Cluster does its own failover) at line 5`);
  rejects(cluster('  redis_db: 2\n'), 'redis_db', `${F}: pool 'cl': key 'redis_db': 2 is not valid with 'redis_cluster: true' (Redis Cluster has only database 0) at line 5`);
  rejects(cluster('  redis_databases: 4\n'), 'redis_databases', `${F}: pool 'cl': key 'redis_databases': not valid with 'redis_cluster: true' (Redis Cluster has only database 0) at line 5`);
  rejects(cluster('  read_policy: any\n'), 'read_policy', `${F}: pool 'cl': key 'read_policy': 'any' is not valid with 'redis_cluster: true' (expected one of: master, replica, prefer_replica) at line 5`);
  rejects(cluster('', '  redis_cluster: true\n'), 'redis_cluster', `${F}: pool 'cl': key 'redis_cluster': only valid in a redis pool (this pool has no 'redis: true') at line 3`);
  rejects(cluster('  cluster_refresh_interval: 100\n', '  redis: true\n'), 'cluster_refresh_interval', `${F}: pool 'cl': key 'cluster_refresh_interval': only valid in a pool with 'redis_cluster: true' at line 4`);
  assert.throws(() => parseConfigText(cluster('  cluster_max_redirects: 0\n'), F), /cluster_max_redirects': cannot be 0/);
});
