// Redis request parser: client receive buffer → [this: RESP multibulk → offsets + command row] → forward.
//
// One request per parse() call. Everything saved between calls is relative to the request
// start, so after AGAIN the caller may hand over a new buffer holding the same partial
// request at another offset followed by more bytes; bulk data is never rescanned.
//
//   START --'*'--> MB_FIRST --digit--> MB_DIGITS --CR--> MB_LF --LF--+
//                                                                    v
//   +--------------------------- next argument ---------------- DOLLAR --'$'--> BL_FIRST
//   |                                                                               | digit
//   +-- DATA (jump len bytes, then CR LF) <--LF-- BL_LF <--CR-- BL_DIGITS <---------+
//        | last argument
//        v
//       OK: end, narg, cmd, nameStart/nameEnd, args = [s1,e1,s2,e2,...] (absolute)
//
//   START --other byte--> INLINE: a line as typed into telnet (`PING\r\n`), split as Redis splits it
//     (quotes, escapes) and re-encoded once as RESP in `inline` (args are offsets into it); rare, so the copy
//     is fine. `*0`, `*-1` and an empty line are skipped without a reply, as Redis does (cmd EMPTY).

import { OK, AGAIN, ERROR, type ParseStatus } from '../parse';
import { lookupCommand } from './commands';

function isSpace(c: number): boolean {
  return c === 0x20 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function hexVal(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

const S_START = 0;
const S_MB_FIRST = 1;
const S_MB_DIGITS = 2;
const S_MB_LF = 3;
const S_DOLLAR = 4;
const S_BL_FIRST = 5;
const S_BL_DIGITS = 6;
const S_BL_LF = 7;
const S_DATA = 8;
const S_FAILED = 9;
const S_INLINE = 10;
const S_MB_NEG = 11;

/** cmd of a request Redis skips without a reply (`*0`, `*-1`, an empty inline line). */
export const EMPTY = -2;
/** Longest inline line (Redis's PROTO_INLINE_MAX_SIZE). */
const INLINE_MAX = 64 * 1024;

const CR = 13;
const LF = 10;

/** Largest multibulk count accepted. */
export const MAX_MULTIBULK = 0x7fffffff;
/** Largest bulk length accepted (Redis proto-max-bulk-len default, 512 MB). */
export const MAX_BULK = 536870912;

export const ERR_INLINE_TOO_BIG = 'Protocol error: too big inline request';
export const ERR_QUOTES = 'Protocol error: unbalanced quotes in request';
export const ERR_MULTIBULK = 'Protocol error: invalid multibulk length';
export const ERR_BULK = 'Protocol error: invalid bulk length';
export const ERR_BULK_CRLF = 'Protocol error: bulk data not followed by CRLF';

export class RedisRequestParser {
  // --- results (after OK)
  /** Absolute offset just past the request. */
  end = 0;
  /** Number of array elements, command name included. */
  narg = 0;
  /** Command row index (lookupCommand), -1 for an unknown name, EMPTY for a request without a reply. */
  cmd = -1;
  /** An inline request re-encoded as RESP: name and args are offsets into this buffer; null for RESP requests. */
  inline: Buffer | null = null;
  /** Command name: buf[nameStart, nameEnd). */
  nameStart = 0;
  nameEnd = 0;
  /** Arguments 1..narg-1 as absolute offsets [s1, e1, s2, e2, ...]; reused between requests. */
  args: number[] = [];
  // --- after AGAIN / ERROR
  /** Bytes needed from the request start before another call can make progress. */
  need = 0;
  errorText = '';

  // --- resumable state (offsets relative to the request start)
  private state = S_START;
  private pos = 0;
  private acc = 0;
  private argi = 0;
  private dataStart = 0;
  private bulkLen = 0;

  /** Drops any partial request (and a previous error). */
  reset(): void {
    this.state = S_START;
    this.pos = 0;
    this.acc = 0;
    this.argi = 0;
    this.narg = 0;
    this.cmd = -1;
    this.dataStart = 0;
    this.bulkLen = 0;
    this.need = 0;
    this.errorText = '';
  }

  /** Parses one request starting at buf[start] (or resumes the one that starts there). */
  parse(buf: Buffer, start: number): ParseStatus {
    let state = this.state;
    if (state === S_FAILED) return ERROR;
    const n = buf.length;
    let p = start + this.pos;
    let acc = this.acc;
    for (;;) {
      if (state === S_DATA) {
        const ds = start + this.dataStart;
        const de = ds + this.bulkLen;
        if (de + 2 > n) {
          this.state = S_DATA;
          this.need = de + 2 - start;
          return AGAIN;
        }
        if (buf[de] !== CR || buf[de + 1] !== LF) return this.fail(ERR_BULK_CRLF);
        const i = this.argi;
        if (i === 0) {
          this.nameStart = ds - start;
          this.nameEnd = de - start;
          this.cmd = lookupCommand(buf, ds, de);
        } else {
          const args = this.args;
          args[2 * i - 2] = ds - start;
          args[2 * i - 1] = de - start;
        }
        p = de + 2;
        if (i + 1 === this.narg) return this.done(start, p);
        this.argi = i + 1;
        state = S_DOLLAR;
        continue;
      }
      if (p >= n) {
        this.state = state;
        this.pos = p - start;
        this.acc = acc;
        this.need = n - start + 1;
        return AGAIN;
      }
      switch (state) {
        case S_START:
          this.inline = null;
          if (buf[p] !== 42 /* '*' */) {
            state = S_INLINE;
            break;
          }
          p++;
          acc = 0;
          state = S_MB_FIRST;
          break;
        case S_INLINE: {
          // Look for the end of the line, from where the last call stopped.
          while (p < n && buf[p] !== LF) p++;
          if (p >= n) {
            if (n - start > INLINE_MAX) return this.fail(ERR_INLINE_TOO_BIG);
            break;
          }
          return this.inlineLine(buf, start, p);
        }
        case S_MB_FIRST:
        case S_MB_DIGITS:
        case S_MB_NEG: {
          for (; p < n; p++) {
            const c = buf[p]!;
            if (c >= 48 && c <= 57) {
              acc = acc * 10 + (c - 48);
              if (acc > MAX_MULTIBULK) return this.fail(ERR_MULTIBULK);
              if (state === S_MB_FIRST) state = S_MB_DIGITS;
            } else if (c === 45 /* '-' */ && state === S_MB_FIRST) {
              state = S_MB_NEG; // `*-1`: skipped like `*0`
            } else if (c === CR && (state === S_MB_DIGITS || (state === S_MB_NEG && p > start + 2))) {
              if (state === S_MB_NEG) acc = 0;
              p++;
              state = S_MB_LF;
              break;
            } else {
              return this.fail(ERR_MULTIBULK);
            }
          }
          break;
        }
        case S_MB_LF:
          if (buf[p] !== LF) return this.fail(ERR_MULTIBULK);
          p++;
          if (acc === 0) return this.empty(start, p);
          this.narg = acc;
          this.argi = 0;
          this.cmd = -1;
          state = S_DOLLAR;
          break;
        case S_DOLLAR: {
          const c = buf[p]!;
          if (c !== 36 /* '$' */) return this.fail(`Protocol error: expected '$', got '${String.fromCharCode(c)}'`);
          p++;
          acc = 0;
          state = S_BL_FIRST;
          break;
        }
        case S_BL_FIRST:
        case S_BL_DIGITS: {
          for (; p < n; p++) {
            const c = buf[p]!;
            if (c >= 48 && c <= 57) {
              acc = acc * 10 + (c - 48);
              if (acc > MAX_BULK) return this.fail(ERR_BULK);
              state = S_BL_DIGITS;
            } else if (c === CR && state === S_BL_DIGITS) {
              p++;
              state = S_BL_LF;
              break;
            } else {
              return this.fail(ERR_BULK);
            }
          }
          break;
        }
        case S_BL_LF:
          if (buf[p] !== LF) return this.fail(ERR_BULK);
          p++;
          this.dataStart = p - start;
          this.bulkLen = acc;
          state = S_DATA;
          break;
        default:
          return ERROR; // S_FAILED
      }
    }
  }

  private done(start: number, end: number): ParseStatus {
    const args = this.args;
    const m = 2 * (this.narg - 1);
    if (args.length !== m) args.length = m;
    for (let k = 0; k < m; k++) args[k] = args[k]! + start;
    this.nameStart += start;
    this.nameEnd += start;
    this.end = end;
    this.state = S_START;
    this.pos = 0;
    this.acc = 0;
    this.argi = 0;
    return OK;
  }

  /** A request Redis skips without a reply. */
  private empty(start: number, end: number): ParseStatus {
    this.narg = 0;
    this.cmd = EMPTY;
    this.args.length = 0;
    this.nameStart = start;
    this.nameEnd = start;
    this.end = end;
    this.state = S_START;
    this.pos = 0;
    this.acc = 0;
    return OK;
  }

  /** An inline line buf[start, lf): split like Redis's sdssplitargs and re-encoded as RESP in `inline`. */
  private inlineLine(buf: Buffer, start: number, lf: number): ParseStatus {
    let e = lf;
    if (e > start && buf[e - 1] === CR) e--;
    const parts: Buffer[] = [];
    let i = start;
    for (;;) {
      while (i < e && isSpace(buf[i]!)) i++;
      if (i >= e) break;
      const bytes: number[] = [];
      let inq = false;
      let insq = false;
      for (;;) {
        if (inq) {
          if (i >= e) return this.fail(ERR_QUOTES);
          const c = buf[i]!;
          if (c === 0x5c && i + 3 < e && buf[i + 1] === 0x78 && isHex(buf[i + 2]!) && isHex(buf[i + 3]!)) {
            bytes.push(hexVal(buf[i + 2]!) * 16 + hexVal(buf[i + 3]!));
            i += 3;
          } else if (c === 0x5c && i + 1 < e) {
            i++;
            const d = buf[i]!;
            bytes.push(d === 0x6e ? 10 : d === 0x72 ? 13 : d === 0x74 ? 9 : d === 0x62 ? 8 : d === 0x61 ? 7 : d);
          } else if (c === 0x22) {
            if (i + 1 < e && !isSpace(buf[i + 1]!)) return this.fail(ERR_QUOTES); // closing quote must be followed by a space
            i++;
            break;
          } else {
            bytes.push(c);
          }
        } else if (insq) {
          if (i >= e) return this.fail(ERR_QUOTES);
          const c = buf[i]!;
          if (c === 0x5c && i + 1 < e && buf[i + 1] === 0x27) {
            i++;
            bytes.push(0x27);
          } else if (c === 0x27) {
            if (i + 1 < e && !isSpace(buf[i + 1]!)) return this.fail(ERR_QUOTES);
            i++;
            break;
          } else {
            bytes.push(c);
          }
        } else {
          if (i >= e) break;
          const c = buf[i]!;
          if (isSpace(c)) break;
          if (c === 0x22) inq = true;
          else if (c === 0x27) insq = true;
          else bytes.push(c);
        }
        i++;
      }
      parts.push(Buffer.from(bytes));
    }
    if (parts.length === 0) return this.empty(start, lf + 1);
    let size = 3 + String(parts.length).length;
    for (const a of parts) size += 5 + String(a.length).length + a.length;
    const out = Buffer.allocUnsafe(size);
    let o = out.write(`*${parts.length}\r\n`, 0, 'latin1');
    const args = this.args;
    args.length = 2 * (parts.length - 1);
    for (let k = 0; k < parts.length; k++) {
      const a = parts[k]!;
      o += out.write(`$${a.length}\r\n`, o, 'latin1');
      if (k === 0) {
        this.nameStart = o;
        this.nameEnd = o + a.length;
      } else {
        args[2 * k - 2] = o;
        args[2 * k - 1] = o + a.length;
      }
      o += a.copy(out, o);
      out[o++] = CR;
      out[o++] = LF;
    }
    this.inline = out;
    this.narg = parts.length;
    this.cmd = lookupCommand(out, this.nameStart, this.nameEnd);
    this.end = lf + 1;
    this.state = S_START;
    this.pos = 0;
    this.acc = 0;
    return OK;
  }

  private fail(text: string): ParseStatus {
    this.errorText = text;
    this.state = S_FAILED;
    return ERROR;
  }
}
