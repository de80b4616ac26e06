// Process core: the pools and listeners of one configuration, the stats and HTTP ports; start,
// in-place reload and stop. main.ts (a single process) and each --workers worker run one Proxy.
//
//   start:  pools ─► stats port (+ http) ─► pools with sentinels learn where their masters are (bounded)
//           ─► listeners (bound, or inherited fds after a binary upgrade)
//   reload: new config (validated by the caller) ─► target pool per name (kept | new) ─► bind new addresses
//           (any error: undo, keep everything) ─► new pools with sentinels ask them ─► commit in one turn: reconfigure kept pools, attach kept
//           addresses (clients move), close removed addresses (clients drain, FIN by reload_drain), retire
//           removed pools' backends ─► one log line
//   stop:   stop accepting ─► drain (bounded) ─► close servers ─► clients get a FIN
//   routes: memcache failover / mirror_to / warmup_from name other pools; they are linked once every pool of a
//           configuration exists (at start, and in the reload's commit turn), by name

import * as fs from 'node:fs';
import type * as net from 'node:net';
import { listenAddrs, type Config, type PoolConfig } from './config/types';
import type { CliOptions } from './cli-args';
import { ServerPool } from './server/pool';
import { SentinelPool } from './server/sentinel-pool';
import { ClusterPool } from './server/cluster-pool';
import { Listener, listenKey } from './client/listener';
import type { ClientConn } from './client/conn';
import { redisProtocol } from './forward/redis';
import { memcacheProtocol } from './forward/memcache';
import { McRoutes } from './forward/mc-routes';
import { startStatsPort } from './stats/json';
import type { HttpServer } from './stats/http';
import { startHttpLazily } from './stats/http-start';
import { connCounts } from './stats/counters';
import { takeSnapshot, type StatsSnapshot, type StatsSource } from './stats/snapshot';
import { stopTicker } from './util/clock';
import { errCode } from './util/errors';

/** How long a shutdown waits for in-flight requests before closing anyway. */
export const DRAIN_MS = 5000;
/** reload_drain's default: how long clients of a removed listener (and retired server connections) may finish. */
export const RELOAD_DRAIN_MS = 3000;

/** Listening sockets handed over by a binary upgrade: listen key (or `stats`) to fd. */
export type InheritedFds = ReadonlyMap<string, number>;

/** A reload that could not be applied: nothing was changed. */
export class ReloadError extends Error {}

export interface ReloadSummary {
  poolsAdded: number;
  poolsRemoved: number;
  listenersMoved: number;
  serversAdded: number;
  serversRemoved: number;
  serversMoved: number;
  clientsMoved: number;
  clientsDrained: number;
}

function newPool(pc: PoolConfig, drainMs: number): ServerPool {
  if (pc.redisCluster) return new ClusterPool(pc, redisProtocol, drainMs);
  if (pc.sentinel !== null) return new SentinelPool(pc, redisProtocol, drainMs);
  return new ServerPool(pc, pc.redis ? redisProtocol : memcacheProtocol, drainMs);
}

export class Proxy implements StatsSource {
  config: Config;
  pools: ServerPool[];
  private listeners = new Map<string, Listener>();
  private stats: net.Server | null = null;
  private http: HttpServer | null = null;
  private readonly shared: boolean;
  drainMs: number;
  /** Clients of removed listeners still finishing, closed at their deadline. */
  private readonly draining = new Set<ClientConn>();
  /** Set when shutdown begins (/healthz answers 503 from then on). */
  stopping = false;

  /** `shared`: a --workers worker, whose listening sockets are bound by the primary. */
  constructor(config: Config, shared = false, drainMs = RELOAD_DRAIN_MS) {
    this.config = config;
    this.shared = shared;
    this.drainMs = drainMs;
    this.pools = config.pools.map((p) => newPool(p, drainMs));
    linkRoutes(this.pools);
    for (const p of this.pools) {
      // none for a pool used only as a route target; listen and tls_listen may both be set
      for (const { addr, tls } of listenAddrs(p.config)) {
        const l = new Listener(p, addr, shared, tls);
        this.listeners.set(l.key, l);
      }
    }
  }

  /** `opts` null (a worker): no stats or HTTP port, the primary serves them. `inherited`: fds from a binary upgrade. */
  async start(opts: Pick<CliOptions, 'statsPort' | 'statsAddr' | 'httpPort' | 'httpAddr'> | null, inherited: InheritedFds | null = null): Promise<void> {
    if (opts !== null) {
      this.stats = await startStatsPort(this, opts.statsAddr, opts.statsPort, inherited?.get('stats') ?? null);
      if (opts.httpPort > 0) this.http = await startHttpLazily(this, opts.httpAddr, opts.httpPort);
    }
    // Pools with sentinels learn where their masters are before their clients come.
    await Promise.all(this.pools.map((p) => p.start()));
    for (const p of this.pools) if (p.config.preconnect) p.preconnect();
    for (const l of this.listeners.values()) await l.listen(inherited?.get(l.key) ?? null);
    if (inherited !== null) {
      // Inherited sockets of addresses this config no longer lists are closed.
      for (const [key, fd] of inherited) {
        if (key !== 'stats' && !this.listeners.has(key)) closeFd(fd);
      }
    }
  }

  /** This process's counters now. */
  snapshotNow(): StatsSnapshot {
    return takeSnapshot(this.pools, connCounts);
  }

  snapshot(): Promise<StatsSnapshot> {
    return Promise.resolve(this.snapshotNow());
  }

  /** The fds a binary upgrade hands to the new process: every listener's, and the stats port's. */
  upgradeFds(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [key, l] of this.listeners) {
      const fd = l.fd();
      if (fd >= 0) m.set(key, fd);
    }
    const h = (this.stats as unknown as { _handle: { fd?: unknown } | null } | null)?._handle;
    if (h !== null && h !== undefined && typeof h.fd === 'number') m.set('stats', h.fd);
    return m;
  }

  /**
   * In-place reload to `next` (already validated like -t). New addresses are bound first; if any bind fails,
   * what was bound is closed and a ReloadError says why: nothing else has changed. Then everything is
   * switched in one turn, so each request is routed entirely by the old or entirely by the new configuration.
   */
  async reload(next: Config): Promise<ReloadSummary> {
    const byName = new Map(this.pools.map((p) => [p.config.name, p]));
    // The pool object each new pool config will be: kept by name (same protocol), or built now (no connections yet).
    const target = new Map<string, ServerPool>();
    const created: ServerPool[] = [];
    for (const pc of next.pools) {
      const old = byName.get(pc.name);
      if (old !== undefined && old.keeps(pc)) {
        target.set(pc.name, old);
      } else {
        const p = newPool(pc, this.drainMs);
        created.push(p);
        target.set(pc.name, p);
      }
    }
    // Step 1: bind every new address (its clients join the target pool at once; a kept pool is the same object).
    const fresh = new Map<string, Listener>();
    try {
      for (const pc of next.pools) {
        for (const { addr, tls } of listenAddrs(pc)) {
          const key = listenKey(addr);
          if (this.listeners.has(key) || fresh.has(key)) continue;
          const l = new Listener(target.get(pc.name) as ServerPool, addr, this.shared, tls);
          fresh.set(key, l);
          await l.listen();
        }
      }
    } catch (e) {
      for (const l of fresh.values()) void l.close();
      for (const p of created) p.remove();
      const where = [...fresh.values()].at(-1)?.addr.text ?? '?';
      throw new ReloadError(`cannot listen on ${where}: ${errCode(e) || (e as Error).message}`);
    }
    // New pools with sentinels ask them where their masters are (bounded) before the new configuration is in force.
    await Promise.all(created.map((p) => p.start()));
    // Step 2: commit, synchronously.
    const s: ReloadSummary = {
      poolsAdded: created.length,
      poolsRemoved: 0,
      listenersMoved: 0,
      serversAdded: 0,
      serversRemoved: 0,
      serversMoved: 0,
      clientsMoved: 0,
      clientsDrained: 0,
    };
    for (const pc of next.pools) {
      const p = target.get(pc.name) as ServerPool;
      if (created.includes(p)) continue;
      const c = p.reconfigure(pc, this.drainMs);
      s.serversAdded += c.added;
      s.serversRemoved += c.removed;
      s.serversMoved += c.moved;
    }
    for (const p of created) s.serversAdded += p.config.servers.length;
    const listeners = new Map<string, Listener>();
    const drained: ClientConn[] = [];
    for (const pc of next.pools) {
      for (const { addr, tls } of listenAddrs(pc)) {
        const key = listenKey(addr);
        const p = target.get(pc.name) as ServerPool;
        const kept = this.listeners.get(key);
        if (kept !== undefined) {
          if (kept.pool !== p) s.listenersMoved++;
          const r = kept.attach(p, tls);
          s.clientsMoved += r.moved;
          drained.push(...r.drained);
          listeners.set(key, kept);
        } else {
          listeners.set(key, fresh.get(key) as Listener);
        }
      }
    }
    for (const [key, l] of this.listeners) {
      if (listeners.has(key)) continue;
      void l.close();
      drained.push(...l.drainClients());
      if (l.addr.kind === 'unix' && !this.shared) unlinkQuietly(l.addr.path);
    }
    const live = new Set(target.values());
    for (const p of this.pools) {
      if (live.has(p)) continue;
      p.remove();
      s.poolsRemoved++;
    }
    for (const p of created) if (p.config.preconnect) p.preconnect();
    this.pools = next.pools.map((pc) => target.get(pc.name) as ServerPool);
    linkRoutes(this.pools);
    this.listeners = listeners;
    this.config = next;
    s.clientsDrained = drained.length;
    this.endAtDeadline(drained);
    return s;
  }

  /** Clients draining after a reload: those still open at reload_drain get their FIN then. */
  private endAtDeadline(clients: ClientConn[]): void {
    const open = clients.filter((c) => !c.closed);
    if (open.length === 0) return;
    for (const c of open) this.draining.add(c);
    const t = setTimeout(() => {
      for (const c of open) {
        this.draining.delete(c);
        c.endNow();
      }
    }, this.drainMs);
    t.unref();
  }

  /** Stop accepting (binary upgrade: the new process accepts from here on). */
  async stopAccepting(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.close()));
    this.stats?.close();
    this.stats = null;
    this.http?.close();
    this.http = null;
  }

  /**
   * Binary upgrade, the old process: serve the clients it has for `ms`, then close each with a FIN (replies
   * owed by then are lost) and the server connections.
   */
  async retireAll(ms: number): Promise<void> {
    this.stopping = true;
    await this.stopAccepting();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.clientCount() > 0) await sleep(20);
    for (const l of this.listeners.values()) for (const c of l.drainClients()) c.endNow();
    for (const p of this.pools) for (const c of [...p.clients]) c.endNow();
    for (const p of this.pools) p.close();
    stopTicker();
  }

  private clientCount(): number {
    let n = 0;
    for (const p of this.pools) n += p.clients.size;
    return n;
  }

  /** Stop accepting, let in-flight requests finish (bounded), then close everything. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.listeners.values()].map((l) => l.close()));
    const deadline = Date.now() + DRAIN_MS;
    while (Date.now() < deadline && this.pools.some((p) => p.busy())) await sleep(10);
    for (const p of this.pools) p.close();
    // Replies failed by the close are written, then each client gets a FIN.
    for (const l of this.listeners.values()) l.drainClients();
    await sleep(0);
    for (const p of this.pools) for (const c of [...p.clients]) c.endNow();
    this.stats?.close();
    this.http?.close();
    stopTicker();
  }
}

/** Each pool's routes to the other pools of its configuration, found by name (config/load.ts checked the names). */
function linkRoutes(pools: readonly ServerPool[]): void {
  const byName = new Map(pools.map((p) => [p.config.name, p]));
  for (const p of pools) p.routes = McRoutes.link(p, byName, p.routes);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

function unlinkQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // gone
  }
}
