// Whole-keyspace Redis commands through a sharded pool, the merge side: a request sent to every live server
// (KEYS, DBSIZE, RANDOMKEY, FLUSHDB, SCRIPT, FUNCTION, INFO) comes back as one reply per server, merged here;
// SCAN goes to one server at a time and carries the server's index in the cursor.
//
//   KEYS ─► every server ─► [*a b] [*c] [*] ─► *3 a b c          SCAN 0 ─► server 0 (cursor 0) ─► [17, keys]
//   DBSIZE ─► :3 :4 :0 ─► :7                                    ─► cursor (17 << 10) | 0 ─► ... next server ...
//
// SCAN cursor: (server cursor << 10) | server index, in BigInt, printed as a plain decimal (clients convert
// it with int()); at most 1024 servers. A reload or an ejection during a scan may skip or repeat keys, the
// same guarantee class as Redis's own rehashing.

import { errorReply, integerReply, bulkReply } from '../protocol/redis/replies';
import { MergeKind } from '../protocol/redis/commands';
import type { Msg } from './msg';

const NIL = Buffer.from('$-1\r\n');
const OK = Buffer.from('+OK\r\n');
export const ERR_INVALID_CURSOR = Buffer.from('-ERR invalid cursor\r\n');
const ERR_CURSOR_OVERFLOW = Buffer.from('-ERR nutmeg: SCAN cursor overflow\r\n');
const MAX_CURSOR = 1n << 64n;
export const SCAN_SERVER_BITS = 10n;
export const SCAN_MAX_SERVERS = 1 << Number(SCAN_SERVER_BITS);

/** The elements of a fragment's top-level array, as slices of its reply (the reply parser collected their offsets). */
function elements(f: Msg): Buffer[] {
  const r = f.fragReply as Buffer;
  const o = f.fragOffsets ?? [];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < o.length; i += 2) out.push(r.subarray(o[i] as number, o[i + 1] as number));
  return out;
}

function array(items: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);
}

function firstError(frags: readonly Msg[]): Buffer | null {
  for (const f of frags) if (f.fragType === 0x2d && f.fragReply !== null) return f.fragReply;
  return null;
}

/** Merges the replies of a broadcast (every fragment already has its reply; connection failures were handled). */
export function mergeBroadcast(parent: Msg, merge: number, proxyInfo: () => string): void {
  const frags = parent.frags as Msg[];
  const err = firstError(frags);
  switch (merge) {
    case MergeKind.CONCAT: {
      if (err !== null) break;
      const items: Buffer[] = [];
      for (const f of frags) items.push(...elements(f));
      parent.reply = array(items);
      return;
    }
    case MergeKind.SUM: {
      if (err !== null) break;
      let sum = 0;
      for (const f of frags) sum += f.fragInt;
      parent.reply = integerReply(sum);
      return;
    }
    case MergeKind.ALL_OK:
      if (err !== null) break;
      parent.reply = OK;
      return;
    case MergeKind.SAME: {
      if (err !== null) break;
      const first = frags[0]?.fragReply ?? NIL;
      parent.reply = frags.every((f) => f.fragReply !== null && f.fragReply.equals(first)) ? first : errorReply('ERR nutmeg: the servers gave different replies');
      return;
    }
    case MergeKind.AND_ARRAY: {
      if (err !== null) break;
      const lists = frags.map((f) => elements(f).map((e) => e.toString('latin1')));
      const n = lists[0]?.length ?? 0;
      const out: Buffer[] = [];
      for (let i = 0; i < n; i++) out.push(lists.every((l) => l[i] === ':1\r\n') ? integerReply(1) : integerReply(0));
      parent.reply = array(out);
      return;
    }
    case MergeKind.ANY_OK:
      parent.reply = frags.some((f) => f.fragType === 0x2b) ? OK : (frags[0]?.fragReply ?? NIL);
      return;
    case MergeKind.FIRST:
      parent.reply = frags[0]?.fragReply ?? NIL;
      return;
    case MergeKind.RANDOM: {
      if (err !== null) break;
      const hits = frags.filter((f) => f.fragType === 0x24 && f.fragReply !== null && !f.fragReply.equals(NIL));
      parent.reply = hits.length === 0 ? NIL : (hits[Math.floor(Math.random() * hits.length)]?.fragReply ?? NIL);
      return;
    }
    case MergeKind.INFO:
      if (err !== null) break;
      parent.reply = bulkReply(mergeInfo(frags.map((f) => bulkText(f)), proxyInfo()));
      return;
  }
  parent.reply = err ?? errorReply('ERR nutmeg: unexpected replies from the servers');
}

/** The text of a bulk-string reply. */
function bulkText(f: Msg): string {
  const r = f.fragReply as Buffer;
  const nl = r.indexOf('\r\n');
  return r.toString('latin1', nl + 2, r.length - 2);
}

const SUMMED_SECTIONS = new Set(['keyspace', 'errorstats', 'commandstats']);

/**
 * INFO from several servers as one: the first server's sections, with the proxy's lines added to `# Server`;
 * `# Keyspace`, `# Errorstats` and `# Commandstats` summed field by field over every server (a=1,b=2 pairs).
 */
export function mergeInfo(texts: string[], proxyLines: string): string {
  type Section = { name: string; lines: Map<string, string> };
  const parse = (t: string): Section[] => {
    const out: Section[] = [];
    for (const raw of t.split('\r\n')) {
      if (raw.startsWith('# ')) out.push({ name: raw.slice(2), lines: new Map() });
      else if (raw !== '' && out.length > 0) {
        const c = raw.indexOf(':');
        if (c > 0) (out[out.length - 1] as Section).lines.set(raw.slice(0, c), raw.slice(c + 1));
      }
    }
    return out;
  };
  const all = texts.map(parse);
  const base = all[0] ?? [];
  for (const sec of base) {
    if (!SUMMED_SECTIONS.has(sec.name.toLowerCase())) continue;
    const sum = new Map<string, Map<string, number>>();
    for (const other of all) {
      const s = other.find((x) => x.name === sec.name);
      if (s === undefined) continue;
      for (const [k, v] of s.lines) {
        let m = sum.get(k);
        if (m === undefined) {
          m = new Map();
          sum.set(k, m);
        }
        for (const pair of v.split(',')) {
          const eq = pair.indexOf('=');
          const n = Number(pair.slice(eq + 1));
          if (eq <= 0 || !Number.isFinite(n)) continue;
          const f = pair.slice(0, eq);
          // averages are not summed: the largest stands for them all
          m.set(f, f.startsWith('avg') ? Math.max(m.get(f) ?? 0, n) : (m.get(f) ?? 0) + n);
        }
      }
    }
    sec.lines = new Map([...sum].map(([k, m]) => [k, [...m].map(([f, n]) => `${f}=${Number.isInteger(n) ? n : n.toFixed(2)}`).join(',')]));
  }
  // clients feature-detect on redis_version: the lowest backend's
  const versions = all.map((a) => a.find((x) => x.name === 'Server')?.lines.get('redis_version')).filter((v): v is string => v !== undefined);
  const lowest = versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))[0];
  const server = base.find((x) => x.name === 'Server');
  if (server !== undefined && lowest !== undefined) server.lines.set('redis_version', lowest);
  let out = '';
  for (const sec of base) {
    out += `# ${sec.name}\r\n`;
    for (const [k, v] of sec.lines) out += `${k}:${v}\r\n`;
    if (sec.name === 'Server') out += proxyLines;
    out += '\r\n';
  }
  if (!base.some((s) => s.name === 'Keyspace')) out += '# Keyspace\r\n\r\n';
  return out;
}

/** SCAN's cursor argument: [server cursor, server index], or null when it is not a valid cursor. */
export function decodeCursor(text: string, servers: number): [bigint, number] | null {
  if (!/^[0-9]{1,20}$/.test(text)) return null;
  const c = BigInt(text);
  if (c >= MAX_CURSOR) return null;
  const server = Number(c & (BigInt(SCAN_MAX_SERVERS) - 1n));
  if (server >= servers) return null;
  return [c >> SCAN_SERVER_BITS, server];
}

/**
 * SCAN's reply for the client: server `server` answered [next, keys]; a next cursor of 0 moves the scan to
 * server `nextServer` (or ends it: -1). `parent.reply` gets the rewritten reply.
 */
export function mergeScan(parent: Msg, server: number, nextServer: number): void {
  const f = (parent.frags as Msg[])[0] as Msg;
  if (f.fragType !== 0x2a) {
    parent.reply = f.fragReply ?? errorReply('ERR nutmeg: unexpected SCAN reply');
    return;
  }
  const [cur, keys] = elements(f);
  if (cur === undefined || keys === undefined) {
    parent.reply = errorReply('ERR nutmeg: unexpected SCAN reply');
    return;
  }
  const nl = cur.indexOf('\r\n');
  const next = BigInt(cur.toString('latin1', nl + 2, cur.length - 2));
  let out: bigint;
  if (next === 0n) out = nextServer < 0 ? 0n : BigInt(nextServer);
  else out = (next << SCAN_SERVER_BITS) | BigInt(server);
  if (out >= MAX_CURSOR) {
    parent.reply = ERR_CURSOR_OVERFLOW;
    return;
  }
  parent.reply = Buffer.concat([Buffer.from('*2\r\n'), bulkReply(out.toString()), keys]);
}

/** A request with argument 1 replaced (SCAN's cursor for the server), as RESP. */
export function withArg1(buf: Buffer, nameStart: number, nameEnd: number, args: readonly number[], value: string): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length / 2 + 1}\r\n`)];
  const push = (b: Buffer): void => {
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  };
  push(buf.subarray(nameStart, nameEnd));
  push(Buffer.from(value));
  for (let i = 2; i < args.length; i += 2) push(buf.subarray(args[i] as number, args[i + 1] as number));
  return Buffer.concat(parts);
}
