// Stats port output: the JSON document twemproxy serves, byte for byte in layout
// (one line, fixed key order, `", "` separators, `}\n` at the end). Values are live, not
// aggregated per interval: compatible with readers, and never stale.

import * as os from 'node:os';
import type { ServerPool } from '../server/pool';
import { connCounts, type PoolStats, type ServerStats } from './counters';
import { NUTCRACKER_VERSION } from '../version';

const POOL_FIELDS: [string, keyof PoolStats][] = [
  ['client_eof', 'clientEof'],
  ['client_err', 'clientErr'],
  ['client_connections', 'clientConnections'],
  ['server_ejects', 'serverEjects'],
  ['forward_error', 'forwardError'],
  ['fragments', 'fragments'],
];

const SERVER_FIELDS: [string, keyof ServerStats][] = [
  ['server_eof', 'serverEof'],
  ['server_err', 'serverErr'],
  ['server_timedout', 'serverTimedout'],
  ['server_connections', 'serverConnections'],
  ['server_ejected_at', 'serverEjectedAt'],
  ['requests', 'requests'],
  ['request_bytes', 'requestBytes'],
  ['responses', 'responses'],
  ['response_bytes', 'responseBytes'],
  ['in_queue', 'inQueue'],
  ['in_queue_bytes', 'inQueueBytes'],
  ['out_queue', 'outQueue'],
  ['out_queue_bytes', 'outQueueBytes'],
];

export { POOL_FIELDS, SERVER_FIELDS };

const startedAt = Date.now();

export function statsJson(pools: readonly ServerPool[], totals: { total: number; current: number } = connCounts): string {
  const nowS = Math.floor(Date.now() / 1000);
  let s =
    `{"service":"nutcracker", "source":"${os.hostname()}", "version":"${NUTCRACKER_VERSION}", ` +
    `"uptime":${Math.floor((Date.now() - startedAt) / 1000)}, "timestamp":${nowS}, ` +
    `"total_connections":${totals.total}, "curr_connections":${totals.current}`;
  // Separators as twemproxy writes them: ", " before the first member of an object, "," after a closing "}".
  pools.forEach((pool, pi) => {
    s += `${pi === 0 ? ', ' : ','}"${pool.config.name}": {`;
    s += POOL_FIELDS.map(([k, f]) => `"${k}":${pool.stats[f]}`).join(', ');
    pool.servers.forEach((srv, si) => {
      s += `${si === 0 ? ', ' : ','}"${srv.name}": {`;
      s += SERVER_FIELDS.map(([k, f]) => `"${k}":${srv.stats[f]}`).join(', ');
      s += '}';
    });
    s += '}';
  });
  return s + '}\n';
}
