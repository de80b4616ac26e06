// Router, hash stage: the one table of hash functions, keyed by the names used in the `hash:` directive.

import { crc16 } from './crc16';
import { crc32 } from './crc32';
import { crc32a } from './crc32a';
import { fnv1_32 } from './fnv1_32';
import { fnv1_64 } from './fnv1_64';
import { fnv1a_32 } from './fnv1a_32';
import { fnv1a_64 } from './fnv1a_64';
import { hsieh } from './hsieh';
import { jenkins } from './jenkins';
import { md5 } from './md5';
import { murmur } from './murmur';
import { oneAtATime } from './one_at_a_time';

/** Hashes the bytes buf[start..end) to an unsigned 32-bit integer. Allocation-free. */
export type HashFn = (buf: Buffer, start: number, end: number) => number;

export const HASH_NAMES = [
  'one_at_a_time',
  'md5',
  'crc16',
  'crc32',
  'crc32a',
  'fnv1_64',
  'fnv1a_64',
  'fnv1_32',
  'fnv1a_32',
  'hsieh',
  'murmur',
  'jenkins',
] as const;

export type HashName = (typeof HASH_NAMES)[number];

export const HASHES: Record<HashName, HashFn> = {
  one_at_a_time: oneAtATime,
  md5,
  crc16,
  crc32,
  crc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
};
