// Operations port entry (--http-port), for the single process and the --workers primary alike: stats/http and
// prom-client with it (about 11 MB of RSS) are loaded only when the port is asked for.

import type { HttpServer } from './http';
import type { StatsSource } from './snapshot';

export function startHttpLazily(source: StatsSource, addr: string, port: number): Promise<HttpServer> {
  return (require('./http') as typeof import('./http')).startHttp(source, addr, port);
}
