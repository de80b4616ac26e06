// Client side of the data path: socket bytes -> request parser -> dispatch (local reply or
// route to servers) ... done replies leave in request order through one write per turn.
//
//   data ─► input (held partial request + chunks) ─► reader.parse ─► msg into FIFO ─► dispatch
//   FIFO:  [done][done][waiting][done]   ─► the two done at the head are written, the rest wait
//
// Backpressure, by bytes (Redis's output-buffer idea, without ever stalling a late reader):
//   - parsing stops while the client is owed too much: reply bytes the kernel has not taken, request
//     bytes in flight, and the replies still to come (requests in flight × a reply-size estimate that
//     jumps up to the largest recent reply and decays slowly). So one client keeps at most SOFT_OWED
//     in flight on the shared server connections, and cannot hold the others' requests up for long.
//   - the socket is paused only while the client is taking its replies (the kernel accepts them), so
//     the pause always ends when replies arrive. While its replies pile up unread, reading goes on
//     (a client may be blocked writing a long pipeline before it reads: redis-py pipelines) and the
//     unparsed bytes are held; parsing resumes, from the held bytes, on the next turn after the
//     client has taken enough of its replies.
//   - past `client_buffer_limit` (held request bytes + unread reply bytes) the client is closed,
//     counted in client_overflow and logged: a client that never reads costs a bounded amount of memory.
//
//   throttled ──(replies taken, next turn)──► parse held bytes ──► throttled again | reading
//   paused  ⇔  throttled and the client's output is not blocked

import type { Socket } from 'node:net';
import { Ring } from '../util/ring';
import { Outbox, noteClientRead } from '../util/outbox';
import { Input } from '../util/input';
import { adoptAccepted } from '../util/socket';
import { warnLimited } from '../util/log';
import { OK, AGAIN } from '../protocol/parse';
import { allocMsg, freeMsg, type Msg } from '../forward/msg';
import type { Forwarder, RequestReader, Session } from '../forward/protocol';
import type { AclUser } from '../forward/redis-acl';

/** The pool a client belongs to, as the client sees it (server/pool implements it). */
export interface ClientPool extends Forwarder {
  onClientOpen(c: ClientConn): void;
  onClientClose(c: ClientConn, eof: boolean): void;
  /** A client leaves (false) or joins (true) the pool without a close: a reload moved its listener. */
  onClientMove(c: ClientConn, joining: boolean): void;
}

/** Stop parsing from a client with this many requests waiting for replies. */
const MAX_INFLIGHT = 8192;
/** Stop parsing from a client owed more than this many bytes (see the header). */
const SOFT_OWED = 16 * 1024 * 1024;
/** Reply size assumed before any reply was seen: the first burst of a new client is 16 requests. */
const FIRST_REPLY_ESTIMATE = 1024 * 1024;

export class ClientConn implements Session {
  /** The pool this client's requests go to; a reload may move the client to another pool (see moveTo). */
  private pool: ClientPool;
  /** The same pool, as the protocol code sees it (a field, not a getter: read once per request). */
  forwarder: Forwarder;
  readonly socket: Socket;
  readonly reader: RequestReader;
  private readonly fifo = new Ring<Msg>(4);
  private readonly out = new Outbox();
  /** Unparsed bytes: the start of an incomplete request, plus chunks held back until the parser's need is met. */
  private readonly input = new Input();
  /** Chunks read while throttled, not yet looked at (kept as read: no join, no copy). */
  private readonly backlog = new Ring<Buffer>(4);
  private backlogBytes = 0;
  /** No more requests are read: QUIT, EOF from the client, or a protocol error. */
  private readClosed = false;
  /** Parsing stopped: the client is owed too much; unparsed bytes wait in `input`. */
  private throttled = false;
  /** The socket is not read (only while throttled and the client takes its replies). */
  private paused = false;
  private resumeScheduled = false;
  /** Reply size estimate (bytes) for the in-flight part of the bound. */
  private replyEst = FIRST_REPLY_ESTIMATE;
  /** Bytes of the requests in the FIFO (their buffers live until the reply is written). */
  private reqBytes = 0;
  /** Held request bytes + unread reply bytes past which the client is closed (client_buffer_limit). */
  private readonly limit: number;
  private readonly resumeCb = (): void => this.resume();
  /** The client half-closed or sent QUIT: counts as client_eof, not client_err. */
  private eof = false;
  closed = false;
  /** Per-connection protocol state the reader may keep (redis AUTH). */
  authed = false;
  /** Who the client logged in as (forward/redis-acl.ts); null when not logged in or the pool asks for no AUTH. */
  user: AclUser | null = null;
  name: Buffer | null = null;
  readonly id: number;

  /** `accepted` comes paused from the listener; reads go through `onread` (see util/socket). */
  constructor(pool: ClientPool, reader: RequestReader, accepted: Socket, id: number) {
    this.pool = pool;
    this.forwarder = pool;
    const socket = adoptAccepted(accepted, true, (chunk: Buffer) => this.onData(chunk), this.input);
    this.socket = socket;
    this.id = id;
    this.reader = reader;
    this.authed = pool.auth === null;
    this.limit = pool.config.clientBufferLimit;
    this.out.socket = socket;
    this.out.ready = true;
    this.out.onBlocked = () => this.onOutputBlocked();
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
    socket.on('drain', () => {
      if (this.throttled) this.scheduleResume();
    });
    // Replies parked behind the stream and then written without a 'drain' (a stream write under the high-water
    // mark): the client may have taken them all, and nothing else would wake a paused, throttled client.
    this.out.onUnparked = () => {
      if (this.throttled) this.scheduleResume();
    };
  }

  /**
   * Reload: the client's listener now serves another pool (same protocol). Requests parsed from now on
   * go there; those in flight finish where they were sent. AUTH stays valid if the user and password still are.
   */
  moveTo(pool: ClientPool): void {
    if (pool === this.pool) return;
    const from = this.pool;
    this.revalidateFor(pool);
    from.onClientMove(this, false);
    pool.onClientMove(this, true);
    this.pool = pool;
    this.forwarder = pool;
  }

  /** A reload changed this pool's client authentication. */
  revalidate(): void {
    this.revalidateFor(this.pool);
  }

  /** Logged in still only as a user `pool` knows, with the same password; a pool that asks for no AUTH lets everyone in. */
  private revalidateFor(pool: ClientPool): void {
    const a = pool.auth;
    if (a === null) {
      this.authed = true;
      this.user = null;
      return;
    }
    const u = this.authed && this.user !== null ? a.revalidate(this.user) : null;
    this.authed = u !== null;
    this.user = u;
  }

  /**
   * Reload removed this client's listener: read nothing more (what arrives is read and dropped, so the
   * close is a FIN, not a reset), write the replies still owed, then close. The caller ends it at its deadline.
   */
  drain(): void {
    if (this.closed) return;
    this.stopReading();
    this.throttled = false;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.onMsgDone();
  }

  /** The drain deadline passed with replies still owed: close now, with a FIN. */
  endNow(): void {
    if (this.closed) return;
    this.out.flush(true);
    this.socket.end();
    this.onClose();
  }

  /** Requests waiting for their replies. */
  get pending(): number {
    return this.fifo.length;
  }

  /** Reply bytes not yet handed to the kernel (queued this turn, or buffered by the socket). */
  get unflushed(): number {
    return this.closed ? 0 : this.out.unflushed;
  }

  private onData(chunk: Buffer): void {
    noteClientRead();
    if (this.readClosed) return;
    if (this.throttled) {
      // Reading goes on while the client's replies pile up unread (see the header): keep, don't parse.
      this.backlog.push(chunk);
      this.backlogBytes += chunk.length;
      this.checkOverflow();
      return;
    }
    const buf = this.input.take(chunk);
    if (buf !== null) this.parseAll(buf);
  }

  private parseAll(buf: Buffer): void {
    const reader = this.reader;
    const fifo = this.fifo;
    let pos = 0;
    const len = buf.length;
    while (pos < len && !this.readClosed) {
      if (!this.mayParse(1)) {
        // Owed too much: hold the unparsed bytes until replies are taken.
        this.input.hold(buf, pos, 0);
        this.throttle();
        break;
      }
      const st = reader.parse(buf, pos);
      if (st === OK) {
        const end = reader.end;
        const msg = allocMsg();
        msg.client = this;
        fifo.push(msg);
        this.reqBytes += end - pos;
        reader.dispatch(this, msg, buf, pos, end);
        pos = end;
      } else if (st === AGAIN) {
        this.input.hold(buf, pos, reader.need);
        break;
      } else {
        this.protocolError();
        // A bad request the stream survives (memcache): go on with the requests after it.
        if (this.readClosed || reader.end <= pos || reader.end > len) break;
        pos = reader.end;
      }
    }
    if (pos >= len) this.input.clear();
    this.onMsgDone();
  }

  /**
   * The client may have more requests parsed: it is owed less than SOFT_OWED / `slack` (slack 2 when
   * resuming, so parsing does not flap on and off around the bound).
   */
  private mayParse(slack: number): boolean {
    const n = this.fifo.length;
    // With nothing in flight only the unread replies count: one request, however large, always gets through.
    if (n === 0) return slack * this.out.unflushed < SOFT_OWED;
    if (slack * n >= MAX_INFLIGHT) return false;
    return slack * (this.out.unflushed + this.reqBytes + n * this.replyEst) < SOFT_OWED;
  }

  private throttle(): void {
    this.throttled = true;
    // Pause only a client whose replies flow: one that is not reading may be blocked writing to us.
    if (!this.paused && !this.out.blocked) {
      this.paused = true;
      this.socket.pause();
      // Look again after this turn's write: either the kernel took the replies (parse on) or the stream
      // holds some ('drain' will come, and onOutputBlocked reads on meanwhile). A pause never waits for nothing.
      this.scheduleResume();
    }
    this.checkOverflow();
  }

  /** The kernel refused reply bytes: the client is not reading now, so it must not be left unread either. */
  private onOutputBlocked(): void {
    if (this.closed) return;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.checkOverflow();
  }

  /** Malformed bytes: an error reply after the replies already owed, then close unless the reader can resynchronise. */
  private protocolError(): void {
    const msg = allocMsg();
    msg.client = this;
    msg.reply = this.reader.errorReply();
    msg.done = true;
    msg.closeAfter = this.reader.errorCloses();
    this.fifo.push(msg);
    if (msg.closeAfter) this.stopReading();
  }

  /**
   * A pushed reply (a pub/sub message): after the replies the client is owed, in order. A subscriber that does
   * not read is closed once its unread bytes pass pubsub_client_buffer (Redis's pubsub output buffer limit).
   */
  deliver(reply: Buffer): void {
    if (this.closed) return;
    if (this.out.unflushed + reply.length > this.pool.config.pubsubClientBuffer) {
      this.pool.stats.clientOverflow++;
      warnLimited('pubsub-overflow', `pool '${this.pool.config.name}': closed subscriber client ${this.id}: more than pubsub_client_buffer ${this.pool.config.pubsubClientBuffer} bytes of messages unread`);
      this.socket.destroy();
      this.onClose();
      return;
    }
    const msg = allocMsg();
    msg.client = this;
    msg.reply = reply;
    msg.done = true;
    this.fifo.push(msg);
    this.onMsgDone();
  }

  /** QUIT: nothing more is read; the connection closes once earlier replies are out. */
  quit(msg: Msg): void {
    this.eof = true;
    msg.done = true;
    msg.closeAfter = true;
    this.stopReading();
  }

  private stopReading(): void {
    this.readClosed = true;
    this.input.clear();
    while (this.backlog.shift() !== undefined);
    this.backlogBytes = 0;
  }

  private onEnd(): void {
    this.eof = true;
    this.reader.ended(this);
    // Requests held back by backpressure are still to be served; resume() ends the input after them.
    if (this.throttled && this.input.heldBytes + this.backlogBytes > 0) return;
    this.stopReading();
    if (this.fifo.length === 0) this.socket.end();
  }

  /** Write every done request at the FIFO head, in order. Never parses (see resume()). */
  onMsgDone(): void {
    const fifo = this.fifo;
    let m = fifo.peek();
    while (m !== undefined && m.done) {
      fifo.shift();
      this.reqBytes -= m.end - m.start;
      if (!this.closed) {
        const r = m.reply;
        if (r !== null) {
          this.out.push(r);
          // Up at once to a larger reply, down slowly: a burst of large values is never underestimated.
          const est = this.replyEst;
          this.replyEst = r.length > est ? r.length : est + (r.length - est) / 8;
        }
        if (m.closeAfter) {
          this.out.flush(true);
          this.closeAfterWrite();
          this.stopReading();
          freeMsg(m);
          return;
        }
      }
      freeMsg(m);
      m = fifo.peek();
    }
    if (this.closed) return;
    if (fifo.length === 0 && this.readClosed) {
      // The client ended its input (or a reload drains it): a FIN after the last reply, reading on until it closes.
      this.out.flush(true);
      this.socket.end();
      return;
    }
    if (this.out.pendingBytes > SOFT_OWED) this.checkOverflow();
    if (this.throttled) this.scheduleResume();
  }

  /**
   * Completions (a reply, a failed server connection) only write replies; parsing the held bytes
   * waits for the next turn. A completion can run while a server connection is being torn down, and
   * parsing from it would queue new requests in the middle of that (the misdelivery of issue 11).
   */
  private scheduleResume(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(this.resumeCb);
  }

  /** Parse the held bytes once the client owes less than half the bound; then read the socket again. */
  private resume(): void {
    this.resumeScheduled = false;
    if (!this.throttled || this.closed) return;
    // Hand queued replies to the socket now, so the count below is exact and a blocked write brings 'drain'.
    if (this.out.pendingBytes > 0) this.out.flush();
    if (!this.mayParse(2)) {
      if (!this.paused && !this.out.blocked) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.throttled = false;
    // The held rest first, then the chunks read meanwhile, each as if it had just been read; any may throttle again.
    const held = this.readClosed ? null : this.input.takeReady();
    if (held !== null) this.parseAll(held);
    const backlog = this.backlog;
    while (!this.throttled && !this.readClosed && !this.closed && backlog.length > 0) {
      const chunk = backlog.shift() as Buffer;
      this.backlogBytes -= chunk.length;
      const buf = this.input.take(chunk);
      if (buf !== null) this.parseAll(buf);
    }
    if (this.throttled || this.closed) return;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.eof && !this.readClosed) this.onEnd(); // the input ended while requests were held
  }

  /** Past client_buffer_limit: close the client (counted and logged), whatever it was owed. */
  private checkOverflow(): void {
    if (this.closed) return;
    const held = this.input.heldBytes + this.backlogBytes;
    const unread = this.out.unflushed;
    if (held + unread <= this.limit) return;
    const pool = this.pool;
    pool.stats.clientOverflow++;
    const who = this.socket.remoteAddress === undefined ? 'unix socket' : `${this.socket.remoteAddress}:${this.socket.remotePort ?? 0}`;
    warnLimited(
      'client-overflow',
      `pool '${pool.config.name}': closed client ${this.id} (${who}): ${unread} bytes of unread replies and ${held} bytes of unparsed requests exceed client_buffer_limit ${this.limit}`,
    );
    this.socket.destroy();
    this.onClose();
  }

  /** After QUIT or a protocol error: close once the replies are written, as Redis does (no half-open reading on). */
  private closeAfterWrite(): void {
    if (!this.closed) this.socket.destroySoon();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.throttled = false;
    this.stopReading();
    this.out.discard();
    // In-flight requests stay queued on their servers (FIFO pairing must hold); each is freed when done.
    const fifo = this.fifo;
    let m = fifo.peek();
    while (m !== undefined) {
      fifo.shift();
      if (m.done) freeMsg(m);
      else m.client = null; // orphan: freed by the server side on completion
      m = fifo.peek();
    }
    this.reader.close(this);
    this.pool.onClientClose(this, this.eof);
  }
}
