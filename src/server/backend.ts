// Server side, the backend: one configured server of a pool, known by its name (what ketama hashes,
// what the stats report), reached at an endpoint that may change (a reload that gives the name a
// new address; later a Sentinel failover). It owns its connections, its counters and its ejection
// state; routing tables (route/table.ts) refer to it, so a new table keeps them all.
//
//   Backend "s1" ── endpoint 10.0.0.1:6379 ── conns [c0 c1] (round robin up to server_connections)
//        └─ moved / handshake changed / removed ─► conns retired: no new requests, closed when their
//           FIFO is empty or at the drain deadline (one ticker for every retired connection)
//
// A failover moves a backend in two steps (server/sentinel-pool.ts drives them):
//   hold(text)   conns ─► retired (requests they sent get their reply, or `text` if they fail); their unsent
//                requests and every new one wait in held connections (dialled nowhere yet)
//   resume(ep)   held connections dial ep (the checked new master, or the same address if the check failed)
//   Leased connections (WATCH, blocked commands) close at hold(): their client state was on the old master.
// so nothing is written to the old address after the hold, and nothing waits longer than the check.

import { ServerConn, type ConnOwner, type Endpoint, type Handshake } from './conn';
import type { SubscriberConn } from './subscriber';
import { ServerStats } from '../stats/counters';
import { onTick } from '../util/clock';
import type { Completer, ReplyReader, ReplyStatus, Target } from '../forward/protocol';
import { requestBytes, type Msg } from '../forward/msg';
import type { DialTls } from '../util/transport';

/** What a backend needs from its pool: settings in force now, and where its events go. */
export interface BackendHost {
  readonly completer: Completer;
  readonly serverConnections: number;
  handshakeFor(db: number): Handshake;
  readonly timeout: number;
  /** How long (ms) a retired connection may keep its requests before it is closed anyway. */
  readonly drainMs: number;
  /** The most connections one backend leases to clients at once (WATCH, blocking commands). */
  readonly privateConnections: number;
  newReplyReader(): ReplyReader;
  onServerFailure(b: Backend): void;
  onHandshakeError(b: Backend, name: string, text: string): void;
  /** An internal request's error reply (see ConnOwner.onInternalError); absent: ignored. */
  onInternalError?(b: Backend, text: string): void;
  /**
   * `-READONLY` or a Redis Cluster answer from b on `conn` (see ConnOwner.redirect): true when the host took msg to
   * send it again (a pool that follows failovers, a cluster pool).
   */
  onRedirect(b: Backend, conn: ServerConn, msg: Msg, status: ReplyStatus): boolean;
  /** server_tls settings in force (null: plain). */
  readonly serverTls: DialTls | null;
  onTlsFailure(b: Backend, reason: string): void;
}

const NO_REPLICAS: readonly Backend[] = [];

export function endpointOf(host: string, port: number, unixPath: string | null): Endpoint {
  return { host, port, unixPath, address: unixPath ?? `${host}:${port}` };
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.host === b.host && a.port === b.port && a.unixPath === b.unixPath;
}

export class Backend implements Target, ConnOwner {
  readonly name: string;
  private ep: Endpoint;
  readonly stats = new ServerStats();
  private readonly host: BackendHost;
  private conns: ServerConn[] = [];
  private rr = 0;
  /** Connections to other databases than the pool's (redis_databases > 1), by database; made on demand. */
  private byDb: Map<number, ServerConn[]> | null = null;
  /** Connections leased to one client each (WATCH, a blocking command), and idle ones kept for the next lease. */
  private readonly leased = new Set<ServerConn>();
  private free: ServerConn[] = [];
  failureCount = 0;
  /** ms since epoch when an ejected backend is tried again; 0 = live. */
  nextRetry = 0;
  /** No longer in any routing table of its pool (removed by a reload). */
  removed = false;
  /** The last connection attempt or connection failed, and none opened since (read_policy prefer_master). */
  connDown = false;
  /** Between hold() and release(): requests wait in held connections. */
  holding = false;
  /** Healthy replicas that may serve read-only commands (pools with sentinels and a read_policy); swapped whole. */
  replicas: readonly Backend[] = NO_REPLICAS;
  /** Round robin over the replicas (and the master, read_policy any). */
  readRr = 0;
  /** Subscriber connections (pub/sub) to this backend: told when it moves. */
  readonly channels = new Set<SubscriberConn>();

  constructor(host: BackendHost, name: string, endpoint: Endpoint) {
    this.host = host;
    this.name = name;
    this.ep = endpoint;
  }

  get endpoint(): Endpoint {
    return this.ep;
  }

  get completer(): Completer {
    return this.host.completer;
  }

  handshakeFor(db: number): Handshake {
    return this.host.handshakeFor(db);
  }

  get timeout(): number {
    return this.host.timeout;
  }

  get tls(): DialTls | null {
    return this.host.serverTls;
  }

  onTlsFailure(reason: string): void {
    this.host.onTlsFailure(this, reason);
  }

  /** The live connections (not the retired ones). */
  get connections(): readonly ServerConn[] {
    return this.conns;
  }

  newReplyReader(): ReplyReader {
    return this.host.newReplyReader();
  }

  /** Connections are made on demand up to server_connections, then used round robin; `db` -1 is the pool's database. */
  conn(db = -1): ServerConn {
    if (db >= 0) return this.dbConn(db);
    const conns = this.conns;
    const max = this.host.serverConnections;
    if (conns.length < max) {
      const c = new ServerConn(this, this.ep);
      conns.push(c);
      return c;
    }
    if (max === 1) return conns[0] as ServerConn;
    this.rr = (this.rr + 1) % max;
    return conns[this.rr % conns.length] as ServerConn;
  }

  private dbConn(db: number): ServerConn {
    if (this.byDb === null) this.byDb = new Map();
    let list = this.byDb.get(db);
    if (list === undefined) {
      list = [];
      this.byDb.set(db, list);
    }
    if (list.length < this.host.serverConnections) {
      const c = this.holding ? ServerConn.held(this, db) : new ServerConn(this, this.ep, db);
      list.push(c);
      return c;
    }
    return list[Math.floor(Math.random() * list.length)] as ServerConn;
  }

  /**
   * A connection of its own for one client (WATCH state, a blocked command), with the same handshake as the
   * shared ones; null when privateConnections are all leased.
   */
  lease(lessee: object, db = -1): ServerConn | null {
    const fi = this.free.findIndex((f) => f.db === db);
    let c = fi >= 0 ? this.free.splice(fi, 1)[0] : undefined;
    if (c === undefined) {
      if (this.leased.size >= this.host.privateConnections) return null;
      c = this.holding ? ServerConn.held(this, db) : new ServerConn(this, this.ep, db);
    }
    c.lessee = lessee;
    this.leased.add(c);
    return c;
  }

  /** The client is done with it (its state was cleared on the server): kept for the next lease, or closed. */
  release(c: ServerConn): void {
    if (!this.leased.delete(c)) return;
    c.lessee = null;
    if (c.lost) return; // closed while leased: nothing to keep
    if (this.removed || this.holding || c.endpoint !== this.ep || this.free.length >= this.host.privateConnections) {
      retire(c, performance.now() + this.host.drainMs);
      return;
    }
    this.free.push(c);
  }

  /** The client went away while the connection holds its state or a blocked command: closed at once. */
  abortLease(c: ServerConn, lessee: object): void {
    if (c.lessee !== lessee) return; // released meanwhile, maybe leased again to someone else
    c.lessee = null;
    this.leased.delete(c);
    c.abort();
  }

  /** A new address (same identity): connections to the old one are retired; the ejection state starts afresh. */
  moveTo(ep: Endpoint): void {
    this.ep = ep;
    this.holding = false;
    this.failureCount = 0;
    this.nextRetry = 0;
    this.retireConns(0);
    for (const c of this.channels) c.moved();
  }

  /** See the header: new requests and the unsent ones wait in held connections; idempotent. */
  hold(failText: string): void {
    if (this.holding) return;
    this.holding = true;
    const old = this.conns;
    const held: ServerConn[] = [];
    for (let i = 0; i < this.host.serverConnections; i++) held.push(ServerConn.held(this));
    this.conns = held;
    this.rr = 0;
    const deadline = performance.now() + this.host.drainMs;
    // Take every connection's unsent requests first, then queue them: nothing runs in between (no completion).
    // Each connection's tail goes whole onto one held connection, so a transaction's parts stay together.
    const moved: Msg[][] = [];
    for (const c of old) {
      const m = c.takeUnsent();
      if (m !== null) moved.push(m);
      retire(c, deadline, failText);
    }
    const byDb = this.byDb;
    this.byDb = null;
    if (byDb !== null) {
      for (const list of byDb.values()) {
        for (const c of list) {
          const m = c.takeUnsent();
          if (m !== null) moved.push(m);
          retire(c, deadline, failText);
        }
      }
    }
    // Idle leasable connections are made again on demand; leased ones close now: their client state was on
    // the old master (a blocked command gets failText, a WATCH makes its EXEC answer null).
    for (const c of this.free) retire(c, deadline, failText);
    this.free = [];
    for (const c of this.leased) c.failLeased(failText);
    const timeout = this.host.timeout;
    for (const tail of moved) {
      const first = tail[0];
      if (first === undefined) continue;
      const to = this.conn(first.db);
      for (const m of tail) to.enqueue(m, requestBytes(m), timeout);
    }
  }

  /** See the header: the held connections dial `ep`; a new address starts with a clean failure count. */
  resume(ep: Endpoint): void {
    if (!this.holding) return;
    this.holding = false;
    const moved = !sameEndpoint(ep, this.ep);
    if (moved) {
      this.ep = ep;
      this.failureCount = 0;
      this.nextRetry = 0;
    }
    for (const c of this.conns) c.dial(ep);
    if (this.byDb !== null) for (const list of this.byDb.values()) for (const c of list) c.dial(ep);
    for (const c of this.leased) c.dial(ep);
    if (moved) for (const c of this.channels) c.moved();
  }

  /**
   * Retire connections from index `keep` on (0: all, when the handshake changed or the backend was
   * removed; server_connections lowered: the extra ones).
   */
  retireConns(keep: number): void {
    if (keep === 0) {
      // idle leasable connections and other databases' go too (leased ones when released: release() sees the change)
      const deadline = performance.now() + this.host.drainMs;
      for (const c of this.free) retire(c, deadline);
      this.free = [];
      if (this.byDb !== null) for (const list of this.byDb.values()) for (const c of list) retire(c, deadline);
      this.byDb = null;
    }
    if (this.conns.length <= keep) return;
    const gone = this.conns.slice(keep);
    this.conns = this.conns.slice(0, keep);
    this.rr = 0;
    const deadline = performance.now() + this.host.drainMs;
    for (const c of gone) retire(c, deadline);
  }

  /** Removed from its pool: every connection retires. */
  remove(): void {
    this.removed = true;
    this.retireConns(0);
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

  checkTimeouts(now: number): void {
    for (const c of this.conns) c.checkTimeout(now);
    for (const c of this.leased) c.checkTimeout(now);
    if (this.byDb !== null) for (const list of this.byDb.values()) for (const c of list) c.checkTimeout(now);
  }

  onSuccess(): void {
    this.failureCount = 0;
  }

  onConnFailure(): void {
    this.connDown = true;
    if (!this.removed) this.host.onServerFailure(this);
  }

  onConnected(): void {
    this.connDown = false;
  }

  redirect(conn: ServerConn, msg: Msg, status: ReplyStatus): boolean {
    // Asked even once removed: a cluster node retired by a refresh still answers MOVED for what it was sent.
    return this.host.onRedirect(this, conn, msg, status);
  }

  /** -OOM/-BUSY/-LOADING: relayed to the client, but a failure of this server all the same. */
  onTransientFailure(): void {
    if (!this.removed) this.host.onServerFailure(this);
  }

  onHandshakeError(name: string, text: string): void {
    this.host.onHandshakeError(this, name, text);
  }

  onInternalError(text: string): void {
    this.host.onInternalError?.(this, text);
  }

  onRetired(c: ServerConn): void {
    retiring.delete(c);
  }

  /** preconnect: open one connection now. */
  preconnect(): void {
    this.conn().ensureConnected();
  }

  /** Shutdown: close every connection, waiting requests get an error reply. */
  shutdown(): void {
    for (const c of this.conns) c.shutdown();
    if (this.byDb !== null) for (const list of this.byDb.values()) for (const c of list) c.shutdown();
    for (const c of this.leased) c.shutdown();
    for (const c of this.free) c.shutdown();
  }
}

// Retired connections, checked by one ticker registered only while there are any.
const retiring = new Set<ServerConn>();
let untick: (() => void) | null = null;

function retire(c: ServerConn, deadline: number, text: string | null = null): void {
  retiring.add(c);
  c.retire(deadline, text); // may close (and leave the set) at once
  if (retiring.size > 0 && untick === null) untick = onTick(checkRetiring);
}

function checkRetiring(now: number): void {
  for (const c of retiring) if (c.checkRetired(now)) retiring.delete(c);
  if (retiring.size === 0 && untick !== null) {
    untick();
    untick = null;
  }
}

/** Retired connections still open (tests, stats). */
export function retiringCount(): number {
  return retiring.size;
}
