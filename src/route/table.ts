// Routing, the table stage: everything a request needs to find its backend, built once and never
// changed. A pool publishes a new table whole when a reload, an ejection, a return or (later) a
// failover changes anything; a request reads the pool's table once and uses only that.
//
//   RoutingTable { backends (configured order), live set ─► Router (hash tag, hash, distribution), timeout, scratch }
//   route(key) ─► index into `backends` ─► target(index) ─► backend (an identity, see server/backend)
//              ─► -1 (no server live) | ROUTE_DOWN (keepRing: the key's server is down, see route/router.ts)

import { Router, type RouterOptions } from './router';
import { FragScratch, type RouteView, type Target } from '../forward/protocol';

export interface TableEntry<B extends Target> {
  backend: B;
  weight: number;
}

export interface TableSpec<B extends Target> {
  hash: RouterOptions['hash'];
  distribution: RouterOptions['distribution'];
  hashTag: Buffer | null;
  /** In the pool's configured (sorted) order: ketama's points and modula's slots depend on it. */
  entries: readonly TableEntry<B>[];
  /** ms for connect + reply, 0 = none. */
  timeout: number;
  /** Down backends keep their ring points and route to ROUTE_DOWN (the pool has a failover pool). */
  keepRing: boolean;
}

let nextVersion = 1;

export class RoutingTable<B extends Target> implements RouteView {
  /** Increases with every table built in this process (logs, tests). */
  readonly version: number;
  readonly spec: TableSpec<B>;
  readonly backends: readonly B[];
  readonly live: readonly boolean[];
  readonly liveCount: number;
  readonly timeout: number;
  readonly scratch: FragScratch;
  private readonly router: Router;

  constructor(spec: TableSpec<B>, live: readonly boolean[] | null = null) {
    this.version = nextVersion++;
    this.spec = spec;
    this.backends = spec.entries.map((e) => e.backend);
    this.live = live ?? this.backends.map(() => true);
    let n = 0;
    for (const l of this.live) if (l) n++;
    this.liveCount = n;
    this.timeout = spec.timeout > 0 ? spec.timeout : 0;
    this.scratch = new FragScratch(this.backends.length);
    this.router = new Router(
      {
        hash: spec.hash,
        distribution: spec.distribution,
        hashTag: spec.hashTag,
        servers: spec.entries.map((e) => ({ name: e.backend.name, weight: e.weight })),
        keepRing: spec.keepRing,
      },
      this.live,
    );
  }

  /** The same table with another live set (ejection, return). */
  withLive(live: readonly boolean[]): RoutingTable<B> {
    return new RoutingTable(this.spec, live);
  }

  route(buf: Buffer, start: number, end: number): number {
    return this.router.route(buf, start, end);
  }

  get size(): number {
    return this.backends.length;
  }

  get nodeCount(): number {
    return this.backends.length;
  }

  node(k: number): number {
    return k;
  }

  get clustered(): boolean {
    return false;
  }

  isLive(index: number): boolean {
    return this.live[index] === true;
  }

  firstLive(): number {
    return this.live.indexOf(true);
  }

  target(index: number): B {
    return this.backends[index] as B;
  }

  indexOf(b: B): number {
    return this.backends.indexOf(b);
  }
}
