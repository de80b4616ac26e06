// Router, hash stage: twemproxy `crc16`, CRC-16/XMODEM steps on a uint32 that is never masked to 16 bits
// (the high bits shifted out of the 16-bit CRC stay in the result; only the low 16 bits are the real CRC).

import { CRC16_TABLE } from './crc_table';

export function crc16(buf: Buffer, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = (crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ buf[i]!) & 0xff]!;
  }
  return crc >>> 0;
}
