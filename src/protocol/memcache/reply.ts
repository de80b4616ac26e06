// Memcached ASCII reply parser: server receive buffer → [this: one reply → offsets + kind] → merge / client.
//
// One reply per parse() call; the caller sets `mode` (from the request at the head of the
// server's in-flight queue) before the first call for each reply. State saved between calls is
// relative to the reply start, so after AGAIN the caller may hand over a new buffer holding the
// same partial reply at another offset followed by more bytes. Each line is scanned once for its
// CR (the scan position is saved), then read; data blocks are skipped by length, never scanned.
//
//   LINE ──CRLF──> read the line per mode
//     ^              │ VALUE / VA header: note the block
//     │              v
//     └──next line── DATA: wait for header + bytes + 2, check the CRLF
//
//   MODE_RETRIEVAL   (VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n)* END\r\n   → K_VALUES
//                    an error line (ERROR, CLIENT_ERROR …, SERVER_ERROR …) ends the reply too → K_*ERROR
//   MODE_SINGLE      STORED NOT_STORED EXISTS NOT_FOUND DELETED TOUCHED END `VERSION …` <number> ERROR …
//   MODE_META        VA <size> <flags>*\r\n<data>\r\n | HD … | EN | NF … | NS … | EX … | MN | ME … | error line
//   MODE_META_QUIET  [one MODE_META reply] MN\r\n   (the proxy appends `mn\r\n` to a quiet meta request;
//                    `bodyEnd` is where the MN line starts: relay buf[start, bodyEnd) only)

import { OK, AGAIN, ERROR, type ParseStatus } from '../parse';

export const MODE_RETRIEVAL = 0;
export const MODE_SINGLE = 1;
export const MODE_META = 2;
export const MODE_META_QUIET = 3;

/** A bare `END` line in MODE_SINGLE. */
export const K_END = 0;
/** A retrieval reply, possibly with zero values. */
export const K_VALUES = 1;
export const K_STORED = 2;
export const K_NOT_STORED = 3;
export const K_EXISTS = 4;
export const K_NOT_FOUND = 5;
export const K_DELETED = 6;
export const K_TOUCHED = 7;
export const K_VERSION = 8;
/** incr/decr result. */
export const K_NUMBER = 9;
export const K_ERROR = 10;
export const K_CLIENT_ERROR = 11;
export const K_SERVER_ERROR = 12;
/** Any meta reply (see `metaCode`); in MODE_META_QUIET also the bare MN. */
export const K_META = 13;

/** Meta reply codes (`metaCode`): the two ASCII bytes, first byte high. */
export const META_VA = 0x5641;
export const META_HD = 0x4844;
export const META_EN = 0x454e;
export const META_NF = 0x4e46;
export const META_NS = 0x4e53;
export const META_EX = 0x4558;
export const META_MN = 0x4d4e;
export const META_ME = 0x4d45;

/** Longest reply line accepted, CRLF included. */
export const MC_MAX_REPLY_LINE = 8192;
/** Largest data block accepted in a reply. */
export const MC_MAX_REPLY_DATA = 1073741824;

const S_IDLE = 0;
const S_LINE = 1;
const S_DATA = 2;

const CR = 13;
const LF = 10;
const SP = 32;

const W_VALUE = Buffer.from('VALUE ', 'latin1');
const W_END = Buffer.from('END', 'latin1');
const W_ERROR = Buffer.from('ERROR', 'latin1');
const W_CLIENT_ERROR = Buffer.from('CLIENT_ERROR', 'latin1');
const W_SERVER_ERROR = Buffer.from('SERVER_ERROR', 'latin1');
const W_STORED = Buffer.from('STORED', 'latin1');
const W_NOT_STORED = Buffer.from('NOT_STORED', 'latin1');
const W_NOT_FOUND = Buffer.from('NOT_FOUND', 'latin1');
const W_EXISTS = Buffer.from('EXISTS', 'latin1');
const W_DELETED = Buffer.from('DELETED', 'latin1');
const W_TOUCHED = Buffer.from('TOUCHED', 'latin1');
const W_VERSION = Buffer.from('VERSION', 'latin1');

export class McReplyParser {
  /** Set by the caller before the first parse() of each reply (MODE_*). */
  mode = MODE_SINGLE;
  // --- results (after OK)
  /** Absolute offset just past the reply. */
  end = 0;
  /** K_*. */
  kind = K_END;
  /** Retrieval: [blockStart, blockEnd, keyStart, keyEnd] per VALUE block, absolute; reused between replies. */
  values: number[] = [];
  /** Number of VALUE blocks (values.length / 4). */
  nvalues = 0;
  /** Retrieval with K_VALUES: offset of the `END\r\n` line. */
  endLineStart = 0;
  /** MODE_META_QUIET: offset where the MN line starts (== start when the server sent only MN); else `end`. */
  bodyEnd = 0;
  /** K_META: the reply's two-letter code (META_*); in quiet mode META_MN when only MN came. */
  metaCode = 0;
  /** VA reply: the data block buf[dataStart, dataEnd), CRLF excluded; -1 otherwise. */
  dataStart = -1;
  dataEnd = -1;
  // --- after AGAIN / ERROR
  /** After AGAIN: bytes needed from the reply start before another call can make progress. */
  need = 0;
  /** After ERROR: why the reply could not be parsed (the server connection should be closed). */
  errorText = '';

  // --- state between calls, all relative to the reply start
  private state = S_IDLE;
  /** Start of the current line. */
  private lineStart = 0;
  /** Next byte to examine for the line's CR. */
  private scan = 0;
  /** End of the pending data block, its CRLF included. */
  private blockEnd = 0;
  /** Pending VALUE key. */
  private keyStart = 0;
  private keyEnd = 0;
  /** Relative quads; converted into `values` on OK. */
  private vals: number[] = [];
  private nval = 0;
  /** Quiet meta: a reply before the MN has been read. */
  private gotReply = false;
  private firstKind = K_META;
  private firstCode = 0;
  private dataRel = -1;

  /** Forgets a partial reply. */
  reset(): void {
    this.state = S_IDLE;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    if (this.state === S_IDLE) {
      this.lineStart = 0;
      this.scan = 0;
      this.nval = 0;
      this.gotReply = false;
      this.firstKind = K_META;
      this.firstCode = META_MN;
      this.dataRel = -1;
      this.state = S_LINE;
    }
    const len = buf.length;
    for (;;) {
      if (this.state === S_DATA) {
        const be = start + this.blockEnd;
        if (be > len) {
          this.need = this.blockEnd + this.tail();
          return AGAIN;
        }
        if (buf[be - 2] !== CR || buf[be - 1] !== LF) return this.fail('data block not followed by CRLF');
        if (this.mode === MODE_RETRIEVAL) {
          const v = this.vals;
          const n = this.nval;
          v[n] = this.lineStart;
          v[n + 1] = this.blockEnd;
          v[n + 2] = this.keyStart;
          v[n + 3] = this.keyEnd;
          this.nval = n + 4;
        } else if (this.mode === MODE_META) {
          this.bodyEnd = be;
          return this.done(start, be, K_META);
        }
        // Retrieval: another VALUE or END follows; quiet meta: the MN line follows.
        this.lineStart = this.blockEnd;
        this.scan = this.blockEnd;
        this.state = S_LINE;
      }
      // S_LINE: find the CR of the line starting at lineStart.
      let i = start + this.scan;
      while (i < len && buf[i] !== CR) i++;
      if (i + 1 >= len) {
        this.scan = i - start;
        if (this.scan - this.lineStart + 2 > MC_MAX_REPLY_LINE) return this.fail('reply line too long');
        this.need = this.scan + 2;
        return AGAIN;
      }
      if (buf[i + 1] !== LF) return this.fail('CR not followed by LF');
      if (i + 2 - start - this.lineStart > MC_MAX_REPLY_LINE) return this.fail('reply line too long');
      const ls = start + this.lineStart;
      const next = i + 2;
      this.scan = next - start;
      const st = this.line(buf, start, ls, i, next);
      if (st !== AGAIN) return st;
      // AGAIN from line(): another line or a data block follows; loop on.
    }
  }

  /** Bytes that must still follow a data block before the reply can end. */
  private tail(): number {
    const m = this.mode;
    return m === MODE_RETRIEVAL ? 5 : m === MODE_META_QUIET ? 4 : 0;
  }

  /**
   * Reads the complete line buf[ls, le) (le at its CR; next just past LF). Returns OK or ERROR
   * when the reply is finished, AGAIN when it goes on (state set for the next line or block).
   */
  private line(buf: Buffer, start: number, ls: number, le: number, next: number): ParseStatus {
    const mode = this.mode;
    if (mode === MODE_RETRIEVAL) {
      if (startsWith(buf, ls, le, W_VALUE)) return this.valueLine(buf, start, ls, le, next);
      if (equals(buf, ls, le, W_END)) {
        this.endLineStart = ls;
        this.bodyEnd = next;
        return this.done(start, next, K_VALUES);
      }
      const ek = errorKind(buf, ls, le);
      if (ek < 0) return this.fail('unexpected line in a retrieval reply');
      this.bodyEnd = next;
      return this.done(start, next, ek);
    }
    if (mode === MODE_SINGLE) {
      const k = singleKind(buf, ls, le);
      if (k < 0) return this.fail('unexpected reply line');
      this.bodyEnd = next;
      return this.done(start, next, k);
    }
    // Meta modes.
    let kind = errorKind(buf, ls, le);
    let code = 0;
    if (kind < 0) {
      if (le - ls < 2 || (le - ls > 2 && buf[ls + 2] !== SP)) return this.fail('unexpected meta reply line');
      code = (buf[ls]! << 8) | buf[ls + 1]!;
      if (code === META_MN && le - ls !== 2) return this.fail('unexpected meta reply line');
      if (code !== META_VA && code !== META_HD && code !== META_EN && code !== META_NF && code !== META_NS &&
          code !== META_EX && code !== META_MN && code !== META_ME) {
        return this.fail('unexpected meta reply line');
      }
      kind = K_META;
    }
    if (mode === MODE_META_QUIET) {
      if (code === META_MN) {
        this.bodyEnd = ls;
        this.metaCode = this.firstCode;
        return this.done(start, next, this.firstKind);
      }
      if (this.gotReply) return this.fail('more than one reply before MN');
      this.gotReply = true;
      this.firstKind = kind;
      this.firstCode = code;
    } else {
      this.metaCode = code;
    }
    if (code === META_VA) {
      // VA <size> <flags>*
      let e = ls + 3;
      while (e < le && buf[e] !== SP) e++;
      const size = parseNumber(buf, ls + 3, e);
      if (size < 0 || size > MC_MAX_REPLY_DATA) return this.fail('bad VA size');
      this.dataRel = next - start;
      this.blockEnd = next - start + size + 2;
      this.state = S_DATA;
      return AGAIN;
    }
    if (mode === MODE_META) {
      this.bodyEnd = next;
      return this.done(start, next, kind);
    }
    this.lineStart = next - start;
    return AGAIN;
  }

  /** `VALUE <key> <flags> <bytes> [<cas>]`: notes the key and the block end. */
  private valueLine(buf: Buffer, start: number, ls: number, le: number, next: number): ParseStatus {
    let i = ls + 6;
    const ks = i;
    while (i < le && buf[i] !== SP) i++;
    const ke = i;
    if (ke === ks || i >= le) return this.fail('bad VALUE line');
    const fs = ++i;
    while (i < le && buf[i] !== SP) i++;
    if (parseNumber(buf, fs, i) < 0 || i >= le) return this.fail('bad VALUE line');
    const bs = ++i;
    while (i < le && buf[i] !== SP) i++;
    const bytes = parseNumber(buf, bs, i);
    if (bytes < 0 || bytes > MC_MAX_REPLY_DATA) return this.fail('bad VALUE line');
    if (i < le) {
      const cs = ++i;
      if (parseNumber(buf, cs, le) < 0) return this.fail('bad VALUE line');
    }
    this.keyStart = ks - start;
    this.keyEnd = ke - start;
    this.blockEnd = next - start + bytes + 2;
    this.state = S_DATA;
    return AGAIN;
  }

  private done(start: number, end: number, kind: number): ParseStatus {
    this.end = end;
    this.kind = kind;
    if (this.mode !== MODE_META_QUIET) this.metaCode = kind === K_META ? this.metaCode : 0;
    if (this.dataRel >= 0) {
      this.dataStart = start + this.dataRel;
      this.dataEnd = start + this.blockEnd - 2;
    } else {
      this.dataStart = -1;
      this.dataEnd = -1;
    }
    const n = this.nval;
    const v = this.vals;
    const out = this.values;
    for (let j = 0; j < n; j++) out[j] = start + v[j]!;
    if (out.length !== n) out.length = n;
    this.nvalues = n >> 2;
    this.state = S_IDLE;
    return OK;
  }

  private fail(text: string): ParseStatus {
    this.errorText = text;
    this.state = S_IDLE;
    return ERROR;
  }
}

/** buf[s, e) equals word. */
function equals(buf: Buffer, s: number, e: number, word: Buffer): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[s + i] !== word[i]) return false;
  return true;
}

/** buf[s, e) starts with word. */
function startsWith(buf: Buffer, s: number, e: number, word: Buffer): boolean {
  if (e - s < word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[s + i] !== word[i]) return false;
  return true;
}

/** buf[s, e) is `word` or `word <anything>`. */
function wordLine(buf: Buffer, s: number, e: number, word: Buffer): boolean {
  return startsWith(buf, s, e, word) && (e - s === word.length || buf[s + word.length] === SP);
}

/** K_ERROR / K_CLIENT_ERROR / K_SERVER_ERROR for an error line, else -1. */
function errorKind(buf: Buffer, s: number, e: number): number {
  const c = buf[s];
  if (c === 0x45) return wordLine(buf, s, e, W_ERROR) ? K_ERROR : -1;
  if (c === 0x43) return wordLine(buf, s, e, W_CLIENT_ERROR) ? K_CLIENT_ERROR : -1;
  if (c === 0x53) return wordLine(buf, s, e, W_SERVER_ERROR) ? K_SERVER_ERROR : -1;
  return -1;
}

/** Kind of a MODE_SINGLE line, or -1. */
function singleKind(buf: Buffer, s: number, e: number): number {
  const c = buf[s];
  if (c === undefined || s === e) return -1;
  if (c >= 48 && c <= 57) {
    // incr/decr result: digits, then optional spaces.
    let i = s + 1;
    while (i < e && buf[i]! >= 48 && buf[i]! <= 57) i++;
    while (i < e && buf[i] === SP) i++;
    return i === e ? K_NUMBER : -1;
  }
  switch (c) {
    case 0x53: // S
      if (equals(buf, s, e, W_STORED)) return K_STORED;
      return wordLine(buf, s, e, W_SERVER_ERROR) ? K_SERVER_ERROR : -1;
    case 0x4e: // N
      if (equals(buf, s, e, W_NOT_FOUND)) return K_NOT_FOUND;
      return equals(buf, s, e, W_NOT_STORED) ? K_NOT_STORED : -1;
    case 0x45: // E
      if (equals(buf, s, e, W_EXISTS)) return K_EXISTS;
      if (equals(buf, s, e, W_END)) return K_END;
      return wordLine(buf, s, e, W_ERROR) ? K_ERROR : -1;
    case 0x44: // D
      return equals(buf, s, e, W_DELETED) ? K_DELETED : -1;
    case 0x54: // T
      return equals(buf, s, e, W_TOUCHED) ? K_TOUCHED : -1;
    case 0x56: // V
      return wordLine(buf, s, e, W_VERSION) ? K_VERSION : -1;
    case 0x43: // C
      return wordLine(buf, s, e, W_CLIENT_ERROR) ? K_CLIENT_ERROR : -1;
    default:
      return -1;
  }
}

/** Decimal number in buf[s, e) (digits only, ≤ 20 digits), -1 otherwise. Large values lose precision; only lengths are used. */
function parseNumber(buf: Buffer, s: number, e: number): number {
  if (s >= e || e - s > 20) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}
