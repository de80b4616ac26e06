// Redis command table: request parser → [this table: kind, arity, routing key, merge] → forward/route/merge.
//
// One row per command name. Adding a command means adding a row. Lookups go through an
// open-addressing hash over the ASCII-lowercased name bytes; no string is created per request.
//
// Deviations from twemproxy 0.5.0 (spec §4.2), chosen on purpose:
//   * ECHO, SELECT, HELLO, CLIENT, INFO are LOCAL (answered by the proxy) instead of unsupported.
//   * COMMAND takes any arguments (twemproxy: exactly none).
//   * EXISTS is fragmented like DEL and its replies are summed (twemproxy sends it whole to the first key's server).
//   * MOVE (twemproxy: recognised, then closes the connection) is UNSUPPORTED.
//   * Redis 6.2–7.2 key-first commands are added (streams, *_RO variants, EXPIRETIME, LCS, SUBSTR, ...).
//     XINFO and XGROUP route by argument 2 (the key after the subcommand) and need narg ≥ 3, so
//     `XINFO HELP` / `XGROUP HELP` fail the arity check.
//   * Arity is not checked for UNSUPPORTED rows (arity -1): they are refused whatever their arguments.
//
// The `readonly` column is Redis's own `readonly` command flag (COMMAND INFO): only such commands may be sent
// to a replica (read_policy in a pool with sentinels). EVAL/EVALSHA/FCALL are writes, their _RO forms reads;
// SORT and GEORADIUS[BYMEMBER] (STORE options) are writes, SORT_RO and the GEORADIUS*_RO forms reads.

/** What the proxy does with a command. */
export const CmdKind = {
  /** Answered by the proxy itself. */
  LOCAL: 0,
  /** One routing key at `firstKey`; forwarded whole. */
  SINGLE: 1,
  /** No key; forwarded whole to the server chosen by hashing `placeholder`. */
  KEYLESS: 2,
  /** Every argument is a key; fragmented per server when there is more than one key. */
  MULTI_KEY: 3,
  /** Key/value pairs; fragmented per server when there is more than one pair. */
  MSET: 4,
  /** `script numkeys key...`: routed by the first key after numkeys (argument 3). */
  EVAL: 5,
  /** Known command that the proxy refuses; see `reason`. */
  UNSUPPORTED: 6,
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
} as const;
export type MergeKind = (typeof MergeKind)[keyof typeof MergeKind];

export interface CommandRow {
  /** Lowercase command name. */
  readonly name: string;
  readonly kind: CmdKind;
  /** >0: exact narg (command name included); -N: at least N. */
  readonly arity: number;
  /** Argument index of the routing key (1 = first argument after the name); 0 = none. */
  readonly firstKey: number;
  readonly merge: MergeKind;
  /** Why the proxy refuses it (UNSUPPORTED rows only; '' otherwise). */
  readonly reason: string;
  /** Redis flags it read-only: a replica may serve it. */
  readonly readonly: boolean;
}

/** Commands Redis flags `readonly` (Redis 7.0 COMMAND INFO), among those nutmeg forwards. */
const READ_ONLY = new Set(
  `GET GETRANGE SUBSTR STRLEN MGET EXISTS TTL PTTL EXPIRETIME PEXPIRETIME TYPE DUMP TOUCH GETBIT BITCOUNT BITPOS
  BITFIELD_RO LCS HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HSCAN HRANDFIELD LINDEX LLEN LRANGE LPOS SCARD
  SMEMBERS SISMEMBER SMISMEMBER SRANDMEMBER SSCAN SDIFF SINTER SUNION ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZSCORE
  ZMSCORE ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZSCAN ZDIFF ZINTER ZUNION
  ZRANDMEMBER PFCOUNT GEODIST GEOPOS GEOHASH GEOSEARCH GEORADIUS_RO GEORADIUSBYMEMBER_RO SORT_RO XLEN XRANGE
  XREVRANGE XPENDING XINFO EVAL_RO EVALSHA_RO FCALL_RO LOLWUT`
    .split(/\s+/)
    .filter((n) => n !== '')
    .map((n) => n.toLowerCase()),
);

const K = CmdKind;
const M = MergeKind;

const rows: CommandRow[] = [];

function row(kind: CmdKind, arity: number, firstKey: number, merge: MergeKind, reason: string, names: string): void {
  for (const n of names.split(/\s+/)) {
    if (n === '') continue;
    const name = n.toLowerCase();
    rows.push({ name, kind, arity, firstKey, merge, reason, readonly: kind !== K.UNSUPPORTED && READ_ONLY.has(name) });
  }
}
function single(arity: number, names: string): void {
  row(K.SINGLE, arity, 1, M.NONE, '', names);
}
function refuse(reason: string, names: string): void {
  row(K.UNSUPPORTED, -1, 0, M.NONE, reason, names);
}

// --- answered locally
row(K.LOCAL, 1, 0, M.NONE, '', 'PING QUIT');
row(K.LOCAL, 2, 1, M.NONE, '', 'AUTH'); // the password sits in the key position (key length limit, spec §4.1)
row(K.LOCAL, 2, 0, M.NONE, '', 'ECHO SELECT');
row(K.LOCAL, -1, 0, M.NONE, '', 'HELLO INFO');
row(K.LOCAL, -2, 0, M.NONE, '', 'CLIENT');

// --- keyless, forwarded to hash('placeholder')
row(K.KEYLESS, -1, 0, M.NONE, '', 'COMMAND LOLWUT');

// --- single key (spec §4.2)
single(2, 'PERSIST PTTL TTL TYPE DUMP DECR GET GETDEL INCR STRLEN HGETALL HKEYS HLEN HVALS LLEN SCARD SMEMBERS ZCARD');
single(3, `EXPIRE EXPIREAT PEXPIRE PEXPIREAT APPEND DECRBY GETBIT GETSET INCRBY INCRBYFLOAT SETNX HEXISTS HGET
  HSTRLEN LINDEX RPOPLPUSH SISMEMBER ZRANK ZREVRANK ZSCORE`);
single(4, `GETRANGE PSETEX SETBIT SETEX SETRANGE HINCRBY HINCRBYFLOAT HSETNX LRANGE LREM LSET LTRIM SMOVE ZCOUNT
  ZLEXCOUNT ZINCRBY ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE`);
single(5, 'LINSERT LMOVE');
single(-2, `SORT COPY BITCOUNT BITPOS BITFIELD GETEX SET HDEL HMGET HMSET HSCAN HSET HRANDFIELD LPUSH LPUSHX
  RPUSH RPUSHX LPOP RPOP LPOS SADD SDIFF SDIFFSTORE SINTER SINTERSTORE SREM SUNION SUNIONSTORE SRANDMEMBER SSCAN
  SPOP SMISMEMBER PFADD PFMERGE PFCOUNT ZADD ZDIFF ZDIFFSTORE ZINTER ZINTERSTORE ZMSCORE ZPOPMAX ZPOPMIN
  ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZREM ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZSCAN
  ZUNION ZUNIONSTORE GEODIST GEOPOS GEOHASH GEOADD GEORADIUS GEORADIUSBYMEMBER GEOSEARCH GEOSEARCHSTORE RESTORE`);

// --- single key, Redis 6.2–7.2 additions (Redis's own arities)
single(2, 'EXPIRETIME PEXPIRETIME XLEN');
single(4, 'SUBSTR');
single(-2, 'BITFIELD_RO SORT_RO');
single(-3, 'LCS XDEL XPENDING XSETID');
single(-4, 'XRANGE XREVRANGE XTRIM XACK');
single(-5, 'XADD GEORADIUSBYMEMBER_RO');
single(-6, 'XCLAIM XAUTOCLAIM GEORADIUS_RO');
row(K.SINGLE, -3, 2, M.NONE, '', 'XINFO XGROUP'); // XINFO STREAM key / XGROUP CREATE key ...

// --- fragmented
row(K.MULTI_KEY, -2, 1, M.MGET, '', 'MGET');
row(K.MULTI_KEY, -2, 1, M.SUM, '', 'DEL UNLINK TOUCH EXISTS');
row(K.MSET, -3, 1, M.ALL_OK, '', 'MSET'); // plus: narg odd (checkArity)

// --- scripts: routed by the first key after numkeys
row(K.EVAL, -4, 3, M.NONE, '', 'EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO');

// --- refused
refuse('keys span all shards', 'KEYS SCAN RANDOMKEY DBSIZE FLUSHALL FLUSHDB');
refuse('transactions are not proxied', 'MULTI EXEC DISCARD WATCH UNWATCH');
refuse('pub/sub is not proxied', `SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB SSUBSCRIBE SUNSUBSCRIBE
  SPUBLISH`);
refuse('blocking commands are not proxied', 'BLPOP BRPOP BRPOPLPUSH BLMOVE BZPOPMIN BZPOPMAX BLMPOP BZMPOP XREAD XREADGROUP');
refuse('multi-key pop', 'LMPOP ZMPOP');
refuse('numkeys comes first: no routing key', 'SINTERCARD ZINTERCARD');
refuse('keys may live on different shards', 'MSETNX RENAME RENAMENX BITOP');
refuse('databases are not proxied', 'MOVE SWAPDB');
refuse('scripts and functions are managed per server', 'SCRIPT FUNCTION');
refuse('replication commands are not proxied', 'SLAVEOF REPLICAOF SYNC PSYNC WAIT WAITAOF FAILOVER ROLE');
refuse('cluster commands are not proxied', 'CLUSTER READONLY READWRITE ASKING');
refuse('server administration is not proxied', `CONFIG SHUTDOWN SAVE BGSAVE BGREWRITEAOF LASTSAVE MONITOR DEBUG
  MIGRATE OBJECT MEMORY LATENCY SLOWLOG ACL MODULE TIME RESET`);

/** The command table; `lookupCommand` returns an index into it. */
export const COMMANDS: readonly CommandRow[] = rows;

/** The readonly column as bytes, indexed like COMMANDS: read once per request by pools that read from replicas. */
export const READ_ONLY_CMD: Uint8Array = Uint8Array.from(rows, (r) => (r.readonly ? 1 : 0));
{
  const known = new Set(rows.map((r) => r.name));
  for (const n of READ_ONLY) if (!known.has(n)) throw new Error(`read-only command ${n} has no row`);
}

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
