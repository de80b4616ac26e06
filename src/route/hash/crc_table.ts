// Router, hash stage: the two CRC lookup tables shared by crc16, crc32 and crc32a (built once at load).

/** CRC-16/XMODEM table: polynomial 0x1021, MSB first. */
export const CRC16_TABLE = new Uint32Array(256);
/** Reflected CRC-32 table: polynomial 0xEDB88320. */
export const CRC32_TABLE = new Int32Array(256);

for (let n = 0; n < 256; n++) {
  let c16 = n << 8;
  let c32 = n;
  for (let k = 0; k < 8; k++) {
    c16 = c16 & 0x8000 ? ((c16 << 1) ^ 0x1021) & 0xffff : (c16 << 1) & 0xffff;
    c32 = c32 & 1 ? (c32 >>> 1) ^ 0xedb88320 : c32 >>> 1;
  }
  CRC16_TABLE[n] = c16;
  CRC32_TABLE[n] = c32;
}
