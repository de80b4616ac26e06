// Operations port beyond twemproxy (--http-port): /metrics (Prometheus text, via prom-client), /healthz,
// /stats.json (the stats port document), /status.json and the live status page at /. Everything here
// renders a StatsSnapshot taken at request time (with --workers: the sum of every worker's, from the primary);
// nothing runs on the data path.
//
//   GET /metrics      registry.metrics(): pool + server counters/gauges, ejected flags, latency histograms
//   GET /healthz      200 "ok" | 503 "<reason>" (shutting down, a pool with every server ejected in some process,
//                     or a master of a pool with sentinels that no sentinel knows)
//   GET /status.json  pools, servers, ejection, counters, latency buckets (the status page polls it every second)
//   GET /             the status page (src/stats/status-page.ts), self-contained

import * as http from 'node:http';
import { Registry, Gauge, Counter, type Histogram } from 'prom-client';
import { statsJson } from './json';
import { POOL_STATS, SERVER_STATS, type StatDesc } from './descriptions';
import { LATENCY_BOUNDS_US } from './counters';
import { health, type ServerSnap, type StatsSnapshot, type StatsSource } from './snapshot';
import type { FollowInfo } from '../server/pool';
import { STATUS_PAGE } from './status-page';
import { VERSION } from '../version';

export interface HttpServer {
  close(): void;
  port(): number;
}

/** The snapshot one scrape renders (read by the registry's collect() callbacks). */
interface Current {
  snap: StatsSnapshot;
}

const startedAt = Date.now();

type Each = (fn: (labels: Record<string, string>, value: number) => void) => void;

/** One Prometheus family per twemproxy stat: counters get `_total`, the ejection timestamp becomes seconds. */
function addStatFamily(reg: Registry, d: StatDesc, base: string, labelNames: string[], each: Each): void {
  if (d.type === 'counter') {
    new Counter({
      name: `${base}_total`,
      help: d.desc,
      labelNames,
      registers: [reg],
      collect(this: Counter) {
        this.reset();
        each((labels, v) => this.inc(labels, v));
      },
    });
  } else {
    new Gauge({
      name: d.type === 'timestamp' ? `${base}_seconds` : base,
      help: d.type === 'timestamp' ? 'time the server was last ejected, seconds since epoch (0 = never)' : d.desc,
      labelNames,
      registers: [reg],
      collect(this: Gauge) {
        this.reset();
        each((labels, v) => this.set(labels, v));
      },
    });
  }
}

interface SampleValue {
  metricName: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * nutmeg_request_duration_seconds{pool,server}: the per-server fixed-bucket histograms of counters.ts, exported as a
 * Prometheus histogram. prom-client's Histogram only fills its buckets through observe(), one value at a time, so
 * this small metric object hands the registry ready bucket counts instead: the Registry needs only `name`, `get()`
 * and `reset()` of a metric (and uses `type` for the TYPE line).
 */
class LatencyMetric {
  readonly name = 'nutmeg_request_duration_seconds';
  readonly help = 'time from queueing a request on a server connection to matching its reply, seconds';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cur: Current;
  private readonly le: string[];

  constructor(cur: Current) {
    this.cur = cur;
    this.le = LATENCY_BOUNDS_US.map((us) => String(us / 1e6));
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SampleValue[] }> {
    const values: SampleValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const p of this.cur.snap.pools) {
      for (const s of p.servers) {
        const h = s.latency;
        const pool = p.name;
        const server = s.name;
        let acc = 0;
        for (let i = 0; i < this.le.length; i++) {
          acc += h.buckets[i] ?? 0;
          values.push({ metricName: bucket, labels: { pool, server, le: this.le[i] ?? '' }, value: acc });
        }
        acc += h.buckets[this.le.length] ?? 0;
        values.push({ metricName: bucket, labels: { pool, server, le: '+Inf' }, value: acc });
        values.push({ metricName: `${this.name}_sum`, labels: { pool, server }, value: h.sumUs / 1e6 });
        values.push({ metricName: `${this.name}_count`, labels: { pool, server }, value: acc });
      }
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    // the counts live in the snapshot; nothing to reset here
  }
}

function buildRegistry(cur: Current): Registry {
  const reg = new Registry();
  new Gauge({
    name: 'nutmeg_info',
    help: 'nutmeg version (value is always 1)',
    labelNames: ['version'],
    registers: [reg],
  }).set({ version: VERSION }, 1);
  new Gauge({
    name: 'nutmeg_start_time_seconds',
    help: 'start time of the process, seconds since epoch',
    registers: [reg],
  }).set(startedAt / 1000);
  new Counter({
    name: 'nutmeg_connections_total',
    help: 'connection objects ever created (pool listeners + clients + server connections)',
    registers: [reg],
    collect(this: Counter) {
      this.reset();
      this.inc(cur.snap.total);
    },
  });
  new Gauge({
    name: 'nutmeg_connections',
    help: 'connection objects existing now (pool listeners + clients + server connections)',
    registers: [reg],
    collect(this: Gauge) {
      this.set(cur.snap.current);
    },
  });
  for (const d of POOL_STATS) {
    addStatFamily(reg, d, `nutmeg_pool_${d.name}`, ['pool'], (fn) => {
      for (const p of cur.snap.pools) fn({ pool: p.name }, p.stats[d.field]);
    });
  }
  for (const d of SERVER_STATS) {
    const scale = d.type === 'timestamp' ? 1e-6 : 1;
    addStatFamily(reg, d, `nutmeg_server_${d.name.replace(/^server_/, '')}`, ['pool', 'server'], (fn) => {
      for (const p of cur.snap.pools) for (const s of p.servers) fn({ pool: p.name, server: s.name }, s.stats[d.field] * scale);
    });
  }
  new Gauge({
    name: 'nutmeg_server_ejected',
    help: '1 while the server is ejected from the distribution (with --workers: the number of workers that eject it)',
    labelNames: ['pool', 'server'],
    registers: [reg],
    collect(this: Gauge) {
      this.reset();
      for (const p of cur.snap.pools) for (const s of p.servers) this.set({ pool: p.name, server: s.name }, s.ejected);
    },
  });
  addFollowFamilies(reg, cur);
  // prom-client's typings accept only its own four metric classes; its Registry needs only the members LatencyMetric has.
  reg.registerMetric(new LatencyMetric(cur) as unknown as Histogram);
  addClusterFamilies(reg, cur);
  return reg;
}

/** Pools with sentinels: where each master is now and what Sentinel did (servers at a fixed address have no series here). */
function addFollowFamilies(reg: Registry, cur: Current): void {
  const each = (fn: (p: string, s: ServerSnap, f: FollowInfo) => void): void => {
    for (const p of cur.snap.pools) for (const s of p.servers) if (s.follow !== null) fn(p.name, s, s.follow);
  };
  new Gauge({
    name: 'nutmeg_sentinel_master',
    help: 'pools with sentinels: 1 for the address each master name is reached at now, with its role (master, switching, unknown, down)',
    labelNames: ['pool', 'server', 'address', 'role'],
    registers: [reg],
    collect(this: Gauge) {
      this.reset();
      each((pool, s, f) => this.set({ pool, server: s.name, address: s.address, role: f.role }, 1));
    },
  });
  new Counter({
    name: 'nutmeg_sentinel_switches_total',
    help: 'pools with sentinels: times nutmeg moved a master name to a new address',
    labelNames: ['pool', 'server'],
    registers: [reg],
    collect(this: Counter) {
      this.reset();
      each((pool, s, f) => this.inc({ pool, server: s.name }, f.switches));
    },
  });
  const perServer = (name: string, help: string, value: (f: FollowInfo) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['pool', 'server'],
      registers: [reg],
      collect(this: Gauge) {
        this.reset();
        each((pool, s, f) => this.set({ pool, server: s.name }, value(f)));
      },
    });
  };
  perServer('nutmeg_sentinel_last_switch_seconds', 'pools with sentinels: time of the last switch, seconds since epoch (0 = never)', (f) => f.lastSwitchAt / 1000);
  perServer('nutmeg_sentinel_config_epoch', "pools with sentinels: Sentinel's config-epoch of the address in force (-1 = none yet)", (f) => f.epoch);
  perServer('nutmeg_sentinel_read_replicas', 'pools with sentinels and a read_policy: healthy replicas serving reads for the master', (f) => f.replicas.length);
  new Gauge({
    name: 'nutmeg_sentinels_connected',
    help: 'pools with sentinels: sentinels connected now (with --workers: as seen by the worker that switched last)',
    labelNames: ['pool'],
    registers: [reg],
    collect(this: Gauge) {
      this.reset();
      for (const p of cur.snap.pools) {
        const f = p.servers.find((s) => s.follow !== null)?.follow;
        if (f !== undefined && f !== null) this.set({ pool: p.name }, f.sentinels);
      }
    },
  });
}

/** Redis Cluster pools: how many slots each node serves, with its role. */
function addClusterFamilies(reg: Registry, cur: Current): void {
  new Gauge({
    name: 'nutmeg_cluster_node_slots',
    help: 'redis_cluster pools: hash slots each node serves now (0 for a replica serving reads), with its role (master, replica)',
    labelNames: ['pool', 'server', 'role'],
    registers: [reg],
    collect(this: Gauge) {
      this.reset();
      for (const p of cur.snap.pools) {
        for (const s of p.servers) {
          const c = s.cluster;
          if (c !== null) this.set({ pool: p.name, server: s.name, role: c.role }, slotCount(c.slots));
        }
      }
    },
  });
}

/** Slots in a range list such as "0-5460 10923". */
function slotCount(ranges: string): number {
  let n = 0;
  for (const r of ranges.split(' ')) {
    if (r === '') continue;
    const [a, b] = r.split('-').map(Number);
    n += b === undefined ? 1 : b - (a as number) + 1;
  }
  return n;
}

/** The document the status page polls: everything it shows, rates are computed in the page from two samples. */
export function statusJson(snap: StatsSnapshot, stopping: boolean): string {
  const now = Date.now();
  const h = health(snap, stopping);
  return JSON.stringify({
    version: VERSION,
    pid: process.pid,
    workers: snap.workers,
    uptime: Math.floor((now - startedAt) / 1000),
    time: now,
    healthy: h.ok,
    reason: h.reason,
    latencyBoundsUs: LATENCY_BOUNDS_US,
    pools: snap.pools.map((p) => ({
      name: p.name,
      listen: p.listen,
      tlsListen: p.tlsListen,
      serverTls: p.serverTls,
      clientTlsFailures: p.stats.clientTlsFailures,
      serverTlsFailures: p.stats.serverTlsFailures,
      redis: p.redis,
      autoEject: p.autoEject,
      clientConnections: p.stats.clientConnections,
      clientEof: p.stats.clientEof,
      clientErr: p.stats.clientErr,
      serverEjects: p.stats.serverEjects,
      forwardError: p.stats.forwardError,
      routes: p.routes,
      failoverRequests: p.stats.failoverRequests,
      mirrorRequests: p.stats.mirrorRequests,
      mirrorErrors: p.stats.mirrorErrors,
      mirrorDropped: p.stats.mirrorDropped,
      warmupHits: p.stats.warmupHits,
      slotsServed: p.slotsServed,
      servers: p.servers.map((s) => {
        const st = s.stats;
        return {
          name: s.name,
          address: s.address,
          ejected: s.ejected > 0,
          retryInMs: s.retryInMs,
          ejectedAt: st.serverEjectedAt,
          connections: st.serverConnections,
          requests: st.requests,
          responses: st.responses,
          requestBytes: st.requestBytes,
          responseBytes: st.responseBytes,
          errors: st.serverErr + st.serverEof + st.serverTimedout,
          timedout: st.serverTimedout,
          inQueue: st.inQueue,
          outQueue: st.outQueue,
          latencyBuckets: s.latency.buckets,
          latencySumUs: s.latency.sumUs,
          follow: s.follow,
          cluster: s.cluster,
        };
      }),
    })),
  });
}

export function startHttp(source: StatsSource, addr: string, port: number): Promise<HttpServer> {
  const send = (res: http.ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const fail = (res: http.ServerResponse, e: unknown): void => send(res, 500, 'text/plain', `${e instanceof Error ? e.message : String(e)}\n`);
  /** Everything but the page reads a fresh snapshot first. */
  const render = async (url: string, res: http.ServerResponse): Promise<void> => {
    const snap = await source.snapshot();
    if (url === '/healthz') {
      const h = health(snap, source.stopping);
      send(res, h.ok ? 200 : 503, 'text/plain', `${h.reason}\n`);
    } else if (url === '/metrics') {
      // A registry per scrape: its collect() callbacks read this snapshot only, even with scrapes in parallel.
      const reg = buildRegistry({ snap });
      send(res, 200, reg.contentType, await reg.metrics());
    } else if (url === '/stats.json') {
      send(res, 200, 'application/json', statsJson(snap));
    } else {
      send(res, 200, 'application/json', statusJson(snap, source.stopping));
    }
  };
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n');
    } else if (url === '/healthz' || url === '/metrics' || url === '/stats.json' || url === '/status.json') {
      render(url, res).catch((e: unknown) => fail(res, e));
    } else if (url === '/' || url === '/index.html') {
      send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE);
    } else {
      send(res, 404, 'text/plain', 'not found\n');
    }
  });
  srv.on('clientError', (_e, sock) => sock.destroy());
  return new Promise((resolve, reject) => {
    srv.once('error', (e) => reject(new Error(`bind on http addr '${addr}:${port}' failed: ${e.message}`)));
    srv.listen({ host: addr, port }, () => {
      srv.on('error', () => {});
      resolve({
        close: () => {
          srv.close();
          srv.closeAllConnections();
        },
        port: () => {
          const a = srv.address();
          return a !== null && typeof a === 'object' ? a.port : 0;
        },
      });
    });
  });
}
