// Multi-get merge: fragment replies (McReplyParser offsets) → [this: VALUE blocks in request order + END] → client.
//
// A get/gets with keys on several servers is sent as one sub-request per server; each server
// answers with its VALUE blocks (missing keys omitted) and END. For each requested key in
// original order, the next unused block of that key's fragment is taken if its key bytes equal
// the requested key; otherwise the key missed (the block stays for a later key). Duplicate
// keys therefore get one block each, and blocks keep their cas field (gets).
//
//   key order:   k0(f0)  k1(f1)  k2(f0)  k3(f1)
//   fragment 0:  [VALUE k0 …]            (k2 missed)      cursor 0 → 1
//   fragment 1:          [VALUE k1 …] [VALUE k3 …]         cursor 0 → 1 → 2
//   output:      VALUE k0 … VALUE k1 … VALUE k3 … END
//
// Two passes over the keys (pickRetrieval: blocks and size; writeRetrieval: copy) and a single
// Buffer.allocUnsafe of the exact size. Scratch arrays are module-level and reused; between the two
// passes picked(k) tells which keys hit (warm-up retries the others, forward/mc-routes.ts).

import { REPLY_END } from './replies';
import { copyBytes } from '../../util/bytes';

let cursor = new Int32Array(16);
let pick = new Int32Array(64);

/**
 * Builds the merged reply of a fragmented get/gets.
 *
 * @param reqBuf   buffer holding the original request's key bytes
 * @param keys     absolute [s, e] offsets of the original keys in reqBuf, in request order
 *                 (a copy of McRequestParser.keys; only the first 2 * keyFrag.length entries are read)
 * @param keyFrag  keyFrag[k] = index of the fragment (in `replies`) that key k was sent to;
 *                 its length is the number of original keys
 * @param replies  replies[f] = buffer holding fragment f's reply
 * @param values   values[f] = that reply's [blockStart, blockEnd, keyStart, keyEnd] quads,
 *                 absolute in replies[f] (a copy of McReplyParser.values; its length is used)
 * @returns        the VALUE blocks in request order followed by one `END\r\n`
 */
export function mergeRetrieval(
  reqBuf: Buffer,
  keys: ArrayLike<number>,
  keyFrag: ArrayLike<number>,
  replies: ArrayLike<Buffer>,
  values: ArrayLike<ArrayLike<number>>,
): Buffer {
  return writeRetrieval(pickRetrieval(reqBuf, keys, keyFrag, replies, values), keyFrag, replies, values);
}

/** First pass of mergeRetrieval (same arguments): picks each key's block; returns the merged reply's size. */
export function pickRetrieval(
  reqBuf: Buffer,
  keys: ArrayLike<number>,
  keyFrag: ArrayLike<number>,
  replies: ArrayLike<Buffer>,
  values: ArrayLike<ArrayLike<number>>,
): number {
  const nkeys = keyFrag.length;
  const nfrag = replies.length;
  if (cursor.length < nfrag) cursor = new Int32Array(nfrag * 2);
  if (pick.length < nkeys) pick = new Int32Array(nkeys * 2);
  for (let f = 0; f < nfrag; f++) cursor[f] = 0;

  let total = REPLY_END.length;
  for (let k = 0; k < nkeys; k++) {
    const f = keyFrag[k]!;
    const q = values[f]!;
    const j = cursor[f]!;
    pick[k] = -1;
    if (j + 4 > q.length) continue;
    const rep = replies[f]!;
    const ks = keys[2 * k]!;
    const ke = keys[2 * k + 1]!;
    const bs = q[j + 2]!;
    const be = q[j + 3]!;
    if (be - bs !== ke - ks) continue;
    let same = true;
    for (let i = 0; i < ke - ks; i++) {
      if (rep[bs + i] !== reqBuf[ks + i]) {
        same = false;
        break;
      }
    }
    if (!same) continue;
    pick[k] = j;
    cursor[f] = j + 4;
    total += q[j + 1]! - q[j]!;
  }
  return total;
}

/** After pickRetrieval: key k's block starts at values[keyFrag[k]][picked(k)], or picked(k) is -1 (a miss). */
export function picked(k: number): number {
  return pick[k]!;
}

/** Second pass of mergeRetrieval: the picked blocks in key order, then END (`total` from pickRetrieval). */
export function writeRetrieval(total: number, keyFrag: ArrayLike<number>, replies: ArrayLike<Buffer>, values: ArrayLike<ArrayLike<number>>): Buffer {
  const nkeys = keyFrag.length;
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (let k = 0; k < nkeys; k++) {
    const j = pick[k]!;
    if (j < 0) continue;
    const f = keyFrag[k]!;
    const q = values[f]!;
    const src = replies[f]!;
    const bs = q[j]!;
    const be = q[j + 1]!;
    off = copyBytes(src, bs, be, out, off);
  }
  REPLY_END.copy(out, off);
  return out;
}
