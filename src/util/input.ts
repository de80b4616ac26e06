// Receive side of every socket (client requests, server replies): keeps the start of a partial
// message and joins it with the chunks that followed into the one contiguous buffer the resumable parser needs.
//
//   known-size wait (a large bulk value):  rest + chunk + ... + chunk ─► one exact copy, once
//   unknown size (many small elements):    rest + chunk ─► appended in place into spare room
//                                          (room grows geometrically: N bytes cost O(N) copying, not O(N²))
//
// Only bytes past `end` of the own allocation are ever written; every view handed out (partial
// rest, requests/replies already dispatched) lies before it, so nothing referenced is overwritten.

/** Below this size a join is a plain pooled concat: small partial messages are the common case and must not cost 64 KB each. */
const SMALL_JOIN = 32 * 1024;
/** Spare room added on a growing join: the joined size, clamped to [MIN_ROOM, MAX_ROOM]. */
const MIN_ROOM = 64 * 1024;
const MAX_ROOM = 64 * 1024 * 1024;

/**
 * The receive state of one socket: the unparsed start of a message (`rest`) and the chunks held back
 * until the parser's `need` is met. Both connection kinds (client, server) use it the same way:
 *
 *   take(chunk) ─► bytes to parse now, or null while waiting ─► parse ... ─► hold(buf, pos, need) | clear()
 */
export class Input {
  private rest: Buffer | null = null;
  private chunks: Buffer[] | null = null;
  private have = 0;
  private need = 0;
  private readonly joiner = new InputJoin();

  /** A new chunk arrived: the bytes to parse from offset 0, or null while the held message needs more. */
  take(chunk: Buffer): Buffer | null {
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

  /** Parsing stopped at pos: keep buf[pos..]; `need` bytes from pos are needed before parsing again (0 = parse as soon as asked). */
  hold(buf: Buffer, pos: number, need: number): void {
    this.rest = pos === 0 ? buf : buf.subarray(pos);
    this.have = this.rest.length;
    this.need = need;
  }

  /** Held bytes can be parsed now without waiting for the socket (backpressure held them back). */
  get ready(): boolean {
    return this.rest !== null && this.chunks === null && this.have >= this.need;
  }

  /** Hand over the held bytes (when ready) to be parsed again from offset 0. */
  takeReady(): Buffer | null {
    const r = this.ready ? this.rest : null;
    if (r !== null) this.rest = null;
    return r;
  }

  /** Everything was parsed, or the connection drops what is left. */
  clear(): void {
    this.rest = null;
    this.chunks = null;
    this.joiner.release();
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
