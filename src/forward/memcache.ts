// Request lifecycle for memcached pools: each parsed request is answered locally (quit, mn),
// forwarded whole to the server of its key (zero copy), or, for a multi-key get/gets, split
// per server and merged back into one reply in key order with one END.
//
//   parsed request ─► quit/mn: local ─► version: `placeholder` ─► get k1 k2 k3: fragments ─► merge (mc-split.ts)
//                                      ─► anything else: route key ─► server (bytes as received)
//   quiet meta (mg k q): forwarded followed by `mn\r\n`, so the reply always ends at `MN`.
//   a pool with routes (failover, mirror_to, warmup_from): mirrored writes are copied and warm-up gets split
//   there first (mc-routes.ts); a pool without them pays one null check.

import type { ParseStatus } from '../protocol/parse';
import { McRequestParser } from '../protocol/memcache/request';
import { McReplyParser, MODE_META_QUIET, K_VALUES, K_END } from '../protocol/memcache/reply';
import { MC_COMMANDS, MC_QUIT, MC_MN } from '../protocol/memcache/commands';
import { REPLY_MN, serverError } from '../protocol/memcache/replies';
import type { Msg } from './msg';
import { mergeGet, splitRequest } from './mc-split';
import type { McRoutes } from './mc-routes';
import { REPLY_GOOD, type Protocol, type ReplyReader, type ReplyStatus, type RequestReader, type Session } from './protocol';

const PLACEHOLDER = Buffer.from('placeholder');
const MN_REQUEST = Buffer.from('mn\r\n');

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

  close(): void {}

  ended(): void {}

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
    // Only memcache pools get routes, and only McRoutes (proxy.ts links them).
    const routes = fw.routes as McRoutes | null;
    if (routes !== null && routes.byCmd[cmd] !== 0 && routes.dispatch(fw, msg, p, buf, start, end)) return;
    if (row.isRetrieval && p.nkeys > 1) {
      splitRequest(fw, msg, p.keys, p.nkeys);
      return;
    }
    if (p.noreply) msg.expectReply = false;
    if (p.quiet) {
      msg.suffix = MN_REQUEST;
      msg.quiet = true;
    }
    fw.forward(msg, buf, p.keys[0] as number, p.keys[1] as number);
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

  redirect(): Buffer | null {
    return null;
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
    msg.fragType = p.kind;
    if (msg.quiet) {
      // a failed-over quiet meta request, relayed as its parent's reply (mc-routes.ts)
      const bodyEnd = p.bodyEnd;
      msg.fragReply = bodyEnd > start ? buf.subarray(start, bodyEnd) : null;
      return REPLY_GOOD;
    }
    msg.fragReply = buf.subarray(start, end);
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

export const memcacheProtocol: Protocol = {
  redis: false,
  newRequestReader: () => new McRequestReader(),
  newReplyReader: () => new McReplyReader(),
  errorReply: (text) => serverError(text),
  handshake: () => [],
  merge: mergeGet,
};
