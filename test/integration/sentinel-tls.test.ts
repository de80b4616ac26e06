// A Sentinel pool with server_tls (issues 14 and 16): the servers and the sentinels speak TLS, and nutmeg reaches both
// over TLS: it learns the master from the sentinels' TLS ports, checks ROLE on the new master over TLS, and follows a
// SENTINEL FAILOVER. Every process also has a plain port, used only by the test itself to look at them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startNutmeg, freePort, until, waitPort, readStats, Proc, type ProxyProc } from '../helpers/procs';
import { makeCerts, type Certs } from '../helpers/certs';
import { redisCmd } from '../helpers/redis-cmd';
import { fieldMap } from '../../src/protocol/redis/decode';

interface Node {
  plain: number;
  tls: number;
  proc: Proc;
}

let certs: Certs;
const nodes: Node[] = [];
const sentinels: Node[] = [];
let nm: ProxyProc;
let port = 0;

function tlsArgs(tlsPort: number): string[] {
  return ['--tls-port', String(tlsPort), '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no', '--tls-replication', 'yes'];
}

async function startNode(replicaOf: number | null): Promise<Node> {
  const plain = await freePort();
  const tls = await freePort();
  const args = ['--bind', '127.0.0.1', '--port', String(plain), '--save', '', '--appendonly', 'no', ...tlsArgs(tls)];
  if (replicaOf !== null) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  const proc = new Proc('redis-server', args);
  await waitPort(plain);
  await waitPort(tls);
  return { plain, tls, proc };
}

/** The plain port of the node whose TLS port is `tls`. */
function plainOf(tls: number): number {
  const n = nodes.find((x) => x.tls === tls);
  assert.ok(n !== undefined, `a node on TLS port ${tls}`);
  return n.plain;
}

async function masterTlsPort(): Promise<number> {
  const r = await redisCmd(sentinels[0]!.plain, 'SENTINEL', 'get-master-addr-by-name', 'shard1');
  return Array.isArray(r) ? Number(r[1]) : 0;
}

before(async () => {
  certs = makeCerts();
  const master = await startNode(null);
  nodes.push(master, await startNode(master.tls));
  for (let i = 0; i < 3; i++) {
    const plain = await freePort();
    const tls = await freePort();
    const conf = path.join(certs.dir, `sentinel-${i}.conf`);
    fs.writeFileSync(
      conf,
      [
        `port ${plain}`,
        'bind 127.0.0.1',
        `dir ${certs.dir}`,
        `tls-port ${tls}`,
        `tls-cert-file ${certs.serverCert}`,
        `tls-key-file ${certs.serverKey}`,
        `tls-ca-cert-file ${certs.ca}`,
        'tls-auth-clients no',
        'tls-replication yes',
        `sentinel monitor shard1 127.0.0.1 ${master.tls} 2`,
        'sentinel down-after-milliseconds shard1 1000',
        'sentinel failover-timeout shard1 5000',
        '',
      ].join('\n'),
    );
    const proc = new Proc('redis-server', [conf, '--sentinel']);
    await waitPort(plain);
    sentinels.push({ plain, tls, proc });
  }
  await until(
    'the sentinels to know the master, its replica and each other',
    async () => {
      for (const s of sentinels) {
        const m = fieldMap(await redisCmd(s.plain, 'SENTINEL', 'MASTER', 'shard1'));
        if (m.get('flags') !== 'master' || Number(m.get('num-other-sentinels')) < 2 || Number(m.get('num-slaves')) < 1) return false;
      }
      return true;
    },
    25000,
  );
  port = await freePort();
  const yaml = [
    'alpha:',
    `  listen: 127.0.0.1:${port}`,
    '  redis: true',
    '  timeout: 2000',
    '  server_tls: true',
    `  server_tls_ca_cert_file: ${certs.ca}`,
    '  sentinels:',
    ...sentinels.map((s) => `    - 127.0.0.1:${s.tls}:1`),
    '  servers:',
    `    - 127.0.0.1:${master.tls}:1 shard1`,
    '',
  ].join('\n');
  nm = await startNutmeg(yaml, [port], ['-v', '6']);
});

after(async () => {
  await nm?.stop();
  for (const s of sentinels) await s.proc.stop();
  for (const n of nodes) await n.proc.stop();
  if (certs !== undefined) fs.rmSync(certs.dir, { recursive: true, force: true });
});

test('server_tls covers the sentinels: nutmeg follows a failover learnt over TLS', async () => {
  const from = await masterTlsPort();
  assert.equal(await redisCmd(port, 'SET', 'tls:a', '1'), 'OK');
  assert.equal(await redisCmd(plainOf(from), 'GET', 'tls:a'), '1');

  let r = await redisCmd(sentinels[0]!.plain, 'SENTINEL', 'FAILOVER', 'shard1');
  for (let i = 0; i < 50 && r !== 'OK'; i++) {
    await new Promise((res) => setTimeout(res, 200)); // the sentinel may not accept a failover yet: ask again, bounded
    r = await redisCmd(sentinels[0]!.plain, 'SENTINEL', 'FAILOVER', 'shard1');
  }
  assert.equal(r, 'OK');
  await until('Sentinel to move shard1', async () => (await masterTlsPort()) !== from, 15000);
  const to = await masterTlsPort();
  await until('nutmeg to switch', () => nm.stderr.includes(`switched 127.0.0.1:${from} -> 127.0.0.1:${to}`), 15000);
  await until('a write through nutmeg on the new master', async () => (await redisCmd(port, 'SET', 'tls:b', '2')) === 'OK' && (await redisCmd(plainOf(to), 'GET', 'tls:b')) === '2', 10000);
  const st = await readStats(nm.statsPort);
  const alpha = st['alpha'] as Record<string, unknown>;
  assert.equal(alpha['server_tls_failures'], 0, 'no TLS handshake failed');
  assert.doesNotMatch(nm.stderr, /sentinel: .*(ECONNRESET|EPROTO|closed by peer)/, 'no sentinel connection failed');
});
