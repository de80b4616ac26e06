// Router: key bytes -> server index for one pool (spec §3.1 steps 2-5). Sits between the request parser
// (which gives key offsets in the receive buffer) and the server pool (which owns the connections).
//
//   key buf[start..end) --hash_tag--> tag range --hash--> uint32 --distribution--> server index | -1 | ROUTE_DOWN
//
// Everything that depends on configuration (and the live set) is fixed at construction: a change builds a new
// Router (route/table.ts). route() allocates nothing.
//
// Down servers leave the distribution (twemproxy's auto_eject_hosts: their keys move to the others), except in
// a pool with a failover pool: there the ring keeps every server and a down server's points answer ROUTE_DOWN,
// so its keys go to the failover pool and no key of a healthy server moves. That costs route() nothing.

import { type DistName, type DistServer, type Distribution, createDistribution } from './dist/index';
import { TAG, hashTagRange } from './hash-tag';
import { HASHES, type HashFn, type HashName } from './hash/index';

/** route(): the key's server is down and the pool keeps its ring (`keepRing`): the request goes to the failover pool. */
export const ROUTE_DOWN = -2;

export interface RouterOptions {
  hash: HashName;
  distribution: DistName;
  /** Two bytes L,R (e.g. `{}`), or null for no hash tag. */
  hashTag: Buffer | null;
  /** The pool's servers, already in sorted order (config sorts them). */
  servers: readonly { name: string; weight: number }[];
  /** Down servers keep their place on the ring and route to ROUTE_DOWN (a pool with a failover pool). */
  keepRing?: boolean;
}

export class Router {
  private readonly hashFn: HashFn;
  private readonly dist: Distribution;
  private readonly servers: readonly DistServer[];
  /** Hash-tag delimiters, or -1 when the pool has no hash tag. */
  private readonly tagLeft: number;
  private readonly tagRight: number;
  private readonly liveCount: number;

  /** `live`: which servers the distribution is built over (default: all). */
  constructor(opts: RouterOptions, live: readonly boolean[] | null = null) {
    this.hashFn = HASHES[opts.hash];
    this.dist = createDistribution(opts.distribution);
    this.servers = opts.servers.map((s, index) => ({ name: s.name, weight: s.weight, index }));
    const tag = opts.hashTag;
    if (tag !== null && tag.length !== 2) throw new RangeError('hash tag must be exactly 2 bytes');
    this.tagLeft = tag === null ? -1 : tag[0]!;
    this.tagRight = tag === null ? -1 : tag[1]!;
    const up = live === null ? this.servers : this.servers.filter((s) => live[s.index] === true);
    this.liveCount = up.length;
    const over = opts.keepRing === true && live !== null ? this.servers.map((s) => (live[s.index] === true ? s : { ...s, index: ROUTE_DOWN })) : up;
    if (up.length > 0) this.dist.build(over);
  }

  /**
   * Server index for the key buf[start..end); -1 when no server is live; ROUTE_DOWN for a down server's key when
   * the ring is kept. A one-server pool always gets 0 without hashing; an empty key (or tag-extracted key)
   * dispatches hash value 0.
   */
  route(buf: Buffer, start: number, end: number): number {
    if (this.liveCount === 0) return -1;
    if (this.servers.length === 1) return 0;
    if (this.tagLeft >= 0) {
      hashTagRange(buf, start, end, this.tagLeft, this.tagRight);
      start = TAG.start;
      end = TAG.end;
    }
    const hash = start === end ? 0 : this.hashFn(buf, start, end);
    return this.dist.dispatch(hash);
  }

  /** Number of servers in the pool (live or not). */
  get size(): number {
    return this.servers.length;
  }
}
