// The seams of the data path, as narrow interfaces: the wire protocols (forward/redis.ts,
// forward/memcache.ts) see a client as a Session and its pool as a Forwarder; a server connection
// sees the pool only as a Completer. No concrete connection or pool class is imported across them,
// so client/, forward/, route/ and server/ form no import circle (test/unit/imports.test.ts).
//
//   client/conn (Session) ─► RequestReader.dispatch ─► Forwarder (server/pool): route in the current table, send
//   server/conn ─► ReplyReader ─► Completer (server/pool): finish (merge fragments) ─► Session.onMsgDone

import type { ParseStatus } from '../protocol/parse';
import type { PoolConfig } from '../config/types';
import type { PoolStats } from '../stats/counters';
import type { Msg, MsgOwner } from './msg';
import type { AclUser, PoolAuth } from './redis-acl';

/** A backend as the forwarding code sees it: where a request or fragment is queued (server/backend implements it). */
export interface Target {
  readonly name: string;
}

/** Per-target scratch for splitting one multi-key request (used synchronously; sized by its routing table). */
export class FragScratch {
  /** Keys per target. */
  readonly count: Int32Array;
  /** Fragment size per target, then its write cursor. */
  readonly size: Float64Array;
  /** Target index to fragment number. */
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

/** A server connection leased to one client (WATCH, a blocking command): opaque to the protocol code. */
export interface Lease {
  /** The backend it belongs to. */
  readonly owner: Target;
  /** Who holds it now (null once released). */
  readonly lessee: object | null;
  /** Its connection closed while leased (a failure, a failover): the state it held on the server is gone. */
  readonly lost: boolean;
}

/** Where an upstream pub/sub connection delivers what its server pushes (forward/redis-pubsub.ts). */
export interface PushSink {
  /**
   * A whole reply pushed by the server: `reply` is its bytes, `elems` the [start, end) of each top-level
   * element inside it (kind first: message, pmessage, subscribe, ...).
   */
  onPush(reply: Buffer, elems: readonly number[]): void;
  /** The connection is up (again): every subscription must be made anew. */
  onUp(): void;
  /** The connection is gone; it comes back by itself. */
  onDown(): void;
}

/** A connection to one server that carries subscriptions (server/subscriber.ts). */
export interface PushChannel {
  send(request: Buffer): void;
  close(): void;
}

/** One routing table, read once per request (a reload, an ejection or a failover publishes a new one). */
export interface RouteView {
  /**
   * Index of the target for the key buf[start, end), or negative: -1 when no target is live, ROUTE_DOWN (-2) when
   * the key's target is down in a pool that keeps its ring for a failover pool (route/router.ts).
   */
  route(buf: Buffer, start: number, end: number): number;
  /** Index of the first live target in configured order (keyless scripts go there), or -1. */
  firstLive(): number;
  /** Targets in the table (live or not), and whether one is live. */
  readonly size: number;
  isLive(index: number): boolean;
  target(index: number): Target;
  readonly scratch: FragScratch;
  /**
   * Distinct targets, for commands sent to every server (KEYS, DBSIZE, SCAN, PSUBSCRIBE): node(k) is a table index
   * of the k-th one. A hashed table's indices are its servers; a Redis Cluster table's are slots, many per node.
   */
  readonly nodeCount: number;
  node(k: number): number;
  /** Redis Cluster: a PUBLISH reaches every node, so a pattern subscription is made on one node only. */
  readonly clustered: boolean;
}

/**
 * A pool's extra routes (memcache `failover`, `mirror_to`, `warmup_from`: forward/mc-routes.ts), linked by name when a
 * configuration is applied. null for a pool with none of them, so a plain pool pays one null check per request.
 */
export interface PoolRoutes {
  /** A request or fragment of this pool failed with `text`: send it elsewhere and return true, or false to fail it. */
  divert(msg: Msg, text: string): boolean;
}

/** The pool a client's requests go to, as the protocol code sees it. */
export interface Forwarder {
  readonly config: PoolConfig;
  readonly stats: PoolStats;
  /** This pool's extra routes, or null (see PoolRoutes). */
  readonly routes: PoolRoutes | null;
  /** Removed by a reload: a route that still holds it sends nothing more to it. */
  readonly removed: boolean;
  /** Client authentication (redis_auth or client_users), or null: clients need no AUTH. */
  readonly auth: PoolAuth | null;
  readonly clientCount: number;
  /** The routing table in force now. */
  table(): RouteView;
  /** Route by key in the current table and queue the request's own bytes (zero copy); errors complete it at once. */
  forward(msg: Msg, keyBuf: Buffer, keyStart: number, keyEnd: number): void;
  /** Queue a request (or fragment) on a target of the table it was routed with. */
  send(target: Target, msg: Msg, bytes: Buffer): void;
  /**
   * Queue `internal` requests (their replies dropped), then `last`, on one connection of `target`, with
   * nothing in between (a transaction: MULTI, the commands, EXEC).
   */
  sendBatch(target: Target | Lease, internal: readonly Buffer[], last: Msg | null, lastBytes: Buffer | null): void;
  /** A connection of `target`'s own for `lessee` (a client's session) in database `db` (-1: the pool's), or null when none is free. */
  lease(target: Target, lessee: object, db: number): Lease | null;
  /** Queue on a leased connection; `timeout` ms (0 = none), for a blocking command its block time + the pool's. */
  sendOn(lease: Lease, msg: Msg, bytes: Buffer, timeout: number): void;
  /** The client is done with the lease (its state on the server is cleared). */
  release(lease: Lease): void;
  /** The client went away: the leased connection, if `lessee` still holds it, is closed at once. */
  abortLease(lease: Lease, lessee: object): void;
  /** The pool's timeout (ms, 0 = none). */
  readonly timeout: number;
  /** A connection of `target`'s own for subscriptions; pushes go to `sink`. */
  openChannel(target: Target, sink: PushSink): PushChannel;
  /** Complete a request with a proxy error reply (`-ERR text` / `SERVER_ERROR text`). */
  failMsg(msg: Msg, text: string): void;
}

/** A client connection as the protocol code sees it. */
export interface Session extends MsgOwner {
  readonly id: number;
  /** Per-connection protocol state (redis AUTH, CLIENT SETNAME). */
  authed: boolean;
  /** Who the client logged in as (null: not logged in, or the pool asks for no AUTH); restricted users are checked per command. */
  user: AclUser | null;
  name: Buffer | null;
  /** Where this client's requests go now: a reload that moves the client's listener moves this too. */
  readonly forwarder: Forwarder;
  /** QUIT: nothing more is read; the connection closes once earlier replies are out. */
  quit(msg: Msg): void;
  /** A pushed reply (a pub/sub message) for this client, after the replies it is owed. */
  deliver(reply: Buffer): void;
}

/** Where a server connection hands a request whose reply (or failure) came. */
export interface Completer {
  finish(msg: Msg): void;
  failMsg(msg: Msg, text: string): void;
}

/** Reads requests on one client connection and forwards or answers each one. */
export interface RequestReader {
  parse(buf: Buffer, start: number): ParseStatus;
  /** After OK: end of the request. */
  readonly end: number;
  /** After AGAIN: bytes needed from the request start. */
  readonly need: number;
  /** After OK: answer locally, or route and queue to servers. The msg is already in the client FIFO. */
  dispatch(client: Session, msg: Msg, buf: Buffer, start: number, end: number): void;
  /** After ERROR: the reply that tells the client what was wrong, and whether the stream is lost. */
  errorReply(): Buffer;
  errorCloses(): boolean;
  /** The client connection closed: let go of what the session holds (leased connections). */
  close(client: Session): void;
  /** The client ended its input (EOF) while requests may wait: blocked commands are dropped, as Redis drops the client. */
  ended(client: Session): void;
}

/** What a reply means for its request and its server (ReplyReader.complete). */
export const REPLY_GOOD = 0;
/** `-OOM`, `-BUSY`, `-LOADING`: relayed to the client, and a failure of the server. */
export const REPLY_TRANSIENT = 1;
/** `-READONLY`: the server is a replica now; a pool that follows failovers may send the request again elsewhere. */
export const REPLY_READONLY = 2;
/** `-MOVED`, `-ASK`, `-TRYAGAIN`, `-CLUSTERDOWN`: a Redis Cluster pool sends the request again or refreshes its map. */
export const REPLY_CLUSTER = 3;
export type ReplyStatus = typeof REPLY_GOOD | typeof REPLY_TRANSIENT | typeof REPLY_READONLY | typeof REPLY_CLUSTER;

/** Reads replies on one server connection and completes the request at the head of its FIFO. */
export interface ReplyReader {
  /** Set up for the head request before parsing its reply. */
  prepare(msg: Msg): void;
  /** Forget a partial reply: the connection it came on is gone, and the next one starts at a reply boundary. */
  reset(): void;
  parse(buf: Buffer, start: number): ParseStatus;
  readonly end: number;
  readonly need: number;
  readonly errorText: string;
  /** A whole reply for msg sits at buf[start, end). Fill msg.reply (or fragment fields); say what the reply means. */
  complete(msg: Msg, buf: Buffer, start: number, end: number): ReplyStatus;
  /**
   * After complete(): bytes to send again on the same connection instead of completing the request (a
   * completion that redirects: EVALSHA answered -NOSCRIPT becomes EVAL), or null to complete it.
   */
  redirect(msg: Msg): Buffer | null;
}

export interface Protocol {
  readonly redis: boolean;
  newRequestReader(): RequestReader;
  newReplyReader(): ReplyReader;
  /** Error reply for a failed request: `-ERR <text>` or `SERVER_ERROR <text>`. */
  errorReply(text: string): Buffer;
  /** Internal requests sent first on every new server connection (AUTH, then SELECT `db` when it is not 0). */
  handshake(config: PoolConfig, db: number): Buffer[];
  /** All fragments of parent are done: build parent.reply. */
  merge(parent: Msg): void;
}
