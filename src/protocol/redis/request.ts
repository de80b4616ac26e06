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

import { OK, AGAIN, ERROR, type ParseStatus } from '../parse';
import { lookupCommand } from './commands';

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

const CR = 13;
const LF = 10;

/** Largest multibulk count accepted. */
export const MAX_MULTIBULK = 0x7fffffff;
/** Largest bulk length accepted (Redis proto-max-bulk-len default, 512 MB). */
export const MAX_BULK = 536870912;

export const ERR_INLINE = 'Protocol error: inline commands are not supported, use RESP arrays';
export const ERR_MULTIBULK = 'Protocol error: invalid multibulk length';
export const ERR_BULK = 'Protocol error: invalid bulk length';
export const ERR_BULK_CRLF = 'Protocol error: bulk data not followed by CRLF';

export class RedisRequestParser {
  // --- results (after OK)
  /** Absolute offset just past the request. */
  end = 0;
  /** Number of array elements, command name included. */
  narg = 0;
  /** Command row index (lookupCommand), -1 for an unknown name. */
  cmd = -1;
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
          if (buf[p] !== 42 /* '*' */) return this.fail(ERR_INLINE);
          p++;
          acc = 0;
          state = S_MB_FIRST;
          break;
        case S_MB_FIRST:
        case S_MB_DIGITS: {
          for (; p < n; p++) {
            const c = buf[p]!;
            if (c >= 48 && c <= 57) {
              acc = acc * 10 + (c - 48);
              if (acc > MAX_MULTIBULK) return this.fail(ERR_MULTIBULK);
              state = S_MB_DIGITS;
            } else if (c === CR && state === S_MB_DIGITS) {
              if (acc === 0) return this.fail(ERR_MULTIBULK);
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

  private fail(text: string): ParseStatus {
    this.errorText = text;
    this.state = S_FAILED;
    return ERROR;
  }
}
