// Router, hash stage: twemproxy `fnv1a_64`, which is computed entirely in 32 bits with the truncated constants
// (basis 0x84222325, prime 0x1b3); it is *not* the low half of real FNV-1a-64. Key bytes sign-extended.

export function fnv1a_64(buf: Buffer, start: number, end: number): number {
  let h = 0x84222325 | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ ((buf[i]! << 24) >> 24), 0x1b3);
  }
  return h >>> 0;
}
