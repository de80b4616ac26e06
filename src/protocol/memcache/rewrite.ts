// Memcached request rewriting, only where a route needs other bytes than the client sent (forward/mc-routes.ts):
// a write diverted to a failover pool gets a capped exptime, a cas mirrored becomes a set, a value warmed from the
// old pool is written here with `add`. Every other request is forwarded as received, never through this file.
//
//   request bytes (already validated by McRequestParser) ─► scanLine: token offsets of the command line ─► one new Buffer
//
// The requests these functions see passed the request parser: tokens are separated by spaces and the line ends
// in CRLF. Nothing here is on the path of a pool without routes.

import { MC_ADD, MC_CAS, MC_MA, MC_MD, MC_MG, MC_MS, MC_REPLACE, MC_SET, MC_TOUCH } from './commands';

const CR = 13;
const SP = 32;
/** Memcached reads an exptime above 30 days as a unix time, not a number of seconds. */
const REALTIME_MAXDELTA = 60 * 60 * 24 * 30;

/** Token offsets of one command line (reused: read them before the next scan). */
export class McLine {
  /** Token i is buf[s[i], e[i]); token 0 is the command name. */
  s: number[] = [];
  e: number[] = [];
  n = 0;
  /** Offset of the line's CR. */
  cr = 0;
}

const LINE = new McLine();

/** Tokens of the command line starting at buf[start]. */
export function scanLine(buf: Buffer, start: number): McLine {
  const l = LINE;
  let n = 0;
  let ts = -1;
  let i = start;
  const len = buf.length;
  for (; i < len && buf[i] !== CR; i++) {
    if (buf[i] === SP) {
      if (ts >= 0) {
        l.s[n] = ts;
        l.e[n++] = i;
        ts = -1;
      }
    } else if (ts < 0) {
      ts = i;
    }
  }
  if (ts >= 0) {
    l.s[n] = ts;
    l.e[n++] = i;
  }
  l.n = n;
  l.cr = i;
  return l;
}

/**
 * An exptime (or meta TTL) capped at `cap` seconds, memcached's way: negative = already expired (kept), 0 = never
 * (becomes `cap`), up to 30 days = seconds, above = a unix time (`now` in seconds) that is kept when it comes sooner.
 */
export function capTtl(ttl: number, cap: number, now: number): number {
  if (ttl < 0) return ttl;
  if (ttl === 0) return cap;
  if (ttl <= REALTIME_MAXDELTA) return ttl < cap ? ttl : cap;
  return ttl - now <= cap ? ttl : cap;
}

/**
 * The request buf[start, end) with every exptime capped at `cap` seconds (a write diverted to a failover pool must
 * not outlive the outage), or null when nothing changes. Classic set/add/replace/cas and touch carry an exptime
 * token (append and prepend have one that memcached ignores); meta commands carry T (and N: the TTL of an item
 * they create), and an ms without T would never expire, so it gets one.
 */
export function capExptime(buf: Buffer, start: number, end: number, cmd: number, cap: number, now: number): Buffer | null {
  const l = scanLine(buf, start);
  const edits: Edit[] = [];
  if (cmd === MC_SET || cmd === MC_ADD || cmd === MC_REPLACE || cmd === MC_CAS) {
    capToken(buf, l.s[3] as number, l.e[3] as number, cap, now, edits);
  } else if (cmd === MC_TOUCH) {
    capToken(buf, l.s[2] as number, l.e[2] as number, cap, now, edits);
  } else if (cmd === MC_MS || cmd === MC_MG || cmd === MC_MA || cmd === MC_MD) {
    let hasT = false;
    for (let k = cmd === MC_MS ? 3 : 2; k < l.n; k++) {
      const s = l.s[k] as number;
      const c = buf[s];
      if (c !== 0x54 && c !== 0x4e) continue; // T, N
      if (c === 0x54) hasT = true;
      capToken(buf, s + 1, l.e[k] as number, cap, now, edits);
    }
    if (cmd === MC_MS && !hasT) edits.push({ s: l.cr, e: l.cr, text: ` T${cap}` });
  }
  return edits.length === 0 ? null : applyEdits(buf, start, end, edits);
}

/**
 * `cas <key> <flags> <exptime> <bytes> <cas> [noreply]` + data ─► `set <key> <flags> <exptime> <bytes>` + data: a
 * mirror's copy (a cas unique means nothing on another pool), always answered (the mirror counts every reply).
 */
export function casAsSet(buf: Buffer, start: number, end: number): Buffer {
  const l = scanLine(buf, start);
  return applyEdits(buf, start, end, [
    { s: start, e: l.s[1] as number, text: 'set ' },
    { s: l.e[4] as number, e: l.cr, text: '' },
  ]);
}

/**
 * One VALUE block of a reply (`VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n` at rep[blockStart, blockEnd), key
 * at rep[keyStart, keyEnd)) as `add <key> <flags> <exptime> <bytes> noreply\r\n<data>\r\n`: add never overwrites a
 * value written meanwhile, and nobody waits for its reply.
 */
export function addFromValue(rep: Buffer, blockStart: number, blockEnd: number, keyStart: number, keyEnd: number, exptime: number): Buffer {
  const l = scanLine(rep, blockStart);
  // tokens: VALUE key flags bytes [cas]
  const flagsS = l.s[2] as number;
  const bytesE = l.e[3] as number;
  const flags = rep.subarray(flagsS, l.e[2] as number);
  const bytes = rep.subarray(l.s[3] as number, bytesE);
  const head = `add ${' '.repeat(keyEnd - keyStart)} ${flags.toString('latin1')} ${exptime} ${bytes.toString('latin1')} noreply`;
  const dataStart = l.cr; // CRLF data CRLF
  const out = Buffer.allocUnsafe(head.length + (blockEnd - dataStart));
  out.write(head, 0, 'latin1');
  rep.copy(out, 4, keyStart, keyEnd);
  rep.copy(out, head.length, dataStart, blockEnd);
  return out;
}

interface Edit {
  /** Replace buf[s, e) with text. */
  s: number;
  e: number;
  text: string;
}

/** Adds an edit capping the decimal number buf[s, e) (a leading '-' allowed) when capping changes it. */
function capToken(buf: Buffer, s: number, e: number, cap: number, now: number, edits: Edit[]): void {
  const v = Number(buf.toString('latin1', s, e));
  if (!Number.isFinite(v)) return;
  const capped = capTtl(v, cap, now);
  if (capped !== v) edits.push({ s, e, text: String(capped) });
}

/** buf[start, end) with the edits (in order, not overlapping) applied, as one new Buffer. */
function applyEdits(buf: Buffer, start: number, end: number, edits: readonly Edit[]): Buffer {
  let size = end - start;
  for (const d of edits) size += d.text.length - (d.e - d.s);
  const out = Buffer.allocUnsafe(size);
  let from = start;
  let o = 0;
  for (const d of edits) {
    o += buf.copy(out, o, from, d.s);
    o += out.write(d.text, o, 'latin1');
    from = d.e;
  }
  buf.copy(out, o, from, end);
  return out;
}
