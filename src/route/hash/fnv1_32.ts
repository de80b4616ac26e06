// Router, hash stage: twemproxy `fnv1_32`, 32-bit FNV-1 (multiply, then XOR the sign-extended byte).

export function fnv1_32(buf: Buffer, start: number, end: number): number {
  let h = 2166136261 | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h, 16777619) ^ ((buf[i]! << 24) >> 24);
  }
  return h >>> 0;
}
