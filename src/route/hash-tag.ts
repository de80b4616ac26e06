// Router, key stage: picks the bytes of a key that get hashed when the pool has a `hash_tag` (spec §3.1 step 2).
//
//   key:  a b { u s e r 1 } c        L = '{', R = '}'
//               ^start    ^end       -> TAG = the bytes strictly between the first L and the first R after it
//
// The result goes into the module-level TAG record (no allocation per call; read it before the next call).

/** Range chosen by the last hashTagRange() call: hash buf[TAG.start..TAG.end). */
export const TAG = { start: 0, end: 0 };

/**
 * Finds the hash tag of buf[start..end) delimited by the bytes `left` and `right` (which may be equal) and writes
 * the range to hash into TAG. Only the first `left` counts; the tag must be non-empty. When there is no tag
 * (no `left`, no `right` after it, or an empty tag) TAG is the whole key. Returns true when a tag was found.
 */
export function hashTagRange(buf: Buffer, start: number, end: number, left: number, right: number): boolean {
  let l = start;
  while (l < end && buf[l] !== left) l++;
  if (l < end) {
    let r = l + 1;
    while (r < end && buf[r] !== right) r++;
    if (r < end && r > l + 1) {
      TAG.start = l + 1;
      TAG.end = r;
      return true;
    }
  }
  TAG.start = start;
  TAG.end = end;
  return false;
}
