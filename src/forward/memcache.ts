// Request lifecycle for memcached pools: each parsed request is answered locally (quit, mn),
// forwarded whole to the server of its key (zero copy), or, for a multi-key get/gets, split
// per server and merged back into one reply in key order with one END.
//
//   parsed request ─► quit/mn: local ─► version: `placeholder` ─► get k1 k2 k3: fragments ─► merge
//                                      ─► anything else: route key ─► server (bytes as received)
//   quiet meta (mg k q): forwarded followed by `mn\r\n`, so the reply always ends at `MN`.

import type { ParseStatus } from '../protocol/parse';
import { McRequestParser } from '../protocol/memcache/request';
import { McReplyParser, MODE_META_QUIET, K_VALUES, K_END, K_SERVER_ERROR, K_CLIENT_ERROR, K_ERROR } from '../protocol/memcache/reply';
import { MC_COMMANDS, MC_QUIT, MC_MN, MC_GETS, SHAPE_STORAGE, SHAPE_CAS } from '../protocol/memcache/commands';
import { REPLY_MN, REPLY_BAD_FORMAT, serverError } from '../protocol/memcache/replies';
import { mergeRetrieval } from '../protocol/memcache/merge';
import { allocMsg, type Msg } from './msg';
import type { Protocol, ReplyReader, RequestReader } from './protocol';
import type { ClientConn } from '../client/conn';
import type { ServerPool } from '../server/pool';

const PLACEHOLDER = Buffer.from('placeholder');
const MN_REQUEST = Buffer.from('mn\r\n');
const GET_ = Buffer.from('get ');
const GETS_ = Buffer.from('gets ');
/** Msg.fragType marker on a quiet meta request (its reply ends at MN). */
const QUIET = 1;

const LINE_OK = 0;
/** memcached would read the line differently: refuse it (forwarding it would put the server connection out of step). */
const LINE_BAD = 1;
/** A meta flag token starts with `q`: memcached applies noreply semantics whatever follows the `q`. */
const LINE_QUIET = 2;
const NUL = 0;
const LF = 10;
const SP = 32;
const Q = 0x71;
const U64_MAX = Buffer.from('18446744073709551615');
const I64_MAX = Buffer.from('9223372036854775807');

/**
 * What memcached reads differently from the request parser, on the command line buf[s, e) (e at its CR):
 * a NUL or a bare LF ends memcached's line early; a flags/exptime/cas number past its 64-bit parse makes
 * it answer twice (an error, then ERROR for the data block it does not swallow) — LINE_BAD; a meta flag
 * token starting with `q` is quiet for memcached even with more letters after it — LINE_QUIET.
 */
function checkLine(buf: Buffer, s: number, e: number, shape: number): number {
  const storage = shape === SHAPE_STORAGE || shape === SHAPE_CAS;
  let quiet = false;
  let tok = -1;
  let ts = -1;
  for (let i = s; i <= e; i++) {
    const c = i < e ? buf[i]! : SP;
    if (c === NUL || c === LF) return LINE_BAD;
    if (c === SP) {
      const num = storage && (tok === 2 || tok === 3 || (tok === 5 && shape === SHAPE_CAS));
      if (ts >= 0 && num && !fits(buf, ts, i, tok === 3 ? I64_MAX : U64_MAX)) return LINE_BAD;
      ts = -1;
    } else if (ts < 0) {
      ts = i;
      tok++;
      if (tok >= 2 && c === Q) quiet = true;
    }
  }
  return quiet ? LINE_QUIET : LINE_OK;
}

/** The decimal digits buf[s, e) are at most max (a decimal string without leading zeros). */
function fits(buf: Buffer, s: number, e: number, max: Buffer): boolean {
  while (s < e - 1 && buf[s] === 0x30) s++;
  const n = e - s;
  if (n !== max.length) return n < max.length;
  return buf.compare(max, 0, n, s, e) <= 0;
}

class McRequestReader implements RequestReader {
  private readonly p = new McRequestParser();
  private readonly pool: ServerPool;

  constructor(pool: ServerPool) {
    this.pool = pool;
  }

  get end(): number {
    return this.p.end;
  }

  get need(): number {
    return this.p.need;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    return this.p.parse(buf, start);
  }

  errorReply(): Buffer {
    return this.p.reply;
  }

  errorCloses(): boolean {
    return this.p.closeAfter;
  }

  dispatch(client: ClientConn, msg: Msg, buf: Buffer, start: number, end: number): void {
    const p = this.p;
    const cmd = p.cmd;
    msg.buf = buf;
    msg.start = start;
    msg.end = end;
    msg.cmd = cmd;
    const line = cmd < 0 ? LINE_OK : checkLine(buf, start, p.headerEnd - 2, MC_COMMANDS[cmd]!.shape);
    if (line === LINE_BAD) {
      msg.reply = REPLY_BAD_FORMAT;
      msg.done = true;
      return;
    }
    if (cmd === MC_QUIT) {
      client.quit(msg);
      return;
    }
    if (cmd === MC_MN) {
      msg.reply = REPLY_MN;
      msg.done = true;
      return;
    }
    const row = MC_COMMANDS[cmd]!;
    if (row.keyless) {
      this.pool.forward(msg, PLACEHOLDER, 0, PLACEHOLDER.length);
      return;
    }
    if (row.isRetrieval && p.nkeys > 1) {
      this.fragment(msg, buf, cmd === MC_GETS ? GETS_ : GET_);
      return;
    }
    if (p.noreply) msg.expectReply = false;
    if (row.isMeta && (p.quiet || line === LINE_QUIET)) {
      msg.suffix = MN_REQUEST;
      msg.fragType = QUIET;
    }
    this.pool.forward(msg, buf, p.keys[0] as number, p.keys[1] as number);
  }

  /** `get k1 k2 k3` ─► `get k1 k3\r\n` to one server, `get k2\r\n` to another, in server order. */
  private fragment(parent: Msg, buf: Buffer, verb: Buffer): void {
    const p = this.p;
    const pool = this.pool;
    const keys = p.keys;
    const nkeys = p.nkeys;
    const { count, size, fragOf } = pool.scratch;
    count.fill(0);
    size.fill(0);
    const keyFrag = new Array<number>(nkeys);
    for (let i = 0; i < nkeys; i++) {
      const idx = pool.route(buf, keys[2 * i] as number, keys[2 * i + 1] as number);
      if (idx < 0) {
        pool.failMsg(parent, 'Connection refused');
        return;
      }
      keyFrag[i] = idx;
      count[idx]!++;
      size[idx]! += (keys[2 * i + 1] as number) - (keys[2 * i] as number) + 1;
    }
    const frags: Msg[] = [];
    for (let s = 0; s < count.length; s++) {
      if (count[s] === 0) continue;
      // verb + each key followed by a space + CRLF: `get k1 k3 \r\n`, byte for byte as twemproxy sends it
      const fb = Buffer.allocUnsafe(verb.length + (size[s] as number) + 2);
      verb.copy(fb, 0);
      size[s] = verb.length;
      fragOf[s] = frags.length;
      const f = allocMsg();
      f.parent = parent;
      f.cmd = parent.cmd;
      f.buf = fb;
      f.end = fb.length;
      f.server = s;
      frags.push(f);
    }
    for (let i = 0; i < nkeys; i++) {
      const s = keyFrag[i] as number;
      const f = frags[fragOf[s] as number] as Msg;
      let o = size[s] as number;
      o += buf.copy(f.buf, o, keys[2 * i] as number, keys[2 * i + 1] as number);
      f.buf[o++] = 0x20;
      size[s] = o;
      keyFrag[i] = fragOf[s] as number;
    }
    for (const f of frags) {
      f.buf[f.buf.length - 2] = 13;
      f.buf[f.buf.length - 1] = 10;
    }
    parent.frags = frags;
    parent.keyFrag = keyFrag;
    parent.pending = frags.length;
    // Keep the client's key offsets for the merge (the parser's array is reused).
    parent.fragOffsets = keys.slice(0, 2 * nkeys);
    pool.stats.fragments += frags.length;
    for (const f of frags) pool.send(f.server, f, f.buf);
  }
}

class McReplyReader implements ReplyReader {
  private readonly p = new McReplyParser();

  get end(): number {
    return this.p.end;
  }

  get need(): number {
    return this.p.need;
  }

  get errorText(): string {
    return this.p.errorText;
  }

  prepare(msg: Msg): void {
    this.p.mode = msg.fragType === QUIET && msg.parent === null ? MODE_META_QUIET : MC_COMMANDS[msg.cmd]!.replyMode;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    return this.p.parse(buf, start);
  }

  complete(msg: Msg, buf: Buffer, start: number, end: number): boolean {
    const p = this.p;
    if (msg.parent === null) {
      if (msg.fragType === QUIET) {
        const bodyEnd = p.bodyEnd;
        msg.reply = bodyEnd > start ? buf.subarray(start, bodyEnd) : null;
      } else {
        msg.reply = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
      }
      return true;
    }
    msg.fragReply = buf.subarray(start, end);
    msg.fragType = p.kind;
    if (p.kind === K_VALUES || p.kind === K_END) {
      const v = p.values;
      const n = p.nvalues * 4;
      const offs = new Array<number>(n);
      for (let i = 0; i < n; i++) offs[i] = (v[i] as number) - start;
      msg.fragOffsets = offs;
    }
    return true;
  }
}

/** One reply for a split get: VALUE blocks in the client's key order, then one END. */
function merge(parent: Msg): void {
  const frags = parent.frags!;
  for (const f of frags) {
    if (f.fragError !== null) {
      parent.reply = serverError(f.fragError);
      return;
    }
  }
  for (const f of frags) {
    if (f.fragType !== K_VALUES && f.fragType !== K_END) {
      const k = f.fragType;
      parent.reply = (k === K_SERVER_ERROR || k === K_CLIENT_ERROR || k === K_ERROR) && f.fragReply !== null ? f.fragReply : serverError('Invalid argument');
      return;
    }
  }
  parent.reply = mergeRetrieval(
    parent.buf,
    parent.fragOffsets!,
    parent.keyFrag!,
    frags.map((f) => f.fragReply!),
    frags.map((f) => f.fragOffsets ?? []),
  );
}

export const memcacheProtocol: Protocol = {
  redis: false,
  newRequestReader: (pool) => new McRequestReader(pool),
  newReplyReader: () => new McReplyReader(),
  errorReply: (text) => serverError(text),
  handshake: () => [],
  merge,
};
