// Entry of the data path: one listening socket per listen address; each accepted socket becomes a
// ClientConn of the pool that owns the address now. client_connections is enforced here (twemproxy
// ignores it). A listener is known by its address: a reload that keeps the address keeps the socket
// (and its clients) even when another pool, or a renamed one, takes it over.
//
//   listen(addr) | adopt(inherited fd) ─► accept ─► ClientConn(pool) ─► clients (moved on attach, drained on removal)
//   TLS (tls_listen) ─► accept ─► this listener's tls.Server ─► secureConnection ─► verifyClient ─► ClientConn(pool)
//                                                          └─► tlsClientError / refused: counted in the pool, logged (rate-limited)
//
// The TLS server is made from the pool's settings in force at the accept, and made anew when a reload changed
// them (new certificates): handshakes already under way finish with the old ones.

import * as net from 'node:net';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { verifyClient, tlsFailureReason, type AcceptTls } from '../util/transport';
import { ClientConn } from './conn';
import type { ServerPool } from '../server/pool';
import type { BoundAddr } from '../config/types';
import { connCounts } from '../stats/counters';

let nextClientId = 1;

/** The identity of a listen address: `tcp host:port` or `unix path` (the permission is not part of it). */
export function listenKey(l: BoundAddr): string {
  return l.kind === 'tcp' ? `tcp ${l.host}:${l.port}` : `unix ${l.path}`;
}

export class Listener {
  readonly addr: BoundAddr;
  readonly key: string;
  /** The pool new clients join; a reload may attach another one. */
  pool: ServerPool;
  /** The pool's tls_listen address: clients speak TLS (a reload may switch an address between listen and tls_listen). */
  tls: boolean;
  /** This listener's TLS server, made from `tlsFrom` (the pool's settings when it was made). */
  private tlsServer: tls.Server | null = null;
  private tlsFrom: AcceptTls | null = null;
  private server: net.Server | null = null;
  /** Clients accepted here and still open. */
  readonly clients = new Set<ClientConn>();
  /**
   * In a --workers worker the socket is bound once by the primary through node:cluster: no `exclusive` bind,
   * no unlink of the unix socket path, and the listener is not counted here (the primary counts it).
   */
  private readonly shared: boolean;

  /** `addr`: the pool's listen address (a pool with `listen: none` gets no Listener). */
  constructor(pool: ServerPool, addr: BoundAddr, shared = false, tlsListen = false) {
    this.pool = pool;
    this.tls = tlsListen;
    this.shared = shared;
    this.addr = addr;
    this.key = listenKey(addr);
  }

  /** Bind and listen, or take over an inherited listening socket (`fd`, binary upgrade); rejects with the bind error. */
  listen(fd: number | null = null): Promise<void> {
    const l = this.addr;
    const backlog = this.pool.config.backlog;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => this.accept(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      const fail = (e: Error): void => {
        this.server = null;
        reject(e);
      };
      server.once('error', fail);
      const done = (): void => {
        server.off('error', fail);
        server.on('error', () => {});
        if (!this.shared) {
          connCounts.total++;
          connCounts.current++;
        }
        resolve();
      };
      if (fd !== null) {
        server.listen({ fd, backlog }, done);
      } else if (l.kind === 'unix') {
        if (!this.shared) {
          try {
            fs.unlinkSync(l.path);
          } catch {
            // no stale socket file
          }
        }
        server.listen({ path: l.path, backlog }, () => {
          try {
            if (l.perm !== 0) fs.chmodSync(l.path, l.perm);
            done();
          } catch (e) {
            fail(e as Error);
          }
        });
      } else {
        server.listen({ host: l.host, port: l.port, backlog, exclusive: !this.shared }, done);
      }
    });
  }

  /** The bound TCP port (useful when the config says port 0 in tests). */
  port(): number {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** The listening socket's file descriptor (handed to the new process by a binary upgrade), or -1. */
  fd(): number {
    const h = (this.server as unknown as { _handle: { fd?: unknown } | null } | null)?._handle;
    return h !== null && h !== undefined && typeof h.fd === 'number' ? h.fd : -1;
  }

  /**
   * Reload: the address now belongs to `pool`. Clients speaking the same protocol move to it; the others
   * (the address changed from redis to memcache or back) are drained. Returns how many moved.
   */
  attach(pool: ServerPool, tlsListen: boolean): { moved: number; drained: ClientConn[] } {
    const r: { moved: number; drained: ClientConn[] } = { moved: 0, drained: [] };
    this.tls = tlsListen; // clients already connected keep the transport they have
    if (pool === this.pool) return r;
    const same = pool.protocol.redis === this.pool.protocol.redis;
    this.pool = pool;
    for (const c of this.clients) {
      if (same) {
        c.moveTo(pool);
        r.moved++;
      } else {
        c.drain();
        r.drained.push(c);
      }
    }
    if (!same) this.clients.clear();
    return r;
  }

  private accept(sock: net.Socket): void {
    sock.on('error', () => {});
    if (this.tls) this.acceptTls(sock);
    else this.start(sock);
  }

  /** A client that has its transport (a plain socket, or a TLS socket past its handshake) joins the pool. */
  private start(sock: net.Socket): void {
    const pool = this.pool;
    const cfg = pool.config;
    if (cfg.clientConnections > 0 && pool.clients.size >= cfg.clientConnections) {
      // Refuse with a reply the client can show, then close.
      sock.end(pool.protocol.redis ? '-ERR max number of clients reached\r\n' : 'SERVER_ERROR too many open connections\r\n');
      pool.stats.clientErr++;
      return;
    }
    // Accepted paused: ClientConn moves the socket onto an `onread` reader before the first read (TLS: read as a stream).
    const c = new ClientConn(pool, pool.protocol.newRequestReader(), sock, nextClientId++);
    const s = c.socket;
    if (this.addr.kind === 'tcp') {
      s.setNoDelay(true);
      if (cfg.tcpkeepalive) s.setKeepAlive(true);
    }
    connCounts.total++;
    connCounts.current++;
    this.clients.add(c);
    s.once('close', () => {
      connCounts.current--;
      this.clients.delete(c);
    });
    pool.onClientOpen(c);
  }

  /** tls_listen: the TLS handshake first, on this listener's TLS server for the pool's current settings. */
  private acceptTls(raw: net.Socket): void {
    const t = this.pool.clientTls;
    if (t === null) {
      raw.destroy(); // a reload left the pool without TLS settings for this address
      return;
    }
    if (t !== this.tlsFrom || this.tlsServer === null) {
      this.tlsFrom = t;
      this.tlsServer = this.tlsServerFor(t);
    }
    this.tlsServer.emit('connection', raw);
  }

  private tlsServerFor(t: AcceptTls): tls.Server {
    const srv = tls.createServer(t.options);
    srv.on('secureConnection', (s: tls.TLSSocket) => {
      if (this.server === null) {
        s.destroy(); // the handshake ended after the listener closed (shutdown, or a reload removed the address)
        return;
      }
      const why = verifyClient(s, t.authClients);
      if (why !== null) {
        this.pool.onClientTlsFailure(peerOf(s), why);
        s.destroy();
        return;
      }
      this.start(s);
    });
    srv.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
      this.pool.onClientTlsFailure(peerOf(s), tlsFailureReason(err));
      s.destroy();
    });
    return srv;
  }

  /**
   * Stop accepting; existing clients are left to finish. Resolves once the listening socket is closed, without
   * waiting for the accepted connections (net.Server's close callback would wait for every client to leave).
   */
  close(): Promise<void> {
    const s = this.server;
    if (s === null) return Promise.resolve();
    this.server = null;
    if (!this.shared) connCounts.current--;
    s.close();
    return Promise.resolve();
  }

  /** Reload removed this address (or shutdown): every client stops reading, gets its owed replies, then a FIN. */
  drainClients(): ClientConn[] {
    const list = [...this.clients];
    for (const c of list) c.drain();
    return list;
  }
}

function peerOf(s: net.Socket): string {
  return s.remoteAddress === undefined ? 'on a unix socket' : `${s.remoteAddress}:${s.remotePort ?? 0}`;
}
