// Operations port beyond twemproxy: /metrics (Prometheus, via prom-client), /healthz, and a
// live status page at /. Reads the same counters as the JSON stats port; never on the data path.

import * as http from 'node:http';
import { Registry, Gauge, Counter } from 'prom-client';
import type { ServerPool } from '../server/pool';
import { POOL_FIELDS, SERVER_FIELDS, statsJson } from './json';
import { connCounts } from './counters';

export interface HttpServer {
  close(): void;
  port(): number;
}

interface ProxyView {
  readonly pools: readonly ServerPool[];
}

const GAUGES = new Set(['client_connections', 'server_connections', 'in_queue', 'in_queue_bytes', 'out_queue', 'out_queue_bytes', 'server_ejected_at']);

function buildRegistry(proxy: ProxyView): Registry {
  const reg = new Registry();
  for (const [name, field] of POOL_FIELDS) {
    const isGauge = GAUGES.has(name);
    const opts = { name: `nutmeg_pool_${name}${isGauge ? '' : '_total'}`, help: `pool ${name}`, labelNames: ['pool'], registers: [reg] };
    const collect = function (this: Gauge | Counter): void {
      this.reset();
      for (const p of proxy.pools) {
        if (this instanceof Gauge) this.set({ pool: p.config.name }, p.stats[field]);
        else this.inc({ pool: p.config.name }, p.stats[field]);
      }
    };
    if (isGauge) new Gauge({ ...opts, collect });
    else new Counter({ ...opts, collect });
  }
  for (const [name, field] of SERVER_FIELDS) {
    const isGauge = GAUGES.has(name);
    const opts = { name: `nutmeg_server_${name}${isGauge ? '' : '_total'}`, help: `server ${name}`, labelNames: ['pool', 'server'], registers: [reg] };
    const collect = function (this: Gauge | Counter): void {
      this.reset();
      for (const p of proxy.pools)
        for (const s of p.servers) {
          const labels = { pool: p.config.name, server: s.name };
          if (this instanceof Gauge) this.set(labels, s.stats[field]);
          else this.inc(labels, s.stats[field]);
        }
    };
    if (isGauge) new Gauge({ ...opts, collect });
    else new Counter({ ...opts, collect });
  }
  new Gauge({
    name: 'nutmeg_server_ejected',
    help: '1 while the server is ejected from the distribution',
    labelNames: ['pool', 'server'],
    registers: [reg],
    collect(this: Gauge) {
      this.reset();
      for (const p of proxy.pools) for (const s of p.servers) this.set({ pool: p.config.name, server: s.name }, p.isLive(s.index) ? 0 : 1);
    },
  });
  return reg;
}

export function startHttp(proxy: ProxyView, addr: string, port: number): Promise<HttpServer> {
  const reg = buildRegistry(proxy);
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (url === '/metrics') {
      reg.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': reg.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    } else if (url === '/stats.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(statsJson(proxy.pools, connCounts));
    } else {
      res.writeHead(404);
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: addr, port }, () => {
      resolve({
        close: () => srv.close(),
        port: () => {
          const a = srv.address();
          return a !== null && typeof a === 'object' ? a.port : 0;
        },
      });
    });
  });
}
