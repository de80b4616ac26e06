// Transport of every socket, under the parsers and the outbox: plain TCP and unix sockets, or TLS on either side.
//
//   dial(endpoint, DialTls | null) ─► net.connect (ready on 'connect') | tls.connect (ready on 'secureConnect')
//   accepted socket ─► plain: read through `onread` (util/socket.ts)
//                   ─► TLS:   the listener's tls.Server from AcceptTls.options (it never listens) ─► 'secureConnection'
//                             ─► verifyClient (tls_auth_clients) ─► client | refused, counted, logged
//   outbox ─► direct write(2) on the fd: only for a plain socket (util/socket.ts directWritable)
//
// A tls.TLSSocket's handle reports the TCP fd, so the outbox's direct-fd path would put plaintext on the wire:
// TLS sockets write through the TLS stream, always. Plain sockets keep the direct path and pay one boolean.
// Reads: tls.connect takes `onread` (decrypted bytes land in the reader's buffer); an accepted TLS socket is read
// as a stream ('data'), because Node offers `onread` only for a socket it creates itself.
//
// Sentinel's control connections (to the sentinels, and the ROLE check of a new master) dial through dial() with
// the pool's DialTls too: `server_tls` covers them without a second TLS path.

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { PoolConfig, TlsAuthClients } from '../config/types';
import { tlsParams } from '../config/tls';
import type { OnreadOption } from './socket';

/** Where a connection goes (server/conn's Endpoint has this shape). */
export interface DialAddress {
  readonly host: string;
  readonly port: number;
  readonly unixPath: string | null;
}

/** How server connections of a pool speak TLS: built from the config at start and on every reload. */
export interface DialTls {
  readonly context: tls.SecureContext;
  /** SNI and the name the certificate must carry; null: the server's host (no SNI for an IP address). */
  readonly servername: string | null;
  readonly verify: boolean;
  /** The config's file bytes and settings, compared by a reload: connections are kept only when nothing changed. */
  readonly fingerprint: string;
}

/**
 * How a pool's TLS listener treats clients. Each listener makes its own tls.Server (never listening: accepted sockets
 * are handed to it) from `options`, so the secureConnection and tlsClientError events of one server belong to one
 * listener. Client certificates are asked for but verified by the listener itself (verifyClient), so that every
 * refusal (none sent, wrong CA, expired) is seen, counted and logged with its reason.
 */
export interface AcceptTls {
  readonly options: tls.TlsOptions;
  readonly authClients: TlsAuthClients;
  readonly fingerprint: string;
}

/** A TLS handshake that waits longer than this is refused (a client that connects and sends nothing). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Open a connection; the caller waits for readyEvent(tls) before writing. Without `onread` the socket is read as a
 * stream ('data' events): the control connections to sentinels, which carry a few replies a second.
 */
export function dial(addr: DialAddress, t: DialTls | null, onread: OnreadOption | null): net.Socket {
  if (t === null) {
    if (onread === null) return addr.unixPath !== null ? net.connect({ path: addr.unixPath }) : net.connect({ host: addr.host, port: addr.port });
    return addr.unixPath !== null ? net.connect({ path: addr.unixPath, onread }) : net.connect({ host: addr.host, port: addr.port, onread });
  }
  const opts: tls.ConnectionOptions & { onread?: OnreadOption } = {
    secureContext: t.context,
    rejectUnauthorized: t.verify,
  };
  if (onread !== null) opts.onread = onread;
  if (addr.unixPath !== null) opts.path = addr.unixPath;
  else {
    opts.host = addr.host;
    opts.port = addr.port;
  }
  // RFC 6066 forbids an IP address as SNI: then no SNI is sent and the certificate must name the IP (checked by Node).
  const name = t.servername ?? (addr.unixPath === null && net.isIP(addr.host) === 0 ? addr.host : null);
  if (name !== null && net.isIP(name) === 0) opts.servername = name;
  if (t.servername !== null) {
    const want = t.servername;
    opts.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(want, cert);
  }
  return tls.connect(opts);
}

/** The event after which a dialled socket takes writes. */
export function readyEvent(t: DialTls | null): 'connect' | 'secureConnect' {
  return t === null ? 'connect' : 'secureConnect';
}

function fingerprintOf(parts: readonly (string | Buffer | boolean | null | readonly string[])[]): string {
  return JSON.stringify(parts.map((p) => (Buffer.isBuffer(p) ? p.toString('base64') : p)));
}

/** The server side of a pool (server_tls), or null. Files were read and checked by config/load.ts. */
export function dialTlsOf(cfg: PoolConfig): DialTls | null {
  if (!cfg.serverTls) return null;
  const p = tlsParams(cfg.tlsProtocols, cfg.tlsCiphers, cfg.tlsCiphersuites);
  const opts: tls.SecureContextOptions = { minVersion: p.minVersion, maxVersion: p.maxVersion };
  if (p.ciphers !== undefined) opts.ciphers = p.ciphers;
  if (cfg.serverTlsCaCertFile !== null) opts.ca = cfg.serverTlsCaCertFile.pem;
  if (cfg.serverTlsCertFile !== null && cfg.serverTlsKeyFile !== null) {
    opts.cert = cfg.serverTlsCertFile.pem;
    opts.key = cfg.serverTlsKeyFile.pem;
  }
  return {
    context: tls.createSecureContext(opts),
    servername: cfg.serverTlsServername,
    verify: cfg.serverTlsVerify,
    fingerprint: fingerprintOf([
      cfg.serverTlsCaCertFile?.pem ?? null,
      cfg.serverTlsCertFile?.pem ?? null,
      cfg.serverTlsKeyFile?.pem ?? null,
      cfg.serverTlsServername,
      cfg.serverTlsVerify,
      cfg.tlsProtocols,
      cfg.tlsCiphers,
      cfg.tlsCiphersuites,
    ]),
  };
}

/** The client side of a pool (tls_listen), or null. */
export function acceptTlsOf(cfg: PoolConfig): AcceptTls | null {
  if (cfg.tlsListen === null || cfg.tlsCertFile === null || cfg.tlsKeyFile === null) return null;
  const p = tlsParams(cfg.tlsProtocols, cfg.tlsCiphers, cfg.tlsCiphersuites);
  const options: tls.TlsOptions = {
    cert: cfg.tlsCertFile.pem,
    key: cfg.tlsKeyFile.pem,
    minVersion: p.minVersion,
    maxVersion: p.maxVersion,
    requestCert: cfg.tlsAuthClients !== 'no',
    rejectUnauthorized: false, // verifyClient decides, after the handshake, with the reason in hand
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    allowHalfOpen: true,
  };
  if (p.ciphers !== undefined) options.ciphers = p.ciphers;
  if (cfg.tlsCaCertFile !== null) options.ca = cfg.tlsCaCertFile.pem;
  return {
    options,
    authClients: cfg.tlsAuthClients,
    fingerprint: fingerprintOf([cfg.tlsCertFile.pem, cfg.tlsKeyFile.pem, cfg.tlsCaCertFile?.pem ?? null, cfg.tlsAuthClients, cfg.tlsProtocols, cfg.tlsCiphers, cfg.tlsCiphersuites]),
  };
}

/**
 * tls_auth_clients after a completed handshake (Redis's semantics): `yes` needs a certificate that verifies,
 * `optional` checks one if it was sent, `no` asks for none. Returns why the client is refused, or null.
 */
export function verifyClient(s: tls.TLSSocket, auth: TlsAuthClients): string | null {
  if (auth === 'no' || s.authorized) return null;
  const cert = s.getPeerCertificate();
  const sent = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  if (!sent) return auth === 'yes' ? 'the client sent no certificate (tls_auth_clients: yes)' : null;
  const why = s.authorizationError;
  return `client certificate refused: ${why instanceof Error ? tlsFailureReason(why) : String(why ?? 'not verified')}`;
}

/** The reason a TLS handshake failed, for the log: the OpenSSL or verification code and its text. */
export function tlsFailureReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  // OpenSSL messages carry a long "error:0A00010B:SSL routines:ssl3_get_record:" prefix and a source location.
  const m = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)/.exec(err.message);
  const text = m !== null ? (m[1] as string).trim() : err.message.split('\n')[0];
  return typeof code === 'string' && code !== '' ? `${code}: ${text}` : (text ?? 'unknown');
}
