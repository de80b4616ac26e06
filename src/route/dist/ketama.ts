// Router, distribution stage: ketama consistent hashing (twemproxy's default), spec §3.4.
//
//   build:    server s gets points(s) = 4 * floor(160/4 * n * w_s/W) (single-precision steps), from
//             md5("<name>-<j>") for j < points/4, 4 little-endian words per digest
//   continuum VALUES  [ 0x0123.. | 0x0456.. | ... | 0xff01.. ]   ascending uint32
//             SERVERS [    2     |    0     | ... |    1     ]   server index of each point
//   dispatch: first point with value >= hash (binary search), wrapping to point 0

import type { DistServer, Distribution } from './types';
import { MD5_OUT, md5Words } from '../hash/md5';

const POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;
const MAX_HOST_LEN = 272;

/**
 * Number of continuum points of each server, given the weights of the live servers, with the single-precision
 * float rounding of the C code (equal weights give 160 each for most n but 156 for n = 25, 47, 50, ...).
 */
export function ketamaPointCounts(weights: readonly number[]): number[] {
  const f = Math.fround;
  const n = weights.length;
  let total = 0;
  for (const w of weights) total += w;
  const counts: number[] = [];
  for (const w of weights) {
    const pct = f(f(w) / f(total));
    const x = f(f(f(pct * POINTS_PER_SERVER) / 4) * f(n));
    counts.push(Math.floor(f(x + 0.0000000001)) * POINTS_PER_HASH);
  }
  return counts;
}

/** twemproxy ketama_hash(): word `alignment` (0..3) of md5(buf[start..end)), as a uint32. */
export function ketamaHash(buf: Buffer, start: number, end: number, alignment: number): number {
  md5Words(buf, start, end);
  return MD5_OUT[alignment & 3]!;
}

export class Ketama implements Distribution {
  /** Point values, ascending. */
  private values: Uint32Array = new Uint32Array(0);
  /** Server index of each point. */
  private servers: Int32Array = new Int32Array(0);
  private count = 0;

  build(live: readonly DistServer[]): void {
    const counts = ketamaPointCounts(live.map((s) => s.weight));
    let total = 0;
    for (const c of counts) total += c;
    const rawValues = new Uint32Array(total);
    const rawServers = new Int32Array(total);
    let k = 0;
    for (let s = 0; s < live.length; s++) {
      const server = live[s]!;
      const hashes = counts[s]! / POINTS_PER_HASH;
      for (let j = 0; j < hashes; j++) {
        let key = Buffer.from(`${server.name}-${j}`, 'utf8');
        if (key.length > MAX_HOST_LEN) key = key.subarray(0, MAX_HOST_LEN);
        md5Words(key, 0, key.length);
        for (let x = 0; x < POINTS_PER_HASH; x++) {
          rawValues[k] = MD5_OUT[x]!;
          rawServers[k] = server.index;
          k++;
        }
      }
    }
    // Sort point positions by value; equal values keep emission order (server order, then j, then word),
    // so the result is deterministic. qsort in the C code leaves ties unspecified.
    const order = new Uint32Array(total);
    for (let i = 0; i < total; i++) order[i] = i;
    order.sort((a, b) => rawValues[a]! - rawValues[b]! || a - b);
    const values = new Uint32Array(total);
    const servers = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const from = order[i]!;
      values[i] = rawValues[from]!;
      servers[i] = rawServers[from]!;
    }
    this.values = values;
    this.servers = servers;
    this.count = total;
  }

  dispatch(hash: number): number {
    const values = this.values;
    const count = this.count;
    if (count === 0) return -1;
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.servers[lo === count ? 0 : lo]!;
  }

  /** Number of points on the continuum (for tests and stats). */
  get points(): number {
    return this.count;
  }
}
