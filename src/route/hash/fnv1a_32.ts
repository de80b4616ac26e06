// Router, hash stage: twemproxy `fnv1a_32`, 32-bit FNV-1a (XOR the sign-extended byte, then multiply).

export function fnv1a_32(buf: Buffer, start: number, end: number): number {
  let h = 2166136261 | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ ((buf[i]! << 24) >> 24), 16777619);
  }
  return h >>> 0;
}
