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
//   release(ep)  held connections dial ep (the checked new master, or the same address if the check failed)
// so nothing is written to the old address after the hold, and nothing waits longer than the check.

import { ServerConn, type ConnOwner, type Endpoint } from './conn';
import { ServerStats } from '../stats/counters';
import { onTick } from '../util/clock';
import type { Completer, ReplyReader, Target } from '../forward/protocol';
import { requestBytes, type Msg } from '../forward/msg';

/** What a backend needs from its pool: settings in force now, and where its events go. */
export interface BackendHost {
  readonly completer: Completer;
  readonly serverConnections: number;
  readonly handshake: readonly Buffer[];
  readonly handshakeNames: readonly string[];
  readonly timeout: number;
  /** How long (ms) a retired connection may keep its requests before it is closed anyway. */
  readonly drainMs: number;
  newReplyReader(): ReplyReader;
  onServerFailure(b: Backend): void;
  onHandshakeError(b: Backend, name: string, text: string): void;
  /** `-READONLY` from b: true when the host took msg to send it again (a pool that follows failovers). */
  onReadonly(b: Backend, msg: Msg): boolean;
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

  get handshake(): readonly Buffer[] {
    return this.host.handshake;
  }

  get handshakeNames(): readonly string[] {
    return this.host.handshakeNames;
  }

  get timeout(): number {
    return this.host.timeout;
  }

  /** The live connections (not the retired ones). */
  get connections(): readonly ServerConn[] {
    return this.conns;
  }

  newReplyReader(): ReplyReader {
    return this.host.newReplyReader();
  }

  /** Connections are made on demand up to server_connections, then used round robin. */
  conn(): ServerConn {
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

  /** A new address (same identity): connections to the old one are retired; the ejection state starts afresh. */
  moveTo(ep: Endpoint): void {
    this.ep = ep;
    this.holding = false;
    this.failureCount = 0;
    this.nextRetry = 0;
    this.retireConns(0);
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
    const moved: Msg[] = [];
    // Take every connection's unsent requests first, then queue them: nothing runs in between (no completion).
    for (const c of old) {
      const m = c.takeUnsent();
      if (m !== null) for (const x of m) moved.push(x);
      retire(c, deadline, failText);
    }
    const timeout = this.host.timeout;
    for (const m of moved) this.conn().enqueue(m, requestBytes(m), timeout);
  }

  /** See the header: the held connections dial `ep`; a new address starts with a clean failure count. */
  release(ep: Endpoint): void {
    if (!this.holding) return;
    this.holding = false;
    if (!sameEndpoint(ep, this.ep)) {
      this.ep = ep;
      this.failureCount = 0;
      this.nextRetry = 0;
    }
    for (const c of this.conns) c.dial(ep);
  }

  /**
   * Retire connections from index `keep` on (0: all, when the handshake changed or the backend was
   * removed; server_connections lowered: the extra ones).
   */
  retireConns(keep: number): void {
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

  redirect(_conn: ServerConn, msg: Msg): boolean {
    return !this.removed && this.host.onReadonly(this, msg);
  }

  /** -OOM/-BUSY/-LOADING: relayed to the client, but a failure of this server all the same. */
  onTransientFailure(): void {
    if (!this.removed) this.host.onServerFailure(this);
  }

  onHandshakeError(name: string, text: string): void {
    this.host.onHandshakeError(this, name, text);
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
