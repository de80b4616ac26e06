// Config stage, TLS and ACL keys (issue 16): files read and checked at load, their companions required, client_users
// in flow and block style; and the outbox never writes a TLS socket's fd directly (plaintext would go on the wire).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { parseConfigText } from '../../src/config/load';
import { ConfigError } from '../../src/config/errors';
import { Outbox } from '../../src/util/outbox';
import { makeCerts } from '../helpers/certs';
import { freePort } from '../helpers/procs';

const c = makeCerts();
after(() => fs.rmSync(c.dir, { recursive: true, force: true }));

const one = (extra: string): string => `p:\n  listen: 127.0.0.1:22121\n  redis: true\n${extra}  servers:\n   - 127.0.0.1:6379:1\n`;

function fails(text: string, code: string, key: string, msg: RegExp): void {
  assert.throws(() => parseConfigText(text, 'x.yml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.key, key);
    assert.match(e.message, msg);
    return true;
  });
}

test('TLS keys: read, defaults, companions, versions and ciphers', () => {
  const p = parseConfigText(one(`  tls_listen: 127.0.0.1:6380\n  tls_cert_file: ${c.serverCert}\n  tls_key_file: ${c.serverKey}\n  server_tls: true\n`), 'x.yml').pools[0]!;
  assert.deepEqual(p.tlsListen, { kind: 'tcp', host: '127.0.0.1', port: 6380, text: '127.0.0.1:6380' });
  assert.equal(p.tlsCertFile?.path, c.serverCert);
  assert.ok(p.tlsCertFile?.pem.includes('BEGIN CERTIFICATE'));
  assert.equal(p.tlsAuthClients, 'no');
  assert.deepEqual(p.tlsProtocols, ['TLSv1.2', 'TLSv1.3']);
  assert.equal(p.serverTlsVerify, true);
  // tls_listen alone: a TLS-only pool
  const only = parseConfigText(`p:\n  tls_listen: 127.0.0.1:6380\n  tls_cert_file: ${c.serverCert}\n  tls_key_file: ${c.serverKey}\n  servers:\n   - 127.0.0.1:6379:1\n`, 'x.yml').pools[0]!;
  assert.equal(only.listen.kind, 'none');
  fails(one('  tls_listen: 127.0.0.1:6380\n'), 'ETLSPAIR', 'tls_listen', /needs tls_cert_file/);
  fails(one(`  tls_cert_file: ${c.serverCert}\n`), 'ETLSPAIR', 'tls_cert_file', /only used with tls_listen/);
  fails(one(`  tls_listen: 127.0.0.1:6380\n  tls_cert_file: ${c.serverCert}\n  tls_key_file: ${c.serverKey}\n  tls_auth_clients: yes\n`), 'ETLSPAIR', 'tls_auth_clients', /needs tls_ca_cert_file/);
  fails(one(`  tls_listen: 127.0.0.1:6380\n  tls_cert_file: ${c.serverCert}\n  tls_key_file: ${c.serverKey}\n  tls_auth_clients: maybe\n`), 'EBADTLS', 'tls_auth_clients', /'maybe' is not a valid value/);
  fails(one(`  tls_listen: 127.0.0.1:6380\n  tls_cert_file: ${c.serverCert}\n  tls_key_file: ${c.serverKey}\n  tls_protocols: TLSv1.1 TLSv1.2\n`), 'EBADTLS', 'tls_protocols', /'TLSv1.1' is not a TLS version nutmeg offers \(older versions are not safe/);
  fails(one(`  server_tls: true\n  tls_ciphers: NOT-A-CIPHER\n`), 'EBADTLS', 'tls_ciphers', /OpenSSL refuses the cipher settings/);
  fails(one(`  server_tls_servername: x\n`), 'ETLSPAIR', 'server_tls_servername', /only used with server_tls: true/);
  fails(one(`  server_tls: true\n  server_tls_cert_file: ${c.clientCert}\n`), 'ETLSPAIR', 'server_tls_cert_file', /needs server_tls_key_file/);
  fails(one(`  server_tls: true\n  server_tls_ca_cert_file: /nonexistent/ca.crt\n`), 'EBADTLS', 'server_tls_ca_cert_file', /cannot read '\/nonexistent\/ca.crt': No such file or directory/);
  fails(one(`  tls_listen: 127.0.0.1:22121\n  tls_cert_file: ${c.serverCert}\n  tls_key_file: ${c.serverKey}\n`), 'EDUPLISTEN', 'tls_listen', /the listen address of this pool/);
  const tp = parseConfigText(one('  server_tls: true\n  tls_protocols: TLSv1.3\n  tls_ciphersuites: TLS_AES_256_GCM_SHA384\n'), 'x.yml').pools[0]!;
  assert.deepEqual(tp.tlsProtocols, ['TLSv1.3']);
});

test('ACL keys: redis_auth_user needs redis_auth; client_users in flow and block style', () => {
  fails(one('  redis_auth_user: app\n'), 'ETLSPAIR', 'redis_auth_user', /needs redis_auth/);
  fails('p:\n  listen: 127.0.0.1:22121\n  client_users:\n    - {name: a, password: b}\n  servers:\n   - 127.0.0.1:6379:1\n', 'EAUTHNOTREDIS', 'client_users', /only valid in a redis pool/);
  const p = parseConfigText(
    one('  client_users:\n    - {name: reader, password: r, mode: read}\n    - {name: writer, password: w, mode: write, key_prefixes: ["app:", "b:"]}\n    - name: c\n      password: p\n      key_prefixes:\n        - "x:"\n'),
    'x.yml',
  ).pools[0]!;
  assert.deepEqual(p.clientUsers, [
    { name: 'reader', password: 'r', mode: 'read', keyPrefixes: [] },
    { name: 'writer', password: 'w', mode: 'write', keyPrefixes: ['app:', 'b:'] },
    { name: 'c', password: 'p', mode: 'write', keyPrefixes: ['x:'] },
  ]);
  fails(one('  client_users:\n    - {name: a, password: b, mode: admin}\n'), 'EBADUSERS', 'client_users', /mode 'admin' is not read or write/);
  fails(one('  client_users:\n    - {name: a, password: b}\n    - {name: a, password: c}\n'), 'EBADUSERS', 'client_users', /user 'a' is listed twice/);
  fails(one('  client_users:\n    - {name: a}\n'), 'EBADUSERS', 'client_users', /needs a name and a password/);
  // flow style stays refused elsewhere
  fails(one('  hash_tag: {}\n'), 'EYAMLFEATURE', 'hash_tag', /flow mapping/);
});

test('outbox: bytes for a TLS socket go through the TLS stream, never to the fd', async () => {
  const key = fs.readFileSync(c.serverKey);
  const cert = fs.readFileSync(c.serverCert);
  const got: Buffer[] = [];
  const srv = tls.createServer({ key, cert }, (s) => s.on('data', (d: Buffer) => got.push(d)));
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  const s = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(c.ca) });
  await new Promise<void>((r) => s.once('secureConnect', () => r()));
  const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
  assert.equal(typeof fd, 'number'); // the hazard: the TLS socket's handle reports the TCP fd
  const o = new Outbox();
  o.socket = s;
  o.ready = true;
  const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(`part-${i};`));
  for (const p of parts) o.push(p);
  o.push(Buffer.alloc(200_000, 'y'));
  const want = Buffer.concat([...parts, Buffer.alloc(200_000, 'y')]);
  const deadline = Date.now() + 5000;
  while (Buffer.concat(got).length < want.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Buffer.concat(got).equals(want)); // a direct write would have broken the TLS stream (plaintext on the wire)
  s.destroy();
  srv.close();
});
