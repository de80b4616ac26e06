// Memcache routes beyond the key's own server (wave2 §6), for pools with `failover`, `mirror_to` or `warmup_from`:
// forward/memcache.ts dispatch and server/pool.ts failMsg ─► [this] ─► other pools, as their Forwarder.
// A pool without these keys has no McRoutes (pool.routes === null) and pays one null check per request.
//
//   failover     a request or fragment fails (connect error, timeout, ejected: ROUTE_DOWN) ─► divert(): sent to the
//                failover pool, which may fail it over again (chains end: -t rejects cycles). Writes get their exptime
//                capped at failover_exptime (the only rewrite; a child msg carries the new bytes and RELAY completes
//                the client's). A split get re-splits only the failed fragment's keys (mc-split.ts), so key order holds.
//   mirror_to    set add replace append prepend cas(as set) delete touch incr decr ─► a copy per mirror pool, owned by
//                a MirrorSink, never by the client: its reply is counted (errors) and dropped, and it never enters the
//                client's FIFO. At most MIRROR_MAX_INFLIGHT copies (and MIRROR_MAX_BYTES) per mirror wait for replies;
//                past that a copy is dropped and counted, so a stalled mirror costs the primary path nothing more.
//   warmup_from  get/gets are always split (WARM_FIRST completes them) ─► keys that missed here are split over the warm
//                pool (WARM_SECOND) ─► one reply in key order ─► each key found there is written here with
//                `add … noreply` (never overwrites a value set meanwhile). A failure of the warm pool counts as a miss.
//
// Deviations, on purpose: copies are not mirrored again by the mirror pool, and warm-up does not chain (the warm
// pool is asked as a Forwarder, not through its own routes); meta commands are failed over (TTL flags capped) but
// neither mirrored nor warmed. A noreply request sent to a server that then fails is lost (as in twemproxy); once
// the server is ejected such requests go to the failover pool.

import { MC_COMMANDS, MC_ADD, MC_APPEND, MC_CAS, MC_DECR, MC_DELETE, MC_GET, MC_GETS, MC_INCR, MC_PREPEND, MC_REPLACE, MC_SET, MC_TOUCH } from '../protocol/memcache/commands';
import type { McRequestParser } from '../protocol/memcache/request';
import { K_END } from '../protocol/memcache/reply';
import { REPLY_END, serverError } from '../protocol/memcache/replies';
import { picked } from '../protocol/memcache/merge';
import { addFromValue, capExptime, casAsSet, scanLine } from '../protocol/memcache/rewrite';
import { allocMsg, freeMsg, type Msg, type MsgOwner, type MsgRoute } from './msg';
import { fragsRetrieved, mergeGet, splitKeys, splitRequest } from './mc-split';
import type { Forwarder, PoolRoutes } from './protocol';
import type { PoolStats } from '../stats/counters';

/** Copies one mirror pool may have waiting for replies, per primary pool. */
export const MIRROR_MAX_INFLIGHT = 1024;
/** Request bytes those copies may hold. */
export const MIRROR_MAX_BYTES = 16 * 1024 * 1024;

/** What dispatch does with a command (McRoutes.byCmd). */
export const ROUTE_PLAIN = 0;
export const ROUTE_MIRROR = 1;
export const ROUTE_WARM = 2;

const MIRRORED: readonly number[] = [MC_SET, MC_ADD, MC_REPLACE, MC_APPEND, MC_PREPEND, MC_CAS, MC_DELETE, MC_TOUCH, MC_INCR, MC_DECR];
const PLACEHOLDER = Buffer.from('placeholder');
const EMPTY_OFFSETS: number[] = [];

/** The pools a memcache pool's routes name, found by name when a configuration is applied. */
export interface RoutePools {
  get(name: string): Forwarder | undefined;
}

/**
 * One mirror pool of one primary pool: the owner of the copies sent there. Copies complete here one at a time (a
 * reply, an error or a failed connection); nothing here touches a queue, so a teardown may complete them.
 */
export class MirrorSink implements MsgOwner {
  readonly target: Forwarder;
  private readonly stats: PoolStats;
  /** Copies sent and not yet done, and their request bytes. */
  inflight = 0;
  bytes = 0;

  constructor(target: Forwarder, stats: PoolStats) {
    this.target = target;
    this.stats = stats;
  }

  onMsgDone(m: Msg): void {
    this.inflight--;
    this.bytes -= m.end - m.start + (m.suffix === null ? 0 : m.suffix.length);
    if (isErrorReply(m.reply)) this.stats.mirrorErrors++;
    freeMsg(m);
  }
}

/** ERROR, CLIENT_ERROR …, SERVER_ERROR … (NOT_STORED, EXISTS, NOT_FOUND are answers, not errors). */
function isErrorReply(r: Buffer | null): boolean {
  if (r === null || r.length < 2) return false;
  const a = r[0];
  const b = r[1];
  return (a === 0x45 && b === 0x52) || (a === 0x43 && b === 0x4c) || (a === 0x53 && b === 0x45); // ER, CL, SE
}

export class McRoutes implements PoolRoutes {
  /** The pool these routes belong to (whose counters they bump, where warm-up writes). */
  private readonly pool: Forwarder;
  private readonly failover: Forwarder | null;
  private readonly failoverExptime: number;
  readonly mirrors: readonly MirrorSink[];
  private readonly warm: Forwarder | null;
  private readonly warmExptime: number;
  /** Per command id: ROUTE_PLAIN, ROUTE_MIRROR or ROUTE_WARM (read by dispatch). */
  readonly byCmd: Uint8Array;
  private readonly warmFirst: MsgRoute;
  private readonly warmSecond: MsgRoute;

  private constructor(pool: Forwarder, failover: Forwarder | null, mirrors: MirrorSink[], warm: Forwarder | null) {
    const c = pool.config;
    this.pool = pool;
    this.failover = failover;
    this.failoverExptime = c.failoverExptime;
    this.mirrors = mirrors;
    this.warm = warm;
    this.warmExptime = c.warmupExptime;
    this.byCmd = new Uint8Array(MC_COMMANDS.length);
    if (mirrors.length > 0) for (const cmd of MIRRORED) this.byCmd[cmd] = ROUTE_MIRROR;
    if (warm !== null) {
      this.byCmd[MC_GET] = ROUTE_WARM;
      this.byCmd[MC_GETS] = ROUTE_WARM;
    }
    this.warmFirst = { complete: (parent) => this.warmFirstDone(parent) };
    this.warmSecond = { complete: (parent) => this.warmSecondDone(parent) };
  }

  /**
   * The routes of `pool` from its configuration, or null when it has none (or is a redis pool). `pools` finds
   * the other pools by name (the configuration was validated: they exist and are memcache pools). `prev`: the
   * routes the pool had, whose mirror counts of copies in flight carry over.
   */
  static link(pool: Forwarder, pools: RoutePools, prev: PoolRoutes | null): McRoutes | null {
    const c = pool.config;
    if (c.redis || (c.failover === null && c.mirrorTo.length === 0 && c.warmupFrom === null)) return null;
    const find = (name: string): Forwarder => {
      const p = pools.get(name);
      if (p === undefined) throw new Error(`pool '${c.name}': no pool '${name}'`); // config/load.ts checked the names
      return p;
    };
    const old = prev instanceof McRoutes ? prev.mirrors : [];
    const mirrors = c.mirrorTo.map((name) => {
      const target = find(name);
      return old.find((s) => s.target === target) ?? new MirrorSink(target, pool.stats);
    });
    return new McRoutes(pool, c.failover === null ? null : find(c.failover), mirrors, c.warmupFrom === null ? null : find(c.warmupFrom));
  }

  // --- dispatch (forward/memcache.ts): byCmd[cmd] !== ROUTE_PLAIN

  /**
   * A client request this pool routes: warm-up gets are split and completed here (returns true); a mirrored write
   * is copied to the mirror pools and then forwarded as usual by the caller (returns false).
   */
  dispatch(fw: Forwarder, msg: Msg, p: McRequestParser, buf: Buffer, start: number, end: number): boolean {
    if (this.byCmd[p.cmd] === ROUTE_WARM) {
      msg.route = this.warmFirst;
      splitRequest(fw, msg, p.keys, p.nkeys);
      return true;
    }
    this.mirror(p, buf, start, end);
    return false;
  }

  /** A copy of the write buf[start, end) for each mirror pool with room; every copy expects a reply (counted). */
  private mirror(p: McRequestParser, buf: Buffer, start: number, end: number): void {
    const stats = this.pool.stats;
    let cb: Buffer = buf;
    let cs = start;
    let ce = end;
    let tail: Buffer | null = null;
    let cmd = p.cmd;
    if (cmd === MC_CAS) {
      // A cas unique means nothing on another pool: the copy is a plain set, without noreply.
      cb = casAsSet(buf, start, end);
      cs = 0;
      ce = cb.length;
      cmd = MC_SET;
    } else if (p.noreply) {
      // Without noreply, or a stalled mirror's copies could not be counted: the line up to ` noreply`, then its CRLF
      // and data block as a suffix (both slices of the client's bytes).
      const l = scanLine(buf, start);
      ce = (l.s[l.n - 1] as number) - 1;
      tail = buf.subarray(l.cr, end);
    }
    const size = ce - cs + (tail === null ? 0 : tail.length);
    let ks = p.keys[0] as number;
    let ke = p.keys[1] as number;
    if (cb !== buf) {
      const l = scanLine(cb, 0);
      ks = l.s[1] as number;
      ke = l.e[1] as number;
    }
    for (const sink of this.mirrors) {
      if (sink.target.removed) continue;
      if (sink.inflight >= MIRROR_MAX_INFLIGHT || sink.bytes + size > MIRROR_MAX_BYTES) {
        stats.mirrorDropped++;
        continue;
      }
      stats.mirrorRequests++;
      const c = allocMsg();
      c.client = sink;
      c.buf = cb;
      c.start = cs;
      c.end = ce;
      c.suffix = tail;
      c.cmd = cmd;
      sink.inflight++;
      sink.bytes += size;
      sink.target.forward(c, cb, ks, ke);
    }
  }

  // --- failover (server/pool.ts failMsg)

  divert(msg: Msg, text: string): boolean {
    const to = this.failover;
    if (to === null || to.removed || msg.swallow) return false;
    this.pool.stats.failoverRequests++;
    const parent = msg.parent;
    if (parent !== null && parent.keyFrag !== null) {
      // A fragment of a split get: only its keys go to the failover pool, split over its servers.
      splitKeys(to, parent, keysOf(parent, msg), msg);
      return true;
    }
    const row = MC_COMMANDS[msg.cmd]!;
    if (row.keyless) {
      to.forward(msg, PLACEHOLDER, 0, PLACEHOLDER.length);
      return true;
    }
    let src = msg.buf;
    let s = msg.start;
    let e = msg.end;
    if (msg.suffix !== null && !msg.quiet) {
      // A mirror copy sent without its noreply (line, then CRLF + data as the suffix): one request again.
      src = Buffer.concat([src.subarray(s, e), msg.suffix]);
      s = 0;
      e = src.length;
    }
    let bytes = capExptime(src, s, e, msg.cmd, this.failoverExptime, Math.floor(Date.now() / 1000));
    if (bytes === null && src !== msg.buf) bytes = src;
    if (bytes === null) {
      const l = scanLine(msg.buf, msg.start);
      to.forward(msg, msg.buf, l.s[1] as number, l.e[1] as number);
      return true;
    }
    const l = scanLine(bytes, 0);
    const ks = l.s[1] as number;
    const ke = l.e[1] as number;
    if (parent !== null) {
      // Already a child carrying rewritten bytes (failed over before): it takes the new ones.
      msg.buf = bytes;
      msg.start = 0;
      msg.end = bytes.length;
      if (!msg.quiet) msg.suffix = null;
      to.forward(msg, bytes, ks, ke);
      return true;
    }
    // The client's request keeps its own bytes (the client and the server FIFO count them); a child carries the
    // rewritten request, and RELAY gives the client its reply.
    const c = allocMsg();
    c.parent = msg;
    c.cmd = msg.cmd;
    c.buf = bytes;
    c.end = bytes.length;
    c.expectReply = msg.expectReply;
    c.quiet = msg.quiet;
    c.suffix = msg.quiet ? msg.suffix : null;
    msg.frags = [c];
    msg.pending = 1;
    msg.route = RELAY;
    to.forward(c, bytes, ks, ke);
    return true;
  }

  // --- warm-up: the two completions of a split get of this pool

  /** This pool answered: done, unless keys missed and a warm pool can be asked for them. */
  private warmFirstDone(parent: Msg): boolean {
    const warm = this.warm;
    const frags = parent.frags!;
    if (warm === null || warm.removed || !fragsRetrieved(frags)) {
      mergeGet(parent);
      return true;
    }
    mergeGet(parent);
    const keyFrag = parent.keyFrag!;
    let missed: number[] | null = null;
    for (let k = 0; k < keyFrag.length; k++) {
      if (picked(k) >= 0) continue;
      (missed ??= []).push(k);
    }
    if (missed === null) return true;
    parent.reply = null;
    parent.route = this.warmSecond;
    parent.stageFrom = frags.length;
    // Held while the misses are sent: if the warm pool fails them all at once, this call completes the parent.
    parent.pending = 1;
    splitKeys(warm, parent, missed, null);
    if (--parent.pending > 0) return false;
    return this.warmSecondDone(parent);
  }

  /** The warm pool answered the misses: one reply in key order, then each key found there is added here. */
  private warmSecondDone(parent: Msg): boolean {
    const frags = parent.frags!;
    const from = parent.stageFrom;
    // Best effort: a warm-pool fragment that failed reads as misses.
    for (let i = from; i < frags.length; i++) {
      const f = frags[i] as Msg;
      if (fragsRetrieved([f])) continue;
      f.fragError = null;
      f.fragReply = REPLY_END;
      f.fragOffsets = EMPTY_OFFSETS;
      f.fragType = K_END;
    }
    mergeGet(parent);
    const pool = this.pool;
    if (pool.removed) return true;
    const keyFrag = parent.keyFrag!;
    for (let k = 0; k < keyFrag.length; k++) {
      const fi = keyFrag[k] as number;
      const j = picked(k);
      if (fi < from || j < 0) continue;
      const f = frags[fi] as Msg;
      const q = f.fragOffsets!;
      const add = addFromValue(f.fragReply!, q[j] as number, q[j + 1] as number, q[j + 2] as number, q[j + 3] as number, this.warmExptime);
      const m = allocMsg();
      m.cmd = MC_ADD;
      m.buf = add;
      m.end = add.length;
      m.expectReply = false;
      pool.stats.warmupHits++;
      pool.forward(m, add, 4, 4 + (q[j + 3] as number) - (q[j + 2] as number));
    }
    return true;
  }
}

/** Completes a client request whose rewritten copy (one child) was failed over: the child's reply is the reply. */
const RELAY: MsgRoute = {
  complete(parent: Msg): boolean {
    const c = (parent.frags as Msg[])[0] as Msg;
    parent.reply = c.fragError !== null ? serverError(c.fragError) : c.fragReply;
    return true;
  },
};

/** The keys (indices) a fragment of `parent` holds, in key order. */
function keysOf(parent: Msg, frag: Msg): number[] {
  const fi = parent.frags!.indexOf(frag);
  const keyFrag = parent.keyFrag!;
  const out: number[] = [];
  for (let k = 0; k < keyFrag.length; k++) if (keyFrag[k] === fi) out.push(k);
  return out;
}
