// Router, hash stage: twemproxy `murmur`, MurmurHash2 (m = 0x5bd1e995, r = 24) seeded with 0xdeadbeef * len.

const M = 0x5bd1e995;

export function murmur(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  let h = Math.imul(0xdeadbeef | 0, len) ^ len;
  let p = start;
  for (; end - p >= 4; p += 4) {
    let k = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (end - p) {
    case 3:
      h ^= buf[p + 2]! << 16;
    // falls through
    case 2:
      h ^= buf[p + 1]! << 8;
    // falls through
    case 1:
      h ^= buf[p]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}
