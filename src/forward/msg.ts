// The in-flight request record, shared by the client FIFO and the server FIFO.
//
//   client FIFO: [m1][m2][m3]  replies leave in this order, a done head at a time
//   server FIFO: [m2][m1']     each reply pairs with the head (m1' = a fragment of m1)
//
// A request is offsets into the client's receive buffer (zero copy); only fragments of
// multi-key commands own freshly built bytes. Records are reused from a free list.

/** What the client sees for a request: nothing yet, a relayed/merged reply, or nothing at all (noreply). */
export class Msg {
  /** Owner connection, or null for internal requests (AUTH/SELECT on a new server connection). */
  client: MsgOwner | null = null;
  /** Request bytes: buf[start, end). */
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** Extra bytes written right after the request (memcache quiet meta: `mn\r\n`). */
  suffix: Buffer | null = null;
  /** Protocol command row. */
  cmd = 0;
  /** Reply expected from the server (false for memcache noreply). */
  expectReply = true;
  /** Memcache quiet meta request: forwarded with `mn\r\n` after it, so its reply ends at `MN`. */
  quiet = false;
  /** Reply is read and dropped (internal AUTH/SELECT). */
  swallow = false;
  /** Reply bytes for the client once done (null = send nothing). */
  reply: Buffer | null = null;
  done = false;
  /** Close the client connection after this reply is written (QUIT, protocol error). */
  closeAfter = false;
  /** Deadline on the performance.now() clock (ms); 0 = none. */
  deadline = 0;

  // fragments: a parent has frags; each frag points back to its parent
  parent: Msg | null = null;
  frags: Msg[] | null = null;
  pending = 0;
  /** Per-fragment result: reply slice, offsets of its elements/values, integer, error text. */
  fragReply: Buffer | null = null;
  fragOffsets: number[] | null = null;
  fragInt = 0;
  /** First byte of the fragment's reply (`*`, `:`, `+`, `-`, ...) or protocol-specific kind. */
  fragType = 0;
  fragError: string | null = null;
  /** Parent: for each original key, which fragment it went to. */
  keyFrag: number[] | null = null;
  /** Parent: who completes it once every fragment is done (a memcache route: failover relay, warm-up); null = protocol merge. */
  route: MsgRoute | null = null;
  /** Parent of a route: its first fragment of the route's second stage (warm-up: the first sent to the warm pool). */
  stageFrom = 0;
  /** For logging/latency: when it was queued (ms). */
  queuedAt = 0;
  /** A leased server connection (forward/protocol Lease) the pool releases when this request completes. */
  lease: object | null = null;
  /** A script body to send again as EVAL if the server answers this EVALSHA with -NOSCRIPT (once). */
  retry: Buffer | null = null;
  /** Added to the server's integer reply (PUBLISH: the clients behind this process's upstream subscriptions). */
  delta = 0;
  /** Database of the client that sent it: -1 the pool's (redis_db), else one it SELECTed (redis_databases > 1). */
  db = -1;
  /** Redis Cluster: times this request was sent again after MOVED, ASK or TRYAGAIN (cluster_max_redirects). */
  redirects = 0;
  /** Redis Cluster: sent after ASKING (an ASK redirection); a TRYAGAIN sends it the same way again. */
  asking = false;

  reset(): void {
    this.client = null;
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    this.suffix = null;
    this.cmd = 0;
    this.expectReply = true;
    this.quiet = false;
    this.swallow = false;
    this.reply = null;
    this.done = false;
    this.closeAfter = false;
    this.deadline = 0;
    this.parent = null;
    this.frags = null;
    this.pending = 0;
    this.fragReply = null;
    this.fragOffsets = null;
    this.fragInt = 0;
    this.fragType = 0;
    this.fragError = null;
    this.keyFrag = null;
    this.route = null;
    this.stageFrom = 0;
    this.queuedAt = 0;
    this.lease = null;
    this.db = -1;
    this.retry = null;
    this.delta = 0;
    this.redirects = 0;
    this.asking = false;
  }
}

/** Completes a parent whose fragments a route sent (forward/mc-routes.ts). */
export interface MsgRoute {
  /** Every fragment of `parent` is done: build parent.reply and return true, or send more fragments and return false. */
  complete(parent: Msg): boolean;
}

/** The side that owns a request and receives its completion (a client connection, or a mirror's counter). */
export interface MsgOwner {
  /** `msg` of this owner became done; a client writes out every done request at its FIFO head. */
  onMsgDone(msg: Msg): void;
}

const EMPTY = Buffer.alloc(0);

/** A request's own bytes, as first queued: a view of the client's receive buffer, or a fragment's buffer (sending it again). */
export function requestBytes(m: Msg): Buffer {
  return m.start === 0 && m.end === m.buf.length ? m.buf : m.buf.subarray(m.start, m.end);
}
const free: Msg[] = [];
const FREE_MAX = 4096;

export function allocMsg(): Msg {
  const m = free.pop();
  return m === undefined ? new Msg() : m;
}

export function freeMsg(m: Msg): void {
  if (m.frags !== null) for (const f of m.frags) freeMsg(f);
  m.reset();
  if (free.length < FREE_MAX) free.push(m);
}
