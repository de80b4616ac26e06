// Router, hash stage: twemproxy `crc32a`, the standard CRC-32 (IEEE, reflected, init and final XOR 0xFFFFFFFF).

import { CRC32_TABLE } from './crc_table';

export function crc32a(buf: Buffer, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ buf[i]!) & 0xff]!;
  }
  return ~crc >>> 0;
}
