// Certificates rotate by reload (issue 16): under load from TLS clients, SIGUSR1 with new certificate files (new
// paths, and new bytes at the same paths) gives new connections the new certificates and no client an error; a bad
// file (missing, a key of another certificate, an expired certificate) fails -t and is rejected by a reload, with a
// message naming the file, and the last good certificates go on serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { startNutmeg, freePort, until, NUTMEG_BIN, type Backend, type ProxyProc } from '../helpers/procs';
import { makeCerts, issueCert, startRedisTls, type Certs } from '../helpers/certs';

let c: Certs;
let redis: Backend;
let px: ProxyProc;
let port = 0;

function conf(cert: string, key: string, clientCert: string, clientKey: string): string {
  return [
    'rot:',
    `  tls_listen: 127.0.0.1:${port}`,
    `  tls_cert_file: ${cert}`,
    `  tls_key_file: ${key}`,
    '  redis: true',
    '  timeout: 5000',
    '  server_connections: 2',
    '  server_tls: true',
    `  server_tls_ca_cert_file: ${c.ca}`,
    `  server_tls_cert_file: ${clientCert}`,
    `  server_tls_key_file: ${clientKey}`,
    '  servers:',
    `    - 127.0.0.1:${redis.port}:1 s0`,
    '',
  ].join('\n');
}

function reloadTo(text: string): void {
  fs.writeFileSync(`${px.conf}.tmp`, text);
  fs.renameSync(`${px.conf}.tmp`, px.conf);
  px.signal('SIGUSR1');
}

const count = (hay: string, needle: string): number => hay.split(needle).length - 1;

/** The serial number of the certificate a new TLS connection to nutmeg is shown. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(c.ca) }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

const serialOf = (file: string): string => new crypto.X509Certificate(fs.readFileSync(file)).serialNumber;

before(async () => {
  c = makeCerts();
  redis = await startRedisTls(c, { authClients: 'yes' });
  port = await freePort();
  px = await startNutmeg(conf(c.serverCert, c.serverKey, c.clientCert, c.clientKey), [port]);
});

after(async () => {
  await px?.stop();
  await redis?.stop();
  if (c !== undefined) fs.rmSync(c.dir, { recursive: true, force: true });
});

test('certificates rotate by reload under load: new connections get the new ones, no client sees an error', async () => {
  const ca = fs.readFileSync(c.ca);
  const clients = Array.from({ length: 6 }, () => new Redis({ host: '127.0.0.1', port, tls: { ca }, lazyConnect: true, maxRetriesPerRequest: 0 }));
  await Promise.all(clients.map((r) => r.connect()));
  let stop = false;
  let errors = 0;
  const done = new Array<number>(clients.length).fill(0);
  const load = clients.map(async (r, i) => {
    while (!stop) {
      const p = r.pipeline();
      for (let k = 0; k < 20; k++) p.incr(`rot:${i}`);
      const res = await p.exec();
      for (const [e] of res ?? []) {
        if (e === null) done[i]!++;
        else errors++;
      }
    }
  });
  // fresh clients connecting during the rotations too
  let fresh = 0;
  const churn = (async () => {
    while (!stop) {
      const r = new Redis({ host: '127.0.0.1', port, tls: { ca }, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await r.connect();
        await r.incr('rot:fresh');
        fresh++;
      } catch {
        errors++;
      } finally {
        r.disconnect();
      }
    }
  })();
  const live = (path.join(c.dir, 'live.crt'));
  const liveKey = path.join(c.dir, 'live.key');
  let reloads = 0;
  for (let round = 1; round <= 4; round++) {
    const [cert, key] = issueCert(c, `server-r${round}`, 'server');
    const [cc, ck] = issueCert(c, `client-r${round}`, 'client');
    if (round % 2 === 1) {
      reloadTo(conf(cert, key, cc, ck)); // new paths
    } else {
      // new bytes at the paths the config already names (files rotated in place)
      fs.copyFileSync(cert, live);
      fs.copyFileSync(key, liveKey);
      reloadTo(conf(live, liveKey, cc, ck));
    }
    reloads++;
    await until(`reload ${reloads} applied`, () => count(px.stderr, 'reload: configuration ') - count(px.stderr, "' rejected") >= reloads, 10000);
    await until(`round ${round} serves the new certificate`, async () => (await servedSerial()) === serialOf(cert), 5000);
    const before = done.reduce((a, b) => a + b, 0);
    await until('load goes on', () => done.reduce((a, b) => a + b, 0) > before + 200, 10000);
  }
  stop = true;
  await Promise.all([...load, churn]);
  assert.equal(errors, 0);
  assert.ok(fresh > 0);
  for (let i = 0; i < clients.length; i++) assert.equal(await clients[i]!.get(`rot:${i}`), String(done[i]));
  for (const r of clients) r.disconnect();
});

test('a bad certificate file fails -t and is rejected by a reload, naming the file and why; the old one serves on', async () => {
  const serial = await servedSerial();
  const missing = path.join(c.dir, 'missing.crt');
  const bad: [string, RegExp][] = [
    [conf(missing, c.serverKey, c.clientCert, c.clientKey), new RegExp(`key 'tls_cert_file': cannot read '${missing}': No such file or directory`)],
    [conf(c.serverCert, c.clientKey, c.clientCert, c.clientKey), new RegExp(`key 'tls_key_file': '${c.clientKey}': the key does not belong to the certificate in '${c.serverCert}'`)],
    [conf(c.expiredCert, c.expiredKey, c.clientCert, c.clientKey), new RegExp(`key 'tls_cert_file': '${c.expiredCert}': certificate expired on Feb  1 00:00:00 2020 GMT`)],
    [conf(c.serverCert, c.serverKey, c.ca, c.clientKey), /key 'server_tls_key_file': .* does not belong/],
    [conf(c.serverKey, c.serverKey, c.clientCert, c.clientKey), /key 'tls_cert_file': '.*server.key': no PEM certificate in the file/],
  ];
  let rejected = count(px.stderr, "' rejected");
  for (const [text, why] of bad) {
    const f = path.join(c.dir, 'bad.yml');
    fs.writeFileSync(f, text);
    const t = spawnSync(process.execPath, [NUTMEG_BIN, '-t', '-c', f], { encoding: 'utf8' });
    assert.equal(t.status, 1);
    assert.match(t.stderr + t.stdout, why);
    reloadTo(text);
    rejected++;
    await until('rejected', () => count(px.stderr, "' rejected") >= rejected, 10000);
    const line = px.stderr.split('\n').filter((l) => l.includes("' rejected")).at(-1) ?? '';
    assert.match(line, why);
  }
  assert.equal(await servedSerial(), serial);
  const r = new Redis({ host: '127.0.0.1', port, tls: { ca: fs.readFileSync(c.ca) }, lazyConnect: true });
  try {
    await r.connect();
    assert.equal(await r.set('after-bad', '1'), 'OK');
  } finally {
    r.disconnect();
  }
});
