// Memcache multi-key gets, split and merged: forward/memcache.ts (dispatch) and forward/mc-routes.ts (failover,
// warm-up) ─► [this: keys ─► one fragment per server ─► replies merged in key order] ─► client.
//
//   get k1 k2 k3 ─► `get k1 k3 \r\n` to one server, `get k2 \r\n` to another (server order), keyFrag = [0, 1, 0]
//   keys whose server is down (-1, or ROUTE_DOWN in a failover pool) ─► one more fragment, failed at once through
//   the pool's failMsg: its failover pool splits those keys again (splitKeys with `reuse`), or the get fails
//   replies ─► mergeGet: VALUE blocks in the client's key order, one END (protocol/memcache/merge.ts)
//
// A split never moves a key's fragment once sent, except by a route: a failed fragment's slot is taken over by the
// first fragment of its re-split, and later fragments are appended; keyFrag follows. The parent's `pending`
// counts the fragments not done yet.

import { MC_GETS } from '../protocol/memcache/commands';
import { K_VALUES, K_END, K_SERVER_ERROR, K_CLIENT_ERROR, K_ERROR } from '../protocol/memcache/reply';
import { serverError } from '../protocol/memcache/replies';
import { pickRetrieval, writeRetrieval } from '../protocol/memcache/merge';
import { allocMsg, type Msg } from './msg';
import { copyBytes } from '../util/bytes';
import type { Forwarder } from './protocol';

const GET_ = Buffer.from('get ');
const GETS_ = Buffer.from('gets ');
const EMPTY = Buffer.alloc(0);

/** Split a get/gets of `nkeys` keys (the parser's offsets `keys`, copied here) over `fw`'s servers. */
export function splitRequest(fw: Forwarder, parent: Msg, keys: readonly number[], nkeys: number): void {
  parent.frags = [];
  parent.keyFrag = new Array<number>(nkeys);
  // The client's key offsets, kept for the merge (the parser's array is reused).
  parent.fragOffsets = keys.slice(0, 2 * nkeys);
  parent.pending = 0;
  splitKeys(fw, parent, null, null);
}

/**
 * Split the keys `sel` (indices into the parent's keys; null: all) over `fw`'s current table, in key order. `reuse`:
 * a failed fragment of `parent` whose keys these are; the first new fragment takes its slot. The parent may be
 * complete when this returns (every key on a down server, and no failover pool): the caller must not touch it.
 */
export function splitKeys(fw: Forwarder, parent: Msg, sel: readonly number[] | null, reuse: Msg | null): void {
  const table = fw.table();
  const buf = parent.buf;
  const keys = parent.fragOffsets as number[];
  const keyFrag = parent.keyFrag as number[];
  const frags = parent.frags as Msg[];
  const n = sel === null ? keyFrag.length : sel.length;
  const scratch = table.scratch;
  scratch.reset();
  const { count, size, fragOf } = scratch;
  let down = 0;
  for (let j = 0; j < n; j++) {
    const k = sel === null ? j : (sel[j] as number);
    const s = keys[2 * k] as number;
    const e = keys[2 * k + 1] as number;
    const idx = table.route(buf, s, e);
    keyFrag[k] = idx; // the target for now, its fragment below
    if (idx < 0) {
      down++;
      continue;
    }
    count[idx]!++;
    size[idx]! += e - s + 1;
  }
  const verb = parent.cmd === MC_GETS ? GETS_ : GET_;
  let spare = reuse;
  const spareSlot = reuse === null ? -1 : frags.indexOf(reuse);
  // A single-key request to one server goes as the client sent it (warm-up splits single gets too).
  const whole = keyFrag.length === 1 && reuse === null && down === 0;
  let built = 0;
  for (let t = 0; t < count.length; t++) {
    if (count[t] === 0) continue;
    const fi = fragAt(parent, frags, spare, spareSlot);
    spare = null;
    fragOf[t] = fi;
    const f = frags[fi] as Msg;
    if (whole) {
      f.buf = buf;
      f.start = parent.start;
      f.end = parent.end;
    } else {
      // verb + each key followed by a space + CRLF: `get k1 k3 \r\n`, byte for byte as twemproxy sends it
      const fb = Buffer.allocUnsafe(verb.length + (size[t] as number) + 2);
      verb.copy(fb, 0);
      size[t] = verb.length;
      f.buf = fb;
      f.end = fb.length;
    }
    built++;
  }
  const downFrag = down > 0 ? fragAt(parent, frags, spare, spareSlot) : -1;
  if (!whole) {
    for (let j = 0; j < n; j++) {
      const k = sel === null ? j : (sel[j] as number);
      const t = keyFrag[k] as number;
      if (t < 0) {
        keyFrag[k] = downFrag;
        continue;
      }
      const f = frags[fragOf[t] as number] as Msg;
      let o = copyBytes(buf, keys[2 * k] as number, keys[2 * k + 1] as number, f.buf, size[t] as number);
      f.buf[o++] = 0x20;
      size[t] = o;
      keyFrag[k] = fragOf[t] as number;
    }
    for (let t = 0; t < count.length; t++) {
      if (count[t] === 0) continue;
      const fb = (frags[fragOf[t] as number] as Msg).buf;
      fb[fb.length - 2] = 13;
      fb[fb.length - 1] = 10;
    }
  } else {
    keyFrag[0] = fragOf[(keyFrag[0] as number)] as number;
  }
  parent.pending += built + (down > 0 ? 1 : 0) - (reuse === null ? 0 : 1);
  if (keyFrag.length > 1) fw.stats.fragments += built;
  // In target order, as the fragments were built; the down keys last (their failure may complete the parent).
  for (let t = 0; t < count.length; t++) {
    if (count[t] === 0) continue;
    const f = frags[fragOf[t] as number] as Msg;
    fw.send(table.target(t), f, f.start === 0 && f.end === f.buf.length ? f.buf : f.buf.subarray(f.start, f.end));
  }
  if (downFrag >= 0) fw.failMsg(frags[downFrag] as Msg, 'Connection refused');
}

/** A fragment slot of `parent`: `spare`'s, cleared, when given; else a new fragment at the end. Returns its index. */
function fragAt(parent: Msg, frags: Msg[], spare: Msg | null, spareSlot: number): number {
  if (spare !== null) {
    spare.buf = EMPTY;
    spare.start = 0;
    spare.end = 0;
    spare.done = false;
    spare.fragReply = null;
    spare.fragOffsets = null;
    spare.fragType = 0;
    spare.fragError = null;
    return spareSlot;
  }
  const f = allocMsg();
  f.parent = parent;
  f.cmd = parent.cmd;
  frags.push(f);
  return frags.length - 1;
}

/** Every fragment of a split get got a retrieval reply (no error): the merge can pick VALUE blocks. */
export function fragsRetrieved(frags: readonly Msg[]): boolean {
  for (const f of frags) if (f.fragError !== null || (f.fragType !== K_VALUES && f.fragType !== K_END)) return false;
  return true;
}

/**
 * One reply for a split get: VALUE blocks in the client's key order, then one END; or the first error.
 * Returns the merged reply's size (picked() then tells which keys hit) or -1 for an error reply.
 */
export function mergeGet(parent: Msg): number {
  const frags = parent.frags!;
  if (!fragsRetrieved(frags)) {
    parent.reply = failedGet(frags);
    return -1;
  }
  const replies = frags.map((f) => f.fragReply!);
  const values = frags.map((f) => f.fragOffsets ?? []);
  const total = pickRetrieval(parent.buf, parent.fragOffsets!, parent.keyFrag!, replies, values);
  parent.reply = writeRetrieval(total, parent.keyFrag!, replies, values);
  return total;
}

/** The reply of a split get whose fragments did not all retrieve: the first proxy error, else the first server error. */
function failedGet(frags: readonly Msg[]): Buffer {
  for (const f of frags) if (f.fragError !== null) return serverError(f.fragError);
  for (const f of frags) {
    const k = f.fragType;
    if (k !== K_VALUES && k !== K_END) {
      return (k === K_SERVER_ERROR || k === K_CLIENT_ERROR || k === K_ERROR) && f.fragReply !== null ? f.fragReply : serverError('Invalid argument');
    }
  }
  return serverError('Invalid argument');
}
