// Router, hash stage: twemproxy `hsieh`, Paul Hsieh's SuperFastHash in the libmemcached flavour
// (16-bit little-endian reads of unsigned bytes; only the 3-byte tail sign-extends its last byte).

export function hsieh(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len <= 0) return 0;
  let h = 0;
  let p = start;
  const blocksEnd = end - (len & 3);
  for (; p < blocksEnd; p += 4) {
    h = (h + (buf[p]! | (buf[p + 1]! << 8))) | 0;
    const tmp = ((buf[p + 2]! | (buf[p + 3]! << 8)) << 11) ^ h;
    h = (h << 16) ^ tmp;
    h = (h + (h >>> 11)) | 0;
  }
  switch (len & 3) {
    case 3:
      h = (h + (buf[p]! | (buf[p + 1]! << 8))) | 0;
      h ^= h << 16;
      h ^= ((buf[p + 2]! << 24) >> 24) << 18; // sx(p[2])
      h = (h + (h >>> 11)) | 0;
      break;
    case 2:
      h = (h + (buf[p]! | (buf[p + 1]! << 8))) | 0;
      h ^= h << 11;
      h = (h + (h >>> 17)) | 0;
      break;
    case 1:
      h = (h + buf[p]!) | 0;
      h ^= h << 10;
      h = (h + (h >>> 1)) | 0;
      break;
  }
  h ^= h << 3;
  h = (h + (h >>> 5)) | 0;
  h ^= h << 4;
  h = (h + (h >>> 17)) | 0;
  h ^= h << 25;
  h = (h + (h >>> 6)) | 0;
  return h >>> 0;
}
