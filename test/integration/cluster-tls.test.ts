// A Redis Cluster pool with server_tls and redis_auth against a TLS-only cluster with requirepass (3 masters,
// `--port 0 --tls-port --tls-cluster yes`): CLUSTER SLOTS refreshes and the data connections both dial TLS and
// AUTH; keys on every master; a MOVED followed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import Redis from 'ioredis';
import { startNutmeg, freePort, readStats, type ProxyProc } from '../helpers/procs';
import { ClusterLab, keyList } from '../helpers/cluster';
import { makeCerts, type Certs } from '../helpers/certs';
import { keySlot } from '../../src/route/slot';

let certs: Certs;
let lab: ClusterLab;
let nm: ProxyProc;
let port = 0;
let client: Redis;

function slotOf(key: string): number {
  const b = Buffer.from(key);
  return keySlot(b, 0, b.length);
}

before(async () => {
  certs = makeCerts();
  lab = await ClusterLab.start(3, 0, 2000, certs, 'cl-secret');
  port = await freePort();
  const masters = await lab.masters();
  nm = await startNutmeg(
    [
      'cl:',
      `  listen: 127.0.0.1:${port}`,
      '  redis: true',
      '  redis_cluster: true',
      '  timeout: 2000',
      '  redis_auth: cl-secret',
      '  server_tls: true',
      `  server_tls_ca_cert_file: ${certs.ca}`,
      '  servers:',
      `    - 127.0.0.1:${masters[0]}:1`,
      '',
    ].join('\n'),
    [port],
  );
  client = new Redis({ port, host: '127.0.0.1', password: 'cl-secret' }); // redis_auth is the clients' password too
});

after(async () => {
  client?.disconnect();
  await nm?.stop();
  await lab?.stop();
  if (certs !== undefined) fs.rmSync(certs.dir, { recursive: true, force: true });
});

test('server_tls and redis_auth: the slot map and the keys of every master go over TLS; a MOVED is followed there too', async () => {
  const keys = keyList('tls', 60);
  const args: string[] = [];
  keys.forEach((k, i) => args.push(k, `t${i}`));
  assert.equal(await client.mset(...args), 'OK');
  assert.deepEqual(await client.mget(...keys), keys.map((_, i) => `t${i}`));
  const owners = new Set<number>();
  for (const k of keys.slice(0, 20)) {
    const owner = await lab.ownerOf(slotOf(k));
    owners.add(owner);
    assert.equal(await lab.cmd(owner, 'GET', k), `t${keys.indexOf(k)}`);
  }
  assert.equal(owners.size, 3, 'keys on all three masters');
  // Move an empty slot: nutmeg learns it from the MOVED, over TLS.
  const key = 'tls:{moved}';
  const slot = slotOf(key);
  const src = await lab.ownerOf(slot);
  const dst = (await lab.masters()).find((m) => m !== src) as number;
  const dstId = await lab.id(dst);
  for (const p of await lab.masters()) await lab.cmd(p, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId);
  assert.equal(await client.set(key, 'm'), 'OK');
  assert.equal(await lab.cmd(dst, 'GET', key), 'm');
  const st = (await readStats(nm.statsPort))['cl'] as Record<string, number>;
  assert.equal(st['server_tls_failures'], 0);
  assert.ok((st['cluster_refreshes'] as number) >= 1);
  await lab.waitOk();
});
