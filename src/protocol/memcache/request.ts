// Memcached ASCII request parser: client receive buffer → [this: command line + data block → offsets + command id] → forward.
//
// One request per parse() call. Everything saved between calls is relative to the request
// start, so after AGAIN the caller may hand over a new buffer holding the same partial request
// at another offset followed by more bytes. The command line is scanned once, byte by byte,
// recording token boundaries as it goes; a data block is never scanned, only its trailing CRLF
// is checked once `need` bytes are present.
//
//   IDLE ──> LINE: spaces separate tokens, the first token is looked up as soon as it ends
//             │     (get/gets raise the line limit); CR must be followed by LF; a NUL or a bare LF
//             │     is noted (memcached would end the line there) and refused once all else is valid
//             │ CRLF
//             v
//           check the tokens against the command's SHAPE_* ──bad──> ERROR (reply, keep connection)
//             │ storage command (bytes token valid)
//             v
//           DATA: wait for line + bytes + 2, check CRLF at the end ──> OK
//                 (a storage line with another bad token still swallows its data block, then ERROR)
//
// Errors carry the exact reply to send (memcached 1.6 wording) and whether the stream can be
// resynchronised (`closeAfter`):
//   unknown name, uppercase name, empty line, wrong token count   → ERROR                                  keep
//   bad number / noreply / meta flag, key > 250 bytes              → CLIENT_ERROR bad command line format   keep
//   flags or cas > 2^64-1, exptime > 2^63-1 (storage commands)     → CLIENT_ERROR bad command line format   keep
//   NUL or bare LF inside an otherwise valid line                  → CLIENT_ERROR bad command line format   keep
//   data block not followed by CRLF at its declared length         → CLIENT_ERROR bad data chunk            close
//   no CRLF within MC_MAX_LINE (get/gets: MC_MAX_GET_LINE) bytes   → CLIENT_ERROR line too long             close
//   CR not followed by LF                                          → CLIENT_ERROR bad command line format   close
//   data length > MC_MAX_DATA                                      → SERVER_ERROR object too large for cache close
//
// Deviations from twemproxy 0.5.0 (which closes the connection on every bad request):
// replies as above; a storage line whose bytes token is valid but another token is bad swallows
// its data block (so the data is never taken for a command) and replies once.
//
// Lines memcached would read differently are refused, never forwarded (the server connection
// would fall out of step): a NUL ends memcached's token scan and a bare LF its line; a number past
// memcached's 64-bit parse makes it answer twice (an error, then ERROR for the data block it does
// not swallow). A meta flag token starting with `q` is quiet for memcached whatever follows the `q`.

import { OK, AGAIN, ERROR, type ParseStatus } from '../parse';
import {
  MC_COMMANDS,
  MC_UNKNOWN,
  lookupCommand,
  SHAPE_RETRIEVAL,
  SHAPE_STORAGE,
  SHAPE_CAS,
  SHAPE_KEY_NUM,
  SHAPE_DELETE,
  SHAPE_NOARGS,
  SHAPE_META,
  SHAPE_META_SET,
} from './commands';
import { REPLY_ERROR, REPLY_BAD_FORMAT, REPLY_BAD_CHUNK, REPLY_LINE_TOO_LONG, REPLY_TOO_LARGE } from './replies';

/** Longest key, in bytes. */
export const MC_MAX_KEY = 250;
/** Longest meta key when the `b` flag says it is base64 (250 bytes encoded, with padding). */
export const MC_MAX_KEY_B64 = 336;
/** Longest command line, CRLF included, for every command but get/gets (memcached's 2048). */
export const MC_MAX_LINE = 2048;
/** Longest get/gets command line, CRLF included (memcached has no limit; 1 MiB ≈ 4000 keys of 250 bytes). */
export const MC_MAX_GET_LINE = 1048576;
/** Largest data block accepted (memcached's largest item size setting, -I 1024m). */
export const MC_MAX_DATA = 1073741824;

const S_IDLE = 0;
const S_LINE = 1;
const S_DATA = 2;

const NUL = 0;
const CR = 13;
const LF = 10;
const SP = 32;
const Q = 0x71;
const B = 0x62;

/** Largest flags and cas value memcached parses (2^64-1), and largest exptime (2^63-1). */
const U64_MAX = Buffer.from('18446744073709551615');
const I64_MAX = Buffer.from('9223372036854775807');

// Internal error codes → reply, text, closeAfter.
const E_NONE = 0;
const E_UNKNOWN = 1;
const E_ARGS = 2;
const E_FORMAT = 3;
const E_KEY = 4;
const E_NOREPLY = 5;
const E_FLAG = 6;
const E_CHUNK = 7;
const E_LINE = 8;
const E_CRLF = 9;
const E_TOO_LARGE = 10;
const E_RANGE = 11;
const E_BYTE = 12;

const ERR_REPLY: readonly Buffer[] = [
  REPLY_ERROR,
  REPLY_ERROR,
  REPLY_ERROR,
  REPLY_BAD_FORMAT,
  REPLY_BAD_FORMAT,
  REPLY_BAD_FORMAT,
  REPLY_BAD_FORMAT,
  REPLY_BAD_CHUNK,
  REPLY_LINE_TOO_LONG,
  REPLY_BAD_FORMAT,
  REPLY_TOO_LARGE,
  REPLY_BAD_FORMAT,
  REPLY_BAD_FORMAT,
];
const ERR_REPLY_TEXT: readonly string[] = ERR_REPLY.map((b) => b.toString('latin1'));
const ERR_TEXT: readonly string[] = [
  '',
  'unknown command',
  'wrong number of arguments',
  'bad number',
  'bad key length',
  'expected noreply',
  'bad meta flag',
  'data block not followed by CRLF',
  'command line too long',
  'CR not followed by LF',
  'data block too large',
  'number out of range',
  'NUL or LF inside the command line',
];
const ERR_CLOSE: readonly boolean[] = [false, false, false, false, false, false, false, true, true, true, true, false, false];

export class McRequestParser {
  // --- results (after OK; `cmd`, `end` also after ERROR)
  /** Absolute offset just past the request (after ERROR: where the next request starts, unless closeAfter). */
  end = 0;
  /** Command id (MC_*), MC_UNKNOWN for an unknown name. */
  cmd = MC_UNKNOWN;
  /** Keys as absolute offsets [s1, e1, s2, e2, ...]: every key of get/gets, else the one key; reused between requests. */
  keys: number[] = [];
  /** Number of keys (keys.length / 2): 0 for version, quit, mn. */
  nkeys = 0;
  /** `noreply` was the last token (classic commands only). */
  noreply = false;
  /** Absolute offset just past the command line's CRLF. */
  headerEnd = 0;
  /** Storage commands: the data block buf[dataStart, dataEnd), CRLF excluded; -1 otherwise. */
  dataStart = -1;
  dataEnd = -1;
  /** Storage commands: the declared data length (bytes token; for ms the second token); -1 otherwise. */
  dataLen = -1;
  /** Meta commands: a flag token starts with `q` (the reply is then read in MODE_META_QUIET). */
  quiet = false;
  /** Meta commands: flag `b` present (the key is base64). */
  base64Key = false;
  // --- after AGAIN / ERROR
  /** After AGAIN: bytes needed from the request start before another call can make progress. */
  need = 0;
  /** After ERROR: what was wrong (for logs). */
  errorText = '';
  /** After ERROR: the exact reply to send to the client, CRLF included. */
  replyText = '';
  /** After ERROR: replyText as a shared constant Buffer. */
  reply: Buffer = REPLY_ERROR;
  /** After ERROR: the stream cannot be resynchronised; send `reply`, then close. */
  closeAfter = false;

  // --- state between calls, all relative to the request start
  private state = S_IDLE;
  /** Next line byte to examine. */
  private scan = 0;
  /** Start of the token being scanned, -1 between tokens. */
  private tokStart = -1;
  /** Token boundaries [s0, e0, s1, e1, ...]; token 0 is the command name. */
  private toks: number[] = [];
  /** Used length of toks. */
  private ntok = 0;
  /** Current line limit (raised once the name is get/gets). */
  private lineLimit = MC_MAX_LINE;
  /** Just past the command line's CRLF. */
  private lineEnd = 0;
  /** Error to report once the data block has been swallowed (E_NONE: none). */
  private pendErr = E_NONE;
  /** The line holds a NUL or a bare LF: refused where it would otherwise be OK. */
  private badByte = false;

  /** Forgets a partial request (e.g. after the caller dropped the connection's buffer). */
  reset(): void {
    this.state = S_IDLE;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    if (this.state === S_DATA) return this.data(buf, start);
    if (this.state === S_IDLE) {
      this.scan = 0;
      this.tokStart = -1;
      this.ntok = 0;
      this.cmd = MC_UNKNOWN;
      this.lineLimit = MC_MAX_LINE;
      this.badByte = false;
      this.state = S_LINE;
    }
    const len = buf.length;
    const toks = this.toks;
    let n = this.ntok;
    let ts = this.tokStart < 0 ? -1 : start + this.tokStart;
    // Last offset where the line's CR may sit.
    let lim = start + this.lineLimit - 2;
    let i = start + this.scan;
    for (; i < len; i++) {
      if (i > lim) return this.fail(E_LINE, i);
      const c = buf[i]!;
      // Most bytes are above CR: one comparison sorts out SP, token bytes and control bytes.
      if (c > CR) {
        if (c === SP) {
          if (ts >= 0) {
            toks[n] = ts - start;
            toks[n + 1] = i - start;
            n += 2;
            ts = -1;
            if (n === 2) {
              const cmd = lookupCommand(buf, toks[0]! + start, i);
              this.cmd = cmd;
              if (cmd >= 0 && MC_COMMANDS[cmd]!.isRetrieval) {
                this.lineLimit = MC_MAX_GET_LINE;
                lim = start + MC_MAX_GET_LINE - 2;
              }
            }
          }
        } else if (ts < 0) {
          ts = i;
        }
      } else if (c === CR) {
        if (i + 1 >= len) break;
        if (buf[i + 1] !== LF) return this.fail(E_CRLF, i);
        if (ts >= 0) {
          toks[n] = ts - start;
          toks[n + 1] = i - start;
          n += 2;
          if (n === 2) this.cmd = lookupCommand(buf, ts, i);
        }
        this.ntok = n;
        this.lineEnd = i + 2 - start;
        return this.line(buf, start);
      } else {
        // A token byte, but memcached would end its line (LF) or its token scan (NUL) here.
        if (c === LF || c === NUL) this.badByte = true;
        if (ts < 0) ts = i;
      }
    }
    // No complete line yet (i is at the end, or at a CR that is the last byte).
    this.scan = i - start;
    this.tokStart = ts < 0 ? -1 : ts - start;
    this.ntok = n;
    this.need = this.scan + 2;
    return AGAIN;
  }

  /** The command line is complete: check its tokens against the command's shape. */
  private line(buf: Buffer, start: number): ParseStatus {
    const cmd = this.cmd;
    const lineEnd = start + this.lineEnd;
    this.headerEnd = lineEnd;
    this.noreply = false;
    this.quiet = false;
    this.base64Key = false;
    this.dataStart = -1;
    this.dataEnd = -1;
    this.dataLen = -1;
    if (cmd < 0) return this.fail(E_UNKNOWN, lineEnd);
    const toks = this.toks;
    const nt = this.ntok >> 1;
    const keys = this.keys;
    switch (MC_COMMANDS[cmd]!.shape) {
      case SHAPE_RETRIEVAL: {
        if (nt < 2) return this.fail(E_ARGS, lineEnd);
        for (let k = 1; k < nt; k++) {
          const s = toks[2 * k]!;
          const e = toks[2 * k + 1]!;
          if (e - s > MC_MAX_KEY) return this.fail(E_KEY, lineEnd);
          keys[2 * k - 2] = start + s;
          keys[2 * k - 1] = start + e;
        }
        this.setKeyCount(nt - 1);
        return this.done(lineEnd);
      }
      case SHAPE_STORAGE:
      case SHAPE_CAS: {
        const cas = MC_COMMANDS[cmd]!.shape === SHAPE_CAS ? 1 : 0;
        if (nt !== 5 + cas && nt !== 6 + cas) return this.fail(E_ARGS, lineEnd);
        const dl = parseLength(buf, start + toks[8]!, start + toks[9]!);
        if (dl === -1) return this.fail(E_FORMAT, lineEnd);
        if (dl === -2) return this.fail(E_TOO_LARGE, lineEnd);
        // within memcached's 64-bit parse: flags and cas unsigned, exptime signed
        let err = toks[3]! - toks[2]! > MC_MAX_KEY ? E_KEY : number(buf, start + toks[4]!, start + toks[5]!, U64_MAX);
        if (err === E_NONE) err = number(buf, start + toks[6]!, start + toks[7]!, I64_MAX);
        if (err === E_NONE && cas === 1) err = number(buf, start + toks[10]!, start + toks[11]!, U64_MAX);
        if (err === E_NONE && nt === 6 + cas) {
          if (isNoreply(buf, start + toks[10 + 2 * cas]!, start + toks[11 + 2 * cas]!)) this.noreply = true;
          else err = E_NOREPLY;
        }
        return this.startData(buf, start, dl, err);
      }
      case SHAPE_KEY_NUM: {
        if (nt !== 3 && nt !== 4) return this.fail(E_ARGS, lineEnd);
        if (toks[3]! - toks[2]! > MC_MAX_KEY) return this.fail(E_KEY, lineEnd);
        let s = start + toks[4]!;
        if (buf[s] === 0x2d) s++;
        if (!digits(buf, s, start + toks[5]!)) return this.fail(E_FORMAT, lineEnd);
        if (nt === 4) {
          if (!isNoreply(buf, start + toks[6]!, start + toks[7]!)) return this.fail(E_NOREPLY, lineEnd);
          this.noreply = true;
        }
        return this.oneKey(start, lineEnd);
      }
      case SHAPE_DELETE: {
        if (nt !== 2 && nt !== 3) return this.fail(E_ARGS, lineEnd);
        if (toks[3]! - toks[2]! > MC_MAX_KEY) return this.fail(E_KEY, lineEnd);
        if (nt === 3) {
          if (!isNoreply(buf, start + toks[4]!, start + toks[5]!)) return this.fail(E_NOREPLY, lineEnd);
          this.noreply = true;
        }
        return this.oneKey(start, lineEnd);
      }
      case SHAPE_NOARGS: {
        if (nt !== 1) return this.fail(E_ARGS, lineEnd);
        this.setKeyCount(0);
        return this.done(lineEnd);
      }
      case SHAPE_META: {
        if (nt < 2) return this.fail(E_ARGS, lineEnd);
        const err = this.metaFlags(buf, start, 2, nt);
        if (err !== E_NONE) return this.fail(err, lineEnd);
        return this.oneKey(start, lineEnd);
      }
      case SHAPE_META_SET: {
        if (nt < 3) return this.fail(E_ARGS, lineEnd);
        const dl = parseLength(buf, start + toks[4]!, start + toks[5]!);
        if (dl === -1) return this.fail(E_FORMAT, lineEnd);
        if (dl === -2) return this.fail(E_TOO_LARGE, lineEnd);
        return this.startData(buf, start, dl, this.metaFlags(buf, start, 3, nt));
      }
      default:
        return this.fail(E_UNKNOWN, lineEnd);
    }
  }

  /** Checks meta flag tokens [first, nt) (a letter, then an optional value), notes q… and b, then the key length. */
  private metaFlags(buf: Buffer, start: number, first: number, nt: number): number {
    const toks = this.toks;
    let quiet = false;
    let b64 = false;
    for (let k = first; k < nt; k++) {
      const s = start + toks[2 * k]!;
      const c = buf[s]! | 0x20;
      if (c < 97 || c > 122) return E_FLAG;
      // memcached reads only the first letter of `q…`: quiet whatever follows; `b` counts only alone.
      if (buf[s] === Q) quiet = true;
      else if (buf[s] === B && start + toks[2 * k + 1]! - s === 1) b64 = true;
    }
    this.quiet = quiet;
    this.base64Key = b64;
    if (toks[3]! - toks[2]! > (b64 ? MC_MAX_KEY_B64 : MC_MAX_KEY)) return E_KEY;
    return E_NONE;
  }

  private startData(buf: Buffer, start: number, dataLen: number, err: number): ParseStatus {
    this.dataLen = dataLen;
    this.pendErr = err;
    this.state = S_DATA;
    return this.data(buf, start);
  }

  /** Waits for the data block and its CRLF; nothing inside the block is looked at. */
  private data(buf: Buffer, start: number): ParseStatus {
    const total = this.lineEnd + this.dataLen + 2;
    if (buf.length - start < total) {
      this.need = total;
      return AGAIN;
    }
    const de = start + this.lineEnd + this.dataLen;
    if (buf[de] !== CR || buf[de + 1] !== LF) return this.fail(E_CHUNK, de);
    if (this.pendErr !== E_NONE) return this.fail(this.pendErr, start + total);
    this.headerEnd = start + this.lineEnd;
    this.dataStart = this.headerEnd;
    this.dataEnd = de;
    return this.oneKey(start, start + total);
  }

  private oneKey(start: number, end: number): ParseStatus {
    const keys = this.keys;
    keys[0] = start + this.toks[2]!;
    keys[1] = start + this.toks[3]!;
    this.setKeyCount(1);
    return this.done(end);
  }

  private setKeyCount(nkeys: number): void {
    this.nkeys = nkeys;
    if (this.keys.length !== 2 * nkeys) this.keys.length = 2 * nkeys;
  }

  private done(end: number): ParseStatus {
    // Valid but for a NUL or bare LF: refused after the whole request (data block included) is consumed.
    if (this.badByte) return this.fail(E_BYTE, end);
    this.end = end;
    this.state = S_IDLE;
    return OK;
  }

  private fail(code: number, end: number): ParseStatus {
    this.end = end;
    this.errorText = ERR_TEXT[code]!;
    this.reply = ERR_REPLY[code]!;
    this.replyText = ERR_REPLY_TEXT[code]!;
    this.closeAfter = ERR_CLOSE[code]!;
    this.state = S_IDLE;
    return ERROR;
  }
}

/** buf[s, e) is one or more decimal digits. */
function digits(buf: Buffer, s: number, e: number): boolean {
  if (s >= e) return false;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** buf[s, e) is digits (else E_FORMAT) of a value at most `max`, a decimal without leading zeros (else E_RANGE). */
function number(buf: Buffer, s: number, e: number, max: Buffer): number {
  if (!digits(buf, s, e)) return E_FORMAT;
  while (s < e - 1 && buf[s] === 0x30) s++;
  const n = e - s;
  if (n !== max.length) return n < max.length ? E_NONE : E_RANGE;
  return buf.compare(max, 0, n, s, e) <= 0 ? E_NONE : E_RANGE;
}

/** Decimal data length in buf[s, e): -1 if not digits only, -2 if above MC_MAX_DATA. */
function parseLength(buf: Buffer, s: number, e: number): number {
  if (s >= e) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return -1;
    if (v <= MC_MAX_DATA) v = v * 10 + (c - 48);
  }
  return v > MC_MAX_DATA ? -2 : v;
}

/** buf[s, e) is exactly `noreply`. */
function isNoreply(buf: Buffer, s: number, e: number): boolean {
  return (
    e - s === 7 &&
    buf[s] === 0x6e &&
    buf[s + 1] === 0x6f &&
    buf[s + 2] === 0x72 &&
    buf[s + 3] === 0x65 &&
    buf[s + 4] === 0x70 &&
    buf[s + 5] === 0x6c &&
    buf[s + 6] === 0x79
  );
}
