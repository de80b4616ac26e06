// Write side of every socket (client replies and server requests): buffers queued during one
// event-loop turn go out in one write per socket, in the check phase after all I/O callbacks
// of the turn ran, so fifty clients' requests to one server cost one syscall.
//
//   push(buf) ... push(buf)  --(setImmediate, once per turn for all dirty outboxes)-->  one write(2) / writev(2)
//
// The write goes straight to the socket's file descriptor (fs.writeSync / writevSync on the
// non-blocking fd) while the stream has nothing queued: that skips the Writable bookkeeping, a WriteWrap object
// and a nextTick per write, which together cost more than the syscall's own user-space part.
// Whatever the kernel does not take (EAGAIN, a short write, an error) goes to socket.write. While the
// stream still holds those bytes, later ones are parked here, not queued behind them: when the stream's
// write completes, everything parked goes out in one direct writev (a slow reader of large values
// costs one writev per batch of replies instead of a stream write per reply).
//
// Only plain sockets are written to directly (util/transport.ts, socket.ts): a TLS socket's handle reports the TCP fd, and a
// direct write there would put plaintext on the wire, so TLS sockets take every write through the TLS stream.
//
// Server outboxes gather: when more than one client sent requests in a turn, their write waits
// one more loop pass (a non-blocking poll) so the requests read in that pass join it. Fewer,
// fuller writes cut the backends' reads per request (strace on a backend under 50 GET clients:
// 0.38 reads per command before, 0.35 after; nutcracker 0.33); a lone client is not delayed.

import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import { directWritable } from './socket';

/** When the stream takes the bytes: below this many, the queued buffers are joined with one copy; above, corked into a writev. */
const CONCAT_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class Outbox {
  private sock: Socket | null = null;
  /** The socket's handle and its fd, read once per handle: -1 none. */
  private handle: Handle | null = null;
  private fd = -1;
  /** The transport lets bytes go straight to the fd (plain TCP and unix sockets; never TLS). */
  private direct = false;
  /** Bytes went through socket.write; direct writes wait until the stream's queue is empty again. */
  private streamed = false;
  /** The queued buffers: `one` while there is a single one (most turns queue one reply), else all of them in `many`. */
  private one: Buffer | null = null;
  private many: Buffer[] | null = null;
  private count = 0;
  private bytes = 0;
  /** In the list of outboxes to flush at the end of this turn. */
  dirty = false;
  /** false while the socket cannot take writes yet (connecting); the bytes wait. */
  ready = false;
  /** Called after the queued bytes were handed to the socket (server connections move in_queue to out_queue). */
  onFlush: (() => void) | null = null;
  /** Called when the kernel refused bytes and the stream keeps them: the peer is not reading right now. */
  onBlocked: (() => void) | null = null;
  /**
   * Server connections: on a busy turn (more than one client sent requests), wait one more event-loop
   * pass before writing, so the requests that arrive meanwhile share the write. nutcracker gets the
   * same effect from writing only when the next epoll_wait reports the socket writable.
   */
  gather = false;
  /** The one extra pass was taken. */
  waited = false;
  /** Bytes are parked until the stream's pending write completes. */
  private parked = false;
  /** Passed to every stream write: the stream finished one; parked bytes may go now. */
  private readonly onStreamWritten = (): void => {
    if (this.parked && this.count > 0) {
      this.flush();
      // The parked bytes may all have gone straight to the kernel: no 'drain' will follow, so tell the owner.
      if (this.onUnparked !== null) this.onUnparked();
    }
  };
  /** The queue parked behind the stream was written (client connections re-check their backpressure). */
  onUnparked: (() => void) | null = null;

  get socket(): Socket | null {
    return this.sock;
  }

  set socket(s: Socket | null) {
    this.sock = s;
    this.handle = null;
    this.fd = -1;
    this.direct = s !== null && directWritable(s);
    this.streamed = false;
    this.parked = false;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  /** The stream holds bytes the kernel refused: the peer has not read them yet (an accessor read: not for every request). */
  get blocked(): boolean {
    const s = this.sock;
    return this.streamed && s !== null && s.writableLength > 0;
  }

  /** Bytes not yet handed to the kernel: queued this turn, or held by the stream. */
  get unflushed(): number {
    const s = this.sock;
    return this.streamed && s !== null ? this.bytes + s.writableLength : this.bytes;
  }

  push(buf: Buffer): void {
    if (buf.length === 0) return;
    // No array for a single buffer: an array per flush was a third of the bytes allocated per request.
    if (this.count === 0) this.one = buf;
    else if (this.count === 1) this.many = [this.one as Buffer, buf];
    else (this.many as Buffer[]).push(buf);
    this.count++;
    this.bytes += buf.length;
    if (!this.dirty && this.ready) {
      this.dirty = true;
      schedule(this);
    }
  }

  /** Put a buffer in front of everything queued (used for AUTH/SELECT on a new server connection). */
  unshift(buf: Buffer): void {
    if (this.count === 0) this.one = buf;
    else if (this.count === 1) this.many = [buf, this.one as Buffer];
    else (this.many as Buffer[]).unshift(buf);
    this.count++;
    this.bytes += buf.length;
  }

  /** Called when the socket becomes writable for the first time. */
  markReady(): void {
    this.ready = true;
    if (this.bytes > 0) this.flush();
  }

  discard(): void {
    this.one = null;
    this.many = null;
    this.count = 0;
    this.bytes = 0;
    this.parked = false;
  }

  /**
   * Write what is queued. While the stream still holds refused bytes the queue is parked (see the header),
   * unless `now`: the caller ends the socket next, so everything must be in the stream before it.
   */
  flush(now = false): void {
    this.dirty = false;
    this.waited = false;
    const s = this.sock;
    if (s === null || this.count === 0 || !this.ready) return;
    if (this.streamed && !now && !this.streamIdle(s)) {
      this.parked = true;
      return;
    }
    this.parked = false;
    // A plain field, not the socket's accessors (destroyed, writableLength: megamorphic loads on every flush).
    // net.Socket drops its handle when destroyed, and the fd may already be another socket's.
    const h = (s as unknown as { _handle: Handle | null })._handle;
    if (h === null && s.destroyed) {
      this.discard();
      return;
    }
    const one = this.count === 1 ? (this.one as Buffer) : null;
    const many = this.many;
    const bytes = this.bytes;
    this.discard();
    if (h !== this.handle) {
      this.handle = h;
      this.fd = this.direct && h !== null && typeof h.fd === 'number' ? h.fd : -1;
    }
    // Straight to the fd (one write or writev, no join) unless the stream still holds earlier bytes.
    const direct = this.fd >= 0 && (!this.streamed || this.streamIdle(s));
    let n: number;
    if (one !== null) {
      n = direct ? writeOne(this.fd, one) : 0;
      if (n < bytes) s.write(n === 0 ? one : one.subarray(n), this.onStreamWritten);
    } else {
      n = direct ? writeMany(this.fd, many as Buffer[]) : 0;
      if (n < bytes) writeStream(s, many as Buffer[], n, bytes - n, this.onStreamWritten);
    }
    if (n < bytes) {
      this.streamed = true;
      if (this.onBlocked !== null) this.onBlocked();
    }
    if (this.onFlush !== null) this.onFlush();
  }

  /** The stream, which took bytes earlier, has handed them all to the kernel (and was not ended): direct writes may resume. */
  private streamIdle(s: Socket): boolean {
    if (s.writableLength !== 0 || s.writableEnded) return false;
    this.streamed = false;
    return true;
  }
}

/** The native handle of a socket: its fd is read once per handle (a C++ accessor). */
interface Handle {
  fd?: unknown;
}

/** The array writeOne hands to writevSync, reused: fs.writeSync allocates an error context per call, writevSync does not. */
const ONE: Buffer[] = [EMPTY];

/** write(2) of one buffer on the socket's fd: the bytes the kernel took; 0 when it took none (EAGAIN) or failed (the stream reports it). */
function writeOne(fd: number, b: Buffer): number {
  ONE[0] = b;
  try {
    return fs.writevSync(fd, ONE);
  } catch {
    return 0;
  } finally {
    ONE[0] = EMPTY;
  }
}

/** writev(2) of several buffers on the socket's fd, as writeOne. */
function writeMany(fd: number, bufs: Buffer[]): number {
  try {
    return fs.writevSync(fd, bufs);
  } catch {
    return 0;
  }
}

/**
 * The stream takes the `rest` bytes that follow the first `skip` bytes of bufs, in order: joined when small, else
 * corked. `done` is called when the last of them has gone to the kernel.
 */
function writeStream(s: Socket, bufs: Buffer[], skip: number, rest: number, done: () => void): void {
  let i = 0;
  while (skip >= (bufs[i] as Buffer).length) skip -= (bufs[i++] as Buffer).length;
  const first = skip === 0 ? (bufs[i] as Buffer) : (bufs[i] as Buffer).subarray(skip);
  if (i === bufs.length - 1) {
    s.write(first, done);
  } else if (rest <= CONCAT_LIMIT) {
    const parts = i === 0 && skip === 0 ? bufs : [first, ...bufs.slice(i + 1)];
    s.write(Buffer.concat(parts, rest), done);
  } else {
    s.cork();
    s.write(first);
    for (let j = i + 1; j < bufs.length - 1; j++) s.write(bufs[j] as Buffer);
    s.write(bufs[bufs.length - 1] as Buffer, done);
    s.uncork();
  }
}

// Two lists swapped on every flushAll and reused (an array per turn was garbage); `ndirty` entries are live.
const IDLE = new Outbox();
let dirtyList: Outbox[] = [];
let spareList: Outbox[] = [];
let ndirty = 0;
let scheduled = false;
/** Client reads since the last flush: more than one means concurrent clients, and server writes can gather. */
let clientReads = 0;

/** A client connection read bytes this turn. */
export function noteClientRead(): void {
  clientReads++;
}

/** Flush o at the end of this turn (or, from inside flushAll, of the next one). */
function schedule(o: Outbox): void {
  dirtyList[ndirty++] = o;
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}

function flushAll(): void {
  scheduled = false;
  const list = dirtyList;
  const n = ndirty;
  dirtyList = spareList;
  spareList = list;
  ndirty = 0;
  const busy = clientReads > 1;
  clientReads = 0;
  for (let i = 0; i < n; i++) {
    const o = list[i] as Outbox;
    list[i] = IDLE; // drop the reference: a closed connection's outbox must not stay reachable
    if (busy && o.gather && !o.waited && o.dirty) {
      o.waited = true;
      schedule(o);
      continue;
    }
    o.flush();
  }
}
