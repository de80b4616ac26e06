// Test certificates, made with openssl at test time in a temporary directory: a CA, a server certificate with
// IP:127.0.0.1 and DNS:localhost in its SAN, a client certificate, an expired server and client certificate (same
// CA), and a second ("wrong") CA with a server and a client certificate of its own. Nothing is written to the tree.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir, freePort, waitPort, Proc, type Backend } from './procs';

export interface Certs {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Server and client certificates of `ca` whose validity ended in 2020. */
  expiredCert: string;
  expiredKey: string;
  expiredClientCert: string;
  expiredClientKey: string;
  /** Another CA, and certificates it signed. */
  otherCa: string;
  otherServerCert: string;
  otherServerKey: string;
  otherClientCert: string;
  otherClientKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA named `name` in dir: name.crt, name.key, and the files `openssl ca` keeps. */
function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-subj', `/CN=${name}`]);
  fs.mkdirSync(path.join(dir, `${name}-db`));
  fs.writeFileSync(path.join(dir, `${name}-db`, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, `${name}-db`, 'serial'), `${(1000 + Math.floor(Math.random() * 9000)).toString(16).padStart(4, '0')}\n`);
  fs.writeFileSync(
    path.join(dir, `${name}.cnf`),
    [
      '[ca]',
      'default_ca = the_ca',
      '[the_ca]',
      `dir = ${name}-db`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir',
      `certificate = ${name}.crt`,
      `private_key = ${name}.key`,
      'default_md = sha256',
      'policy = any',
      'copy_extensions = none',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '[server]',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage = serverAuth',
      '[client]',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
}

/** A key and a certificate signed by CA `ca`, valid from..to (openssl ca dates, e.g. 20200101000000Z) or for 30 days. */
function issue(dir: string, ca: string, name: string, cn: string, ext: 'server' | 'client', dates: [string, string] | null = null): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  const when = dates === null ? ['-days', '30'] : ['-startdate', dates[0], '-enddate', dates[1]];
  openssl(dir, ['ca', '-batch', '-config', `${ca}.cnf`, '-extensions', ext, '-in', `${name}.csr`, '-out', `${name}.crt`, '-notext', ...when]);
}

/** Every certificate the TLS tests use, in a fresh temporary directory. */
export function makeCerts(): Certs {
  const dir = tmpDir('nutmeg-certs-');
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const old: [string, string] = ['20200101000000Z', '20200201000000Z'];
  issue(dir, 'ca', 'server', 'localhost', 'server');
  issue(dir, 'ca', 'client', 'app-client', 'client');
  issue(dir, 'ca', 'expired', 'localhost', 'server', old);
  issue(dir, 'ca', 'expired-client', 'old-client', 'client', old);
  issue(dir, 'other-ca', 'other-server', 'localhost', 'server');
  issue(dir, 'other-ca', 'other-client', 'stranger', 'client');
  const f = (n: string): string => path.join(dir, n);
  return {
    dir,
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    expiredCert: f('expired.crt'),
    expiredKey: f('expired.key'),
    expiredClientCert: f('expired-client.crt'),
    expiredClientKey: f('expired-client.key'),
    otherCa: f('other-ca.crt'),
    otherServerCert: f('other-server.crt'),
    otherServerKey: f('other-server.key'),
    otherClientCert: f('other-client.crt'),
    otherClientKey: f('other-client.key'),
  };
}

/** A new certificate of `ca` (rotation tests): a server one for 127.0.0.1, or a client one; [cert, key] paths. */
export function issueCert(c: Certs, name: string, kind: 'server' | 'client'): [string, string] {
  issue(c.dir, 'ca', name, kind === 'server' ? 'localhost' : name, kind);
  return [path.join(c.dir, `${name}.crt`), path.join(c.dir, `${name}.key`)];
}

/** Args for redis-server listening with TLS only on `port`, with the given cert (default: the good server cert). */
export function redisTlsArgs(c: Certs, port: number, opts: { cert?: string; key?: string; authClients?: 'yes' | 'no' | 'optional' } = {}): string[] {
  return [
    '--port', '0',
    '--tls-port', String(port),
    '--tls-cert-file', opts.cert ?? c.serverCert,
    '--tls-key-file', opts.key ?? c.serverKey,
    '--tls-ca-cert-file', c.ca,
    '--tls-auth-clients', opts.authClients ?? 'no',
  ];
}

/** redis-server with TLS only (`--port 0`), on a free port; `extra` goes last (e.g. --user lines). */
export async function startRedisTls(c: Certs, opts: { cert?: string; key?: string; authClients?: 'yes' | 'no' | 'optional' } = {}, extra: string[] = []): Promise<Backend> {
  const port = await freePort();
  const proc = new Proc('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...redisTlsArgs(c, port, opts), ...extra]) as Backend;
  proc.port = port;
  await waitPort(port);
  return proc;
}

/** memcached speaking TLS only (`-Z`), on a free port. */
export async function startMemcachedTls(c: Certs, opts: { cert?: string; key?: string } = {}): Promise<Backend> {
  const port = await freePort();
  const ssl = `ssl_chain_cert=${opts.cert ?? c.serverCert},ssl_key=${opts.key ?? c.serverKey}`;
  const proc = new Proc('memcached', ['-Z', '-o', ssl, '-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', '1', '-m', '64', '-u', 'root']) as Backend;
  proc.port = port;
  await waitPort(port);
  return proc;
}
