// Router, Redis Cluster key stage: key bytes -> hash slot (CRC16/XMODEM of the key or its `{...}` tag, mod 16384),
// exactly as Redis Cluster's keyHashSlot(): the tag is what lies between the first `{` and the first `}` after it,
// when that is not empty; otherwise the whole key is hashed.

import { crc16 } from './hash/crc16';
import { TAG, hashTagRange } from './hash-tag';

/** Slots of a Redis Cluster. */
export const SLOTS = 16384;

const LBRACE = 0x7b;
const RBRACE = 0x7d;

/** The hash slot of the key buf[start..end). Allocates nothing. */
export function keySlot(buf: Buffer, start: number, end: number): number {
  hashTagRange(buf, start, end, LBRACE, RBRACE);
  // crc16() keeps bits above 16 (twemproxy's variant); the low 14 bits are the real CRC's.
  return crc16(buf, TAG.start, TAG.end) & (SLOTS - 1);
}
