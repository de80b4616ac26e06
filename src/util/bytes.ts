// Byte helpers for the few places that build bytes (fragments, merged replies): decimal
// numbers written straight into a Buffer, without going through strings.

/** Below this many bytes a plain loop beats Buffer#copy, whose fixed cost (a new view over the source) is about 50 ns. */
const SHORT_COPY = 64;

/** Copy src[start, end) to dst at off; returns the offset after it. For the short spans of fragments and merged replies. */
export function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, off: number): number {
  if (end - start < SHORT_COPY) {
    for (let i = start; i < end; i++) dst[off++] = src[i] as number;
    return off;
  }
  return off + src.copy(dst, off, start, end);
}

export function decimalLength(n: number): number {
  let len = n < 0 ? 2 : 1;
  let v = n < 0 ? -n : n;
  while (v >= 10) {
    v = Math.floor(v / 10);
    len++;
  }
  return len;
}

/** Write n (an integer) in decimal at off; returns the offset after it. */
export function writeDecimal(buf: Buffer, off: number, n: number): number {
  if (n < 0) {
    buf[off++] = 0x2d;
    n = -n;
  }
  const len = decimalLength(n);
  let p = off + len - 1;
  do {
    buf[p--] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return off + len;
}

/** Parse an unsigned decimal in buf[start, end); -1 if empty, not all digits, or above 2^53. */
export function parseUnsigned(buf: Buffer, start: number, end: number): number {
  if (end <= start) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = (buf[i] as number) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v > Number.MAX_SAFE_INTEGER ? -1 : v;
}

/** Byte equality of two ranges. */
export function rangeEquals(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = 0; i < ae - as; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

/** Case-insensitive compare of buf[start, end) with a lowercase ASCII word. */
export function equalsLower(buf: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    let c = buf[start + i] as number;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}
