// Router, hash stage: twemproxy `fnv1_64`, genuine 64-bit FNV-1 (h *= 0x100000001b3; h ^= sx64(b)), low 32 bits returned.
//
// Only the low half is computed, and that is exact: the low 32 bits of a product mod 2^64 depend only on the
// low 32 bits of its factors, and XOR is bitwise, so the high half never feeds back into the returned bits.
// The low 32 bits of the offset basis 0xcbf29ce484222325 are 0x84222325, of the prime 0x100000001b3 are 0x1b3,
// and of a sign-extended byte are sx(b). (test/unit/hash.test.ts checks this against a full BigInt version.)

export function fnv1_64(buf: Buffer, start: number, end: number): number {
  let h = 0x84222325 | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h, 0x1b3) ^ ((buf[i]! << 24) >> 24);
  }
  return h >>> 0;
}
