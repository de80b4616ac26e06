// Redis command table: request parser → [this table: kind, arity, keys, merge] → forward/route/merge.
//
// One row per command and per subcommand (`xinfo|stream`), built from Redis's own COMMAND data
// (command-specs.ts: arity, flags, key specs) plus what the proxy does with each (its kind). Adding a
// command means adding a row there and, if it is special, a line here. Lookups go through an
// open-addressing hash over the ASCII-lowercased name bytes; no string is created per request.
//
// Kinds:
//   SINGLE     one key at `firstKey`, forwarded whole (the fast path: GET, SET, ...)
//   KEYS       keys found by the key specs (keys.ts); all must map to one server, else -CROSSSLOT
//   MULTI_KEY / MSET  split per server and merged (MGET, DEL, UNLINK, TOUCH, EXISTS / MSET)
//   ANY        no key: forwarded whole to the server of `placeholder` (twemproxy's choice for COMMAND)
//   CONTAINER  the subcommand (argument 1) names the row to use
//   LOCAL      answered by the proxy; UNSUPPORTED refused with `reason`
//
// Deviations from twemproxy 0.5.0 (spec §4.2), chosen on purpose:
//   * arities are Redis 7.0's (EXPIRE NX, SET GET, ...); commands twemproxy knows keep its placement
//     (the first key), but a command whose keys span servers gets -CROSSSLOT instead of a wrong answer.
//   * ECHO, SELECT, HELLO, CLIENT, INFO, RESET are LOCAL; EXISTS is split and summed like DEL.
//   * EVAL/EVALSHA/FCALL with numkeys 0 go to the first live server; a count the server will reject goes
//     there too, so the client gets Redis's own error.

import { RAW_COMMANDS } from './command-specs';
import { compileSpecs, type KeySpec } from './keys';

/** What the proxy does with a command. */
export const CmdKind = {
  /** Answered by the proxy itself. */
  LOCAL: 0,
  /** One routing key at `firstKey`; forwarded whole. */
  SINGLE: 1,
  /** No key; forwarded whole to the server chosen by hashing `placeholder`. */
  ANY: 2,
  /** Every argument is a key; fragmented per server when there is more than one key. */
  MULTI_KEY: 3,
  /** Key/value pairs; fragmented per server when there is more than one pair. */
  MSET: 4,
  /** Keys found by the key specs, all on one server; forwarded whole. */
  KEYS: 5,
  /** Known command that the proxy refuses; see `reason`. */
  UNSUPPORTED: 6,
  /** Argument 1 names a subcommand row. */
  CONTAINER: 7,
  /** Sent whole to every live server; the replies merged by `merge` (KEYS, DBSIZE, SCRIPT LOAD, INFO, ...). */
  BROADCAST: 8,
  /** SCAN: one server at a time, its index carried in the cursor. */
  SCAN: 9,
} as const;
export type CmdKind = (typeof CmdKind)[keyof typeof CmdKind];

/** How the replies of a fragmented command are combined. */
export const MergeKind = {
  NONE: 0,
  /** Array of the fragments' elements in original key order. */
  MGET: 1,
  /** Sum of the fragments' integer replies. */
  SUM: 2,
  /** `+OK` once every fragment answered `+OK`. */
  ALL_OK: 3,
  /** One array of every fragment's elements (KEYS). */
  CONCAT: 4,
  /** The reply when every server gave the same one, else the first error (SCRIPT LOAD, FUNCTION LOAD). */
  SAME: 5,
  /** Element-wise AND of integer arrays (SCRIPT EXISTS). */
  AND_ARRAY: 6,
  /** `+OK` when any server answered `+OK`, else the first reply (SCRIPT KILL, FUNCTION KILL). */
  ANY_OK: 7,
  /** The first server's reply (FUNCTION LIST, DUMP, STATS). */
  FIRST: 8,
  /** A random non-nil reply, else nil (RANDOMKEY). */
  RANDOM: 9,
  /** INFO: the first server's text with the keyspace, errorstats and commandstats summed, plus the proxy's lines. */
  INFO: 10,
  /** SCAN's reply with the server index put into the cursor. */
  SCAN: 11,
} as const;
export type MergeKind = (typeof MergeKind)[keyof typeof MergeKind];

/** Command flags (Redis's names), as bits. */
export const CmdFlag = {
  WRITE: 1,
  READONLY: 2,
  ADMIN: 4,
  PUBSUB: 8,
  BLOCKING: 16,
  NO_MANDATORY_KEYS: 32,
  MOVABLEKEYS: 64,
  NOSCRIPT: 128,
  NO_MULTI: 256,
} as const;

export interface CommandRow {
  /** Lowercase command name (`xinfo|stream` for a subcommand). */
  readonly name: string;
  readonly kind: CmdKind;
  /** >0: exact narg (command name included); -N: at least N. For a subcommand, narg counts the command too. */
  readonly arity: number;
  readonly flags: number;
  /** SINGLE: argument index of the routing key (1 = first argument after the name); 0 = none. */
  readonly firstKey: number;
  readonly specs: readonly KeySpec[];
  readonly merge: MergeKind;
  /** Why the proxy refuses it (UNSUPPORTED rows only; '' otherwise). */
  readonly reason: string;
  /** CONTAINER: subcommand name (lowercase) to row index. */
  readonly subs: ReadonlyMap<string, number> | null;
}

const K = CmdKind;
const M = MergeKind;

// --- what the proxy does, where it is not "route by the key specs"
const LOCAL = new Set(
  'ping echo quit auth hello select reset client multi exec discard watch unwatch subscribe psubscribe ssubscribe unsubscribe punsubscribe sunsubscribe pubsub'.split(' '),
);
/** Whole-keyspace commands: sent to every live server, replies merged. FLUSHDB/FLUSHALL need redis_admin_commands. */
const BROADCAST: Record<string, MergeKind> = {
  keys: M.CONCAT,
  dbsize: M.SUM,
  randomkey: M.RANDOM,
  flushdb: M.ALL_OK,
  flushall: M.ALL_OK,
  info: M.INFO,
  'script|load': M.SAME,
  'script|exists': M.AND_ARRAY,
  'script|flush': M.ALL_OK,
  'script|kill': M.ANY_OK,
  'function|load': M.SAME,
  'function|delete': M.ALL_OK,
  'function|flush': M.ALL_OK,
  'function|restore': M.ALL_OK,
  'function|kill': M.ANY_OK,
  'function|dump': M.FIRST,
  'function|list': M.FIRST,
  'function|stats': M.FIRST,
};
const ANY = new Set('command lolwut time'.split(' '));
const SPLIT: Record<string, [CmdKind, MergeKind]> = {
  mget: [K.MULTI_KEY, M.MGET],
  del: [K.MULTI_KEY, M.SUM],
  unlink: [K.MULTI_KEY, M.SUM],
  touch: [K.MULTI_KEY, M.SUM],
  exists: [K.MULTI_KEY, M.SUM],
  mset: [K.MSET, M.ALL_OK],
};
/** Keyless commands routed by argument 1 as if it were a key (a channel is placed like a key). */
const CHANNEL_FIRST = new Set('publish spublish'.split(' '));
const REFUSED: [string, string][] = [
  ['script debugging is per server', 'script|debug'],
  ['databases are not proxied', 'move swapdb'],
  ['replication commands are not proxied', 'slaveof replicaof sync psync replconf wait failover role'],
  ['cluster commands are not proxied', 'cluster readonly readwrite asking'],
  [
    'server administration is not proxied',
    'config shutdown save bgsave bgrewriteaof lastsave monitor debug migrate latency slowlog acl module pfselftest memory|doctor memory|malloc-stats memory|purge memory|stats memory|help',
  ],
];
const REFUSE = new Map<string, string>();
for (const [why, names] of REFUSED) for (const n of names.split(' ')) REFUSE.set(n, why);

const FLAG_BITS: Record<string, number> = {
  write: CmdFlag.WRITE,
  readonly: CmdFlag.READONLY,
  admin: CmdFlag.ADMIN,
  pubsub: CmdFlag.PUBSUB,
  blocking: CmdFlag.BLOCKING,
  no_mandatory_keys: CmdFlag.NO_MANDATORY_KEYS,
  movablekeys: CmdFlag.MOVABLEKEYS,
  noscript: CmdFlag.NOSCRIPT,
  no_multi: CmdFlag.NO_MULTI,
};

const rows: CommandRow[] = [];
const containers = new Map<string, Map<string, number>>();
for (const [name] of RAW_COMMANDS) {
  const bar = name.indexOf('|');
  if (bar > 0) {
    const top = name.slice(0, bar);
    if (!containers.has(top)) containers.set(top, new Map());
  }
}

function kindOf(name: string, specs: readonly KeySpec[], rawSpecs: number, flags: number): { kind: CmdKind; merge: MergeKind; firstKey: number; reason: string } {
  const top = name.split('|')[0] as string;
  const refused = REFUSE.get(name) ?? REFUSE.get(top);
  if (refused !== undefined) return { kind: K.UNSUPPORTED, merge: M.NONE, firstKey: 0, reason: refused };
  if (LOCAL.has(top)) return { kind: K.LOCAL, merge: M.NONE, firstKey: name === 'auth' ? 1 : 0, reason: '' };
  const bc = BROADCAST[name];
  if (bc !== undefined) return { kind: K.BROADCAST, merge: bc, firstKey: 0, reason: '' };
  if (name === 'scan') return { kind: K.SCAN, merge: M.SCAN, firstKey: 0, reason: '' };
  if (containers.has(name)) return { kind: K.CONTAINER, merge: M.NONE, firstKey: 0, reason: '' };
  const split = SPLIT[name];
  if (split !== undefined) return { kind: split[0], merge: split[1], firstKey: 1, reason: '' };
  if (CHANNEL_FIRST.has(name)) return { kind: K.SINGLE, merge: M.NONE, firstKey: 1, reason: '' };
  if (ANY.has(top) || name.endsWith('|help')) return { kind: K.ANY, merge: M.NONE, firstKey: 0, reason: '' };
  if (rawSpecs === 0) return { kind: K.UNSUPPORTED, merge: M.NONE, firstKey: 0, reason: 'it has no key to route by' };
  const s0 = specs[0];
  const simple = specs.length === 1 && rawSpecs === 1 && s0 !== undefined && s0.keyword === null && s0.find === 0 && s0.a === 0 && (flags & CmdFlag.MOVABLEKEYS) === 0;
  if (simple) return { kind: K.SINGLE, merge: M.NONE, firstKey: s0.index, reason: '' };
  return { kind: K.KEYS, merge: M.NONE, firstKey: 0, reason: '' };
}

for (const [name, arity, flagText, rawSpecs] of RAW_COMMANDS) {
  let flags = 0;
  for (const f of flagText.split(' ')) flags |= FLAG_BITS[f] ?? 0;
  const specs = compileSpecs(rawSpecs);
  const k = kindOf(name, specs, rawSpecs.length, flags);
  const bar = name.indexOf('|');
  if (bar > 0) containers.get(name.slice(0, bar))?.set(name.slice(bar + 1), rows.length);
  rows.push({ name, kind: k.kind, arity, flags, firstKey: k.firstKey, specs, merge: k.merge, reason: k.reason, subs: containers.get(name) ?? null });
}
// Blocking commands (flag BLOCKING) run on a connection leased to the client; XREAD and XREADGROUP only with
// BLOCK (without it they are ordinary multi-key reads). forward/redis.ts decides.

/** The command table; `lookupCommand` returns an index into it. */
export const COMMANDS: readonly CommandRow[] = rows;

/**
 * 1 for the commands Redis flags `readonly` (COMMAND INFO) that nutmeg forwards: only those may go to a
 * replica (read_policy in a pool with sentinels). EVAL/EVALSHA/FCALL are not, their _RO forms are.
 */
export const READ_ONLY_CMD: Uint8Array = Uint8Array.from(rows, (r) => ((r.flags & CmdFlag.READONLY) !== 0 && r.kind !== K.UNSUPPORTED && r.kind !== K.LOCAL ? 1 : 0));

// --- name lookup: open addressing over lowercased bytes, verified byte-wise

const NAME_BYTES = Buffer.from(rows.map((r) => r.name).join(''), 'latin1');
const NAME_OFF = new Int32Array(rows.length);
const NAME_LEN = new Int32Array(rows.length);
let maxLen = 0;
{
  let off = 0;
  for (let i = 0; i < rows.length; i++) {
    const len = rows[i]!.name.length;
    NAME_OFF[i] = off;
    NAME_LEN[i] = len;
    off += len;
    if (len > maxLen) maxLen = len;
  }
}
const MAX_NAME_LEN = maxLen;
const TABLE_BITS = 10;
const TABLE_MASK = (1 << TABLE_BITS) - 1;
const TABLE = new Int16Array(1 << TABLE_BITS).fill(-1);

/** Case-folding hash: `| 0x20` maps A–Z onto a–z (and some punctuation onto others; equality is checked exactly). */
function nameHash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i]! | 0x20), 0x01000193);
  return (h ^ (h >>> 15)) & TABLE_MASK;
}

for (let i = 0; i < rows.length; i++) {
  const off = NAME_OFF[i]!;
  let slot = nameHash(NAME_BYTES, off, off + NAME_LEN[i]!);
  while (TABLE[slot] !== -1) slot = (slot + 1) & TABLE_MASK;
  TABLE[slot] = i;
}
if (rows.length * 2 > TABLE_MASK) throw new Error('command table too small');
{
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.name)) throw new Error(`duplicate command row ${r.name}`);
    seen.add(r.name);
  }
}

/** Row index of the command named by buf[start, end) (ASCII case-insensitive), or -1. */
export function lookupCommand(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len <= 0 || len > MAX_NAME_LEN) return -1;
  let slot = nameHash(buf, start, end);
  for (;;) {
    const idx = TABLE[slot]!;
    if (idx < 0) return -1;
    if (NAME_LEN[idx] === len) {
      let off = NAME_OFF[idx]!;
      let i = start;
      for (; i < end; i++, off++) {
        let c = buf[i]!;
        if (c >= 65 && c <= 90) c += 32;
        if (c !== NAME_BYTES[off]) break;
      }
      if (i === end) return idx;
    }
    slot = (slot + 1) & TABLE_MASK;
  }
}

/** Whether narg (command name included) fits the row's arity; false for cmd -1. */
export function checkArity(cmd: number, narg: number): boolean {
  const r = rows[cmd];
  if (r === undefined) return false;
  const a = r.arity;
  if (a > 0 ? narg !== a : narg < -a) return false;
  if (r.kind === K.MSET && (narg & 1) === 0) return false;
  return true;
}

/** Row of container `cmd`'s subcommand named by buf[start, end) (any case), or -1. Containers only (rare commands). */
export function lookupSubcommand(cmd: number, buf: Buffer, start: number, end: number): number {
  const subs = rows[cmd]?.subs;
  if (subs === null || subs === undefined || end - start > 64) return -1;
  return subs.get(buf.toString('latin1', start, end).toLowerCase()) ?? -1;
}

/**
 * EVAL-family numkeys: the value when buf[start, end) is a positive decimal integer, else -1.
 * (The caller also requires an argument after it: numkeys is argument 2, the routing key argument 3.)
 */
export function parseNumkeys(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 10) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n > 0 && n <= 0x7fffffff ? n : -1;
}
