// Server pool: one YAML pool as the data path sees it: its backends by name, the routing table in
// force, the ejection clock, its clients and counters. Everything a client of this pool routes goes
// through table(), forward() and send(); every reply comes back through finish().
//
//   key ─► table() (the current RoutingTable, read once per request) ─► backend ─► conn (round robin)
//   failures ─► failure_count ≥ server_failure_limit ─► ejected until now + server_retry_timeout
//              ─► a new table without it (and one with it again when its retry time comes)
//   reload ─► reconfigure(): backends kept by name (connections, counters and ejection kept when the
//              address and handshake are the same), new ones added, removed ones retired; a new table
//   routes (memcache failover, mirror_to, warmup_from; null for a plain pool) ─► failMsg offers a failed request
//              to the failover pool first; a failover pool's table keeps down servers on its ring (ROUTE_DOWN)

import type { PoolConfig, ServerConfig } from '../config/types';
import { RoutingTable, type TableEntry } from '../route/table';
import { PoolStats } from '../stats/counters';
import { Backend, endpointOf, sameEndpoint, type BackendHost } from './backend';
import type { Endpoint, Handshake } from './conn';
import { allocMsg, freeMsg, type Msg } from '../forward/msg';
import { REPLY_READONLY, type Completer, type Forwarder, type Lease, type PoolRoutes, type Protocol, type PushChannel, type PushSink, type ReplyReader, type ReplyStatus, type RouteView, type Target } from '../forward/protocol';
import { SubscriberConn } from './subscriber';
import { ServerConn } from './conn';
import { onTick } from '../util/clock';
import { log, warnLimited } from '../util/log';
import { acceptTlsOf, dialTlsOf, type AcceptTls, type DialTls } from '../util/transport';
import { PoolAuth } from '../forward/redis-acl';

/** A client connection as the pool sees it (client/conn implements it). */
export interface PoolClient {
  /** Requests waiting for replies. */
  readonly pending: number;
  /** Reply bytes not yet handed to the kernel. */
  readonly unflushed: number;
  /** Stop reading; close with a FIN once the owed replies are written. */
  drain(): void;
  /** Close now, with a FIN. */
  endNow(): void;
  /** A reload changed the pool's client authentication: stay logged in only as a user that still exists, same password. */
  revalidate(): void;
}

/** A followed server's state (pools with sentinels: server/sentinel-pool.ts), for the stats. */
export interface FollowInfo {
  /** master: known and in use; switching: a new address is being checked; unknown: no sentinel knows the name; down: Sentinel says s_down/o_down. */
  role: 'master' | 'switching' | 'unknown' | 'down';
  /** config-epoch of the address in force (-1: none yet). */
  epoch: number;
  switches: number;
  /** ms since epoch of the last switch, 0 = never. */
  lastSwitchAt: number;
  /** `<from> -> <to>`, '' = never. */
  lastSwitch: string;
  /** Replicas that serve reads now (read_policy), host:port. */
  replicas: string[];
  /** Sentinels connected now. */
  sentinels: number;
}

/** A Redis Cluster node's place, for the stats (server/cluster-pool.ts). */
export interface ClusterNodeInfo {
  role: 'master' | 'replica';
  /** Slot ranges it serves ("0-5460 10923"), '' for a replica. */
  slots: string;
}

/** What changed in a pool's servers by reconfigure(), for the reload log line. */
export interface ServerChanges {
  added: number;
  removed: number;
  moved: number;
}

export class ServerPool implements Forwarder, Completer, BackendHost {
  config: PoolConfig;
  readonly protocol: Protocol;
  readonly stats = new PoolStats();
  /** Client authentication (redis_auth, client_users); null: clients need no AUTH. */
  auth: PoolAuth | null = null;
  /** server_tls: how server connections speak TLS (null: plain). Kept across a reload that changes none of its settings. */
  serverTls: DialTls | null = null;
  /** tls_listen: how the TLS listener treats clients (null: no TLS listener). Read by the listener at each accept. */
  clientTls: AcceptTls | null = null;
  /** The pool database's handshake, and other databases' (redis_databases > 1), made on demand. */
  private handshake: Handshake = { bytes: [], names: [] };
  private dbHandshakes = new Map<number, Handshake>();
  /** How long a retired server connection may keep its requests (reload_drain). */
  drainMs: number;
  private current: RoutingTable<Backend>;
  protected readonly backends = new Map<string, Backend>();
  /** Earliest nextRetry among ejected backends; 0 = none ejected. */
  private retryAt = 0;
  readonly clients = new Set<PoolClient>();
  private untick: (() => void) | null = null;
  /** memcache failover / mirror_to / warmup_from, linked by the proxy once every pool of the config exists; null = none. */
  routes: PoolRoutes | null = null;
  /** Removed by a reload (routes that still hold this pool stop sending to it). */
  removed = false;

  constructor(config: PoolConfig, protocol: Protocol, drainMs = 3000) {
    this.config = config;
    this.protocol = protocol;
    this.drainMs = drainMs;
    this.applySettings(config);
    for (const s of config.servers) this.backends.set(s.name, new Backend(this, s.name, endpointOf(s.host, s.port, s.unixPath)));
    this.current = this.buildTable(config, null);
    this.armTick();
  }

  // --- BackendHost: the settings in force now
  get completer(): Completer {
    return this;
  }

  get serverConnections(): number {
    return this.config.serverConnections;
  }

  get timeout(): number {
    return this.current.timeout;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  newReplyReader(): ReplyReader {
    return this.protocol.newReplyReader();
  }

  /** Before the pool's listener accepts (a pool with sentinels asks where its masters are); bounded. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Whether a reload may keep this pool object for `config` (else a new pool replaces it). */
  keeps(config: PoolConfig): boolean {
    return config.redis === this.protocol.redis && config.sentinel === null && !config.redisCluster;
  }

  /** A followed server's state for the stats (null: a server at a fixed address). */
  followInfo(_b: Backend): FollowInfo | null {
    return null;
  }

  /** Hash slots the pool's slot map serves (a cluster pool), -1 for other pools. */
  slotsServed(): number {
    return -1;
  }

  /** A Redis Cluster node's role and slot ranges for the stats (null: not a cluster pool). */
  clusterInfo(_b: Backend): ClusterNodeInfo | null {
    return null;
  }

  /** Where a configured server is reached after a reload: its configured address (a followed one keeps where it was followed to). */
  protected endpointFor(s: ServerConfig, _b: Backend | undefined): Endpoint {
    return endpointOf(s.host, s.port, s.unixPath);
  }

  /** The backends of the current table, in configured order. */
  get servers(): readonly Backend[] {
    return this.current.backends;
  }

  /** The routing table in force, as the protocol code reads it (a cluster pool's is a slot table). */
  table(): RouteView {
    return this.routing();
  }

  /** The hashed routing table in force; an ejected backend whose retry time has come is put back first. */
  protected routing(): RoutingTable<Backend> {
    if (this.retryAt !== 0 && Date.now() >= this.retryAt) this.revive();
    return this.current;
  }

  /** Queue a request (or fragment) on a backend of the table it was routed with. */
  send(target: Target, msg: Msg, bytes: Buffer): void {
    // Only this pool's tables hand out targets, and they hold Backends.
    (target as Backend).conn(msg.db).enqueue(msg, bytes, this.timeout);
    if (!msg.expectReply) this.finish(msg);
  }

  sendBatch(where: Target | Lease, internal: readonly Buffer[], last: Msg | null, lastBytes: Buffer | null): void {
    const c = where instanceof ServerConn ? where : (where as Backend).conn(last === null ? -1 : last.db);
    const timeout = this.timeout;
    for (const bytes of internal) {
      const m = allocMsg();
      m.swallow = true;
      m.cmd = -1; // not a handshake: an error reply here is the server's to report in EXEC's reply
      m.buf = bytes;
      m.end = bytes.length;
      c.enqueue(m, bytes, timeout);
    }
    if (last !== null && lastBytes !== null) c.enqueue(last, lastBytes, timeout);
  }

  lease(target: Target, lessee: object, db = -1): Lease | null {
    return (target as Backend).lease(lessee, db);
  }

  sendOn(lease: Lease, msg: Msg, bytes: Buffer, timeout: number): void {
    (lease as ServerConn).enqueue(msg, bytes, timeout);
    if (!msg.expectReply) this.finish(msg);
  }

  release(lease: Lease): void {
    (lease.owner as Backend).release(lease as ServerConn);
  }

  abortLease(lease: Lease, lessee: object): void {
    (lease.owner as Backend).abortLease(lease as ServerConn, lessee);
  }

  openChannel(target: Target, sink: PushSink): PushChannel {
    const b = target as Backend;
    // AUTH only: subscriptions are the same in every database
    const c = new SubscriberConn(b, this.serverTls, this.handshakeFor(0).bytes, sink, (why) => this.onTlsFailure(b, why));
    b.channels.add(c);
    c.onClose = () => b.channels.delete(c);
    return c;
  }

  get privateConnections(): number {
    return this.config.serverPrivateConnections;
  }

  forward(msg: Msg, keyBuf: Buffer, keyStart: number, keyEnd: number): void {
    const t = this.routing();
    const idx = t.route(keyBuf, keyStart, keyEnd);
    if (idx < 0) {
      this.failMsg(msg, 'Connection refused');
      return;
    }
    const b = msg.start === 0 && msg.end === msg.buf.length ? msg.buf : msg.buf.subarray(msg.start, msg.end);
    (t.backends[idx] as Backend).conn(msg.db).enqueue(msg, b, t.timeout);
    if (!msg.expectReply) this.finish(msg);
  }

  /** A request or fragment has its reply (or error): complete it, merging fragments into their parent. */
  finish(msg: Msg): void {
    msg.done = true;
    const lease = msg.lease;
    if (lease !== null) {
      // A blocking command or EXEC after WATCH: the client is done with its connection.
      msg.lease = null;
      this.release(lease as Lease);
    }
    const parent = msg.parent;
    if (parent !== null) {
      if (--parent.pending > 0) return;
      // A route's parent (failover relay, warm-up) is completed by the route, which may send more fragments first.
      const r = parent.route;
      if (r === null) this.protocol.merge(parent);
      else if (!r.complete(parent)) return;
      parent.done = true;
      msg = parent;
    }
    const c = msg.client;
    if (c === null) freeMsg(msg);
    else c.onMsgDone(msg);
  }

  /** Complete a request with a proxy error reply (`-ERR text` / `SERVER_ERROR text`), unless a failover pool takes it. */
  failMsg(msg: Msg, text: string): void {
    const r = this.routes;
    if (r !== null && r.divert(msg, text)) return;
    this.stats.forwardError++;
    if (msg.parent !== null) msg.fragError = text;
    else msg.reply = this.protocol.errorReply(text);
    this.finish(msg);
  }

  // --- ejection (auto_eject_hosts)
  onServerFailure(b: Backend): void {
    if (!this.config.autoEjectHosts) return;
    b.failureCount++;
    if (b.failureCount < Math.max(1, this.config.serverFailureLimit)) return;
    const idx = this.current.indexOf(b);
    if (idx < 0 || this.current.live[idx] !== true) return;
    const now = Date.now();
    b.failureCount = 0;
    b.nextRetry = now + this.config.serverRetryTimeout;
    b.stats.serverEjectedAt = now * 1000;
    this.stats.serverEjects++;
    if (this.retryAt === 0 || b.nextRetry < this.retryAt) this.retryAt = b.nextRetry;
    const live = this.current.live.slice();
    live[idx] = false;
    this.current = this.current.withLive(live);
    log().warn(
      `pool '${this.config.name}': server '${b.name}' (${b.endpoint.address}) ejected for ${this.config.serverRetryTimeout} ms after ${this.config.serverFailureLimit} failures; ${this.current.liveCount} of ${live.length} servers live`,
    );
  }

  /** `-READONLY` on a shared connection goes to onReadonly; a cluster answer is relayed (server/cluster-pool.ts overrides). */
  onRedirect(b: Backend, conn: ServerConn, msg: Msg, status: ReplyStatus): boolean {
    return status === REPLY_READONLY && !b.removed && conn.lessee === null && this.onReadonly(b, msg);
  }

  /** A pool of fixed addresses relays `-READONLY` (server/sentinel-pool.ts follows the new master instead). */
  onReadonly(_b: Backend, _msg: Msg): boolean {
    return false;
  }

  onTlsFailure(b: Backend, reason: string): void {
    this.stats.serverTlsFailures++;
    warnLimited('server-tls', `pool '${this.config.name}': TLS handshake with server '${b.name}' (${b.endpoint.address}) failed: ${reason}`);
  }

  /** A client of the TLS listener failed its handshake (or sent a certificate that does not verify). */
  onClientTlsFailure(peer: string, reason: string): void {
    this.stats.clientTlsFailures++;
    warnLimited('client-tls', `pool '${this.config.name}': TLS handshake with client ${peer} failed: ${reason}`);
  }

  onHandshakeError(b: Backend, name: string, text: string): void {
    // twemproxy's text for a failed SELECT, and the same form for AUTH.
    log().warn(`${name} failed on ${this.config.name} | ${b.name}: ${text}`);
  }

  /** Backends whose retry time has come are live again (no health check: the next request tries them). */
  private revive(): void {
    const now = Date.now();
    let next = 0;
    const t = this.current;
    const live = t.live.slice();
    const back: Backend[] = [];
    t.backends.forEach((b, i) => {
      if (b.nextRetry === 0) return;
      if (b.nextRetry <= now) {
        b.nextRetry = 0;
        live[i] = true;
        back.push(b);
      } else if (next === 0 || b.nextRetry < next) next = b.nextRetry;
    });
    this.retryAt = next;
    if (back.length === 0) return;
    this.current = t.withLive(live);
    for (const b of back) log().info(`pool '${this.config.name}': server '${b.name}' (${b.endpoint.address}) back in the distribution after its retry timeout`);
  }

  /** Ejected = out of the distribution and its retry time not reached yet (a due server is tried by the next request). */
  isEjected(b: Backend, now: number): boolean {
    const idx = this.current.indexOf(b);
    return idx >= 0 && this.current.live[idx] !== true && b.nextRetry > now;
  }

  protected checkTimeouts(now: number): void {
    for (const b of this.current.backends) b.checkTimeouts(now);
  }

  protected armTick(): void {
    this.untick?.();
    this.untick = this.timeout > 0 ? onTick((now) => this.checkTimeouts(now)) : null;
  }

  /** Some client still waits for replies, or has replies not yet written out (shutdown drains until this is false). */
  busy(): boolean {
    for (const c of this.clients) if (c.pending > 0 || c.unflushed > 0) return true;
    return false;
  }

  onClientOpen(c: PoolClient): void {
    this.clients.add(c);
    this.stats.clientConnections++;
  }

  onClientClose(c: PoolClient, eof: boolean): void {
    if (!this.clients.delete(c)) return;
    this.stats.clientConnections--;
    if (eof) this.stats.clientEof++;
    else this.stats.clientErr++;
  }

  /** A client leaves or joins without a close (a reload moved its listener's address to another pool). */
  onClientMove(c: PoolClient, joining: boolean): void {
    if (joining) {
      if (this.clients.has(c)) return;
      this.clients.add(c);
      this.stats.clientConnections++;
    } else if (this.clients.delete(c)) {
      this.stats.clientConnections--;
    }
  }

  /** preconnect: open one connection to every server now; failures only count. */
  preconnect(): void {
    for (const b of this.current.backends) b.preconnect();
  }

  /**
   * Reload: take the new settings of this pool (same name, same protocol). Backends are kept by name; a
   * kept backend keeps its connections, counters and ejection state unless its address changed (it moves)
   * or the handshake changed (its connections retire). Removed backends retire. A new table is published.
   */
  reconfigure(config: PoolConfig, drainMs: number): ServerChanges {
    const oldConns = this.config.serverConnections;
    const handshakeChanged = this.reloadSettings(config, drainMs);
    const changes: ServerChanges = { added: 0, removed: 0, moved: 0 };
    const wanted = new Set(config.servers.map((s) => s.name));
    for (const [name, b] of this.backends) {
      if (wanted.has(name)) continue;
      this.backends.delete(name);
      b.remove();
      changes.removed++;
    }
    const prevLive = new Map<Backend, boolean>();
    this.current.backends.forEach((b, i) => prevLive.set(b, this.current.live[i] === true));
    for (const s of config.servers) {
      const b = this.backends.get(s.name);
      const ep = this.endpointFor(s, b);
      if (b === undefined) {
        const nb = new Backend(this, s.name, ep);
        this.backends.set(s.name, nb);
        changes.added++;
        if (config.preconnect) nb.preconnect();
      } else if (!sameEndpoint(b.endpoint, ep)) {
        b.moveTo(ep);
        prevLive.delete(b);
        changes.moved++;
      } else if (handshakeChanged) {
        b.retireConns(0);
      } else if (config.serverConnections < oldConns) {
        b.retireConns(config.serverConnections);
      }
    }
    this.current = this.buildTable(config, prevLive);
    this.retryAt = 0;
    for (const b of this.current.backends) if (b.nextRetry !== 0 && (this.retryAt === 0 || b.nextRetry < this.retryAt)) this.retryAt = b.nextRetry;
    this.armTick();
    return changes;
  }

  /**
   * Reload, the settings part: the new config, auth, TLS and handshake in force; true when server connections
   * made with the old ones must retire (new certificates, TLS settings, AUTH).
   */
  protected reloadSettings(config: PoolConfig, drainMs: number): boolean {
    const oldHandshake = this.handshake.bytes;
    const oldTls = this.serverTls;
    const oldAuth = this.auth;
    this.config = config;
    this.drainMs = drainMs;
    this.applySettings(config);
    if (oldAuth !== null || this.auth !== null) for (const c of this.clients) c.revalidate();
    // New certificates or TLS settings: connections made with the old ones retire (new ones dial with the new).
    return !sameBuffers(oldHandshake, this.handshake.bytes) || this.serverTls !== oldTls;
  }

  /** The pool is gone (reload): stop ticking, retire every backend (their requests finish first). */
  remove(): void {
    this.removed = true;
    this.routes = null;
    this.untick?.();
    this.untick = null;
    for (const b of this.backends.values()) b.remove();
  }

  /** Close every server connection (shutdown). */
  close(): void {
    this.untick?.();
    this.untick = null;
    for (const b of this.backends.values()) b.shutdown();
  }

  private applySettings(config: PoolConfig): void {
    this.auth = config.redis ? PoolAuth.of(config) : null;
    // Certificates were read again by the reload: the same bytes keep the context (and the connections made with it).
    const st = dialTlsOf(config);
    this.serverTls = st !== null && this.serverTls !== null && st.fingerprint === this.serverTls.fingerprint ? this.serverTls : st;
    const ct = acceptTlsOf(config);
    this.clientTls = ct !== null && this.clientTls !== null && ct.fingerprint === this.clientTls.fingerprint ? this.clientTls : ct;
    this.handshake = this.makeHandshake(config, config.redisDb);
    this.dbHandshakes = new Map();
  }

  private makeHandshake(config: PoolConfig, db: number): Handshake {
    const names: string[] = [];
    if (config.redis && config.redisAuth !== null) names.push('AUTH');
    if (config.redis && db > 0) names.push(`SELECT ${db}`);
    return { bytes: this.protocol.handshake(config, db), names };
  }

  handshakeFor(db: number): Handshake {
    if (db < 0) return this.handshake;
    let h = this.dbHandshakes.get(db);
    if (h === undefined) {
      h = this.makeHandshake(this.config, db);
      this.dbHandshakes.set(db, h);
    }
    return h;
  }

  /** A table over the configured servers; `prevLive` carries the ejection state of kept backends (absent: live). */
  private buildTable(config: PoolConfig, prevLive: Map<Backend, boolean> | null): RoutingTable<Backend> {
    const entries: TableEntry<Backend>[] = config.servers.map((s: ServerConfig) => ({ backend: this.backends.get(s.name) as Backend, weight: s.weight }));
    const live = entries.map((e) => prevLive === null || prevLive.get(e.backend) !== false);
    // With a failover pool, a down server's keys go there: the ring keeps it (route/router.ts).
    const keepRing = config.failover !== null;
    return new RoutingTable({ hash: config.hash, distribution: config.distribution, hashTag: config.hashTag, entries, timeout: config.timeout, keepRing }, live);
  }
}

function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(a[i] as Buffer).equals(b[i] as Buffer)) return false;
  return true;
}

/**
 * What a replica's backend sees as its pool (Sentinel and Cluster pools): the pool's settings and completions;
 * each kind says what a failure, a redirect and a failed request do.
 */
export abstract class ReplicaHostBase<P extends ServerPool> implements BackendHost, Completer {
  constructor(protected readonly pool: P) {}

  get completer(): Completer {
    return this;
  }

  get serverConnections(): number {
    return this.pool.serverConnections;
  }

  handshakeFor(db: number): Handshake {
    return this.pool.handshakeFor(db);
  }

  get privateConnections(): number {
    return this.pool.privateConnections;
  }

  get serverTls(): DialTls | null {
    return this.pool.serverTls;
  }

  onTlsFailure(b: Backend, reason: string): void {
    this.pool.onTlsFailure(b, reason);
  }

  get timeout(): number {
    return this.pool.timeout;
  }

  get drainMs(): number {
    return this.pool.drainMs;
  }

  newReplyReader(): ReplyReader {
    return this.pool.newReplyReader();
  }

  onHandshakeError(b: Backend, name: string, text: string): void {
    this.pool.onHandshakeError(b, name, text);
  }

  finish(msg: Msg): void {
    this.pool.finish(msg);
  }

  abstract onServerFailure(b: Backend): void;
  abstract onRedirect(b: Backend, conn: ServerConn, msg: Msg, status: ReplyStatus): boolean;
  abstract failMsg(msg: Msg, text: string): void;
}
