// Router, distribution stage: random, spec §3.6. The hash is ignored; each call picks a live server uniformly.

import type { DistServer, Distribution } from './types';

export class RandomDist implements Distribution {
  private servers: Int32Array = new Int32Array(0);

  build(live: readonly DistServer[]): void {
    const servers = new Int32Array(live.length);
    for (let i = 0; i < live.length; i++) servers[i] = live[i]!.index;
    this.servers = servers;
  }

  dispatch(_hash: number): number {
    const n = this.servers.length;
    if (n === 0) return -1;
    return this.servers[Math.floor(Math.random() * n)]!;
  }
}
