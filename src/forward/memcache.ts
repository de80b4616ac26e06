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
import { MC_COMMANDS, MC_QUIT, MC_MN, MC_GETS } from '../protocol/memcache/commands';
import { REPLY_MN, serverError } from '../protocol/memcache/replies';
import { mergeRetrieval } from '../protocol/memcache/merge';
import { allocMsg, type Msg } from './msg';
import { copyBytes } from '../util/bytes';
import { REPLY_GOOD, type Forwarder, type Protocol, type ReplyReader, type ReplyStatus, type RequestReader, type Session } from './protocol';

const PLACEHOLDER = Buffer.from('placeholder');
const MN_REQUEST = Buffer.from('mn\r\n');
const GET_ = Buffer.from('get ');
const GETS_ = Buffer.from('gets ');

class McRequestReader implements RequestReader {
  private readonly p = new McRequestParser();

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

  dispatch(client: Session, msg: Msg, buf: Buffer, start: number, end: number): void {
    const p = this.p;
    const fw = client.forwarder;
    const cmd = p.cmd;
    msg.buf = buf;
    msg.start = start;
    msg.end = end;
    msg.cmd = cmd;
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
      fw.forward(msg, PLACEHOLDER, 0, PLACEHOLDER.length);
      return;
    }
    if (row.isRetrieval && p.nkeys > 1) {
      this.fragment(fw, msg, buf, cmd === MC_GETS ? GETS_ : GET_);
      return;
    }
    if (p.noreply) msg.expectReply = false;
    if (p.quiet) {
      msg.suffix = MN_REQUEST;
      msg.quiet = true;
    }
    fw.forward(msg, buf, p.keys[0] as number, p.keys[1] as number);
  }

  /** `get k1 k2 k3` ─► `get k1 k3\r\n` to one server, `get k2\r\n` to another, in server order. */
  private fragment(fw: Forwarder, parent: Msg, buf: Buffer, verb: Buffer): void {
    const p = this.p;
    const table = fw.table();
    const keys = p.keys;
    const nkeys = p.nkeys;
    const scratch = table.scratch;
    scratch.reset();
    const { count, size, fragOf } = scratch;
    const keyFrag = new Array<number>(nkeys);
    for (let i = 0; i < nkeys; i++) {
      const idx = table.route(buf, keys[2 * i] as number, keys[2 * i + 1] as number);
      if (idx < 0) {
        fw.failMsg(parent, 'Connection refused');
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
      frags.push(f);
    }
    for (let i = 0; i < nkeys; i++) {
      const s = keyFrag[i] as number;
      const f = frags[fragOf[s] as number] as Msg;
      let o = copyBytes(buf, keys[2 * i] as number, keys[2 * i + 1] as number, f.buf, size[s] as number);
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
    fw.stats.fragments += frags.length;
    // In target order, as the fragments were built.
    let fi = 0;
    for (let s = 0; s < count.length; s++) {
      if (count[s] === 0) continue;
      const f = frags[fi++] as Msg;
      fw.send(table.target(s), f, f.buf);
    }
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

  reset(): void {
    this.p.reset();
  }

  prepare(msg: Msg): void {
    this.p.mode = msg.quiet ? MODE_META_QUIET : MC_COMMANDS[msg.cmd]!.replyMode;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    return this.p.parse(buf, start);
  }

  complete(msg: Msg, buf: Buffer, start: number, end: number): ReplyStatus {
    const p = this.p;
    if (msg.parent === null) {
      if (msg.quiet) {
        const bodyEnd = p.bodyEnd;
        msg.reply = bodyEnd > start ? buf.subarray(start, bodyEnd) : null;
      } else {
        msg.reply = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
      }
      return REPLY_GOOD;
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
    return REPLY_GOOD;
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
  newRequestReader: () => new McRequestReader(),
  newReplyReader: () => new McReplyReader(),
  errorReply: (text) => serverError(text),
  handshake: () => [],
  merge,
};
