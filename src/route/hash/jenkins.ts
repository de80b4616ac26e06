// Router, hash stage: twemproxy `jenkins`, Bob Jenkins' lookup3 hashlittle() with initval 13
// (little-endian words of unsigned bytes; the last 1..12 bytes zero-padded and run through `final`).

/** Little-endian word of up to 4 bytes at p, zero beyond `end`. */
function word(buf: Buffer, p: number, end: number): number {
  if (end - p >= 4) return buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
  let w = 0;
  for (let s = 0; p < end; p++, s += 8) w |= buf[p]! << s;
  return w;
}

export function jenkins(buf: Buffer, start: number, end: number): number {
  let len = end - start;
  let a = (0xdeadbeef + len + 13) | 0;
  let b = a;
  let c = a;
  if (len <= 0) return c >>> 0;
  let p = start;
  while (len > 12) {
    a = (a + (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24))) | 0;
    b = (b + (buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24))) | 0;
    c = (c + (buf[p + 8]! | (buf[p + 9]! << 8) | (buf[p + 10]! << 16) | (buf[p + 11]! << 24))) | 0;
    // mix(a, b, c)
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
    p += 12;
    len -= 12;
  }
  // last 1..12 bytes, zero-padded
  a = (a + word(buf, p, end)) | 0;
  b = (b + (p + 4 < end ? word(buf, p + 4, end) : 0)) | 0;
  c = (c + (p + 8 < end ? word(buf, p + 8, end) : 0)) | 0;
  // final(a, b, c)
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  return c >>> 0;
}
