// Request lifecycle for Redis pools: each parsed request is answered locally, forwarded whole
// to the server of its key (zero copy), or split per server and merged back in key order.
//
//   parsed request ─► command row ─► LOCAL: reply now
//                                   SINGLE/EVAL/KEYLESS: route key ─► server (bytes as received)
//                                   MULTI_KEY/MSET: group keys by server ─► one fragment each ─► merge

import type { ParseStatus } from '../protocol/parse';
import { RedisRequestParser, EMPTY } from '../protocol/redis/request';
import { RedisReplyParser } from '../protocol/redis/reply';
import {
  PONG,
  OK as OK_REPLY,
  NULL_BULK as NIL,
  NULL_ARRAY,
  NOAUTH,
  ERR_NO_PASSWORD as NO_PASSWORD,
  ERR_INVALID_PASSWORD as BAD_PASSWORD,
  ERR_INVALID_ARGUMENT,
  errorReply,
  bulkReply,
  integerReply,
} from '../protocol/redis/replies';
import { COMMANDS, checkArity, lookupSubcommand, CmdKind, CmdFlag, MergeKind, type CommandRow } from '../protocol/redis/commands';
import { findKeys, sortKeys } from '../protocol/redis/keys';
import { rememberScript, scriptBody, evalFromEvalsha } from './redis-scripts';
import { aclDenied, WRONGPASS } from './redis-acl';
import { Subscriptions, hubOf, CHANNEL, PATTERN, SHARD } from './redis-pubsub';
import { mergeBroadcast, mergeScan, decodeCursor, withArg1, ERR_INVALID_CURSOR } from './redis-keyspace';
import {
  Transaction,
  ERR_NESTED,
  ERR_EXEC_WITHOUT,
  ERR_DISCARD_WITHOUT,
  ERR_EXECABORT,
  ERR_WATCH_IN_MULTI,
  ERR_TOO_LARGE,
  QUEUED,
  MULTI_REQUEST,
} from './redis-tx';
import { allocMsg, type Msg } from './msg';
import type { Forwarder, Lease, Protocol, ReplyReader, ReplyStatus, RequestReader, RouteView, Session, Target } from './protocol';
import { copyBytes, decimalLength, writeDecimal, parseUnsigned, equalsLower, rangeEquals } from '../util/bytes';
import { VERSION } from '../version';
import { keySlot } from '../route/slot';

const NOPROTO = Buffer.from('-NOPROTO sorry, this protocol version is not supported\r\n');
const CROSSSLOT = Buffer.from("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
const ERR_NOT_INTEGER = Buffer.from('-ERR value is not an integer or out of range\r\n');
const ERR_DB_RANGE = Buffer.from('-ERR DB index is out of range\r\n');
const CLUSTER_DISABLED = Buffer.from('-ERR This instance has cluster support disabled\r\n');
const RESET_REPLY = Buffer.from('+RESET\r\n');
const BLOCK = Buffer.from('BLOCK');
const NOSCRIPT = Buffer.from('-NOSCRIPT');
/** Key positions of one request (reused; grown to the largest request's argument count). */
let KEY_POS = new Int32Array(256);
/** Table indices one multi-key request touches, in first-seen order (reused; grown to the largest key count). */
let TOUCHED = new Int32Array(256);
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

const BAD_CLIENT_NAME = Buffer.from('-ERR Client names cannot contain spaces, newlines or special characters.\r\n');

/** CLIENT SETNAME / HELLO SETNAME with Redis's rule: printable ASCII without spaces; an empty name clears it. */
function setName(client: Session, buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c < 0x21 || c > 0x7e) return false;
  }
  client.name = start === end ? null : Buffer.from(buf.subarray(start, end));
  return true;
}

function arg(p: RedisRequestParser, i: number, buf: Buffer): string {
  // Error and local paths only: a readable excerpt of argument i (1 = first after the name).
  const s = p.args[2 * (i - 1)] as number;
  const e = p.args[2 * (i - 1) + 1] as number;
  return buf.toString('latin1', s, Math.min(e, s + 128));
}

/** Commands that act on the transaction itself (everything else is queued while one is open). */
const TX_CONTROL = new Set(['multi', 'exec', 'discard', 'watch', 'quit', 'reset']);
const UNWATCH_REQUEST = Buffer.from('*1\r\n$7\r\nUNWATCH\r\n');
const ERR_NO_PRIVATE = Buffer.from('-ERR nutmeg: no private connection available (server_private_connections)\r\n');
/** What a subscribed client may send (Redis's rule), and the error for the rest. */
const SUBSCRIBED_OK = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
const SUB_KIND: Record<string, number> = { subscribe: CHANNEL, psubscribe: PATTERN, ssubscribe: SHARD, unsubscribe: CHANNEL, punsubscribe: PATTERN, sunsubscribe: SHARD };
/** Blocking commands whose timeout (seconds) is the first argument; the others have it last (XREAD: BLOCK ms). */
const TIMEOUT_FIRST = new Set(['blmpop', 'bzmpop']);
/** Local commands the server can run inside a transaction (the rest change per-connection state: refused there). */
const TX_FORWARDABLE_LOCAL = new Set(['ping', 'echo', 'info']);
const NO_KEY = -1;
const CROSS = -2;
const NO_SERVER = -3;
const EMPTY_ARRAY = Buffer.from('*0\r\n');

class RedisRequestReader implements RequestReader {
  private readonly p = new RedisRequestParser();
  /** The client's open transaction (MULTI seen, EXEC/DISCARD not yet): per-client session state. */
  private tx: Transaction | null = null;
  /** The connection leased for the client's WATCH state (from WATCH until EXEC, DISCARD, UNWATCH, RESET or close). */
  private watching: Lease | null = null;
  /** Connections leased for blocking commands, released by the pool when each completes; aborted if the client goes. */
  private readonly blocking = new Set<Lease>();
  /** The database the client SELECTed (redis_databases > 1); -1 = the pool's (redis_db). */
  private db = -1;
  /** The client's pub/sub subscriptions, made on its first (P|S)SUBSCRIBE. */
  private subs: Subscriptions | null = null;

  close(): void {
    if (this.subs !== null) this.subs.hub?.drop(this.subs);
    // A blocked command must not pop an element into a connection nobody reads: close what the client held.
    const w = this.watching;
    this.watching = null;
    this.tx = null;
    for (const l of this.blocking) this.fw?.abortLease(l, this);
    this.blocking.clear();
    if (w !== null) this.fw?.abortLease(w, this);
  }

  ended(): void {
    // Nobody will read what a blocked command pops: drop them now (their requests fail; the client is gone).
    for (const l of this.blocking) this.fw?.abortLease(l, this);
    this.blocking.clear();
  }

  /** The client's pool as of its last request (for close()). */
  private fw: Forwarder | null = null;

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
    this.fw = fw;
    if (p.inline !== null) {
      // An inline request: from here on it is the RESP request the parser made of it.
      buf = p.inline;
      start = 0;
      end = buf.length;
    }
    msg.buf = buf;
    msg.start = start;
    msg.end = end;
    msg.db = this.db;
    let cmd = p.cmd;
    const narg = p.narg;
    if (cmd === EMPTY) {
      msg.done = true; // `*0`, `*-1`, an empty line: no reply, as Redis
      return;
    }
    if (cmd < 0) {
      const name = buf.toString('latin1', p.nameStart, Math.min(p.nameEnd, p.nameStart + 64));
      return this.reject(msg, quotedError(`ERR unknown command '${name}', nutmeg does not proxy it`));
    }
    let row = COMMANDS[cmd]!;
    msg.cmd = cmd;
    if (!checkArity(cmd, narg)) {
      return this.reject(msg, errorReply(`ERR wrong number of arguments for '${row.name}' command`));
    }
    if (!client.authed && row.name !== 'auth' && row.name !== 'quit' && row.name !== 'hello') {
      return local(msg, NOAUTH);
    }
    const user = client.user;
    if (row.kind === CmdKind.CONTAINER) {
      if (narg === 1) {
        // Only COMMAND may come alone (the others' arity asks for a subcommand).
        const deny = user !== null && user.restricted ? aclDenied(user, row, buf, p.args, narg) : null;
        if (deny !== null) return this.reject(msg, deny);
        fw.forward(msg, PLACEHOLDER, 0, PLACEHOLDER.length);
        return;
      }
      const sub = lookupSubcommand(cmd, buf, p.args[0] as number, p.args[1] as number);
      if (sub < 0) {
        return this.reject(msg, quotedError(`ERR unknown subcommand '${arg(p, 1, buf)}'. Try ${row.name.toUpperCase()} HELP.`));
      }
      cmd = sub;
      row = COMMANDS[cmd]!;
      msg.cmd = cmd;
      if (!checkArity(cmd, narg)) return this.reject(msg, errorReply(`ERR wrong number of arguments for '${row.name}' command`));
    }
    if (user !== null && user.restricted) {
      // client_users: mode and key prefixes, before anything else is done with the command (Redis's order; in MULTI it dooms the EXEC).
      const deny = aclDenied(user, row, buf, p.args, narg);
      if (deny !== null) return this.reject(msg, deny);
    }
    if (this.subs !== null && this.subs.active && !SUBSCRIBED_OK.has(row.name)) {
      return local(msg, errorReply(`ERR Can't execute '${row.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`));
    }
    if (row.flags & CmdFlag.NOSCRIPT) this.scripts(msg, buf, row.name);
    if (this.tx !== null) {
      if (!TX_CONTROL.has(row.name)) return this.queue(fw, this.tx, msg, buf, start, end, row);
      if (row.name === 'watch') return local(msg, ERR_WATCH_IN_MULTI);
    }
    switch (row.kind) {
      case CmdKind.SINGLE: {
        const k = 2 * (row.firstKey - 1);
        if (row.name === 'publish') this.publishDelta(fw, msg, buf);
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
      case CmdKind.KEYS:
        this.routeKeys(fw, msg, buf, row);
        return;
      case CmdKind.ANY:
        fw.forward(msg, PLACEHOLDER, 0, PLACEHOLDER.length);
        return;
      case CmdKind.BROADCAST:
        this.broadcast(fw, msg, row);
        return;
      case CmdKind.SCAN:
        this.scan(fw, msg, buf);
        return;
      case CmdKind.UNSUPPORTED:
        if (row.name === 'cluster' && fw.config.redisCluster) return this.cluster(fw, msg, buf);
        return local(msg, errorReply(`ERR '${row.name.replace('|', ' ')}' is not supported by nutmeg: ${row.reason || 'not proxied'}`));
      case CmdKind.LOCAL:
        this.local(client, fw, msg, buf, row.name);
        return;
      default:
        return local(msg, errorReply(`ERR '${row.name}' is not supported by nutmeg`));
    }
  }

  /**
   * A command whose keys the key specs give: every key must map to the same server (else Redis's
   * CROSSSLOT); no key at all (EVAL with numkeys 0), or a key count the server will reject, goes to the
   * first live server.
   */
  private routeKeys(fw: Forwarder, msg: Msg, buf: Buffer, row: CommandRow): void {
    const p = this.p;
    const table = fw.table();
    let idx = this.keysTarget(table, row, buf);
    if (idx === CROSS) return local(msg, CROSSSLOT);
    if (idx === NO_KEY) idx = table.firstLive();
    if (idx < 0) {
      fw.failMsg(msg, 'Connection refused');
      return;
    }
    const bytes = msg.start === 0 && msg.end === msg.buf.length ? msg.buf : msg.buf.subarray(msg.start, msg.end);
    if ((row.flags & CmdFlag.BLOCKING) !== 0 && (row.name.charCodeAt(0) !== 0x78 /* x: XREAD only with BLOCK */ || hasArg(buf, p.args, p.narg, BLOCK))) {
      return this.block(fw, msg, buf, row, table.target(idx), bytes);
    }
    fw.send(table.target(idx), msg, bytes);
  }

  /**
   * A blocking command: on a connection leased to this client (a shared one would hold every other client
   * up), with a deadline of its block time plus the pool's timeout (block 0: none); released when it answers.
   */
  private block(fw: Forwarder, msg: Msg, buf: Buffer, row: CommandRow, target: Target, bytes: Buffer): void {
    const lease = fw.lease(target, this, this.db);
    if (lease === null) return local(msg, ERR_NO_PRIVATE);
    for (const l of this.blocking) if (l.lessee !== this) this.blocking.delete(l); // answered meanwhile
    this.blocking.add(lease);
    msg.lease = lease;
    const secs = this.blockSeconds(buf, row);
    const pool = fw.timeout;
    fw.sendOn(lease, msg, bytes, secs === 0 ? 0 : secs < 0 ? pool : pool > 0 ? Math.ceil(secs * 1000) + pool : 0);
  }

  /** The command's block time in seconds: 0 = forever, -1 = unreadable (the server will say why). */
  private blockSeconds(buf: Buffer, row: CommandRow): number {
    const p = this.p;
    let i: number;
    let scale = 1;
    if (row.name === 'xread' || row.name === 'xreadgroup') {
      i = -1;
      for (let k = 1; k + 1 < p.narg; k++) {
        if (equalsLower(buf, p.args[2 * (k - 1)] as number, p.args[2 * (k - 1) + 1] as number, 'block')) {
          i = k + 1;
          break;
        }
      }
      if (i < 0) return -1;
      scale = 0.001;
    } else {
      i = TIMEOUT_FIRST.has(row.name) ? 1 : p.narg - 1;
    }
    const v = Number(buf.toString('latin1', p.args[2 * (i - 1)] as number, p.args[2 * (i - 1) + 1] as number));
    return Number.isFinite(v) && v >= 0 ? v * scale : -1;
  }

  /** WATCH and UNWATCH: WATCH state lives on a connection leased to this client until EXEC, DISCARD or UNWATCH. */
  private watch(fw: Forwarder, msg: Msg, buf: Buffer, name: string): void {
    const bytes = msg.start === 0 && msg.end === msg.buf.length ? msg.buf : msg.buf.subarray(msg.start, msg.end);
    const w = this.watching;
    if (name === 'unwatch') {
      if (w === null) return local(msg, OK_REPLY);
      this.watching = null;
      if (w.lost) {
        fw.release(w);
        return local(msg, OK_REPLY);
      }
      msg.lease = w; // released once the server has unwatched
      fw.sendOn(w, msg, bytes, fw.timeout);
      return;
    }
    const table = fw.table();
    const idx = this.stepTarget(table, buf, 1, 1);
    if (idx === CROSS) return local(msg, CROSSSLOT);
    if (idx < 0) {
      fw.failMsg(msg, 'Connection refused');
      return;
    }
    const target = table.target(idx);
    if (w !== null) {
      if (w.owner !== target) return local(msg, CROSSSLOT);
      if (w.lost) return local(msg, OK_REPLY); // the EXEC will not run anyway (see transaction())
      fw.sendOn(w, msg, bytes, fw.timeout);
      return;
    }
    const lease = fw.lease(target, this, this.db);
    if (lease === null) return local(msg, ERR_NO_PRIVATE);
    this.watching = lease;
    fw.sendOn(lease, msg, bytes, fw.timeout);
  }

  /** The WATCH state ends without EXEC (DISCARD, RESET): unwatch on the server, then the connection is free. */
  private unwatchQuietly(fw: Forwarder): void {
    const w = this.watching;
    if (w === null) return;
    this.watching = null;
    fw.sendBatch(w, [UNWATCH_REQUEST], null, null);
    fw.release(w);
  }

  /** (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE: the pool's pub/sub registry (redis-pubsub.ts) does the work. */
  private pubsub(client: Session, fw: Forwarder, msg: Msg, buf: Buffer, name: string): void {
    const p = this.p;
    const names: string[] = [];
    for (let i = 1; i < p.narg; i++) names.push(arg(p, i, buf));
    const kind = SUB_KIND[name] as number;
    const hub = hubOf(fw);
    if (name.endsWith('unsubscribe')) {
      if (this.subs === null) this.subs = new Subscriptions(client);
      hub.unsubscribe(this.subs, kind, names.length > 0 ? names : null, msg);
      return;
    }
    if (this.subs === null) this.subs = new Subscriptions(client);
    hub.subscribe(this.subs, kind, names, msg);
  }

  /** PUBSUB CHANNELS | NUMSUB | NUMPAT | SHARDCHANNELS | SHARDNUMSUB, from this process's registry. */
  private pubsubInfo(fw: Forwarder, msg: Msg, buf: Buffer): void {
    const p = this.p;
    const hub = hubOf(fw);
    const sub = arg(p, 1, buf).toLowerCase();
    const rest: string[] = [];
    for (let i = 2; i < p.narg; i++) rest.push(arg(p, i, buf));
    const array = (items: string[]): Buffer => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map((x) => bulkReply(x))]);
    switch (sub) {
      case 'channels':
      case 'shardchannels':
        return local(msg, array(hub.channels(sub === 'channels' ? CHANNEL : SHARD, rest[0] ?? null)));
      case 'numsub':
      case 'shardnumsub': {
        const kind = sub === 'numsub' ? CHANNEL : SHARD;
        const parts: Buffer[] = [Buffer.from(`*${2 * rest.length}\r\n`)];
        for (const ch of rest) parts.push(bulkReply(ch), integerReply(hub.numsub(kind, ch)));
        return local(msg, Buffer.concat(parts));
      }
      case 'numpat':
        return local(msg, integerReply(hub.numpat()));
      default:
        return local(msg, quotedError(`ERR unknown subcommand '${arg(p, 1, buf)}'. Try PUBSUB HELP.`));
    }
  }

  /** A PUBLISH's count as Redis would give it: this process's clients, not its one upstream subscription. */
  private publishDelta(fw: Forwarder, msg: Msg, buf: Buffer): void {
    const p = this.p;
    const table = fw.table();
    const idx = table.route(buf, p.args[0] as number, p.args[1] as number);
    if (idx >= 0) msg.delta = hubOf(fw).publishDelta(arg(p, 1, buf), table.target(idx));
  }

  /** Scripts: bodies seen in EVAL and SCRIPT LOAD are kept; an EVALSHA of a known one may be sent again as EVAL. */
  private scripts(msg: Msg, buf: Buffer, name: string): void {
    const p = this.p;
    if (name === 'eval' || name === 'eval_ro') {
      rememberScript(buf.subarray(p.args[0] as number, p.args[1] as number));
    } else if (name === 'script|load' && p.narg > 2) {
      rememberScript(buf.subarray(p.args[2] as number, p.args[3] as number));
    } else if (name === 'evalsha' || name === 'evalsha_ro') {
      msg.retry = scriptBody(buf.toString('latin1', p.args[0] as number, p.args[1] as number));
    }
  }

  /** Sent whole to every live server; merged when all have answered (redis-keyspace.ts). */
  private broadcast(fw: Forwarder, msg: Msg, row: CommandRow): void {
    if ((row.name === 'flushdb' || row.name === 'flushall') && !fw.config.redisAdminCommands) {
      return local(msg, errorReply(`ERR '${row.name}' is not allowed by nutmeg: it empties every server of the pool (set redis_admin_commands: true)`));
    }
    const table = fw.table();
    const live: number[] = [];
    for (let k = 0; k < table.nodeCount; k++) {
      const i = table.node(k);
      if (table.isLive(i)) live.push(i);
    }
    if (live.length === 0) {
      if (row.name === 'info') return local(msg, bulkReply(info(fw)));
      fw.failMsg(msg, 'Connection refused');
      return;
    }
    const bytes = msg.start === 0 && msg.end === msg.buf.length ? msg.buf : msg.buf.subarray(msg.start, msg.end);
    const frags: Msg[] = [];
    for (let k = 0; k < live.length; k++) frags.push(fragmentOf(msg, bytes));
    msg.frags = frags;
    msg.pending = frags.length;
    // SCRIPT KILL / FUNCTION KILL: the shared connection may be the one running the busy script, and Redis reads
    // nothing more from it until the script ends, so the kill goes on a connection of its own (released on reply).
    const kill = row.name === 'script|kill' || row.name === 'function|kill';
    for (let k = 0; k < live.length; k++) {
      const target = table.target(live[k] as number);
      const f = frags[k] as Msg;
      const lease = kill ? fw.lease(target, this, -1) : null;
      if (lease === null) {
        fw.send(target, f, bytes);
      } else {
        f.lease = lease;
        fw.sendOn(lease, f, bytes, fw.timeout);
      }
    }
  }

  /** SCAN: the server whose index the cursor carries, with its own cursor; the reply's cursor rewritten. */
  private scan(fw: Forwarder, msg: Msg, buf: Buffer): void {
    const p = this.p;
    const table = fw.table();
    // Server numbers are the table's distinct nodes (a hashed pool's servers; a cluster's masters in slot order).
    const nodes = table.nodeCount;
    const c = decodeCursor(arg(p, 1, buf), Math.min(nodes, 1024));
    if (c === null) return local(msg, ERR_INVALID_CURSOR);
    let [cursor, server] = c;
    // a server ejected since: go on with the next live one, from its start
    while (server < nodes && !table.isLive(table.node(server))) {
      server++;
      cursor = 0n;
    }
    if (server >= nodes) return local(msg, Buffer.from('*2\r\n$1\r\n0\r\n*0\r\n'));
    let next = server + 1;
    while (next < nodes && !table.isLive(table.node(next))) next++;
    const bytes = withArg1(buf, p.nameStart, p.nameEnd, p.args, cursor.toString());
    const f = fragmentOf(msg, bytes);
    msg.frags = [f];
    msg.pending = 1;
    msg.fragOffsets = [server, next < nodes ? next : -1];
    fw.send(table.target(table.node(server)), f, bytes);
  }

  /** The table index of a KEYS row's keys: NO_KEY (none, or a malformed count), CROSS (several servers), NO_SERVER. */
  private keysTarget(table: RouteView, row: CommandRow, buf: Buffer): number {
    const p = this.p;
    const args = p.args;
    if (KEY_POS.length < p.narg) KEY_POS = new Int32Array(p.narg);
    const n = row.name === 'sort' || row.name === 'sort_ro' ? sortKeys(buf, args, p.narg, KEY_POS) : findKeys(row.specs, buf, args, p.narg, KEY_POS);
    if (n <= 0) return NO_KEY;
    let a = 2 * ((KEY_POS[0] as number) - 1);
    const idx = table.route(buf, args[a] as number, args[a + 1] as number);
    if (idx < 0) return NO_SERVER;
    for (let i = 1; i < n; i++) {
      a = 2 * ((KEY_POS[i] as number) - 1);
      if (table.route(buf, args[a] as number, args[a + 1] as number) !== idx) return CROSS;
    }
    return idx;
  }

  /** Every argument from `first` on, every `step`th, is a key: the table index they share, CROSS, or NO_SERVER. */
  private stepTarget(table: RouteView, buf: Buffer, first: number, step: number): number {
    const p = this.p;
    const args = p.args;
    let idx = NO_KEY;
    for (let i = first; i < p.narg; i += step) {
      const r = table.route(buf, args[2 * (i - 1)] as number, args[2 * (i - 1) + 1] as number);
      if (r < 0) return NO_SERVER;
      if (idx === NO_KEY) idx = r;
      else if (r !== idx) return CROSS;
    }
    return idx;
  }

  /** An error reply for a request; inside MULTI it also dooms the transaction (EXEC answers EXECABORT), as in Redis. */
  private reject(msg: Msg, reply: Buffer): void {
    if (this.tx !== null) this.tx.failed = true;
    local(msg, reply);
  }

  /** Inside MULTI: check where the command's keys live, keep its bytes, answer +QUEUED. */
  private queue(fw: Forwarder, tx: Transaction, msg: Msg, buf: Buffer, start: number, end: number, row: CommandRow): void {
    const p = this.p;
    if (tx.parts.length >= fw.config.transactionMaxCommands) return this.reject(msg, ERR_TOO_LARGE);
    const table = fw.table();
    let idx = NO_KEY;
    switch (row.kind) {
      case CmdKind.SINGLE: {
        const k = 2 * (row.firstKey - 1);
        idx = table.route(buf, p.args[k] as number, p.args[k + 1] as number);
        if (idx < 0) idx = NO_SERVER;
        break;
      }
      case CmdKind.MULTI_KEY:
        idx = this.stepTarget(table, buf, 1, 1);
        break;
      case CmdKind.MSET:
        idx = this.stepTarget(table, buf, 1, 2);
        break;
      case CmdKind.KEYS:
        idx = this.keysTarget(table, row, buf);
        break;
      case CmdKind.ANY:
        break;
      case CmdKind.LOCAL:
        if (!TX_FORWARDABLE_LOCAL.has(row.name)) {
          return this.reject(msg, errorReply(`ERR '${row.name}' inside MULTI is not supported by nutmeg: it changes the connection, which other clients share`));
        }
        break;
      default:
        return this.reject(msg, errorReply(`ERR '${row.name.replace('|', ' ')}' is not supported by nutmeg: ${row.reason || 'not proxied'}`));
    }
    if (idx === NO_SERVER) return this.reject(msg, errorReply('ERR Connection refused'));
    if (idx === CROSS || !tx.place(table, idx)) return this.reject(msg, CROSSSLOT);
    tx.parts.push(buf.subarray(start, end));
    local(msg, QUEUED);
  }

  /** MULTI, EXEC, DISCARD. */
  private transaction(fw: Forwarder, msg: Msg, name: string): void {
    const tx = this.tx;
    if (name === 'multi') {
      if (tx !== null) return local(msg, ERR_NESTED);
      const t = new Transaction(fw);
      // After WATCH the transaction runs where the watched keys are.
      if (this.watching !== null) t.target = this.watching.owner;
      this.tx = t;
      return local(msg, OK_REPLY);
    }
    if (name === 'discard') {
      if (tx === null) return local(msg, ERR_DISCARD_WITHOUT);
      this.tx = null;
      this.unwatchQuietly(fw);
      return local(msg, OK_REPLY);
    }
    // exec
    if (tx === null) return local(msg, ERR_EXEC_WITHOUT);
    this.tx = null;
    const w = this.watching;
    this.watching = null;
    if (tx.failed || tx.forwarder !== fw) {
      if (w !== null) {
        this.watching = w;
        this.unwatchQuietly(fw);
      }
      return local(msg, ERR_EXECABORT);
    }
    const execBytes = msg.start === 0 && msg.end === msg.buf.length ? msg.buf : msg.buf.subarray(msg.start, msg.end);
    if (w !== null) {
      if (w.lost) {
        // The connection that held the WATCH closed (a failure, a failover): a watched key may have changed
        // unseen, so the transaction does not run, as when one did change.
        fw.release(w);
        return local(msg, NULL_ARRAY);
      }
      // On the connection that holds the WATCH: EXEC answers null if a watched key changed. Released after it.
      msg.lease = w;
      tx.parts.unshift(MULTI_REQUEST);
      fw.sendBatch(w, tx.parts, msg, execBytes);
      return;
    }
    if (tx.parts.length === 0) return local(msg, EMPTY_ARRAY);
    let target = tx.target;
    if (target === null) {
      const table = fw.table();
      const idx = table.firstLive();
      if (idx < 0) {
        fw.failMsg(msg, 'Connection refused');
        return;
      }
      target = table.target(idx);
    }
    tx.parts.unshift(MULTI_REQUEST);
    fw.sendBatch(target, tx.parts, msg, execBytes);
  }

  /**
   * CLUSTER in a Redis Cluster pool: KEYSLOT and INFO answered from the pool's slot table; everything else gets
   * standalone Redis's text, so that cluster-aware clients stay in standalone mode and talk to nutmeg as one server.
   */
  private cluster(fw: Forwarder, msg: Msg, buf: Buffer): void {
    const p = this.p;
    const s = p.args[0] as number;
    const e = p.args[1] as number;
    if (equalsLower(buf, s, e, 'keyslot')) {
      if (p.narg !== 3) return local(msg, errorReply("ERR wrong number of arguments for 'cluster|keyslot' command"));
      return local(msg, integerReply(keySlot(buf, p.args[2] as number, p.args[3] as number)));
    }
    if (equalsLower(buf, s, e, 'info')) {
      if (p.narg !== 2) return local(msg, errorReply("ERR wrong number of arguments for 'cluster|info' command"));
      const t = fw.table();
      let assigned = 0;
      for (let i = 0; i < t.size; i++) if (t.isLive(i)) assigned++;
      const lines = [
        `cluster_state:${assigned === t.size ? 'ok' : 'fail'}`,
        `cluster_slots_assigned:${assigned}`,
        `cluster_slots_ok:${assigned}`,
        'cluster_slots_pfail:0',
        'cluster_slots_fail:0',
        `cluster_known_nodes:${t.nodeCount}`,
        `cluster_size:${t.nodeCount}`,
        'nutmeg_proxy:1',
      ];
      return local(msg, bulkReply(`${lines.join('\r\n')}\r\n`));
    }
    return local(msg, CLUSTER_DISABLED);
  }

  /** Commands the proxy answers itself: PING, QUIT, AUTH, ECHO, SELECT, HELLO, CLIENT, INFO. */
  private local(client: Session, fw: Forwarder, msg: Msg, buf: Buffer, name: string): void {
    const p = this.p;
    const narg = p.narg;
    switch (name) {
      case 'ping':
        if (narg > 2) return local(msg, errorReply("ERR wrong number of arguments for 'ping' command"));
        if (this.subs !== null && this.subs.active) {
          // subscribed: Redis answers PING with a push-shaped array
          return local(msg, Buffer.concat([Buffer.from('*2\r\n$4\r\npong\r\n'), narg === 1 ? Buffer.from('$0\r\n\r\n') : bulk(buf, p.args[0] as number, p.args[1] as number)]));
        }
        return local(msg, narg === 1 ? PONG : bulk(buf, p.args[0] as number, p.args[1] as number));
      case 'echo':
        return local(msg, bulk(buf, p.args[0] as number, p.args[1] as number));
      case 'quit':
        msg.reply = OK_REPLY;
        client.quit(msg);
        return;
      case 'auth': {
        // AUTH <password> | AUTH <user> <password> (forward/redis-acl.ts)
        if (narg > 3) return local(msg, errorReply('ERR syntax error'));
        const i = narg === 2 ? 0 : 2;
        const user = narg === 2 ? null : buf.toString('utf8', p.args[0] as number, p.args[1] as number);
        return local(msg, this.auth(client, fw, user, buf, p.args[i] as number, p.args[i + 1] as number));
      }
      case 'select': {
        // redis_databases 1: the one database is redis_db. More: 0..N-1, each client its own, on server
        // connections SELECTed to it. Redis's own texts for the rest.
        const s = p.args[0] as number;
        const e = p.args[1] as number;
        const neg = e > s && buf[s] === 0x2d;
        const db = parseUnsigned(buf, neg ? s + 1 : s, e);
        if (db < 0 || e - s > 20) return local(msg, ERR_NOT_INTEGER);
        const cfg = fw.config;
        if (!neg && db === cfg.redisDb) {
          this.db = -1;
          return local(msg, OK_REPLY);
        }
        if (neg || cfg.redisDatabases <= 1 || db >= cfg.redisDatabases) return local(msg, ERR_DB_RANGE);
        if (this.watching !== null) return local(msg, errorReply('ERR SELECT after WATCH is not supported by nutmeg: the watch is on the old database'));
        this.db = db;
        return local(msg, OK_REPLY);
      }
      case 'subscribe':
      case 'psubscribe':
      case 'ssubscribe':
      case 'unsubscribe':
      case 'punsubscribe':
      case 'sunsubscribe':
        return this.pubsub(client, fw, msg, buf, name);
      case 'pubsub':
        return this.pubsubInfo(fw, msg, buf);
      case 'reset':
        client.name = null;
        this.tx = null;
        this.db = -1;
        if (this.subs !== null) this.subs.hub?.drop(this.subs);
        this.unwatchQuietly(fw);
        return local(msg, RESET_REPLY);
      case 'watch':
      case 'unwatch':
        return this.watch(fw, msg, buf, name);
      case 'multi':
      case 'exec':
      case 'discard':
        return this.transaction(fw, msg, name);
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

  /**
   * Log in as `user` (null: the one-argument AUTH). Without redis_auth or client_users, AUTH is refused as twemproxy
   * refuses it; the one-argument form against redis_auth keeps twemproxy's texts, every other refusal is Redis's WRONGPASS.
   */
  private auth(client: Session, fw: Forwarder, user: string | null, buf: Buffer, s: number, e: number): Buffer {
    const a = fw.auth;
    if (a === null) return user === null || user === 'default' ? NO_PASSWORD : WRONGPASS;
    const u = a.login(user, buf.subarray(s, e));
    client.authed = u !== null;
    client.user = u;
    if (u !== null) return OK_REPLY;
    return user === null && !a.usersMode ? BAD_PASSWORD : WRONGPASS;
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
        const user = buf.toString('utf8', p.args[2 * i] as number, p.args[2 * i + 1] as number);
        const r = this.auth(client, fw, user, buf, p.args[2 * (i + 1)] as number, p.args[2 * (i + 1) + 1] as number);
        if (r !== OK_REPLY) return local(msg, r);
        i += 2;
      } else if (equalsLower(buf, s, e, 'setname') && i + 1 < narg) {
        if (!setName(client, buf, p.args[2 * i] as number, p.args[2 * i + 1] as number)) return local(msg, BAD_CLIENT_NAME);
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
      return local(msg, setName(client, buf, p.args[2] as number, p.args[3] as number) ? OK_REPLY : BAD_CLIENT_NAME);
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
    // The scratch is zero between uses: only the indices this request touches are counted, then zeroed again
    // (a cluster table has 16384 indices, one per slot; walking them all per MGET would cost more than the split).
    const { count, size, fragOf } = scratch;
    if (TOUCHED.length < nkeys) TOUCHED = new Int32Array(nkeys);
    const touched = TOUCHED;
    let nt = 0;
    const keyFrag = new Array<number>(nkeys);
    const last = 2 * step - 1;
    for (let i = 0; i < nkeys; i++) {
      const a = 2 * i * step;
      const idx = table.route(buf, args[a] as number, args[a + 1] as number);
      if (idx < 0) {
        for (let t = 0; t < nt; t++) {
          count[touched[t] as number] = 0;
          size[touched[t] as number] = 0;
        }
        fw.failMsg(parent, 'Connection refused');
        return;
      }
      keyFrag[i] = idx;
      if (count[idx]!++ === 0) touched[nt++] = idx;
      size[idx]! += (args[a + last] as number) + CRLF_LEN - argHead(buf, args[a] as number);
    }
    const row = COMMANDS[parent.cmd]!;
    const nameHdr = FRAG_NAME[row.name]!;
    const frags: Msg[] = [];
    const bufs: Buffer[] = [];
    for (let t = 0; t < nt; t++) {
      const s = touched[t] as number;
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
      f.db = parent.db;
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
    for (let t = 0; t < nt; t++) {
      const s = touched[t] as number;
      count[s] = 0;
      size[s] = 0;
    }
    for (let t = 0; t < nt; t++) {
      const f = frags[t] as Msg;
      fw.send(table.target(touched[t] as number), f, f.buf);
    }
  }
}

/** A fragment of `parent` whose request is `bytes` (for the parent's server, database and command row). */
function fragmentOf(parent: Msg, bytes: Buffer): Msg {
  const f = allocMsg();
  f.parent = parent;
  f.cmd = parent.cmd;
  f.db = parent.db;
  f.buf = bytes;
  f.end = bytes.length;
  return f;
}

/** Some argument after the name equals the uppercase ASCII `word` (any case). */
function hasArg(buf: Buffer, args: readonly number[], narg: number, word: Buffer): boolean {
  for (let i = 1; i < narg; i++) {
    const s = args[2 * (i - 1)] as number;
    const e = args[2 * (i - 1) + 1] as number;
    if (e - s === word.length && equalsLower(buf, s, e, word.toString('latin1').toLowerCase())) return true;
  }
  return false;
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

/** nutmeg's own lines in the `# Server` section of INFO. */
function proxyInfoLines(): string {
  return `proxy:nutmeg\r\nnutmeg_version:${VERSION}\r\nnutmeg_process_id:${process.pid}\r\n`;
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
    if (parent === null) {
      this.p.collect = false;
      return;
    }
    const m = COMMANDS[parent.cmd]!.merge;
    this.p.collect = m === MergeKind.MGET || m === MergeKind.CONCAT || m === MergeKind.AND_ARRAY || m === MergeKind.SCAN;
  }

  parse(buf: Buffer, start: number): ParseStatus {
    return this.p.parse(buf, start);
  }

  redirect(msg: Msg): Buffer | null {
    const body = msg.retry;
    msg.retry = null;
    const r = msg.reply;
    if (body === null || r === null || !r.subarray(0, 9).equals(NOSCRIPT)) return null;
    const again = evalFromEvalsha(msg.buf.subarray(msg.start, msg.end), body);
    if (again !== null) msg.reply = null;
    return again;
  }

  complete(msg: Msg, buf: Buffer, start: number, end: number): ReplyStatus {
    const p = this.p;
    const slice = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (msg.parent === null) {
      msg.reply = msg.delta !== 0 && p.type === 0x3a ? integerReply(p.integer + msg.delta) : slice;
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
  if (row.kind === CmdKind.BROADCAST) return mergeBroadcast(parent, row.merge, proxyInfoLines);
  if (row.kind === CmdKind.SCAN) {
    const o = parent.fragOffsets as number[];
    return mergeScan(parent, o[0] as number, o[1] as number);
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
  handshake(cfg, db) {
    const out: Buffer[] = [];
    if (cfg.redisAuth !== null) {
      // AUTH [user] pass: redis_auth_user makes it a Redis 6 ACL login
      const args = cfg.redisAuthUser === null ? [cfg.redisAuth] : [cfg.redisAuthUser, cfg.redisAuth];
      out.push(Buffer.concat([Buffer.from(`*${args.length + 1}\r\n$4\r\nAUTH\r\n`), ...args.map((a) => bulkReply(a))]));
    }
    if (db > 0) {
      const d = String(db);
      out.push(Buffer.from(`*2\r\n$6\r\nSELECT\r\n$${d.length}\r\n${d}\r\n`));
    }
    return out;
  },
  merge,
};
