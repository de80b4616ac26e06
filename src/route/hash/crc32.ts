// Router, hash stage: twemproxy `crc32`, the libmemcached variant: a real CRC-32 pass whose result is then
// cut to the 15 bits ((~crc >> 16) & 0x7fff). Sign extension of key bytes is masked away by the table index.

import { CRC32_TABLE } from './crc_table';

export function crc32(buf: Buffer, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ buf[i]!) & 0xff]!;
  }
  return (~crc >>> 16) & 0x7fff;
}
