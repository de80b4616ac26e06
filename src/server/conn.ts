// Server side of the data path: one persistent connection to a backend. Requests of many
// clients are queued here, written once per event-loop turn, and each reply completes the
// request at the head of the in-flight FIFO.
//
//   enqueue ─► outbox (one write per turn) ─► backend
//   inflight FIFO: [m1][m2][m3] ◄─ reply parser: each whole reply pairs with the head
//
// Failure (connect error, reset, EOF, timeout, unparseable reply) closes the connection and
// completes every request in the FIFO with an error; the next request reconnects.
//
// Teardown is atomic (fail, shutdown): first the connection is detached whole (socket, outbox,
// reply parser state, partial input, in-flight FIFO swapped for an empty one, generation bumped
// so a late read of the old socket is ignored), and only then are the requests it held failed.
// Failing a request runs client code (a reply written, a fragment merged); nothing it does can
// reach the old queues, and a request queued meanwhile starts a new connection with a clean parser.
// Clients never parse from inside a completion either (their resumption waits for the next turn).
//
// A failover (server/backend.ts hold/release, server/sentinel-pool.ts) adds three moves, none on the path of a
// good reply:
//   - takeUnsent(): requests still in the outbox (never handed to the socket: the tail of the FIFO) are
//     taken back, to be sent to the new master; requests awaiting a reply here stay and get it (or retireText).
//   - a held connection (held(), state HELD) queues requests without dialling while the new address is being
//     checked; dial(ep) sends them there, after the handshake, in order.
//   - a `-READONLY` reply may be redirected (owner.redirect): the request goes again to the new master instead
//     of completing. That runs inside onData, and may take back this connection's unsent tail and retire it;
//     it never touches a request awaiting a reply here, so the pairing of the replies still in `buf` holds.
// A Redis Cluster pool (server/cluster-pool.ts) redirects the same way on MOVED, ASK and TRYAGAIN: the request is
// queued again on another node's connection (or this one, after what it holds), never completed with the redirection.

import type * as net from 'node:net';
import { Ring } from '../util/ring';
import { Outbox } from '../util/outbox';
import { Input } from '../util/input';
import { onreadOption } from '../util/socket';
import { dial, readyEvent, tlsFailureReason, type DialTls } from '../util/transport';
import { OK, AGAIN } from '../protocol/parse';
import { strerror, errCode } from '../util/errors';
import { connCounts, type ServerStats } from '../stats/counters';
import { allocMsg, freeMsg, requestBytes, type Msg } from '../forward/msg';
import { REPLY_GOOD, REPLY_TRANSIENT, type Completer, type ReplyReader, type ReplyStatus } from '../forward/protocol';

/** Where a backend is reached: replaced whole when it moves (reload, failover); a connection keeps the one it dialled. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly unixPath: string | null;
  /** host:port or the socket path, for logs and stats. */
  readonly address: string;
}

/** The requests a new connection sends first (AUTH, SELECT), and their names for the log. */
export interface Handshake {
  readonly bytes: readonly Buffer[];
  readonly names: readonly string[];
}

/** What a connection needs from the backend it belongs to (server/backend.ts): no pool, no client. */
export interface ConnOwner {
  /** The backend's identity (its name), for logs. */
  readonly name: string;
  readonly stats: ServerStats;
  readonly completer: Completer;
  /** AUTH / SELECT sent first on every new connection to database `db` (-1: the pool's), with their names for the log. */
  handshakeFor(db: number): Handshake;
  /** ms for connect + reply of the handshake, 0 = none (the pool's timeout). */
  readonly timeout: number;
  newReplyReader(): ReplyReader;
  onSuccess(): void;
  onTransientFailure(): void;
  onConnFailure(): void;
  /** A connection (re)opened: its address takes requests. */
  onConnected(): void;
  /**
   * `-READONLY` (status REPLY_READONLY) or a Redis Cluster answer (REPLY_CLUSTER: MOVED, ASK, TRYAGAIN,
   * CLUSTERDOWN) from this connection: true when the owner took `msg` to send it again (a demoted master, a moved
   * slot); false relays the reply (which the owner may have replaced). Never called for any other reply.
   */
  redirect(conn: ServerConn, msg: Msg, status: ReplyStatus): boolean;
  /** An AUTH or SELECT of the handshake got an error reply (`text`, without the leading `-`). */
  onHandshakeError(name: string, text: string): void;
  /**
   * An internal request that is not part of the handshake (a transaction's MULTI and queued commands, ASKING) got
   * an error reply (`text`, without the leading `-`): the client sees EXEC's reply; a cluster pool learns a MOVED.
   */
  onInternalError(text: string): void;
  /** server_tls: how new connections speak TLS now (null: plain). Read at each connect. */
  readonly tls: DialTls | null;
  /** The TLS handshake of a new connection failed (`reason` for the log). */
  onTlsFailure(reason: string): void;
  /** A connection retired by a reload or a move emptied its FIFO and closed. */
  onRetired(conn: ServerConn): void;
}

const enum State {
  IDLE,
  CONNECTING,
  CONNECTED,
  /** Queues without dialling until dial() says where (a failover being checked). */
  HELD,
}

/** Where a held connection points until dial(): nowhere. */
const NOWHERE: Endpoint = { host: '', port: 0, unixPath: null, address: '(held)' };

export class ServerConn {
  readonly owner: ConnOwner;
  /** The owner's completer, read once: a backend belongs to one pool for its whole life. */
  private readonly completer: Completer;
  /** The address this connection dials (the backend's endpoint when the connection was made; a held one's is set by dial()). */
  endpoint: Endpoint;
  private socket: net.Socket | null = null;
  private state = State.IDLE;
  /** Replaced whole on teardown (never drained in place: see the header). */
  private inflight = new Ring<Msg>(64);
  /** Bumped on every teardown: reads of an earlier socket are dropped. */
  private gen = 0;
  private readonly out = new Outbox();
  private readonly reader: ReplyReader;
  private readonly input = new Input();
  /** Requests (and their bytes) queued but not yet handed to the socket: twemproxy's in_queue. */
  unsent = 0;
  unsentBytes = 0;
  /** Bytes of every request awaiting its reply, unsent ones included (out_queue_bytes + in_queue_bytes). */
  inflightBytes = 0;
  /** Retired (its backend was removed or moved): no new requests; closes when its FIFO is empty or at this time (performance.now() ms). */
  retireAt = 0;
  /** Leased to one client's session (WATCH, a blocking command), or null for a shared connection. */
  lessee: object | null = null;
  /** The database it works in: -1 the pool's (redis_db), else one a client SELECTed (redis_databases > 1). */
  readonly db: number;
  private handshake: Handshake | null = null;
  /** A retired connection's error text for the requests it still holds if it fails (a failover says so); null: the errno's. */
  retireText: string | null = null;
  /**
   * Closed while leased: the WATCH state or blocked command it held is gone, so it never dials again (a new
   * socket would run the client's EXEC without its WATCH); requests queued on it fail at once.
   */
  lost = false;
  /** TLS: the TCP connection is up but the TLS handshake is not done (a failure now is a handshake failure). */
  private tlsPending = false;

  constructor(owner: ConnOwner, endpoint: Endpoint, db = -1) {
    this.owner = owner;
    this.db = db;
    this.completer = owner.completer;
    this.endpoint = endpoint;
    this.reader = owner.newReplyReader();
    this.out.gather = true;
    this.out.onFlush = () => {
      this.unsent = 0;
      this.unsentBytes = 0;
    };
  }

  /** A connection that queues requests without dialling until dial(ep): a backend whose new address is being checked. */
  static held(owner: ConnOwner, db = -1): ServerConn {
    const c = new ServerConn(owner, NOWHERE, db);
    c.state = State.HELD;
    return c;
  }

  /** Requests written and awaiting a reply: twemproxy's out_queue. */
  get sent(): number {
    return this.inflight.length - this.unsent;
  }

  get idle(): boolean {
    return this.inflight.length === 0;
  }

  get connected(): boolean {
    return this.state === State.CONNECTED;
  }

  /** Queue one request (or fragment) with the pool's timeout (ms, 0 = none); its reply will complete it. */
  enqueue(msg: Msg, bytes: Buffer, timeout: number): void {
    if (this.lost) {
      if (msg.swallow) freeMsg(msg);
      else this.completer.failMsg(msg, this.retireText ?? 'Connection reset by peer');
      return;
    }
    if (this.state === State.IDLE) this.connect();
    const st = this.owner.stats;
    // One clock read per request serves both the latency histogram and the deadline.
    const t = performance.now();
    msg.queuedAt = t;
    msg.deadline = timeout > 0 ? t + timeout : 0;
    if (!msg.swallow) {
      st.requests++;
      st.requestBytes += bytes.length;
    }
    this.out.push(bytes);
    if (msg.suffix !== null) this.out.push(msg.suffix);
    if (msg.expectReply) {
      this.inflight.push(msg);
      this.unsent++;
      this.unsentBytes += bytes.length;
      this.inflightBytes += bytes.length;
    }
  }

  connect(): void {
    const ep = this.endpoint;
    const owner = this.owner;
    this.state = State.CONNECTING;
    const gen = this.gen;
    const onread = onreadOption((chunk: Buffer) => {
      if (gen === this.gen) this.onData(chunk);
    }, this.input);
    const t = owner.tls;
    const sock = dial(ep, t, onread);
    this.socket = sock;
    this.tlsPending = false;
    this.out.socket = sock;
    this.out.ready = false;
    connCounts.total++;
    connCounts.current++;
    if (ep.unixPath === null) sock.setNoDelay(true);
    // AUTH then SELECT go first on every new connection (twemproxy sends SELECT first: a bug).
    // enqueue() calls connect() before queueing, so the FIFO and outbox are empty here.
    const handshake = owner.handshakeFor(this.db);
    this.handshake = handshake;
    const hs = handshake.bytes;
    for (let i = 0; i < hs.length; i++) {
      // An internal request: its reply is dropped (an error is logged); it times out like any request.
      const m = allocMsg();
      m.swallow = true;
      m.cmd = i;
      m.deadline = owner.timeout > 0 ? performance.now() + owner.timeout : 0;
      const b = hs[i] as Buffer;
      m.end = b.length;
      this.inflight.push(m);
      this.unsent++;
      this.unsentBytes += b.length;
      this.inflightBytes += b.length;
      this.out.push(b);
    }
    if (t !== null) sock.once('connect', () => (this.tlsPending = true));
    sock.on(readyEvent(t), () => this.onConnect());
    sock.on('error', (err: Error) => this.onError(err));
    sock.on('end', () => (this.tlsPending ? this.onError(new Error('the server closed the connection during the TLS handshake')) : this.fail('EOF')));
    sock.on('close', () => (this.tlsPending ? this.onError(new Error('the connection closed during the TLS handshake')) : this.fail('ECONNRESET')));
  }

  private onError(err: Error): void {
    if (this.socket === null) return;
    // With TLS 1.3 a server that refuses our certificate says so (an alert) just after our side finished the handshake.
    if (this.tlsPending || (this.state === State.CONNECTED && /^ERR_(SSL|TLS)_/.test(errCode(err)))) {
      // The server refused us or we refused it (wrong CA, expired, wrong name, no client certificate, not TLS).
      this.tlsPending = false;
      this.owner.onTlsFailure(tlsFailureReason(err));
      this.fail('ETLS');
      return;
    }
    this.fail(errCode(err));
  }

  private onConnect(): void {
    if (this.socket === null) return;
    this.tlsPending = false;
    this.state = State.CONNECTED;
    this.owner.stats.serverConnections++;
    this.owner.onConnected();
    this.out.markReady();
  }

  /**
   * A held connection learns its address: what it queued goes there, after the handshake, in order. (Each
   * request was counted once already; its deadline starts again.) On any other connection only the address
   * for the next dial changes.
   */
  dial(ep: Endpoint): void {
    this.endpoint = ep;
    if (this.state !== State.HELD) return;
    this.state = State.IDLE;
    const held = this.inflight;
    if (held.length === 0) return;
    this.inflight = new Ring<Msg>(64);
    this.out.discard();
    this.unsent = 0;
    this.unsentBytes = 0;
    this.inflightBytes = 0;
    const st = this.owner.stats;
    const timeout = this.owner.timeout;
    for (let m = held.shift(); m !== undefined; m = held.shift()) {
      const b = requestBytes(m);
      if (!m.swallow) {
        st.requests--;
        st.requestBytes -= b.length;
      }
      this.enqueue(m, b, timeout);
    }
  }

  /**
   * Take back the requests not yet handed to the socket (the tail of the FIFO: every flush hands over all
   * that is queued), in order, for another connection to send; internal handshake requests are dropped (the
   * new connection sends its own), a transaction's internal parts (MULTI and the queued commands before
   * EXEC, cmd -1) go along with it. The requests awaiting a reply stay. Not counted here any more: the
   * connection that sends them counts them.
   */
  takeUnsent(): Msg[] | null {
    let n = this.unsent;
    if (n === 0 || this.state === State.HELD) return null;
    const out: Msg[] = [];
    const st = this.owner.stats;
    const fifo = this.inflight;
    for (; n > 0; n--) {
      const m = fifo.pop() as Msg;
      if (m.swallow) {
        if (m.cmd >= 0) freeMsg(m);
        else out.push(m);
        continue;
      }
      st.requests--;
      st.requestBytes -= m.end - m.start;
      out.push(m);
    }
    out.reverse();
    this.out.discard();
    this.inflightBytes -= this.unsentBytes;
    this.unsent = 0;
    this.unsentBytes = 0;
    return out;
  }

  private onData(chunk: Buffer): void {
    if (this.socket === null) return; // a read after the connection failed
    const buf = this.input.take(chunk);
    if (buf === null) return;
    const gen = this.gen;
    const reader = this.reader;
    const fifo = this.inflight;
    const owner = this.owner;
    const st = owner.stats;
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      const head = fifo.peek();
      if (head === undefined) {
        // A reply nobody asked for: the stream can no longer be trusted.
        this.fail('EINVAL');
        return;
      }
      reader.prepare(head);
      const s = reader.parse(buf, pos);
      if (s === OK) {
        const end = reader.end;
        fifo.shift();
        this.inflightBytes -= head.end - head.start;
        if (head.swallow) {
          if (buf[pos] === 0x2d) {
            if (head.cmd >= 0) this.handshakeError(head.cmd, buf, pos, end);
            else owner.onInternalError(buf.toString('latin1', pos + 1, Math.min(end - 2, pos + 201)));
          }
          freeMsg(head);
        } else {
          st.responses++;
          st.latency.observe(performance.now() - head.queuedAt);
          st.responseBytes += end - pos;
          const r = reader.complete(head, buf, pos, end);
          if (r === REPLY_GOOD) owner.onSuccess();
          else if (r === REPLY_TRANSIENT) owner.onTransientFailure();
          else if (owner.redirect(this, head, r)) {
            // -READONLY or MOVED/ASK/TRYAGAIN, and the request went elsewhere (see the header): its reply comes
            // from there. A leased connection's session stays where it is (the owner checks lessee).
            pos = end;
            if (gen !== this.gen) return;
            continue;
          } else owner.onSuccess();
          const again = head.retry === null ? null : reader.redirect(head);
          if (again !== null) {
            // Sent again on this connection (after what is queued): the client's FIFO keeps its reply order.
            this.enqueue(head, again, head.deadline > 0 ? owner.timeout : 0);
            pos = end;
            continue;
          }
          this.completer.finish(head);
          // Completions do not re-enter this connection (see the header); if one ever did fail it, stop here.
          if (gen !== this.gen) return;
        }
        pos = end;
      } else if (s === AGAIN) {
        this.input.hold(buf, pos, reader.need);
        return;
      } else {
        this.fail('EINVAL');
        return;
      }
    }
    this.input.clear();
    if (this.retireAt !== 0 && fifo.length === 0) this.retireNow();
  }

  private handshakeError(i: number, buf: Buffer, start: number, end: number): void {
    const names = this.handshake?.names ?? [];
    const text = buf.toString('latin1', start + 1, Math.min(end - 2, start + 201));
    this.owner.onHandshakeError(names[i] ?? 'handshake', text);
  }

  /**
   * Retire: take no new requests (the backend already dropped this connection), close once every
   * request it holds has its reply, or at `deadline` (performance.now() ms) anyway. The caller ticks
   * checkRetired() until it returns true.
   */
  retire(deadline: number, text: string | null = null): void {
    this.retireAt = deadline;
    this.retireText = text;
    // A held connection has nowhere to send what it queued (its backend was removed or moved meanwhile).
    if (this.state === State.HELD) this.failHeld(text ?? 'Connection reset by peer');
    if (this.inflight.length === 0) this.retireNow();
  }

  /** For the retirement ticker: timeouts as usual, and the deadline; true once closed. */
  checkRetired(now: number): boolean {
    if (this.socket === null) return true;
    if (this.inflight.length === 0) {
      this.retireNow();
      return true;
    }
    this.checkTimeout(now);
    if (this.socket !== null && now >= this.retireAt) this.fail('ETIMEDOUT');
    return this.socket === null;
  }

  private retireNow(): void {
    if (this.socket !== null) this.shutdown();
    this.owner.onRetired(this);
  }

  /** Close with an errno-like code; every waiting request gets an error reply. Idempotent. */
  fail(code: string): void {
    if (this.socket === null) {
      // A held connection has no socket; only a timeout fails what it queued.
      if (this.state === State.HELD && this.inflight.length > 0) {
        if (code === 'ETIMEDOUT') this.owner.stats.serverTimedout++;
        this.failHeld(strerror(code));
      }
      return;
    }
    const st = this.owner.stats;
    if (code === 'ETIMEDOUT') st.serverTimedout++;
    else if (code === 'EOF') st.serverEof++;
    else st.serverErr++;
    const taken = this.detach(true);
    failAll(this.completer, taken, this.retireText ?? strerror(code === 'EOF' ? '' : code));
    if (this.retireAt === 0) this.owner.onConnFailure();
    else this.owner.onRetired(this);
  }

  /** preconnect: open the connection now if it is not open or opening. */
  ensureConnected(): void {
    if (this.state === State.IDLE) this.connect();
  }

  /**
   * Close at once without counting a failure, dropping what it holds: a leased connection whose client went
   * away (a blocked command must not pop an element into a connection nobody reads).
   */
  abort(): void {
    if (this.socket === null) return;
    failAll(this.completer, this.detach(true), 'Connection reset by peer');
  }

  /**
   * A failover: a leased connection to the old master closes at once, its waiting requests get `text` (a
   * blocked command would otherwise wait for pushes that now go to the new master); it stays lost.
   */
  failLeased(text: string): void {
    this.retireText = text;
    if (this.socket === null) {
      this.lost = true;
      return;
    }
    failAll(this.completer, this.detach(true), text);
  }

  /** Shutdown: close without counting a failure; waiting requests get an error reply. */
  shutdown(): void {
    if (this.socket === null) {
      if (this.state === State.HELD) this.failHeld('Connection reset by peer');
      return;
    }
    failAll(this.completer, this.detach(false), 'Connection reset by peer');
  }

  /** A held connection's requests fail (its queues emptied first, as in every teardown); it stays held. */
  private failHeld(text: string): void {
    if (this.inflight.length === 0) return;
    const taken = this.inflight;
    this.inflight = new Ring<Msg>(64);
    this.out.discard();
    this.unsent = 0;
    this.unsentBytes = 0;
    this.inflightBytes = 0;
    failAll(this.completer, taken, text);
  }

  /**
   * Step one of every teardown: after it this is an idle connection with empty queues and a fresh
   * parser, whatever runs next. Returns the in-flight FIFO it held, for the caller to fail.
   */
  private detach(abort: boolean): Ring<Msg> {
    const sock = this.socket as net.Socket;
    this.gen++;
    this.socket = null;
    if (this.lessee !== null) this.lost = true;
    this.out.socket = null;
    this.out.discard();
    sock.removeAllListeners();
    sock.on('error', noop);
    if (abort) sock.destroy();
    else sock.end();
    connCounts.current--;
    if (this.state === State.CONNECTED) this.owner.stats.serverConnections--;
    this.state = State.IDLE;
    this.tlsPending = false;
    this.reader.reset();
    this.input.clear();
    this.unsent = 0;
    this.unsentBytes = 0;
    this.inflightBytes = 0;
    const taken = this.inflight;
    this.inflight = new Ring<Msg>(64);
    return taken;
  }

  /** Deadline check from the pool's tick: the oldest request bounds them all (FIFO, one timeout per pool). */
  checkTimeout(now: number): void {
    const head = this.inflight.peek();
    if (head !== undefined && head.deadline !== 0 && head.deadline <= now) this.fail('ETIMEDOUT');
  }
}

/** Step two of a teardown: every request of a detached FIFO gets `text` as its error (internal ones are dropped). */
function failAll(completer: Completer, fifo: Ring<Msg>, text: string): void {
  let m = fifo.shift();
  while (m !== undefined) {
    if (m.swallow) freeMsg(m);
    else completer.failMsg(m, text);
    m = fifo.shift();
  }
}

function noop(): void {}
