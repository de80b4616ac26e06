// Start-up, config stage: the TLS files and settings a pool names, read and checked. config/load.ts calls this at
// start, for -t and on every reload, so certificates rotate without a restart and a bad file (unreadable, not PEM,
// expired, a key that is not the certificate's, ciphers OpenSSL does not know) is refused, naming the file and the
// reason, before anything changes. server/tls.ts turns the checked settings into secure contexts.

import * as fs from 'node:fs';
import * as crypto from 'node:crypto';
import * as tls from 'node:tls';
import { errCode, strerror } from '../util/errors';
import { TLS_PROTOCOLS, type TlsFile, type TlsProtocol } from './types';

/** A TLS file or setting that cannot be used; `message` is the reason, without the pool and key. */
export class TlsConfigError extends Error {}

/** Read a PEM file whole. */
export function readTlsFile(path: string): TlsFile {
  try {
    return { path, pem: fs.readFileSync(path) };
  } catch (e) {
    const code = errCode(e);
    const text = strerror(code);
    throw new TlsConfigError(`cannot read '${path}': ${text === 'unknown' ? (e instanceof Error ? e.message : code) : text}`);
  }
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, parsed; at least one. */
function certificates(f: TlsFile): crypto.X509Certificate[] {
  const blocks = f.pem.toString('latin1').match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new TlsConfigError(`'${f.path}': no PEM certificate in the file`);
  return blocks.map((b, i) => {
    try {
      return new crypto.X509Certificate(b);
    } catch (e) {
      throw new TlsConfigError(`'${f.path}': certificate ${i + 1} cannot be parsed: ${reason(e)}`);
    }
  });
}

/** A certificate (chain) file: parses, and its first certificate is valid now (an expired one would fail every peer). */
export function checkCertificate(f: TlsFile, now = new Date()): crypto.X509Certificate {
  const leaf = certificates(f)[0] as crypto.X509Certificate;
  if (new Date(leaf.validTo).getTime() < now.getTime()) throw new TlsConfigError(`'${f.path}': certificate expired on ${leaf.validTo}`);
  if (new Date(leaf.validFrom).getTime() > now.getTime()) throw new TlsConfigError(`'${f.path}': certificate not valid before ${leaf.validFrom}`);
  return leaf;
}

/** A CA file: one or more certificates (expiry is the peer verification's business). */
export function checkCaFile(f: TlsFile): void {
  certificates(f);
}

/** A private key file (unencrypted PEM) that belongs to the certificate `cert` (from `certFile`). */
export function checkKeyPair(key: TlsFile, cert: crypto.X509Certificate, certFile: TlsFile): void {
  let k: crypto.KeyObject;
  try {
    k = crypto.createPrivateKey(key.pem);
  } catch (e) {
    throw new TlsConfigError(`'${key.path}': not a usable private key: ${reason(e)}`);
  }
  if (!cert.checkPrivateKey(k)) throw new TlsConfigError(`'${key.path}': the key does not belong to the certificate in '${certFile.path}'`);
}

/** tls_protocols: "TLSv1.2 TLSv1.3" as redis.conf writes it; only TLS 1.2 and later. */
export function parseProtocols(v: string): TlsProtocol[] {
  const out: TlsProtocol[] = [];
  for (const w of v.split(/[\s,]+/).filter((x) => x.length > 0)) {
    const p = TLS_PROTOCOLS.find((x) => x.toLowerCase() === w.toLowerCase());
    if (p === undefined) {
      const old = /^(ssl|tlsv1(\.[01])?$)/i.test(w) ? ' (older versions are not safe and not offered)' : '';
      throw new TlsConfigError(`'${w}' is not a TLS version nutmeg offers${old}`);
    }
    if (!out.includes(p)) out.push(p);
  }
  if (out.length === 0) throw new TlsConfigError('no TLS version given');
  return out.sort();
}

/** The version range and cipher string Node takes, from tls_protocols, tls_ciphers and tls_ciphersuites. */
export interface TlsParams {
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  ciphers: string | undefined;
}

export function tlsParams(protocols: readonly TlsProtocol[], ciphers: string | null, suites: string | null): TlsParams {
  const all = tls.DEFAULT_CIPHERS.split(':');
  // Node takes TLS 1.3 suites and older ciphers in one list: suites are the names that start with TLS_.
  const joined = ciphers === null && suites === null ? undefined : [suites ?? all.filter((c) => c.startsWith('TLS_')).join(':'), ciphers ?? all.filter((c) => !c.startsWith('TLS_')).join(':')].join(':');
  return { minVersion: protocols[0] ?? 'TLSv1.2', maxVersion: protocols[protocols.length - 1] ?? 'TLSv1.3', ciphers: joined };
}

/** OpenSSL accepts the settings (an unknown cipher name fails here, not at the first handshake). */
export function checkParams(p: TlsParams): void {
  try {
    tls.createSecureContext({ minVersion: p.minVersion, maxVersion: p.maxVersion, ciphers: p.ciphers });
  } catch (e) {
    throw new TlsConfigError(`OpenSSL refuses the cipher settings: ${reason(e)}`);
  }
}

function reason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  // OpenSSL's "error:0480006C:PEM routines::no start line" -> "PEM routines: no start line"
  const ossl = /error:[0-9A-F]+:([^:]*):[^:]*:(.*)$/.exec(m);
  return ossl !== null ? `${ossl[1]}: ${ossl[2]}` : m;
}
