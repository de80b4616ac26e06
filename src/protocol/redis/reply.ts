// Redis reply parser: server receive buffer → [this: frame one RESP2/RESP3 reply] → pair with the in-flight head, merge.
//
// One reply per parse() call; resumable like the request parser (state relative to the reply
// start). Aggregates nest to any depth through an explicit stack of remaining element counts.
//
//   VALUE --'+-,#(_'--> LINE ...CR--> LINE_LF --LF--> element done
//         --':$=!*%~>|'--> NUM_SIGN --['-']--> NUM_FIRST --digit--> NUM_DIGITS --CR--> NUM_LF --LF-->
//              ':'  element done          '$=!' len   → DATA (jump, then CR LF) → element done
//              '$-1' '*-1' element done   '*~>' n, '%' 2n, '|' 2n+1 (attribute + the reply it annotates)
//                                         → push n on the stack, back to VALUE (n = 0: element done)
//   element done: pop every exhausted level; stack empty → OK.
//
// With `collect` set, a top-level `*` array records each top-level element's [start, end) in `elems`.

import { OK, AGAIN, ERROR, type ParseStatus } from '../parse';

/** errorKind values; they are forward/protocol's ReplyStatus values, so the reader passes them on as they are. */
export const REPLY_ERROR_NONE = 0;
export const REPLY_ERROR_TRANSIENT = 1;
export const REPLY_ERROR_READONLY = 2;
/** `-MOVED`, `-ASK`, `-TRYAGAIN`, `-CLUSTERDOWN`: Redis Cluster's answers (a cluster pool redirects or refreshes). */
export const REPLY_ERROR_CLUSTER = 3;
export type ReplyErrorKind = typeof REPLY_ERROR_NONE | typeof REPLY_ERROR_TRANSIENT | typeof REPLY_ERROR_READONLY | typeof REPLY_ERROR_CLUSTER;

const S_VALUE = 0;
const S_LINE = 1;
const S_LINE_LF = 2;
const S_NUM_SIGN = 3;
const S_NUM_FIRST = 4;
const S_NUM_DIGITS = 5;
const S_NUM_LF = 6;
const S_DATA = 7;
const S_FAILED = 8;

const CR = 13;
const LF = 10;

/** Largest bulk length accepted (a Node Buffer cannot hold more). */
export const MAX_REPLY_BULK = 4294967296;
/** Largest aggregate count accepted. */
export const MAX_REPLY_COUNT = 0x7fffffff;

export const ERR_REPLY_LINE = 'Protocol error: invalid line in reply';
export const ERR_REPLY_INT = 'Protocol error: invalid integer in reply';
export const ERR_REPLY_BULK = 'Protocol error: invalid bulk length in reply';
export const ERR_REPLY_MULTIBULK = 'Protocol error: invalid multibulk length in reply';
export const ERR_REPLY_CRLF = 'Protocol error: bulk data not followed by CRLF in reply';

export class RedisReplyParser {
  // --- input
  /** Record top-level array element offsets in `elems` (MGET fragments). */
  collect = false;
  // --- results (after OK)
  /** Absolute offset just past the reply. */
  end = 0;
  /** First byte of the reply ('+' '-' ':' '$' '*' or a RESP3 type byte). */
  type = 0;
  /** Value of a top-level `:` reply. */
  integer = 0;
  /**
   * What a top-level error reply means to the proxy (REPLY_ERROR_*): `-OOM`, `-BUSY`, `-LOADING` (a transient
   * server failure), `-READONLY` (a demoted master), or nothing special. One field, set only for '-' replies.
   */
  errorKind: ReplyErrorKind = REPLY_ERROR_NONE;
  /** Top-level `*` reply: number of elements; -1 for `*-1` and for any other reply. */
  count = -1;
  /** With collect: absolute [s0, e0, s1, e1, ...] of the top-level array's elements; reused. */
  elems: number[] = [];
  // --- after AGAIN / ERROR
  need = 0;
  errorText = '';

  // --- resumable state (offsets relative to the reply start)
  private state = S_VALUE;
  private pos = 0;
  private acc = 0;
  private neg = false;
  /** Type byte of the value being parsed. */
  private cur = 0;
  private depth = 0;
  /** rem[d]: elements still expected at nesting level d. */
  private rem: number[] = [];
  private collecting = false;
  private nel = 0;
  private dataStart = 0;
  private bulkLen = 0;

  /** Drops any partial reply (and a previous error). */
  reset(): void {
    this.state = S_VALUE;
    this.pos = 0;
    this.acc = 0;
    this.neg = false;
    this.cur = 0;
    this.depth = 0;
    this.collecting = false;
    this.nel = 0;
    this.dataStart = 0;
    this.bulkLen = 0;
    this.need = 0;
    this.errorText = '';
  }

  /** Parses one reply starting at buf[start] (or resumes the one that starts there). */
  parse(buf: Buffer, start: number): ParseStatus {
    let state = this.state;
    if (state === S_FAILED) return ERROR;
    const n = buf.length;
    let p = start + this.pos;
    let acc = this.acc;
    for (;;) {
      if (state === S_DATA) {
        const de = start + this.dataStart + this.bulkLen;
        if (de + 2 > n) {
          this.state = S_DATA;
          this.need = de + 2 - start;
          return AGAIN;
        }
        if (buf[de] !== CR || buf[de + 1] !== LF) return this.fail(ERR_REPLY_CRLF);
        p = de + 2;
        if (this.elemDone(p - start)) return this.done(buf, start, p);
        state = S_VALUE;
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
        case S_VALUE: {
          const c = buf[p]!;
          const depth = this.depth;
          if (depth === 0) {
            this.type = c;
            this.count = -1;
            this.collecting = false;
            this.nel = 0;
          } else if (depth === 1 && this.collecting) {
            this.elems[2 * this.nel] = p - start;
          }
          this.cur = c;
          p++;
          switch (c) {
            case 43: // '+'
            case 45: // '-'
            case 44: // ',' double
            case 35: // '#' boolean
            case 40: // '(' big number
            case 95: // '_' null
              state = S_LINE;
              break;
            case 58: // ':'
            case 36: // '$'
            case 61: // '=' verbatim string
            case 33: // '!' blob error
            case 42: // '*'
            case 37: // '%' map
            case 126: // '~' set
            case 62: // '>' push
            case 124: // '|' attribute
              acc = 0;
              this.neg = false;
              state = S_NUM_SIGN;
              break;
            default:
              return this.fail(`Protocol error: invalid reply type byte '${String.fromCharCode(c)}'`);
          }
          break;
        }
        case S_LINE: {
          for (; p < n; p++) {
            const c = buf[p]!;
            if (c === CR) {
              p++;
              state = S_LINE_LF;
              break;
            }
            if (c === LF) return this.fail(ERR_REPLY_LINE);
          }
          break;
        }
        case S_LINE_LF:
          if (buf[p] !== LF) return this.fail(ERR_REPLY_LINE);
          p++;
          if (this.elemDone(p - start)) return this.done(buf, start, p);
          state = S_VALUE;
          break;
        case S_NUM_SIGN:
          if (buf[p] === 45 /* '-' */) {
            this.neg = true;
            p++;
          }
          state = S_NUM_FIRST;
          break;
        case S_NUM_FIRST:
        case S_NUM_DIGITS: {
          for (; p < n; p++) {
            const c = buf[p]!;
            if (c >= 48 && c <= 57) {
              acc = acc * 10 + (c - 48);
              if (acc > MAX_REPLY_BULK && this.cur !== 58) return this.fail(this.numError());
              state = S_NUM_DIGITS;
            } else if (c === CR && state === S_NUM_DIGITS) {
              p++;
              state = S_NUM_LF;
              break;
            } else {
              return this.fail(this.numError());
            }
          }
          break;
        }
        case S_NUM_LF: {
          if (buf[p] !== LF) return this.fail(this.numError());
          p++;
          const c = this.cur;
          if (c === 58) {
            // ':' integer
            if (this.depth === 0) this.integer = this.neg ? -acc : acc;
            if (this.elemDone(p - start)) return this.done(buf, start, p);
            state = S_VALUE;
          } else if (c === 36 || c === 61 || c === 33) {
            // '$' '=' '!' length-prefixed
            if (this.neg) {
              if (acc !== 1 || c !== 36) return this.fail(ERR_REPLY_BULK); // only $-1
              if (this.elemDone(p - start)) return this.done(buf, start, p);
              state = S_VALUE;
            } else {
              this.dataStart = p - start;
              this.bulkLen = acc;
              state = S_DATA;
            }
          } else {
            // '*' '%' '~' '>' '|' aggregates
            if (this.neg) {
              if (acc !== 1 || c !== 42) return this.fail(ERR_REPLY_MULTIBULK); // only *-1
              if (this.elemDone(p - start)) return this.done(buf, start, p);
              state = S_VALUE;
              break;
            }
            if (acc > MAX_REPLY_COUNT) return this.fail(ERR_REPLY_MULTIBULK);
            const depth = this.depth;
            if (depth === 0 && c === 42) {
              this.count = acc;
              this.collecting = this.collect;
            }
            const elems = c === 37 ? 2 * acc : c === 124 ? 2 * acc + 1 : acc;
            if (elems === 0) {
              if (this.elemDone(p - start)) return this.done(buf, start, p);
            } else {
              this.rem[depth] = elems;
              this.depth = depth + 1;
            }
            state = S_VALUE;
          }
          break;
        }
        default:
          return ERROR;
      }
    }
  }

  /** One value ended at relative offset rel; pops exhausted levels. True when the whole reply is done. */
  private elemDone(rel: number): boolean {
    let d = this.depth;
    const rem = this.rem;
    while (d > 0) {
      if (d === 1 && this.collecting) {
        this.elems[2 * this.nel + 1] = rel;
        this.nel++;
      }
      const r = rem[d - 1]! - 1;
      if (r > 0) {
        rem[d - 1] = r;
        this.depth = d;
        return false;
      }
      d--;
    }
    this.depth = 0;
    return true;
  }

  private done(buf: Buffer, start: number, end: number): ParseStatus {
    if (this.collecting) {
      const elems = this.elems;
      const m = 2 * this.nel;
      if (elems.length !== m) elems.length = m;
      for (let k = 0; k < m; k++) elems[k] = elems[k]! + start;
    }
    this.errorKind = this.type === 45 ? errorKindOf(buf, start + 1, end) : REPLY_ERROR_NONE;
    this.end = end;
    this.state = S_VALUE;
    this.pos = 0;
    this.acc = 0;
    return OK;
  }

  /** The reply is `-OOM`, `-BUSY` or `-LOADING` (tests, diagnostics; the data path reads errorKind). */
  get isTransient(): boolean {
    return this.errorKind === REPLY_ERROR_TRANSIENT;
  }

  private numError(): string {
    const c = this.cur;
    return c === 58 ? ERR_REPLY_INT : c === 36 || c === 61 || c === 33 ? ERR_REPLY_BULK : ERR_REPLY_MULTIBULK;
  }

  private fail(text: string): ParseStatus {
    this.errorText = text;
    this.state = S_FAILED;
    return ERROR;
  }
}

// "OOM", "BUSY", "LOADING", "READONLY" as bytes
const W_OOM = [79, 79, 77];
const W_READONLY = [82, 69, 65, 68, 79, 78, 76, 89];
const W_BUSY = [66, 85, 83, 89];
const W_LOADING = [76, 79, 65, 68, 73, 78, 71];

function wordAt(buf: Buffer, p: number, end: number, w: number[]): boolean {
  const len = w.length;
  if (p + len >= end) return false;
  for (let i = 0; i < len; i++) if (buf[p + i] !== w[i]) return false;
  const c = buf[p + len];
  return c === 32 || c === CR;
}

/** Whether the error line starting at buf[p] (just after '-') begins with OOM, BUSY or LOADING followed by space or CR. */
export function isTransientError(buf: Buffer, p: number, end: number): boolean {
  const c = buf[p];
  if (c === 79) return wordAt(buf, p, end, W_OOM);
  if (c === 66) return wordAt(buf, p, end, W_BUSY);
  if (c === 76) return wordAt(buf, p, end, W_LOADING);
  return false;
}

const W_MOVED = [77, 79, 86, 69, 68];
const W_ASK = [65, 83, 75];
const W_TRYAGAIN = [84, 82, 89, 65, 71, 65, 73, 78];
const W_CLUSTERDOWN = [67, 76, 85, 83, 84, 69, 82, 68, 79, 87, 78];

/** The kind of the error line starting at buf[p] (just after '-'). */
function errorKindOf(buf: Buffer, p: number, end: number): ReplyErrorKind {
  switch (buf[p]) {
    case 82: // R
      return wordAt(buf, p, end, W_READONLY) ? REPLY_ERROR_READONLY : REPLY_ERROR_NONE;
    case 77: // M
      return wordAt(buf, p, end, W_MOVED) ? REPLY_ERROR_CLUSTER : REPLY_ERROR_NONE;
    case 65: // A
      return wordAt(buf, p, end, W_ASK) ? REPLY_ERROR_CLUSTER : REPLY_ERROR_NONE;
    case 84: // T
      return wordAt(buf, p, end, W_TRYAGAIN) ? REPLY_ERROR_CLUSTER : REPLY_ERROR_NONE;
    case 67: // C
      return wordAt(buf, p, end, W_CLUSTERDOWN) ? REPLY_ERROR_CLUSTER : REPLY_ERROR_NONE;
    default:
      return isTransientError(buf, p, end) ? REPLY_ERROR_TRANSIENT : REPLY_ERROR_NONE;
  }
}
