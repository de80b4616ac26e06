// Receive side of every socket (client requests, server replies): joins the start of a partial
// message with the chunks that followed it into the one contiguous buffer the resumable parser needs.
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

export class InputJoin {
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
