// Receive side of every socket (client requests, server replies): keeps the start of a partial
// message and joins it with the chunks that followed into the one contiguous buffer the resumable parser needs.
//
//   known large wait (a big bulk value):   the kernel reads the remaining bytes straight into the message's
//                                          buffer: the fresh read buffer it started in when it has room (large
//                                          values flowing: no copy at all), else one of its size (the start copied once)
//   known small wait:                      rest + chunk + ... + chunk ─► one exact copy, once
//   unknown size (many small elements):    rest + chunk ─► appended in place into spare room
//                                          (room grows geometrically: N bytes cost O(N) copying, not O(N²))
//
// Only bytes past the end of what was handed out are ever written into an own allocation; every view
// handed out (partial rest, requests/replies already dispatched) lies before it, so nothing referenced
// is overwritten.

/** Below this size a join is a plain pooled concat: small partial messages are the common case and must not cost 64 KB each. */
const SMALL_JOIN = 32 * 1024;
/** Spare room added on a growing join: the joined size, clamped to [MIN_ROOM, MAX_ROOM]. */
const MIN_ROOM = 64 * 1024;
const MAX_ROOM = 64 * 1024 * 1024;
/** A wait for at least this many more bytes of known count is read straight into the message's own buffer. */
export const DIRECT_MIN = 16 * 1024;
/** Reads of at least this many bytes mean large values are flowing: the next read lands in a fresh buffer. */
const BIG_READ = 32 * 1024;
/** Small reads (outside a large message) before fresh read buffers stop. */
const BIG_STICKY = 8;
const SMALL_READ = 4096;
const READ_SIZE = 64 * 1024;
/** Cap on the extra room of a fresh read buffer: an idle connection keeps the one handed out for its next read. */
const MAX_HINT = 256 * 1024;

/**
 * The receive state of one socket: the unparsed start of a message (`rest`) and the chunks held back
 * until the parser's `need` is met. Both connection kinds (client, server) use it the same way:
 *
 *   [readTarget()] ─► take(chunk) ─► bytes to parse now, or null while waiting ─► parse ... ─► hold(buf, pos, need) | clear()
 *
 * readTarget() is asked after every read (util/socket): while a large message of known size is
 * awaited it is the free part of that message's buffer, and the next read lands there; take() then
 * gets a view of the landed bytes.
 */
export class Input {
  private rest: Buffer | null = null;
  private chunks: Buffer[] | null = null;
  private have = 0;
  private need = 0;
  private readonly joiner = new InputJoin();
  /** Direct mode (`dActive`): the partial message is direct[dFrom, dEnd); reads land in direct[dEnd, dLimit). */
  private direct: Buffer | null = null;
  private dActive = false;
  private dFrom = 0;
  private dEnd = 0;
  private dLimit = 0;
  /** The view handed to the kernel for the next read (null: the shared read buffer). */
  private target: Buffer | null = null;
  /** Large values flow while > 0 (a large read or a large message sets it, small reads count it down): the next read gets a fresh buffer of its own (the chunk is the buffer, no copy). */
  private big = 0;
  /** Size of the last large message awaited: fresh read buffers are made that much larger, so it fits in place. */
  private bigHint = 0;
  /** The fresh buffer handed out for the read in progress. */
  private fresh: Buffer | null = null;

  /** Where the next read should land, or null for the shared read buffer. */
  readTarget(): Buffer | null {
    if (this.target !== null) return this.target;
    if (this.big === 0) return null;
    // The kernel gets the first READ_SIZE bytes: a message that starts anywhere in them has bigHint bytes
    // of room after it, to go on in place.
    const f = Buffer.allocUnsafeSlow(READ_SIZE + this.bigHint);
    this.fresh = f;
    return this.bigHint === 0 ? f : f.subarray(0, READ_SIZE);
  }

  /** The socket read `n` bytes (before take() sees them). */
  noteRead(n: number): void {
    if (n >= BIG_READ) this.big = BIG_STICKY;
    else if (n < SMALL_READ && this.big > 0 && !this.dActive) this.big--;
  }

  /** A new chunk arrived: the bytes to parse from offset 0, or null while the held message needs more. */
  take(chunk: Buffer): Buffer | null {
    if (this.dActive) return this.takeDirect(chunk);
    const f = this.fresh;
    if (f !== null) {
      this.fresh = null;
      // Landed at the start of a fresh buffer: a message left partial at its end may go on in place (holdDirect).
      if (chunk.buffer === f.buffer && chunk.byteOffset === f.byteOffset) {
        this.direct = f;
        this.dEnd = chunk.length;
      }
    }
    const rest = this.rest;
    if (rest === null) return chunk;
    // Hold chunks back while the partial message is known to need more bytes (big values: one copy at the end).
    if (this.chunks === null) this.chunks = [rest];
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.have < this.need) return null;
    // Joined with room to spare when the parser needs an unknown number of further bytes (O(n) in total).
    const buf = this.joiner.join(this.chunks, this.have, this.need < 2 * rest.length);
    this.chunks = null;
    this.rest = null;
    return buf;
  }

  private takeDirect(chunk: Buffer): Buffer | null {
    const d = this.direct as Buffer;
    if (chunk.buffer === d.buffer && chunk.byteOffset === d.byteOffset + this.dEnd) {
      this.dEnd += chunk.length; // read in place
    } else {
      // A read into the shared buffer (the target was not in use for it): copy what fits, keep the rest.
      const room = d.length - this.dEnd;
      const n = chunk.length <= room ? chunk.length : room;
      chunk.copy(d, this.dEnd, 0, n);
      this.dEnd += n;
      if (n < chunk.length) {
        this.leaveDirect();
        return this.take(chunk.subarray(n));
      }
    }
    if (this.dEnd - this.dFrom < this.need) {
      this.target = this.dEnd < this.dLimit ? d.subarray(this.dEnd, this.dLimit) : null;
      return null;
    }
    this.dActive = false;
    this.target = null;
    return d.subarray(this.dFrom, this.dEnd);
  }

  /** Direct mode ends with more bytes than the buffer holds: carry on with the partial as an ordinary rest. */
  private leaveDirect(): void {
    const d = this.direct as Buffer;
    this.rest = d.subarray(this.dFrom, this.dEnd);
    this.have = this.rest.length;
    this.chunks = null;
    this.dActive = false;
    this.direct = null;
    this.target = null;
  }

  /** Parsing stopped at pos: keep buf[pos..]; `need` bytes from pos are needed before parsing again (0 = parse as soon as asked). */
  hold(buf: Buffer, pos: number, need: number): void {
    const have = buf.length - pos;
    if (need - have >= DIRECT_MIN) {
      this.holdDirect(buf, pos, have, need);
      return;
    }
    this.rest = pos === 0 ? buf : buf.subarray(pos);
    this.have = have;
    this.need = need;
  }

  private holdDirect(buf: Buffer, pos: number, have: number, need: number): void {
    const d = this.direct;
    this.bigHint = need <= MAX_HINT ? need : MAX_HINT;
    this.big = BIG_STICKY;
    let from: number;
    if (d !== null && buf.buffer === d.buffer && buf.byteOffset + buf.length === d.byteOffset + this.dEnd && d.length - (this.dEnd - have) >= need) {
      from = this.dEnd - have; // the partial already sits at the end of the last direct buffer, with room for all of it
    } else {
      // Room beyond `need` only for a partial that is itself large (arrays of big elements: geometric growth).
      const extra = have >= DIRECT_MIN ? Math.min(need, MAX_ROOM) : 0;
      const nb = Buffer.allocUnsafeSlow(need + extra);
      buf.copy(nb, 0, pos);
      this.direct = nb;
      from = 0;
      this.dEnd = have;
    }
    this.dFrom = from;
    this.dLimit = from + need;
    this.need = need;
    this.dActive = true;
    this.rest = null;
    this.chunks = null;
    const dd = this.direct as Buffer;
    this.target = dd.subarray(this.dEnd, this.dLimit);
  }

  /** Bytes held: the partial message and the chunks after it. */
  get heldBytes(): number {
    if (this.dActive) return this.dEnd - this.dFrom;
    return this.rest === null ? 0 : this.have;
  }

  /** Held bytes can be parsed now without waiting for the socket (backpressure held them back). */
  get ready(): boolean {
    return !this.dActive && this.rest !== null && this.chunks === null && this.have >= this.need;
  }

  /** Hand over the held bytes (when ready) to be parsed again from offset 0. */
  takeReady(): Buffer | null {
    if (this.dActive || this.rest === null) return null;
    if (this.chunks !== null) {
      if (this.have < this.need) return null;
      const buf = this.joiner.join(this.chunks, this.have, true);
      this.chunks = null;
      this.rest = null;
      return buf;
    }
    if (this.have < this.need) return null;
    const r = this.rest;
    this.rest = null;
    return r;
  }

  /** Everything was parsed, or the connection drops what is left. */
  clear(): void {
    this.rest = null;
    this.chunks = null;
    this.joiner.release();
    this.direct = null;
    this.dActive = false;
    this.target = null;
    this.fresh = null;
  }
}

class InputJoin {
  /** Own allocation with free room after `end`, or null. */
  private store: Buffer | null = null;
  private end = 0;

  /**
   * parts[0] is the partial message, the rest are newer chunks; total is their summed length.
   * `grow` says the parser needs more bytes of unknown count (join with spare room) rather than a
   * known amount that is now all here (join exactly).
   */
  join(parts: Buffer[], total: number, grow: boolean): Buffer {
    const first = parts[0] as Buffer;
    const st = this.store;
    if (st !== null && first.buffer === st.buffer && first.byteOffset + first.length === st.byteOffset + this.end) {
      const from = first.byteOffset - st.byteOffset;
      if (from + total <= st.length) {
        let o = this.end;
        for (let i = 1; i < parts.length; i++) o += (parts[i] as Buffer).copy(st, o);
        this.end = o;
        return st.subarray(from, o);
      }
    }
    if (total < SMALL_JOIN) {
      this.store = null;
      return Buffer.concat(parts, total);
    }
    const room = grow ? Math.min(MAX_ROOM, Math.max(MIN_ROOM, total)) : 0;
    const nb = Buffer.allocUnsafeSlow(total + room);
    let o = 0;
    for (let i = 0; i < parts.length; i++) o += (parts[i] as Buffer).copy(nb, o);
    this.store = grow ? nb : null;
    this.end = o;
    return room === 0 ? nb : nb.subarray(0, o);
  }

  /** The partial message is gone (all parsed, or the connection dropped it): stop keeping the room. */
  release(): void {
    this.store = null;
  }
}
