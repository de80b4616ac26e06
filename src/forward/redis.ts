// Request lifecycle for Redis pools: each parsed request is answered locally, forwarded whole
// to the server of its key (zero copy), or split per server and merged back in key order.
//
//   parsed request ─► command row ─► LOCAL: reply now
//                                   SINGLE/EVAL/KEYLESS: route key ─► server (bytes as received)
//                                   MULTI_KEY/MSET: group keys by server ─► one fragment each ─► merge

import type { ParseStatus } from '../protocol/parse';
import { RedisRequestParser } from '../protocol/redis/request';
import { RedisReplyParser } from '../protocol/redis/reply';
import {
  PONG,
  OK as OK_REPLY,
  NULL_BULK as NIL,
  NOAUTH,
  ERR_NO_PASSWORD as NO_PASSWORD,
  ERR_INVALID_PASSWORD as BAD_PASSWORD,
  ERR_INVALID_ARGUMENT,
  errorReply,
  bulkReply,
  integerReply,
} from '../protocol/redis/replies';
import { COMMANDS, checkArity, CmdKind, MergeKind } from '../protocol/redis/commands';
import { allocMsg, type Msg } from './msg';
import type { Forwarder, Protocol, ReplyReader, ReplyStatus, RequestReader, Session } from './protocol';
import { copyBytes, decimalLength, writeDecimal, parseUnsigned, equalsLower, rangeEquals } from '../util/bytes';
import { VERSION } from '../version';

const NOPROTO = Buffer.from('-NOPROTO sorry, this protocol version is not supported\r\n');
const PLACEHOLDER = Buffer.from('placeholder');
const CRLF_LEN = 2;

/** Fragment command names, lowercase as twemproxy sends them. */
const FRAG_NAME: Record<string, Buffer> = {};
for (const n of ['mget', 'del', 'unlink', 'touch', 'exists', 'mset']) FRAG_NAME[n] = Buffer.from(`$${n.length}\r\n${n}\r\n`);

/**
 * An error reply that quotes client bytes (command name, argument, the byte the parser choked on):
 * CR and LF become spaces, as Redis does, so the reply stays one line and the client stays in frame.
 */
function quotedError(text: string): Buffer {
  return errorReply(text.replace(/[\r\n]/g, ' '));
}

function bulk(buf: Buffer, start: number, end: number): Buffer {
  return bulkReply(buf.subarray(start, end));
}

function arg(p: RedisRequestParser, i: number, buf: Buffer): string {
  // Error and local paths only: a readable excerpt of argument i (1 = first after the name).
  const s = p.args[2 * (i - 1)] as number;
  const e = p.args[2 * (i - 1) + 1] as number;
  return buf.toString('latin1', s, Math.min(e, s + 128));
}

class RedisRequestReader implements RequestReader {
  private readonly p = new RedisRequestParser();

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
    return quotedError(`ERR ${this.p.errorText}`);
  }

  errorCloses(): boolean {
    return true;
  }

  dispatch(client: Session, msg: Msg, buf: Buffer, start: number, end: number): void {
    const p = this.p;
    const fw = client.forwarder;
    msg.buf = buf;
    msg.start = start;
    msg.end = end;
    const cmd = p.cmd;
    const narg = p.narg;
    if (cmd < 0) {
      const name = buf.toString('latin1', p.nameStart, Math.min(p.nameEnd, p.nameStart + 64));
      return local(msg, quotedError(`ERR unknown command '${name}', nutmeg does not proxy it`));
    }
    const row = COMMANDS[cmd]!;
    msg.cmd = cmd;
    if (!checkArity(cmd, narg)) {
      return local(msg, errorReply(`ERR wrong number of arguments for '${row.name}' command`));
    }
    if (!client.authed && row.name !== 'auth' && row.name !== 'quit' && row.name !== 'hello') {
      return local(msg, NOAUTH);
    }
    switch (row.kind) {
      case CmdKind.SINGLE: {
        const k = 2 * (row.firstKey - 1);
        fw.forward(msg, buf, p.args[k] as number, p.args[k + 1] as number);
        return;
      }
      case CmdKind.MULTI_KEY:
        if (narg === 2) fw.forward(msg, buf, p.args[0] as number, p.args[1] as number);
        else this.fragment(fw, msg, buf, 1);
        return;
      case CmdKind.MSET:
        if (narg === 3) fw.forward(msg, buf, p.args[0] as number, p.args[1] as number);
        else this.fragment(fw, msg, buf, 2);
        return;
      case CmdKind.EVAL: {
        const numkeys = parseUnsigned(buf, p.args[2] as number, p.args[3] as number);
        if (numkeys <= 0) {
          return local(msg, errorReply(`ERR '${row.name}' without keys cannot be routed by nutmeg: numkeys must be at least 1`));
        }
        if (numkeys > narg - 3) return local(msg, errorReply("ERR Number of keys can't be greater than number of args"));
        fw.forward(msg, buf, p.args[4] as number, p.args[5] as number);
        return;
      }
      case CmdKind.KEYLESS:
        fw.forward(msg, PLACEHOLDER, 0, PLACEHOLDER.length);
        return;
      case CmdKind.UNSUPPORTED:
        return local(msg, errorReply(`ERR '${row.name}' is not supported by nutmeg: ${row.reason || 'not proxied'}`));
      case CmdKind.LOCAL:
        this.local(client, fw, msg, buf, row.name);
        return;
      default:
        return local(msg, errorReply(`ERR '${row.name}' is not supported by nutmeg`));
    }
  }

  /** Commands the proxy answers itself: PING, QUIT, AUTH, ECHO, SELECT, HELLO, CLIENT, INFO. */
  private local(client: Session, fw: Forwarder, msg: Msg, buf: Buffer, name: string): void {
    const p = this.p;
    const narg = p.narg;
    switch (name) {
      case 'ping':
        return local(msg, narg === 1 ? PONG : bulk(buf, p.args[0] as number, p.args[1] as number));
      case 'echo':
        return local(msg, bulk(buf, p.args[0] as number, p.args[1] as number));
      case 'quit':
        msg.reply = OK_REPLY;
        client.quit(msg);
        return;
      case 'auth': {
        // AUTH <password> or AUTH default <password>: one password per pool.
        const i = narg === 2 ? 0 : 2;
        if (narg === 3 && !equalsLower(buf, p.args[0] as number, p.args[1] as number, 'default')) {
          client.authed = fw.config.redisAuth === null;
          return local(msg, errorReply('WRONGPASS invalid username-password pair or user is disabled.'));
        }
        return local(msg, this.auth(client, fw, buf, p.args[i] as number, p.args[i + 1] as number));
      }
      case 'select': {
        const db = parseUnsigned(buf, p.args[0] as number, p.args[1] as number);
        if (db === 0) return local(msg, OK_REPLY);
        return local(msg, quotedError(`ERR SELECT ${arg(p, 1, buf)} is not supported by nutmeg: a pool serves database 0 (the servers' redis_db)`));
      }
      case 'hello':
        return this.hello(client, fw, msg, buf);
      case 'client':
        return this.client(client, msg, buf);
      case 'info':
        return local(msg, bulkReply(info(fw)));
      default:
        return local(msg, errorReply(`ERR '${name}' is not supported by nutmeg`));
    }
  }

  private auth(client: Session, fw: Forwarder, buf: Buffer, s: number, e: number): Buffer {
    const want = fw.authBuf;
    if (want === null) return NO_PASSWORD;
    if (rangeEquals(buf, s, e, want, 0, want.length)) {
      client.authed = true;
      return OK_REPLY;
    }
    client.authed = false;
    return BAD_PASSWORD;
  }

  /** HELLO [2 [AUTH user pass] [SETNAME name]]: RESP2 only; RESP3 is refused as Redis refuses unknown versions. */
  private hello(client: Session, fw: Forwarder, msg: Msg, buf: Buffer): void {
    const p = this.p;
    const narg = p.narg;
    if (narg >= 2) {
      const v = parseUnsigned(buf, p.args[0] as number, p.args[1] as number);
      if (v !== 2) return local(msg, NOPROTO);
    }
    for (let i = 2; i < narg; i++) {
      const s = p.args[2 * (i - 1)] as number;
      const e = p.args[2 * (i - 1) + 1] as number;
      if (equalsLower(buf, s, e, 'auth') && i + 2 < narg) {
        const r = this.auth(client, fw, buf, p.args[2 * (i + 1)] as number, p.args[2 * (i + 1) + 1] as number);
        if (r !== OK_REPLY) return local(msg, r);
        i += 2;
      } else if (equalsLower(buf, s, e, 'setname') && i + 1 < narg) {
        client.name = Buffer.from(buf.subarray(p.args[2 * i] as number, p.args[2 * i + 1] as number));
        i += 1;
      } else {
        return local(msg, quotedError(`ERR Syntax error in HELLO option '${arg(p, i, buf)}'`));
      }
    }
    if (!client.authed) return local(msg, NOAUTH);
    const fields: Buffer[] = [
      bulkReply('server'), bulkReply('redis'),
      bulkReply('version'), bulkReply('7.0.0'),
      bulkReply('proto'), Buffer.from(':2\r\n'),
      bulkReply('id'), integerReply(client.id),
      bulkReply('mode'), bulkReply('standalone'),
      bulkReply('role'), bulkReply('master'),
      bulkReply('modules'), Buffer.from('*0\r\n'),
      bulkReply('proxy'), bulkReply(`nutmeg-${VERSION}`),
    ];
    return local(msg, Buffer.concat([Buffer.from(`*${fields.length}\r\n`), ...fields]));
  }

  /** CLIENT SETNAME/GETNAME/ID/SETINFO/INFO answered for this client connection; the rest is refused. */
  private client(client: Session, msg: Msg, buf: Buffer): void {
    const p = this.p;
    const s = p.args[0] as number;
    const e = p.args[1] as number;
    const narg = p.narg;
    if (equalsLower(buf, s, e, 'setname') && narg === 3) {
      client.name = Buffer.from(buf.subarray(p.args[2] as number, p.args[3] as number));
      return local(msg, OK_REPLY);
    }
    if (equalsLower(buf, s, e, 'getname') && narg === 2) {
      return local(msg, client.name === null ? NIL : bulk(client.name, 0, client.name.length));
    }
    if (equalsLower(buf, s, e, 'id') && narg === 2) return local(msg, integerReply(client.id));
    if (equalsLower(buf, s, e, 'setinfo') && narg === 4) return local(msg, OK_REPLY);
    if (equalsLower(buf, s, e, 'info') && narg === 2) {
      const name = client.name === null ? '' : client.name.toString('latin1');
      return local(msg, bulkReply(`id=${client.id} name=${name} db=0 proxy=nutmeg\n`));
    }
    return local(msg, quotedError(`ERR 'client ${arg(p, 1, buf).toLowerCase()}' is not supported by nutmeg`));
  }

  /**
   * Split a multi-key command per server: step 1 (MGET, DEL, ...) or 2 (MSET key value).
   * A fragment is `*<n>\r\n$4\r\nmget\r\n` followed by each of its keys' arguments exactly as the
   * client sent them (`$<len>\r\n<key>\r\n`, and the value for MSET): one contiguous span per key
   * in the request, copied as is, in key order.
   */
  private fragment(fw: Forwarder, parent: Msg, buf: Buffer, step: number): void {
    const p = this.p;
    const table = fw.table();
    const args = p.args;
    const nkeys = (p.narg - 1) / step;
    const scratch = table.scratch;
    scratch.reset();
    const { count, size, fragOf } = scratch;
    const nsrv = count.length;
    const keyFrag = new Array<number>(nkeys);
    const last = 2 * step - 1;
    for (let i = 0; i < nkeys; i++) {
      const a = 2 * i * step;
      const idx = table.route(buf, args[a] as number, args[a + 1] as number);
      if (idx < 0) {
        fw.failMsg(parent, 'Connection refused');
        return;
      }
      keyFrag[i] = idx;
      count[idx]!++;
      size[idx]! += (args[a + last] as number) + CRLF_LEN - argHead(buf, args[a] as number);
    }
    const row = COMMANDS[parent.cmd]!;
    const nameHdr = FRAG_NAME[row.name]!;
    const frags: Msg[] = [];
    const bufs: Buffer[] = [];
    for (let s = 0; s < nsrv; s++) {
      if (count[s] === 0) continue;
      const n = 1 + (count[s] as number) * step;
      const total = 1 + decimalLength(n) + CRLF_LEN + nameHdr.length + (size[s] as number);
      const fb = Buffer.allocUnsafe(total);
      fb[0] = 0x2a;
      let o = writeDecimal(fb, 1, n);
      fb[o++] = 13;
      fb[o++] = 10;
      o = copyBytes(nameHdr, 0, nameHdr.length, fb, o);
      size[s] = o; // reuse as write cursor
      fragOf[s] = frags.length;
      const f = allocMsg();
      f.parent = parent;
      f.cmd = parent.cmd;
      f.buf = fb;
      f.end = total;
      frags.push(f);
      bufs.push(fb);
    }
    for (let i = 0; i < nkeys; i++) {
      const s = keyFrag[i] as number;
      const a = 2 * i * step;
      const from = argHead(buf, args[a] as number);
      size[s] = copyBytes(buf, from, (args[a + last] as number) + CRLF_LEN, bufs[fragOf[s] as number] as Buffer, size[s] as number);
      keyFrag[i] = fragOf[s] as number;
    }
    parent.frags = frags;
    parent.keyFrag = keyFrag;
    parent.pending = frags.length;
    fw.stats.fragments += frags.length;
    let fi = 0;
    for (let s = 0; s < nsrv; s++) {
      if (count[s] === 0) continue;
      const f = frags[fi++] as Msg;
      fw.send(table.target(s), f, f.buf);
    }
  }
}

/** Start of the `$<len>\r\n` header of the bulk argument whose bytes start at dataStart (the parser checked its form). */
function argHead(buf: Buffer, dataStart: number): number {
  let h = dataStart - 3;
  while (buf[h] !== 0x24) h--;
  return h;
}

function local(msg: Msg, reply: Buffer): void {
  msg.reply = reply;
  msg.done = true;
}

function info(fw: Forwarder): string {
  return (
    '# Server\r\n' +
    'redis_version:7.0.0\r\n' +
    'redis_mode:standalone\r\n' +
    `nutmeg_version:${VERSION}\r\n` +
    `process_id:${process.pid}\r\n` +
    `uptime_in_seconds:${Math.floor(process.uptime())}\r\n` +
    '\r\n# Clients\r\n' +
    `connected_clients:${fw.clientCount}\r\n` +
    '\r\n# Persistence\r\n' +
    'loading:0\r\n' +
    '\r\n# Replication\r\n' +
    'role:master\r\n' +
    '\r\n# Keyspace\r\n'
  );
}

class RedisReplyReader implements ReplyReader {
  private readonly p = new RedisReplyParser();

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
    const parent = msg.parent;
    this.p.collect = parent !== null && COMMANDS[parent.cmd]!.merge === MergeKind.MGET;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    return this.p.parse(buf, start);
  }

  complete(msg: Msg, buf: Buffer, start: number, end: number): ReplyStatus {
    const p = this.p;
    const slice = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (msg.parent === null) {
      msg.reply = slice;
    } else {
      msg.fragReply = slice;
      msg.fragType = p.type;
      msg.fragInt = p.integer;
      if (p.collect && p.type === 0x2a && p.count >= 0) {
        const n = 2 * p.count;
        const offs = new Array<number>(n);
        const elems = p.elems;
        for (let i = 0; i < n; i++) offs[i] = (elems[i] as number) - start;
        msg.fragOffsets = offs;
      }
    }
    // The parser's error kinds are the ReplyStatus values (protocol/redis/reply.ts).
    return p.errorKind;
  }
}

/** Build the client's reply from its fragments' replies. */
function merge(parent: Msg): void {
  const frags = parent.frags!;
  const row = COMMANDS[parent.cmd]!;
  // A connection-level failure of any fragment fails the whole command (first failure wins).
  for (const f of frags) {
    if (f.fragError !== null) {
      parent.reply = errorReply(`ERR ${f.fragError}`);
      return;
    }
  }
  const want = row.merge === MergeKind.MGET ? 0x2a : row.merge === MergeKind.SUM ? 0x3a : 0x2b;
  for (const f of frags) {
    if (f.fragType !== want) {
      // Relay the server's own error (more useful than twemproxy's "Invalid argument").
      parent.reply = f.fragType === 0x2d && f.fragReply !== null ? f.fragReply : ERR_INVALID_ARGUMENT;
      return;
    }
  }
  if (row.merge === MergeKind.SUM) {
    let sum = 0;
    for (const f of frags) sum += f.fragInt;
    parent.reply = integerReply(sum);
    return;
  }
  if (row.merge === MergeKind.ALL_OK) {
    parent.reply = OK_REPLY;
    return;
  }
  // MGET: element i of the reply is the next unused element of key i's fragment.
  const keyFrag = parent.keyFrag!;
  const nkeys = keyFrag.length;
  const next = new Int32Array(frags.length);
  let total = 1 + decimalLength(nkeys) + CRLF_LEN;
  for (let i = 0; i < nkeys; i++) {
    const f = frags[keyFrag[i] as number] as Msg;
    const offs = f.fragOffsets;
    const j = next[keyFrag[i] as number]!++;
    if (offs === null || 2 * j + 1 >= offs.length) {
      parent.reply = ERR_INVALID_ARGUMENT;
      return;
    }
    total += (offs[2 * j + 1] as number) - (offs[2 * j] as number);
  }
  const out = Buffer.allocUnsafe(total);
  out[0] = 0x2a;
  let o = writeDecimal(out, 1, nkeys);
  out[o++] = 13;
  out[o++] = 10;
  for (let i = 0; i < next.length; i++) next[i] = 0;
  for (let i = 0; i < nkeys; i++) {
    const fi = keyFrag[i] as number;
    const f = frags[fi] as Msg;
    const offs = f.fragOffsets as number[];
    const j = next[fi]!++;
    o = copyBytes(f.fragReply as Buffer, offs[2 * j] as number, offs[2 * j + 1] as number, out, o);
  }
  parent.reply = out;
}

export const redisProtocol: Protocol = {
  redis: true,
  newRequestReader: () => new RedisRequestReader(),
  newReplyReader: () => new RedisReplyReader(),
  errorReply: (text) => errorReply(`ERR ${text}`),
  handshake(cfg) {
    const out: Buffer[] = [];
    if (cfg.redisAuth !== null) {
      const pw = Buffer.from(cfg.redisAuth);
      out.push(Buffer.concat([Buffer.from(`*2\r\n$4\r\nAUTH\r\n$${pw.length}\r\n`), pw, Buffer.from('\r\n')]));
    }
    if (cfg.redisDb > 0) {
      const db = String(cfg.redisDb);
      out.push(Buffer.from(`*2\r\n$6\r\nSELECT\r\n$${db.length}\r\n${db}\r\n`));
    }
    return out;
  },
  merge,
};
