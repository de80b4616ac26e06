// Client side of the data path: socket bytes -> request parser -> dispatch (local reply or
// route to servers) ... done replies leave in request order through one write per turn.
//
//   data ─► input (held partial request + chunks) ─► reader.parse ─► msg into FIFO ─► dispatch
//   FIFO:  [done][done][waiting][done]   ─► the two done at the head are written, the rest wait
//
// Backpressure: before each request is parsed, the bytes this client is owed are estimated
// (replies not yet written out + requests in flight × the running average reply size); past a
// bound, the unparsed bytes are held, the socket is paused, and parsing resumes from the held
// bytes once the client has taken its replies. So a client that never reads costs a bounded
// amount of memory, even when each small request asks for a large value.

import type { Socket } from 'node:net';
import { Ring } from '../util/ring';
import { Outbox, noteClientRead } from '../util/outbox';
import { Input } from '../util/input';
import { adoptAccepted } from '../util/socket';
import { OK, AGAIN } from '../protocol/parse';
import { allocMsg, freeMsg, type Msg, type MsgOwner } from '../forward/msg';
import type { RequestReader } from '../forward/protocol';
import type { ServerPool } from '../server/pool';

/** Stop reading from a client with this many requests waiting for replies. */
const MAX_INFLIGHT = 8192;
/** Stop reading from a client owed more than this many reply bytes (unwritten + estimated in flight). */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;
/** Reply size assumed before any reply was seen: the first burst of a new client is capped at 256 requests. */
const FIRST_REPLY_ESTIMATE = 64 * 1024;

export class ClientConn implements MsgOwner {
  readonly pool: ServerPool;
  readonly socket: Socket;
  readonly reader: RequestReader;
  private readonly fifo = new Ring<Msg>(4);
  private readonly out = new Outbox();
  /** Unparsed bytes: the start of an incomplete request, plus chunks held back until the parser's need is met. */
  private readonly input = new Input();
  /** No more requests are read: QUIT, EOF from the client, or a protocol error. */
  private readClosed = false;
  private paused = false;
  /** Running average reply size (bytes), for the in-flight part of the backpressure bound. */
  private replyEst = FIRST_REPLY_ESTIMATE;
  /** parseAll is on the stack / maybeResume is looping: no nested parse. */
  private parsing = false;
  private resuming = false;
  /** The client half-closed or sent QUIT: counts as client_eof, not client_err. */
  private eof = false;
  closed = false;
  /** Per-connection protocol state the reader may keep (redis AUTH). */
  authed = false;
  name: Buffer | null = null;
  readonly id: number;

  /** `accepted` comes paused from the listener; reads go through `onread` (see util/socket). */
  constructor(pool: ServerPool, accepted: Socket, id: number) {
    this.pool = pool;
    const socket = adoptAccepted(accepted, true, (chunk: Buffer) => this.onData(chunk));
    this.socket = socket;
    this.id = id;
    this.reader = pool.protocol.newRequestReader(pool);
    this.authed = pool.config.redisAuth === null;
    this.out.socket = socket;
    this.out.ready = true;
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.maybeResume());
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
    const buf = this.input.take(chunk);
    if (buf !== null) this.parseAll(buf);
  }

  private parseAll(buf: Buffer): void {
    const reader = this.reader;
    let pos = 0;
    const len = buf.length;
    // Requests that may be in flight before reading stops (the unflushed bytes do not change while parsing).
    const limit = this.inflightLimit(this.unflushed);
    this.parsing = true;
    while (pos < len && !this.readClosed) {
      if (this.fifo.length >= limit) {
        // Owed too much: hold the unparsed bytes (whole requests first) until replies are taken.
        this.input.hold(buf, pos, 0);
        this.pause();
        break;
      }
      const st = reader.parse(buf, pos);
      if (st === OK) {
        const end = reader.end;
        const msg = allocMsg();
        msg.client = this;
        this.fifo.push(msg);
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
    this.parsing = false;
    this.onMsgDone();
    if (!this.paused && this.fifo.length >= this.inflightLimit(this.unflushed)) this.pause();
  }

  /** How many requests may wait for replies, given the reply bytes not yet written out (0 past the bound, else at least 1). */
  private inflightLimit(unflushed: number): number {
    const room = MAX_UNREAD_BYTES - unflushed;
    if (room <= 0) return 0;
    const n = Math.floor(room / this.replyEst);
    return n < 1 ? 1 : n > MAX_INFLIGHT ? MAX_INFLIGHT : n;
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
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
  }

  private onEnd(): void {
    this.eof = true;
    // Requests held back by backpressure are still to be served; maybeResume ends the input after them.
    if (this.paused && this.input.ready) return;
    this.stopReading();
    if (this.fifo.length === 0) this.socket.end();
  }

  /** Write every done request at the FIFO head, in order. */
  onMsgDone(): void {
    const fifo = this.fifo;
    let m = fifo.peek();
    while (m !== undefined && m.done) {
      fifo.shift();
      if (!this.closed) {
        if (m.reply !== null) {
          this.out.push(m.reply);
          this.replyEst += (m.reply.length - this.replyEst) / 8;
        }
        if (m.closeAfter) {
          this.out.flush();
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
      this.out.flush();
      this.closeAfterWrite();
      return;
    }
    this.maybeResume();
  }

  /** Resume once the client owes less than half the bound: first the held bytes, then the socket. */
  private maybeResume(): void {
    if (!this.paused || this.parsing || this.resuming || this.closed) return;
    // Hand queued replies to the socket now, so the count below is exact and a blocked write brings 'drain'.
    if (this.out.pendingBytes > 0) this.out.flush();
    this.resuming = true;
    while (this.paused && !this.closed && 2 * this.fifo.length < this.inflightLimit(2 * this.unflushed)) {
      this.paused = false;
      const held = this.readClosed ? null : this.input.takeReady();
      if (held !== null) this.parseAll(held); // may pause again
    }
    this.resuming = false;
    if (this.paused || this.closed) return;
    if (this.eof && !this.readClosed) this.onEnd(); // the input ended while requests were held
    else this.socket.resume();
  }

  private closeAfterWrite(): void {
    if (!this.closed) this.socket.end();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
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
    this.pool.onClientClose(this, this.eof);
  }
}
