// Router, hash stage: Bob Jenkins' one-at-a-time hash over buf[start..end), key bytes sign-extended (C `char`).

export function oneAtATime(buf: Buffer, start: number, end: number): number {
  let v = 0;
  for (let i = start; i < end; i++) {
    v = (v + ((buf[i]! << 24) >> 24)) | 0; // sx(b)
    v = (v + (v << 10)) | 0;
    v ^= v >>> 6;
  }
  v = (v + (v << 3)) | 0;
  v ^= v >>> 11;
  v = (v + (v << 15)) | 0;
  return v >>> 0;
}
