// A test file's sharded pool: three real redis-servers and nutmeg in front (pool `alpha`, servers s0..s2,
// fnv1a_64 + ketama), started before the file's tests and stopped after them. An optional second pool `beta`
// on the same servers (or the first `betaServers` of them) gets its own port.
import { before, after } from 'node:test';
import { startRedis, startNutmeg, freePorts, type Backend, type ProxyProc } from './procs';
import { poolYaml } from './faults';

export interface ShardedPool {
  backends: Backend[];
  px: ProxyProc;
  port: number;
  betaPort: number;
}

/**
 * `init` runs once the pool is up, inside the same hook (a separate `before` in the test file may run before
 * this one has finished: node:test does not wait for a helper's root hook before the file's own).
 */
export function useShardedPool(alpha: string[], beta: string[] | null = null, betaServers = 3, init: ((s: ShardedPool) => Promise<void>) | null = null): ShardedPool {
  const s = { backends: [], px: null, port: 0, betaPort: 0 } as unknown as ShardedPool;
  before(async () => {
    s.backends = await Promise.all([startRedis(), startRedis(), startRedis()]);
    const [p1, p2] = (await freePorts(2)) as [number, number];
    s.port = p1;
    s.betaPort = p2;
    const yaml = poolYaml('alpha', p1, s.backends, alpha) + (beta === null ? '' : poolYaml('beta', p2, s.backends.slice(0, betaServers), beta));
    s.px = await startNutmeg(yaml, beta === null ? [p1] : [p1, p2]);
    if (init !== null) await init(s);
  });
  after(async () => {
    await s.px?.stop();
    await Promise.all(s.backends.map((b) => b.stop()));
  });
  return s;
}
