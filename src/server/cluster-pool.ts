// Server side, a pool in front of a Redis Cluster: `servers:` are seed nodes; keys go by slot (CRC16 mod 16384,
// {tag}) to the master that serves the slot, learnt from CLUSTER SLOTS. Backends are the cluster's nodes, known
// by host:port (a node that keeps its address keeps its connections across refreshes).
//
//   data path:  key ─► ClusterTable (slot ─► master; route/cluster-table.ts, swapped whole) ─► backend ─► conn
//   replies:    MOVED s A   ─► slot s ─► A in a new table at once, the request sent again to A, a refresh asked
//               ASK s A     ─► ASKING + the request, adjacent on one connection of A; the map is not touched
//               TRYAGAIN    ─► sent again to the same node after TRYAGAIN_DELAY_MS (the one ticker, a FIFO)
//               CLUSTERDOWN, -READONLY ─► relayed; a refresh asked
//               more than cluster_max_redirects ─► `-ERR nutmeg: too many cluster redirections (last: ...)`
//   A MOVED or ASK reply never reaches a client. The client's reply FIFO keeps its order: a request sent again
//   completes in its own place.
//
//   control plane: refresh = CLUSTER SLOTS of one reachable node (known masters in random order, then the seeds,
//   then replicas) ─► a new table, unless it covers fewer slots than the one in force. One refresh at a time;
//   triggered ones (MOVED, a failed master connection, CLUSTERDOWN, -READONLY, an unserved slot) at most one per
//   TRIGGER_MIN_MS, plus one every cluster_refresh_interval. Every change is logged (nodes, slot ranges).
//
// Replica reads (read_policy replica | prefer_replica): read-only commands go round robin to the replicas of the
// slot's master, on connections that send READONLY once after AUTH; a replica connection failure sends its reads to
// the master once and skips that replica until the next refresh.

import type { PoolConfig } from '../config/types';
import { READ_ONLY_CMD } from '../protocol/redis/commands';
import { errorReply } from '../protocol/redis/replies';
import { allocMsg, requestBytes, type Msg } from '../forward/msg';
import { FragScratch, REPLY_READONLY, type Protocol, type ReplyStatus, type RouteView, type Target } from '../forward/protocol';
import { ClusterTable, slotRanges } from '../route/cluster-table';
import { SLOTS, keySlot } from '../route/slot';
import { Ring } from '../util/ring';
import { onTick } from '../util/clock';
import { log, warnLimited } from '../util/log';
import { Backend, endpointOf } from './backend';
import type { Endpoint, Handshake, ServerConn } from './conn';
import { askSlots, coveredSlots, parseRedirect, type SlotRange } from './cluster-topology';
import { ReplicaHostBase, ServerPool, type ClusterNodeInfo, type ServerChanges } from './pool';

/** How long start-up waits for a first slot map before the pool listens anyway. */
const START_BOUND_MS = 3000;
/** ms for the connect, AUTH and CLUSTER SLOTS of one refresh query. */
const QUERY_TIMEOUT_MS = 1000;
/** Triggered refreshes (MOVED, failures) start at most this often; the periodic one comes on top. */
const TRIGGER_MIN_MS = 1000;
/** A request answered TRYAGAIN is sent again after this long (a slot being migrated). */
const TRYAGAIN_DELAY_MS = 50;

const ASKING = Buffer.from('*1\r\n$6\r\nASKING\r\n');
const READONLY = Buffer.from('*1\r\n$8\r\nREADONLY\r\n');

const P_MASTER = 0;
const P_REPLICA = 1;
const P_PREFER_REPLICA = 2;

/** A request waiting to be sent again after TRYAGAIN. */
interface Later {
  msg: Msg;
  to: Backend;
  due: number;
}

/**
 * What a replica's backend sees as its pool: the pool's settings with READONLY after AUTH on each connection;
 * its failures skip it instead of asking for a refresh.
 */
class ReplicaHost extends ReplicaHostBase<ClusterPool> {
  /** The replica's address (its identity). */
  private readonly address: string;

  constructor(pool: ClusterPool, address: string) {
    super(pool);
    this.address = address;
  }

  override handshakeFor(db: number): Handshake {
    const h = this.pool.handshakeFor(db);
    return { bytes: [...h.bytes, READONLY], names: [...h.names, 'READONLY'] };
  }

  onServerFailure(b: Backend): void {
    this.pool.onReplicaFailure(b);
  }

  onRedirect(b: Backend, conn: ServerConn, msg: Msg, status: ReplyStatus): boolean {
    return this.pool.onRedirect(b, conn, msg, status);
  }

  onInternalError(b: Backend, text: string): void {
    this.pool.onInternalError(b, text);
  }

  /** Called during the teardown of a replica connection (its queues already detached): the read goes to the master. */
  failMsg(msg: Msg, text: string): void {
    this.pool.resendRead(this.address, msg, text);
  }
}

export class ClusterPool extends ServerPool {
  private ctable: ClusterTable<Backend>;
  private readonly scratch = new FragScratch(SLOTS);
  /** Each slot's master address as of the last refresh (for the change log lines). */
  private lastMap: (string | null)[] = new Array<string | null>(SLOTS).fill(null);
  private seeds: Endpoint[];
  private policy = P_MASTER;
  /** Replica backends by address (read_policy other than master). */
  private readonly replicaNodes = new Map<string, Backend>();
  /** Replicas whose connection failed: skipped until the next refresh. */
  private readonly replicaDown = new Set<Backend>();
  private refreshing = false;
  /** A trigger that came during a refresh: one more refresh after it. */
  private pendingWhy: string | null = null;
  private lastTriggerAt = 0;
  private triggerTimer: NodeJS.Timeout | null = null;
  private periodic: NodeJS.Timeout | null = null;
  private lastRefreshError = '';
  /** Requests answered TRYAGAIN, in arrival order (all wait the same delay), and the tick that sends them. */
  private readonly later = new Ring<Later>(16);
  private untickLater: (() => void) | null = null;
  private closed = false;

  constructor(config: PoolConfig, protocol: Protocol, drainMs = 3000) {
    super(config, protocol, drainMs);
    // The base pool made a backend per configured server: here they are only seeds, reached by the refresh's
    // own connections; the backends are the nodes CLUSTER SLOTS names.
    for (const b of this.backends.values()) b.remove();
    this.backends.clear();
    this.seeds = seedsOf(config);
    this.policy = policyOf(config);
    this.ctable = ClusterTable.empty<Backend>(config.timeout, this.scratch);
    this.armTick();
    this.armPeriodic();
  }

  override keeps(config: PoolConfig): boolean {
    return config.redisCluster;
  }

  /** A first slot map before the listener accepts (bounded: without one, requests fail until a refresh finds one). */
  override async start(): Promise<void> {
    let timer: NodeJS.Timeout | null = null;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, START_BOUND_MS);
      timer.unref();
    });
    this.lastTriggerAt = Date.now();
    await Promise.race([this.refresh('start-up'), bound]);
    if (timer !== null) clearTimeout(timer);
    if (this.ctable.covered === 0) log().error(`cluster: pool '${this.config.name}': no slot map yet (no seed answered CLUSTER SLOTS); requests fail until one does`);
  }

  // --- data path

  override table(): RouteView {
    return this.ctable;
  }

  override get timeout(): number {
    // Read by the base constructor before this class's fields exist.
    return this.ctable?.timeout ?? this.config.timeout;
  }

  override get servers(): readonly Backend[] {
    const t = this.ctable;
    if (this.policy === P_MASTER) return t.nodes;
    return [...t.nodes, ...this.replicaNodes.values()];
  }

  override forward(msg: Msg, keyBuf: Buffer, keyStart: number, keyEnd: number): void {
    const t = this.ctable;
    const slot = keySlot(keyBuf, keyStart, keyEnd);
    const b = t.slots[slot] ?? null;
    if (b === null) {
      this.unserved(msg, slot);
      return;
    }
    const to = this.policy !== P_MASTER && READ_ONLY_CMD[msg.cmd] === 1 ? this.readTarget(b) : b;
    if (to === null) this.failMsg(msg, noReplica(b));
    else to.conn().enqueue(msg, requestBytes(msg), t.timeout);
  }

  override send(target: Target, msg: Msg, bytes: Buffer): void {
    const b = target as Backend;
    const to = this.policy !== P_MASTER && READ_ONLY_CMD[msg.cmd] === 1 ? this.readTarget(b) : b;
    if (to === null) this.failMsg(msg, noReplica(b));
    else to.conn().enqueue(msg, bytes, this.ctable.timeout);
  }

  /** No node serves the slot (yet): the request fails and a refresh is asked for. */
  private unserved(msg: Msg, slot: number): void {
    this.trigger(`slot ${slot} unserved`);
    this.failMsg(msg, `nutmeg: hash slot ${slot} is not served by any cluster node (CLUSTERDOWN)`);
  }

  /** Where a read-only command for master `b` goes under the read policy; null: nowhere (replica, none healthy). */
  private readTarget(b: Backend): Backend | null {
    const rs = b.replicas;
    const n = rs.length;
    if (n === 0) return this.policy === P_REPLICA ? null : b;
    const i = b.readRr >= n ? 0 : b.readRr;
    b.readRr = i + 1;
    return rs[i] as Backend;
  }

  /**
   * A reply that redirects (see the header). Runs inside the reply loop of `conn`: it may queue on any
   * connection (another node's, or this one after what it holds), never fails one.
   */
  override onRedirect(b: Backend, conn: ServerConn, msg: Msg, status: ReplyStatus): boolean {
    const st = this.stats;
    if (this.closed) {
      // Removed by a reload or shutting down: nothing is sent again, and a MOVED/ASK still never reaches a client.
      const l = replyLine(msg);
      if (status !== REPLY_READONLY && (l.startsWith('MOVED ') || l.startsWith('ASK '))) setReply(msg, errorReply(`ERR nutmeg: cluster redirection after the pool was removed (${l.slice(0, 100)})`));
      return false;
    }
    if (status === REPLY_READONLY) {
      // A node believed master is a replica now: a failover the map has not seen.
      this.trigger(`-READONLY from ${b.name}`);
      return false;
    }
    const line = replyLine(msg);
    const sp = line.indexOf(' ');
    const kind = sp < 0 ? line : line.slice(0, sp);
    if (kind === 'CLUSTERDOWN') {
      st.clusterDown++;
      this.trigger(`CLUSTERDOWN from ${b.name}`);
      return false;
    }
    if (kind === 'TRYAGAIN') {
      st.clusterTryagain++;
      if (conn.lessee !== null || msg.redirects >= this.config.clusterMaxRedirects) return this.giveUp(msg, line, conn);
      msg.redirects++;
      clearReply(msg);
      this.sendLater(msg, b);
      return true;
    }
    // MOVED or ASK
    const r = parseRedirect(line);
    if (r === null) {
      setReply(msg, errorReply(`ERR nutmeg: unreadable cluster redirection from ${b.name}: ${line.slice(0, 100)}`));
      return false;
    }
    const ep = r.to.host === '' ? endpointOf(b.endpoint.host, r.to.port, null) : r.to;
    const to = this.node(ep);
    if (kind === 'MOVED') {
      st.clusterMoved++;
      if (this.ctable.slots[r.slot] !== to) this.ctable = this.ctable.withSlot(r.slot, to);
      this.trigger(`MOVED ${r.slot} ${ep.address}`);
    } else {
      st.clusterAsk++;
    }
    if (conn.lessee !== null || msg.redirects >= this.config.clusterMaxRedirects) return this.giveUp(msg, line, conn);
    msg.redirects++;
    clearReply(msg);
    if (kind === 'ASK') {
      this.sendAsking(to, msg);
    } else {
      msg.asking = false;
      to.conn().enqueue(msg, requestBytes(msg), this.ctable.timeout);
    }
    return true;
  }

  /**
   * An error for a transaction's queued command (its EXEC answers EXECABORT, which the client sees): a MOVED still
   * updates the map at once, so the client's retry goes to the right node; other cluster errors ask for a refresh.
   */
  onInternalError(b: Backend, text: string): void {
    if (this.closed) return;
    if (text.startsWith('MOVED ')) {
      const r = parseRedirect(text);
      if (r === null) return;
      const to = this.node(r.to.host === '' ? endpointOf(b.endpoint.host, r.to.port, null) : r.to);
      this.stats.clusterMoved++;
      if (this.ctable.slots[r.slot] !== to) this.ctable = this.ctable.withSlot(r.slot, to);
      this.trigger(`MOVED ${r.slot} ${to.name} (in a transaction)`);
    } else if (text.startsWith('ASK ') || text.startsWith('CLUSTERDOWN') || text.startsWith('TRYAGAIN')) {
      this.trigger(`${text.slice(0, 60)} (in a transaction)`);
    }
  }

  /** The request is not sent again: its client gets a clear error instead of the redirection. */
  private giveUp(msg: Msg, line: string, conn: ServerConn): boolean {
    this.stats.clusterRedirectErrors++;
    const text =
      conn.lessee !== null
        ? `ERR nutmeg: cluster redirection on a connection pinned by WATCH or a blocking command (${line.slice(0, 100)}); try again`
        : `ERR nutmeg: too many cluster redirections (last: ${line.slice(0, 100)})`;
    setReply(msg, errorReply(text));
    return false;
  }

  /** ASK: `ASKING` and the request, adjacent on one connection of the importing node. */
  private sendAsking(to: Backend, msg: Msg): void {
    msg.asking = true;
    const c = to.conn();
    const m = allocMsg();
    m.swallow = true;
    m.cmd = -1; // not a handshake request: its reply is dropped unlogged
    m.buf = ASKING;
    m.end = ASKING.length;
    const timeout = this.ctable.timeout;
    c.enqueue(m, ASKING, timeout);
    c.enqueue(msg, requestBytes(msg), timeout);
  }

  /** TRYAGAIN: send it again to the same node (with ASKING if it was asked) after TRYAGAIN_DELAY_MS, on the ticker. */
  private sendLater(msg: Msg, to: Backend): void {
    this.later.push({ msg, to, due: performance.now() + TRYAGAIN_DELAY_MS });
    if (this.untickLater === null) this.untickLater = onTick((now) => this.sendDue(now));
  }

  private sendDue(now: number): void {
    const q = this.later;
    for (let e = q.peek(); e !== undefined && e.due <= now; e = q.peek()) {
      q.shift();
      const msg = e.msg;
      if (this.closed) {
        this.failMsg(msg, 'nutmeg: the pool was removed');
        continue;
      }
      const to = e.to.removed ? this.node(e.to.endpoint) : e.to;
      if (msg.asking) this.sendAsking(to, msg);
      else to.conn().enqueue(msg, requestBytes(msg), this.ctable.timeout);
    }
    if (q.length === 0 && this.untickLater !== null) {
      this.untickLater();
      this.untickLater = null;
    }
  }

  // --- failures

  /** A master's connection failed or timed out: maybe a failover; the map is asked again (nodes are never ejected). */
  override onServerFailure(b: Backend): void {
    if (this.closed) return;
    if (this.ctable.nodes.includes(b)) this.trigger(`connection to ${b.name} failed`);
  }

  override isEjected(): boolean {
    return false;
  }

  /**
   * A read whose replica connection failed (all replica requests are reads): sent to that replica's master once,
   * instead of failing (a replica restarting, or promoted and killing its clients).
   */
  resendRead(replica: string, msg: Msg, text: string): void {
    if (!this.closed) {
      for (const m of this.ctable.nodes) {
        if (m.replicas.some((r) => r.name === replica)) {
          m.conn().enqueue(msg, requestBytes(msg), this.ctable.timeout);
          return;
        }
      }
    }
    this.failMsg(msg, text);
  }

  /** A replica's connection failed: reads skip it until the next refresh. */
  onReplicaFailure(b: Backend): void {
    if (this.closed || this.replicaDown.has(b)) return;
    this.replicaDown.add(b);
    warnLimited('cluster-replica', `cluster: pool '${this.config.name}': replica ${b.name} failed; reads skip it until the next refresh`);
    for (const m of this.ctable.nodes) if (m.replicas.includes(b)) m.replicas = m.replicas.filter((r) => r !== b);
    this.trigger(`replica ${b.name} failed`);
  }

  protected override checkTimeouts(now: number): void {
    for (const b of this.backends.values()) b.checkTimeouts(now);
    for (const b of this.replicaNodes.values()) b.checkTimeouts(now);
  }

  override preconnect(): void {
    for (const b of this.ctable.nodes) b.preconnect();
  }

  // --- topology

  /** The backend of the node at `ep` (host:port is its identity), made on first sight. */
  private node(ep: Endpoint): Backend {
    let b = this.backends.get(ep.address);
    if (b === undefined) {
      b = new Backend(this, ep.address, ep);
      this.backends.set(ep.address, b);
      if (this.config.preconnect) b.preconnect();
    }
    return b;
  }

  /** Ask for a refresh: now, or once the one running ends, or when TRIGGER_MIN_MS since the last has passed. */
  trigger(why: string): void {
    if (this.closed) return;
    if (this.refreshing) {
      if (this.pendingWhy === null) this.pendingWhy = why;
      return;
    }
    const wait = this.lastTriggerAt + TRIGGER_MIN_MS - Date.now();
    if (wait > 0) {
      if (this.triggerTimer === null) {
        this.triggerTimer = setTimeout(() => {
          this.triggerTimer = null;
          this.trigger(why);
        }, wait);
        this.triggerTimer.unref();
      }
      return;
    }
    this.lastTriggerAt = Date.now();
    void this.refresh(why);
  }

  private armPeriodic(): void {
    if (this.periodic !== null) clearInterval(this.periodic);
    this.periodic = null;
    const ms = this.config.clusterRefreshInterval;
    if (ms <= 0) return;
    this.periodic = setInterval(() => {
      if (!this.refreshing) void this.refresh('periodic');
    }, ms);
    this.periodic.unref();
  }

  /** Where a refresh asks, in order: known masters (random order, failing ones last), the seeds, the replicas. */
  private queryOrder(): Endpoint[] {
    const masters = [...this.ctable.nodes];
    for (let i = masters.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [masters[i], masters[j]] = [masters[j] as Backend, masters[i] as Backend];
    }
    masters.sort((a, b) => Number(a.connDown) - Number(b.connDown));
    const out: Endpoint[] = [];
    const seen = new Set<string>();
    const add = (ep: Endpoint): void => {
      if (seen.has(ep.address)) return;
      seen.add(ep.address);
      out.push(ep);
    };
    for (const b of masters) add(b.endpoint);
    for (const ep of this.seeds) add(ep);
    for (const b of this.replicaNodes.values()) add(b.endpoint);
    return out;
  }

  /** One refresh: the first node that answers CLUSTER SLOTS gives the map (see apply). */
  private async refresh(why: string): Promise<void> {
    if (this.refreshing || this.closed) return;
    this.refreshing = true;
    this.stats.clusterRefreshes++;
    try {
      const errors: string[] = [];
      for (const ep of this.queryOrder()) {
        if (this.closed) return;
        try {
          const ranges = await askSlots(ep, this.config.redisAuthUser, this.config.redisAuth, QUERY_TIMEOUT_MS, this.serverTls);
          if (this.closed) return;
          this.apply(ranges, ep.address, why);
          this.lastRefreshError = '';
          return;
        } catch (e) {
          errors.push(`${ep.address}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      this.stats.clusterRefreshErrors++;
      const text = errors.join('; ');
      if (text !== this.lastRefreshError) {
        this.lastRefreshError = text;
        log().warn(`cluster: pool '${this.config.name}': no node answered CLUSTER SLOTS (${why}): ${text}; keeping the slot map in force`);
      }
    } finally {
      this.refreshing = false;
      const again = this.pendingWhy;
      this.pendingWhy = null;
      if (again !== null && !this.closed) this.trigger(again);
    }
  }

  /** A CLUSTER SLOTS answer: a new table unless it covers fewer slots than the one in force; changes logged. */
  private apply(ranges: readonly SlotRange[], via: string, why: string): void {
    const name = this.config.name;
    const covered = coveredSlots(ranges);
    const cur = this.ctable;
    if (covered < cur.covered) {
      warnLimited('cluster-fewer', `cluster: pool '${name}': CLUSTER SLOTS from ${via} covers ${covered} slots, fewer than the ${cur.covered} in force; keeping the map in force`);
      return;
    }
    const slots = new Array<Backend | null>(SLOTS).fill(null);
    const replicas = new Map<Backend, Endpoint[]>();
    for (const r of ranges) {
      const m = this.node(r.master);
      for (let s = r.start; s <= r.end; s++) slots[s] = m;
      const list = replicas.get(m) ?? [];
      for (const ep of r.replicas) if (!list.some((x) => x.address === ep.address)) list.push(ep);
      replicas.set(m, list);
    }
    const next = slots.map((b) => (b === null ? null : b.name));
    this.logChanges(this.lastMap, next, via, why);
    const prev = this.lastMap;
    this.lastMap = next;
    const table = new ClusterTable(slots, this.config.timeout, this.scratch);
    const masters = new Set(table.nodes);
    // Nodes that serve no slot any more (failed, demoted, emptied) retire: their requests finish first.
    for (const [addr, b] of this.backends) {
      if (masters.has(b)) continue;
      this.backends.delete(addr);
      b.replicas = [];
      b.remove();
      // Its pub/sub connection (the pool's subscriptions placed on it) follows its slots to their new master,
      // which subscribes anew: a failed node would otherwise be dialled forever, its subscribers cut off.
      if (b.channels.size > 0) {
        const was = prev.indexOf(addr);
        const heir = (was >= 0 ? slots[was] : null) ?? table.nodes[0] ?? null;
        if (heir !== null) b.moveTo(heir.endpoint);
      }
    }
    this.setReplicas(table, replicas);
    this.ctable = table;
  }

  /** One line per kind of change: nodes that start or stop serving slots, and each run of slots that moved. */
  private logChanges(prev: readonly (string | null)[], next: readonly (string | null)[], via: string, why: string): void {
    const name = this.config.name;
    const before = new Set(prev.filter((x): x is string => x !== null));
    const after = new Set(next.filter((x): x is string => x !== null));
    const first = before.size === 0;
    if (first) {
      const covered = next.reduce((n, x) => (x === null ? n : n + 1), 0);
      log().info(`cluster: pool '${name}': ${after.size} masters serve ${covered} of ${SLOTS} slots (via ${via}, ${why})`);
      for (const a of after) log().info(`cluster: pool '${name}': master ${a} serves slots ${slotRanges(next, (x) => x === a)}`);
      return;
    }
    for (const a of after) if (!before.has(a)) log().info(`cluster: pool '${name}': node ${a} added as a master, serving slots ${slotRanges(next, (x) => x === a)} (via ${via}, ${why})`);
    for (const a of before) if (!after.has(a)) log().info(`cluster: pool '${name}': node ${a} removed: it serves no slot now (via ${via}, ${why})`);
    // Runs of slots with the same (from, to).
    let s = 0;
    while (s < SLOTS) {
      const from = prev[s] ?? null;
      const to = next[s] ?? null;
      if (from === to) {
        s++;
        continue;
      }
      let e = s;
      while (e + 1 < SLOTS && (prev[e + 1] ?? null) === from && (next[e + 1] ?? null) === to) e++;
      const range = s === e ? `slot ${s}` : `slots ${s}-${e}`;
      log().info(`cluster: pool '${name}': ${range} moved ${from ?? '(unserved)'} -> ${to ?? '(unserved)'} (via ${via}, ${why})`);
      s = e + 1;
    }
  }

  /** Each master's read replicas, swapped whole (read_policy other than master); replicas no longer listed retire. */
  private setReplicas(table: ClusterTable<Backend>, lists: Map<Backend, Endpoint[]>): void {
    this.replicaDown.clear();
    if (this.policy === P_MASTER) {
      this.dropReplicas();
      return;
    }
    const seen = new Set<string>();
    for (const m of table.nodes) {
      const out: Backend[] = [];
      for (const ep of lists.get(m) ?? []) {
        seen.add(ep.address);
        let r = this.replicaNodes.get(ep.address);
        if (r === undefined) {
          r = new Backend(new ReplicaHost(this, ep.address), ep.address, ep);
          this.replicaNodes.set(ep.address, r);
        }
        out.push(r);
      }
      m.replicas = out;
    }
    for (const [addr, r] of this.replicaNodes) {
      if (seen.has(addr)) continue;
      this.replicaNodes.delete(addr);
      r.remove();
    }
  }

  private dropReplicas(): void {
    for (const r of this.replicaNodes.values()) r.remove();
    this.replicaNodes.clear();
    for (const m of this.ctable.nodes) m.replicas = [];
  }

  // --- configuration

  /** Reload: settings (auth, TLS, timeout, read_policy, refresh interval) apply; the nodes and the map stay. */
  override reconfigure(config: PoolConfig, drainMs: number): ServerChanges {
    const oldConns = this.config.serverConnections;
    const changed = this.reloadSettings(config, drainMs);
    const all = [...this.backends.values(), ...this.replicaNodes.values()];
    for (const b of all) {
      if (changed) b.retireConns(0);
      else if (config.serverConnections < oldConns) b.retireConns(config.serverConnections);
    }
    this.seeds = seedsOf(config);
    const policy = policyOf(config);
    if (policy !== this.policy) {
      this.policy = policy;
      if (policy === P_MASTER) this.dropReplicas();
    }
    this.ctable = this.ctable.withTimeout(config.timeout);
    this.armTick();
    this.armPeriodic();
    this.trigger('reload');
    return { added: 0, removed: 0, moved: 0 };
  }

  override remove(): void {
    this.stop();
    super.remove();
    for (const r of this.replicaNodes.values()) r.remove();
  }

  override close(): void {
    this.stop();
    super.close();
    for (const r of this.replicaNodes.values()) r.shutdown();
  }

  private stop(): void {
    this.closed = true;
    if (this.periodic !== null) clearInterval(this.periodic);
    this.periodic = null;
    if (this.triggerTimer !== null) clearTimeout(this.triggerTimer);
    this.triggerTimer = null;
    this.sendDue(Number.POSITIVE_INFINITY);
  }

  // --- stats

  override slotsServed(): number {
    return this.ctable.covered;
  }

  override clusterInfo(b: Backend): ClusterNodeInfo | null {
    if (this.replicaNodes.get(b.name) === b) return { role: 'replica', slots: '' };
    return { role: 'master', slots: this.ctable.rangesOf(b) };
  }
}

function seedsOf(config: PoolConfig): Endpoint[] {
  return config.servers.map((s) => endpointOf(s.host, s.port, s.unixPath));
}

function policyOf(config: PoolConfig): number {
  return config.readPolicy === 'replica' ? P_REPLICA : config.readPolicy === 'prefer_replica' ? P_PREFER_REPLICA : P_MASTER;
}

function noReplica(b: Backend): string {
  return `nutmeg: no healthy replica of cluster master ${b.name} (read_policy replica)`;
}

/** The first line of a request's error reply, without '-' and CRLF (control path: redirections only). */
function replyLine(msg: Msg): string {
  const r = msg.parent === null ? msg.reply : msg.fragReply;
  if (r === null) return '';
  const cr = r.indexOf(13);
  return r.toString('latin1', 1, cr < 0 ? r.length : cr);
}

function clearReply(msg: Msg): void {
  msg.reply = null;
  msg.fragReply = null;
  msg.fragOffsets = null;
  msg.fragType = 0;
  msg.fragInt = 0;
}

/** Replace the reply a request will complete with (its own, or its fragment's for the merge). */
function setReply(msg: Msg, reply: Buffer): void {
  if (msg.parent === null) {
    msg.reply = reply;
  } else {
    msg.fragReply = reply;
    msg.fragType = 0x2d;
  }
}
