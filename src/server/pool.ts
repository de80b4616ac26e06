// Server pool: the servers of one YAML pool, the distribution over the live ones, and the
// ejection clock. Everything routed by a client of this pool goes through route() and send().
//
//   key ─► router (hash tag, hash, distribution over live servers) ─► server ─► conn (round robin)
//   failures ─► failure_count ≥ server_failure_limit ─► ejected until now + server_retry_timeout

import type { PoolConfig, ServerConfig } from '../config/types';
import { Router } from '../route/router';
import { PoolStats, ServerStats } from '../stats/counters';
import { ServerConn } from './conn';
import { allocMsg, freeMsg, type Msg } from '../forward/msg';
import type { Protocol } from '../forward/protocol';
import type { ClientConn } from '../client/conn';
import { onTick } from '../util/clock';

export class Server {
  readonly pool: ServerPool;
  readonly index: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly unixPath: string | null;
  readonly weight: number;
  readonly stats = new ServerStats();
  readonly conns: ServerConn[] = [];
  private rr = 0;
  failureCount = 0;
  /** ms since epoch when an ejected server is tried again; 0 = live. */
  nextRetry = 0;

  constructor(pool: ServerPool, index: number, cfg: ServerConfig) {
    this.pool = pool;
    this.index = index;
    this.name = cfg.name;
    this.host = cfg.host;
    this.port = cfg.port;
    this.unixPath = cfg.unixPath;
    this.weight = cfg.weight;
  }

  /** Connections are made on demand up to server_connections, then used round robin. */
  conn(): ServerConn {
    const conns = this.conns;
    const max = this.pool.config.serverConnections;
    if (conns.length < max) {
      const c = new ServerConn(this);
      conns.push(c);
      return c;
    }
    if (max === 1) return conns[0] as ServerConn;
    this.rr = (this.rr + 1) % max;
    return conns[this.rr] as ServerConn;
  }

  /** Derive the queue gauges (in_queue, out_queue and their bytes) from the connections, when stats are read. */
  refreshQueueGauges(): void {
    let inq = 0;
    let inb = 0;
    let outq = 0;
    let outb = 0;
    for (const c of this.conns) {
      inq += c.unsent;
      inb += c.unsentBytes;
      outq += c.sent;
      outb += c.inflightBytes - c.unsentBytes;
    }
    const st = this.stats;
    st.inQueue = inq;
    st.inQueueBytes = inb;
    st.outQueue = outq;
    st.outQueueBytes = outb;
  }

  onSuccess(): void {
    this.failureCount = 0;
  }

  onConnFailure(): void {
    this.pool.onServerFailure(this);
  }

  /** -OOM/-BUSY/-LOADING: relayed to the client, but a failure of this server all the same. */
  onTransientFailure(): void {
    this.pool.onServerFailure(this);
  }
}

/** Per-server scratch for splitting one multi-key request (used synchronously, shared by the pool's clients). */
export class FragScratch {
  /** Keys per server. */
  readonly count: Int32Array;
  /** Fragment size per server, then its write cursor. */
  readonly size: Float64Array;
  /** Server index to fragment number. */
  readonly fragOf: Int32Array;

  constructor(n: number) {
    this.count = new Int32Array(n);
    this.size = new Float64Array(n);
    this.fragOf = new Int32Array(n);
  }

  /** Zero the counts and sizes before splitting a request (a loop: fill() is a runtime call, dear for a handful of servers). */
  reset(): void {
    const count = this.count;
    const size = this.size;
    for (let s = 0; s < count.length; s++) {
      count[s] = 0;
      size[s] = 0;
    }
  }
}

export class ServerPool {
  readonly config: PoolConfig;
  readonly protocol: Protocol;
  readonly servers: Server[];
  readonly stats = new PoolStats();
  readonly scratch: FragScratch;
  readonly handshake: Buffer[];
  /** redis_auth as bytes, compared with client AUTH arguments. */
  readonly authBuf: Buffer | null;
  private readonly router: Router;
  private readonly live: boolean[];
  /** Earliest nextRetry among ejected servers; 0 = none ejected. */
  private retryAt = 0;
  private nlive: number;
  readonly clients = new Set<ClientConn>();
  private readonly timeout: number;

  constructor(config: PoolConfig, protocol: Protocol) {
    this.config = config;
    this.protocol = protocol;
    this.servers = config.servers.map((s, i) => new Server(this, i, s));
    this.router = new Router({
      hash: config.hash,
      distribution: config.distribution,
      hashTag: config.hashTag,
      servers: config.servers.map((s) => ({ name: s.name, weight: s.weight })),
    });
    this.scratch = new FragScratch(this.servers.length);
    this.live = this.servers.map(() => true);
    this.nlive = this.servers.length;
    this.router.rebuild(this.live);
    this.handshake = protocol.handshake(this);
    this.authBuf = config.redisAuth === null ? null : Buffer.from(config.redisAuth);
    this.timeout = config.timeout > 0 ? config.timeout : 0;
    if (this.timeout > 0) onTick((now) => this.checkTimeouts(now));
  }

  /** Server index for a key, or -1 when every server is ejected. */
  route(buf: Buffer, start: number, end: number): number {
    if (this.retryAt !== 0 && Date.now() >= this.retryAt) this.revive();
    if (this.nlive === 0) return -1;
    return this.router.route(buf, start, end);
  }

  /** Queue a request (or fragment) on server `index`. */
  send(index: number, msg: Msg, bytes: Buffer): void {
    msg.server = index;
    const srv = this.servers[index] as Server;
    srv.conn().enqueue(msg, bytes, this.timeout);
    if (!msg.expectReply) this.finish(msg);
  }

  /** Route by key and queue the request's own bytes (zero copy); errors complete it at once. */
  forward(msg: Msg, keyBuf: Buffer, keyStart: number, keyEnd: number): void {
    const idx = this.route(keyBuf, keyStart, keyEnd);
    if (idx < 0) {
      this.failMsg(msg, 'Connection refused');
      return;
    }
    this.send(idx, msg, msg.start === 0 && msg.end === msg.buf.length ? msg.buf : msg.buf.subarray(msg.start, msg.end));
  }

  /** A request or fragment has its reply (or error): complete it, merging fragments into their parent. */
  finish(msg: Msg): void {
    msg.done = true;
    const parent = msg.parent;
    if (parent !== null) {
      if (--parent.pending > 0) return;
      this.protocol.merge(parent);
      parent.done = true;
      msg = parent;
    }
    const c = msg.client;
    if (c === null) freeMsg(msg);
    else c.onMsgDone();
  }

  /** Complete a request with a proxy error reply (`-ERR text` / `SERVER_ERROR text`). */
  failMsg(msg: Msg, text: string): void {
    this.stats.forwardError++;
    if (msg.parent !== null) msg.fragError = text;
    else msg.reply = this.protocol.errorReply(text);
    this.finish(msg);
  }

  /** Deadline for a request queued now (on the performance.now() clock), 0 without `timeout`. */
  deadline(): number {
    return this.timeout > 0 ? performance.now() + this.timeout : 0;
  }

  /** An internal request (AUTH/SELECT on a new connection): its reply is dropped; it times out like any request. */
  internalMsg(): Msg {
    const m = allocMsg();
    m.swallow = true;
    m.deadline = this.deadline();
    return m;
  }

  onServerFailure(srv: Server): void {
    if (!this.config.autoEjectHosts) return;
    srv.failureCount++;
    if (srv.failureCount < Math.max(1, this.config.serverFailureLimit)) return;
    const now = Date.now();
    srv.failureCount = 0;
    srv.nextRetry = now + this.config.serverRetryTimeout;
    srv.stats.serverEjectedAt = now * 1000;
    this.stats.serverEjects++;
    if (this.retryAt === 0 || srv.nextRetry < this.retryAt) this.retryAt = srv.nextRetry;
    this.live[srv.index] = false;
    this.rebuild();
  }

  /** Servers whose retry time has come are live again (no health check: the next request tries them). */
  private revive(): void {
    const now = Date.now();
    let next = 0;
    for (const s of this.servers) {
      if (s.nextRetry === 0) continue;
      if (s.nextRetry <= now) {
        s.nextRetry = 0;
        this.live[s.index] = true;
      } else if (next === 0 || s.nextRetry < next) next = s.nextRetry;
    }
    this.retryAt = next;
    this.rebuild();
  }

  private rebuild(): void {
    let n = 0;
    for (const l of this.live) if (l) n++;
    this.nlive = n;
    if (n > 0) this.router.rebuild(this.live);
  }

  isLive(index: number): boolean {
    return this.live[index] === true;
  }

  private checkTimeouts(now: number): void {
    for (const s of this.servers) for (const c of s.conns) c.checkTimeout(now);
  }

  /** Some client still waits for replies, or has replies not yet written out (shutdown drains until this is false). */
  busy(): boolean {
    for (const c of this.clients) if (c.pending > 0 || c.unflushed > 0) return true;
    return false;
  }

  onClientOpen(c: ClientConn): void {
    this.clients.add(c);
    this.stats.clientConnections++;
  }

  onClientClose(c: ClientConn, eof: boolean): void {
    if (!this.clients.delete(c)) return;
    this.stats.clientConnections--;
    if (eof) this.stats.clientEof++;
    else this.stats.clientErr++;
  }

  /** preconnect: open one connection to every server at start; failures only count. */
  preconnect(): void {
    for (const s of this.servers) s.conn().ensureConnected();
  }

  /** Close every server connection (shutdown). */
  close(): void {
    for (const s of this.servers) for (const c of s.conns) c.shutdown();
  }
}
