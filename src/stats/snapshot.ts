// Stats, read side: a plain-data copy of every counter (pools, servers, latency buckets, connection counts),
// taken at read time. The stats port, /metrics, /healthz and /status.json all render from one of these, so a
// single process and the --workers primary (which sums its workers' snapshots) share one renderer.
//
//   single process:  live ServerPool counters ──takeSnapshot──► StatsSnapshot ──► statsJson / http
//   --workers N:     each worker: takeSnapshot ──IPC──► primary: emptySnapshot(config) + Σ addSnapshot ──► same

import type { Config, PoolConfig } from '../config/types';
import type { ClusterNodeInfo, FollowInfo, ServerPool } from '../server/pool';
import type { Backend } from '../server/backend';
import { LATENCY_BOUNDS_US } from './counters';
import { POOL_STATS, SERVER_STATS, type PoolCounterName, type ServerCounterName, type StatDesc } from './descriptions';

export type { ServerCounterName } from './descriptions';
/** The pool counters as plain numbers (same names as PoolStats). */
export type PoolCounters = Record<PoolCounterName, number>;
/** The twemproxy server counters as plain numbers (ServerStats without the latency histogram). */
export type ServerCounters = Record<ServerCounterName, number>;

export interface LatencySnap {
  /** Non-cumulative bucket counts, LATENCY_BOUNDS_US.length + 1 of them (the last is +Inf). */
  buckets: number[];
  sumUs: number;
  count: number;
}

export interface ServerSnap {
  name: string;
  /** host:port or the unix socket path. */
  address: string;
  stats: ServerCounters;
  latency: LatencySnap;
  /** Processes that have this server ejected now (0 or 1 for a single process). */
  ejected: number;
  /** Longest time until an ejected server is retried, ms (0 when not ejected). */
  retryInMs: number;
  /** A pool with sentinels: the followed master's role, switches, replicas; null for a fixed address. */
  follow: FollowInfo | null;
  /** A Redis Cluster pool: the node's role and the slot ranges it serves; null otherwise. */
  cluster: ClusterNodeInfo | null;
}

/** A memcache pool's routes to other pools, by name (the status page shows them). */
export interface PoolRoutesSnap {
  failover: string | null;
  mirrorTo: string[];
  warmupFrom: string | null;
}

export interface PoolSnap {
  name: string;
  listen: string;
  /** The TLS listener (tls_listen), or null. */
  tlsListen: string | null;
  /** Server connections speak TLS (server_tls). */
  serverTls: boolean;
  redis: boolean;
  autoEject: boolean;
  routes: PoolRoutesSnap;
  stats: PoolCounters;
  servers: ServerSnap[];
  /** Processes in which every server of this pool is ejected. */
  deadIn: number;
  /** A Redis Cluster pool: hash slots its slot map serves (the fewest over processes); -1 for other pools. */
  slotsServed: number;
}

export interface StatsSnapshot {
  /** Processes summed into this snapshot (1 for a single process). */
  workers: number;
  /** Connection objects ever created / existing now (listeners + clients + server connections). */
  total: number;
  current: number;
  pools: PoolSnap[];
}

/** What the stats port and the HTTP port read (a single process's Proxy, or the --workers primary). */
export interface StatsSource {
  /** The counters now: this process's, or the sum of the workers' (may wait briefly for fresh ones). */
  snapshot(): Promise<StatsSnapshot>;
  /** True once shutdown has begun. */
  readonly stopping: boolean;
}

/** Ejected = out of the distribution and its retry time not reached yet (a due server is tried by the next request). */
export function isEjected(pool: ServerPool, srv: Backend, now: number): boolean {
  return pool.isEjected(srv, now);
}

/** The counter fields of `rows` copied from `src` (or all 0): the snapshot's plain-number copy of a stats object. */
function counters<K extends string>(rows: readonly StatDesc<K>[], src: Readonly<Record<K, number>> | null): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const d of rows) out[d.field] = src === null ? 0 : src[d.field];
  return out;
}

function zeroLatency(): LatencySnap {
  return { buckets: new Array<number>(LATENCY_BOUNDS_US.length + 1).fill(0), sumUs: 0, count: 0 };
}

export function takeSnapshot(pools: readonly ServerPool[], conns: { total: number; current: number }): StatsSnapshot {
  const now = Date.now();
  return {
    workers: 1,
    total: conns.total,
    current: conns.current,
    pools: pools.map((p) => {
      let ejectedServers = 0;
      const servers = p.servers.map((s): ServerSnap => {
        s.refreshQueueGauges();
        const ejected = isEjected(p, s, now);
        if (ejected) ejectedServers++;
        const h = s.stats.latency;
        return {
          name: s.name,
          address: s.endpoint.address,
          stats: counters(SERVER_STATS, s.stats),
          latency: { buckets: Array.from(h.buckets), sumUs: h.sumUs, count: h.count },
          ejected: ejected ? 1 : 0,
          retryInMs: ejected ? s.nextRetry - now : 0,
          follow: p.followInfo(s),
          cluster: p.clusterInfo(s),
        };
      });
      return {
        name: p.config.name,
        listen: p.config.listen.text,
        tlsListen: p.config.tlsListen?.text ?? null,
        serverTls: p.config.serverTls,
        redis: p.config.redis,
        autoEject: p.config.autoEjectHosts,
        routes: routesOf(p.config),
        stats: counters(POOL_STATS, p.stats),
        servers,
        deadIn: servers.length > 0 && ejectedServers === servers.length ? 1 : 0,
        slotsServed: p.slotsServed(),
      };
    }),
  };
}

function routesOf(p: PoolConfig): PoolRoutesSnap {
  return { failover: p.failover, mirrorTo: p.mirrorTo.slice(), warmupFrom: p.warmupFrom };
}

/** Every pool and server of a config with all counters at 0 and no process counted: the start of a sum. */
export function emptySnapshot(config: Config): StatsSnapshot {
  return {
    workers: 0,
    total: 0,
    current: 0,
    pools: config.pools.map((p) => ({
      name: p.name,
      listen: p.listen.text,
      tlsListen: p.tlsListen?.text ?? null,
      serverTls: p.serverTls,
      redis: p.redis,
      autoEject: p.autoEjectHosts,
      routes: routesOf(p),
      stats: counters(POOL_STATS, null),
      // A cluster pool's servers are the nodes its workers learnt (addSnapshot adds them), not its seeds.
      servers: (p.redisCluster ? [] : p.servers).map((s) => ({
        name: s.name,
        address: s.unixPath ?? `${s.host}:${s.port}`,
        stats: counters(SERVER_STATS, null),
        latency: zeroLatency(),
        ejected: 0,
        retryInMs: 0,
        follow: null,
        cluster: null,
      })),
      deadIn: 0,
      slotsServed: -1,
    })),
  };
}

/** Gauges (values of "now") are dropped when a process is retired; counters and the ejection time are kept. */
const POOL_GAUGES: ReadonlySet<PoolCounterName> = new Set(POOL_STATS.filter((d) => d.type === 'gauge').map((d) => d.field));
const SERVER_GAUGES: ReadonlySet<ServerCounterName> = new Set(SERVER_STATS.filter((d) => d.type === 'gauge').map((d) => d.field));

/**
 * Adds `from` into `into`, pool by pool and server by server by name (names `into` lacks are ignored): counters and
 * gauges are summed, server_ejected_at is the max, latency buckets are summed. `live` = false adds a process that is
 * gone (a dead worker's last numbers): only its counters, not its gauges, connection count or ejection state.
 */
export function addSnapshot(into: StatsSnapshot, from: StatsSnapshot, live: boolean): void {
  into.total += from.total;
  if (live) {
    into.workers += from.workers;
    into.current += from.current;
  }
  const pools = new Map(into.pools.map((p) => [p.name, p]));
  for (const fp of from.pools) {
    const ip = pools.get(fp.name);
    if (ip === undefined) continue;
    for (const k of Object.keys(ip.stats) as (keyof PoolCounters)[]) {
      if (live || !POOL_GAUGES.has(k)) ip.stats[k] += fp.stats[k];
    }
    if (live) ip.deadIn += fp.deadIn;
    if (live && fp.slotsServed >= 0) ip.slotsServed = ip.slotsServed < 0 ? fp.slotsServed : Math.min(ip.slotsServed, fp.slotsServed);
    const servers = new Map(ip.servers.map((s) => [s.name, s]));
    for (const fsrv of fp.servers) {
      let is = servers.get(fsrv.name);
      if (is === undefined && fsrv.cluster !== null) {
        // A Redis Cluster node a worker learnt at run time: listed from then on, with the role and slots it reports.
        is = { ...fsrv, stats: counters(SERVER_STATS, null), latency: zeroLatency(), ejected: 0, retryInMs: 0, follow: null, cluster: { ...fsrv.cluster } };
        ip.servers.push(is);
        servers.set(is.name, is);
      }
      if (is === undefined) continue;
      for (const k of Object.keys(is.stats) as ServerCounterName[]) {
        if (k === 'serverEjectedAt') is.stats[k] = Math.max(is.stats[k], fsrv.stats[k]);
        else if (live || !SERVER_GAUGES.has(k)) is.stats[k] += fsrv.stats[k];
      }
      const b = is.latency.buckets;
      for (let i = 0; i < b.length; i++) b[i] = (b[i] ?? 0) + (fsrv.latency.buckets[i] ?? 0);
      is.latency.sumUs += fsrv.latency.sumUs;
      is.latency.count += fsrv.latency.count;
      if (live) {
        is.ejected += fsrv.ejected;
        is.retryInMs = Math.max(is.retryInMs, fsrv.retryInMs);
        mergeFollow(is, fsrv);
      }
    }
  }
}

/**
 * Followed servers across workers: the view of the worker that switched last (each worker follows Sentinel on
 * its own, and all converge on the same master); a master unknown to any worker stays unknown.
 */
function mergeFollow(into: ServerSnap, from: ServerSnap): void {
  const f = from.follow;
  if (f === null) return;
  const cur = into.follow;
  if (cur === null || f.lastSwitchAt > cur.lastSwitchAt || f.epoch > cur.epoch) {
    into.follow = { ...f, replicas: [...f.replicas], role: cur?.role === 'unknown' ? 'unknown' : f.role };
    into.address = from.address;
  } else if (f.role === 'unknown') {
    cur.role = 'unknown';
  }
}

/**
 * /healthz: healthy when not shutting down, no process has every server of a pool ejected, every followed master is
 * known, and every cluster pool's map serves all 16384 slots.
 */
export function health(snap: StatsSnapshot, stopping: boolean): { ok: boolean; reason: string } {
  if (stopping) return { ok: false, reason: 'shutting down' };
  for (const p of snap.pools) {
    if (p.deadIn > 0) {
      const where = snap.workers > 1 ? ` in ${p.deadIn} of ${snap.workers} workers` : '';
      return { ok: false, reason: `pool '${p.name}': all ${p.servers.length} servers ejected${where}` };
    }
    if (p.slotsServed >= 0 && p.slotsServed < 16384) return { ok: false, reason: `pool '${p.name}': ${p.slotsServed} of 16384 hash slots served by the cluster map` };
    for (const s of p.servers) {
      if (s.follow?.role === 'unknown') return { ok: false, reason: `pool '${p.name}': master '${s.name}' unknown to every sentinel` };
    }
  }
  return { ok: true, reason: 'ok' };
}
