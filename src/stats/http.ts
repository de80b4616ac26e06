// Operations port beyond twemproxy (--http-port): /metrics (Prometheus text, via prom-client), /healthz,
// /stats.json (the stats port document), /status.json and the live status page at /. Everything here
// reads the plain counters at request time; nothing runs on the data path.
//
//   GET /metrics      registry.metrics(): pool + server counters/gauges, ejected flags, latency histograms
//   GET /healthz      200 "ok" | 503 "<reason>" (shutting down, or a pool with every server ejected)
//   GET /status.json  pools, servers, ejection, counters, latency buckets (the status page polls it every second)
//   GET /             the status page (src/stats/status-page.ts), self-contained

import * as http from 'node:http';
import { Registry, Gauge, Counter, type Histogram } from 'prom-client';
import type { ServerPool, Server } from '../server/pool';
import { POOL_FIELDS, SERVER_FIELDS, statsJson } from './json';
import { POOL_STATS, SERVER_STATS, type StatDesc } from './descriptions';
import { connCounts, LATENCY_BOUNDS_US, type ServerStats, type PoolStats } from './counters';
import { STATUS_PAGE } from './status-page';
import { VERSION } from '../version';

export interface HttpServer {
  close(): void;
  port(): number;
}

/** What the HTTP port reads from the running proxy. */
export interface ProxyView {
  readonly pools: readonly ServerPool[];
  /** True once shutdown has begun. */
  readonly stopping: boolean;
}

const startedAt = Date.now();

/** Ejected = out of the distribution and its retry time not reached yet (a due server is tried by the next request). */
export function isEjected(pool: ServerPool, srv: Server, now: number): boolean {
  return !pool.isLive(srv.index) && srv.nextRetry > now;
}

/** /healthz: healthy when not shutting down and every pool has at least one server that is not ejected. */
export function health(proxy: ProxyView): { ok: boolean; reason: string } {
  if (proxy.stopping) return { ok: false, reason: 'shutting down' };
  const now = Date.now();
  for (const p of proxy.pools) {
    if (p.servers.length > 0 && p.servers.every((s) => isEjected(p, s, now))) {
      return { ok: false, reason: `pool '${p.config.name}': all ${p.servers.length} servers ejected` };
    }
  }
  return { ok: true, reason: 'ok' };
}

function serverNumber(st: ServerStats, field: keyof ServerStats): number {
  const v = st[field];
  return typeof v === 'number' ? v : 0;
}

function poolField(name: string): keyof PoolStats {
  const f = POOL_FIELDS.find(([k]) => k === name);
  if (f === undefined) throw new Error(`no pool field for ${name}`);
  return f[1];
}

function serverField(name: string): keyof ServerStats {
  const f = SERVER_FIELDS.find(([k]) => k === name);
  if (f === undefined) throw new Error(`no server field for ${name}`);
  return f[1];
}

/** One Prometheus family per twemproxy stat: counters get `_total`, the ejection timestamp becomes seconds. */
function addStatFamily(reg: Registry, proxy: ProxyView, scope: 'pool' | 'server', d: StatDesc): void {
  const base = scope === 'pool' ? `nutmeg_pool_${d.name}` : `nutmeg_server_${d.name.replace(/^server_/, '')}`;
  const labelNames = scope === 'pool' ? ['pool'] : ['pool', 'server'];
  const each = (fn: (labels: Record<string, string>, value: number) => void): void => {
    if (scope === 'pool') {
      const f = poolField(d.name);
      for (const p of proxy.pools) fn({ pool: p.config.name }, p.stats[f]);
    } else {
      const f = serverField(d.name);
      const scale = d.type === 'timestamp' ? 1e-6 : 1;
      for (const p of proxy.pools) for (const s of p.servers) fn({ pool: p.config.name, server: s.name }, serverNumber(s.stats, f) * scale);
    }
  };
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
  private readonly proxy: ProxyView;
  private readonly le: string[];

  constructor(proxy: ProxyView) {
    this.proxy = proxy;
    this.le = LATENCY_BOUNDS_US.map((us) => String(us / 1e6));
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SampleValue[] }> {
    const values: SampleValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const p of this.proxy.pools) {
      for (const s of p.servers) {
        const h = s.stats.latency;
        const pool = p.config.name;
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
    // the counts live in ServerStats; nothing to reset here
  }
}

function buildRegistry(proxy: ProxyView): Registry {
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
      this.inc(connCounts.total);
    },
  });
  new Gauge({
    name: 'nutmeg_connections',
    help: 'connection objects existing now (pool listeners + clients + server connections)',
    registers: [reg],
    collect(this: Gauge) {
      this.set(connCounts.current);
    },
  });
  for (const d of POOL_STATS) addStatFamily(reg, proxy, 'pool', d);
  for (const d of SERVER_STATS) addStatFamily(reg, proxy, 'server', d);
  new Gauge({
    name: 'nutmeg_server_ejected',
    help: '1 while the server is ejected from the distribution',
    labelNames: ['pool', 'server'],
    registers: [reg],
    collect(this: Gauge) {
      this.reset();
      const now = Date.now();
      for (const p of proxy.pools) for (const s of p.servers) this.set({ pool: p.config.name, server: s.name }, isEjected(p, s, now) ? 1 : 0);
    },
  });
  // prom-client's typings accept only its own four metric classes; its Registry needs only the members LatencyMetric has.
  reg.registerMetric(new LatencyMetric(proxy) as unknown as Histogram);
  return reg;
}

/** The document the status page polls: everything it shows, rates are computed in the page from two samples. */
export function statusJson(proxy: ProxyView): string {
  const now = Date.now();
  const h = health(proxy);
  return JSON.stringify({
    version: VERSION,
    pid: process.pid,
    uptime: Math.floor((now - startedAt) / 1000),
    time: now,
    healthy: h.ok,
    reason: h.reason,
    latencyBoundsUs: LATENCY_BOUNDS_US,
    pools: proxy.pools.map((p) => ({
      name: p.config.name,
      listen: p.config.listen.text,
      redis: p.config.redis,
      autoEject: p.config.autoEjectHosts,
      clientConnections: p.stats.clientConnections,
      clientEof: p.stats.clientEof,
      clientErr: p.stats.clientErr,
      serverEjects: p.stats.serverEjects,
      forwardError: p.stats.forwardError,
      servers: p.servers.map((s) => {
        const st = s.stats;
        const ejected = isEjected(p, s, now);
        return {
          name: s.name,
          address: s.unixPath ?? `${s.host}:${s.port}`,
          ejected,
          retryInMs: ejected ? s.nextRetry - now : 0,
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
          latencyBuckets: Array.from(st.latency.buckets),
          latencySumUs: st.latency.sumUs,
        };
      }),
    })),
  });
}

export function startHttp(proxy: ProxyView, addr: string, port: number): Promise<HttpServer> {
  const reg = buildRegistry(proxy);
  const send = (res: http.ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n');
    } else if (url === '/healthz') {
      const h = health(proxy);
      send(res, h.ok ? 200 : 503, 'text/plain', `${h.reason}\n`);
    } else if (url === '/metrics') {
      reg.metrics().then(
        (text) => send(res, 200, reg.contentType, text),
        (e: unknown) => send(res, 500, 'text/plain', `${e instanceof Error ? e.message : String(e)}\n`),
      );
    } else if (url === '/stats.json') {
      send(res, 200, 'application/json', statsJson(proxy.pools, connCounts));
    } else if (url === '/status.json') {
      send(res, 200, 'application/json', statusJson(proxy));
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
