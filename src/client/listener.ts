// Entry of the data path: one listening socket per pool (TCP or unix socket); each accepted
// socket becomes a ClientConn. client_connections is enforced here (twemproxy ignores it).

import * as net from 'node:net';
import * as fs from 'node:fs';
import { ClientConn } from './conn';
import type { ServerPool } from '../server/pool';
import { connCounts } from '../stats/counters';

let nextClientId = 1;

export class Listener {
  readonly pool: ServerPool;
  private server: net.Server | null = null;
  /**
   * In a --workers worker the socket is bound once by the primary through node:cluster: no `exclusive` bind,
   * no unlink of the unix socket path, and the listener is not counted here (the primary counts it).
   */
  private readonly shared: boolean;

  constructor(pool: ServerPool, shared = false) {
    this.pool = pool;
    this.shared = shared;
  }

  /** Bind and listen; rejects with the bind error (start-up only). */
  listen(): Promise<void> {
    const pool = this.pool;
    const cfg = pool.config;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => this.accept(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        server.on('error', () => {});
        if (!this.shared) {
          connCounts.total++;
          connCounts.current++;
        }
        resolve();
      };
      const l = cfg.listen;
      if (l.kind === 'unix') {
        if (!this.shared) {
          try {
            fs.unlinkSync(l.path);
          } catch {
            // no stale socket file
          }
        }
        server.listen({ path: l.path, backlog: cfg.backlog }, () => {
          try {
            if (l.perm !== 0) fs.chmodSync(l.path, l.perm);
            done();
          } catch (e) {
            reject(e);
          }
        });
      } else {
        server.listen({ host: l.host, port: l.port, backlog: cfg.backlog, exclusive: !this.shared }, done);
      }
    });
  }

  /** The bound TCP port (useful when the config says port 0 in tests). */
  port(): number {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  private accept(sock: net.Socket): void {
    const pool = this.pool;
    const cfg = pool.config;
    sock.on('error', () => {});
    if (cfg.clientConnections > 0 && pool.clients.size >= cfg.clientConnections) {
      // Refuse with a reply the client can show, then close.
      sock.end(pool.protocol.redis ? '-ERR max number of clients reached\r\n' : 'SERVER_ERROR too many open connections\r\n');
      pool.stats.clientErr++;
      return;
    }
    // Accepted paused: ClientConn moves the socket onto an `onread` reader before the first read.
    const c = new ClientConn(pool, sock, nextClientId++);
    const s = c.socket;
    if (cfg.listen.kind === 'tcp') {
      s.setNoDelay(true);
      if (cfg.tcpkeepalive) s.setKeepAlive(true);
    }
    connCounts.total++;
    connCounts.current++;
    s.once('close', () => connCounts.current--);
    pool.onClientOpen(c);
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
}
