// Router, distribution stage: modula, spec §3.5. Each live server (sorted order) appears `weight` times;
// the server is continuum[hash % total weight].
//
//   weights b:1 zeta:1 server9:1 server10:2  ->  continuum [b, zeta, server9, server10, server10]

import type { DistServer, Distribution } from './types';

/** Above this total weight, use cumulative weights and a binary search instead of one slot per weight unit. */
const MAX_FLAT = 1 << 16;

export class Modula implements Distribution {
  /** One slot per weight unit (when the total weight is at most MAX_FLAT), else empty. */
  private flat: Int32Array = new Int32Array(0);
  /** Cumulative weights (exclusive upper bounds) and their servers, for large total weights. */
  private upTo: Float64Array = new Float64Array(0);
  private servers: Int32Array = new Int32Array(0);
  private total = 0;

  build(live: readonly DistServer[]): void {
    let total = 0;
    for (const s of live) total += s.weight;
    this.total = total;
    if (total <= MAX_FLAT) {
      const flat = new Int32Array(total);
      let k = 0;
      for (const s of live) for (let i = 0; i < s.weight; i++) flat[k++] = s.index;
      this.flat = flat;
      this.upTo = new Float64Array(0);
      this.servers = new Int32Array(0);
    } else {
      const upTo = new Float64Array(live.length);
      const servers = new Int32Array(live.length);
      let acc = 0;
      for (let i = 0; i < live.length; i++) {
        acc += live[i]!.weight;
        upTo[i] = acc;
        servers[i] = live[i]!.index;
      }
      this.flat = new Int32Array(0);
      this.upTo = upTo;
      this.servers = servers;
    }
  }

  dispatch(hash: number): number {
    const total = this.total;
    if (total === 0) return -1;
    const slot = hash % total;
    if (this.flat.length !== 0) return this.flat[slot]!;
    const upTo = this.upTo;
    let lo = 0;
    let hi = upTo.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (upTo[mid]! <= slot) lo = mid + 1;
      else hi = mid;
    }
    return this.servers[lo]!;
  }
}
