// Stats, the one metric table: every pool and server metric with its twemproxy name, the counter field that
// holds it, its type and the description `-D` prints. The stats JSON, snapshots, /metrics and `-D` all read it;
// its order is the order of the stats JSON and of `-D` (spec 7.2, 7.3).

import type { PoolStats, ServerStats } from './counters';

export type StatType = 'counter' | 'gauge' | 'timestamp';

/** The counter fields of a pool, and of a server (its latency histogram is not one of them). */
export type PoolCounterName = keyof PoolStats;
export type ServerCounterName = Exclude<keyof ServerStats, 'latency'>;

export interface StatDesc<F extends string = string> {
  readonly name: string;
  readonly field: F;
  readonly type: StatType;
  readonly desc: string;
  /** nutmeg's own metric, not in twemproxy's table (listed after twemproxy's, inside the pool object). */
  readonly own?: true;
}

export const POOL_STATS = [
  { name: 'client_eof', field: 'clientEof', type: 'counter', desc: '# eof on client connections' },
  { name: 'client_err', field: 'clientErr', type: 'counter', desc: '# errors on client connections' },
  { name: 'client_connections', field: 'clientConnections', type: 'gauge', desc: '# active client connections' },
  { name: 'server_ejects', field: 'serverEjects', type: 'counter', desc: '# times backend server was ejected' },
  { name: 'forward_error', field: 'forwardError', type: 'counter', desc: '# times we encountered a forwarding error' },
  { name: 'fragments', field: 'fragments', type: 'counter', desc: '# fragments created from a multi-vector request' },
  // nutmeg's own, after twemproxy's (readers take every number in a pool object as a pool metric)
  { name: 'client_overflow', field: 'clientOverflow', type: 'counter', desc: '# client connections closed past client_buffer_limit', own: true },
  { name: 'failover_requests', field: 'failoverRequests', type: 'counter', desc: '# requests sent to the failover pool', own: true },
  { name: 'mirror_requests', field: 'mirrorRequests', type: 'counter', desc: '# writes copied to mirror pools', own: true },
  { name: 'mirror_errors', field: 'mirrorErrors', type: 'counter', desc: '# mirror copies answered with an error or failed', own: true },
  { name: 'mirror_dropped', field: 'mirrorDropped', type: 'counter', desc: '# mirror copies dropped: the mirror had too many waiting', own: true },
  { name: 'warmup_hits', field: 'warmupHits', type: 'counter', desc: '# misses found in the warm-up pool and copied here', own: true },
  { name: 'client_tls_failures', field: 'clientTlsFailures', type: 'counter', desc: '# client TLS handshakes refused at tls_listen', own: true },
  { name: 'server_tls_failures', field: 'serverTlsFailures', type: 'counter', desc: '# TLS handshakes with servers that failed', own: true },
  { name: 'cluster_moved', field: 'clusterMoved', type: 'counter', desc: '# MOVED redirections followed (redis_cluster)', own: true },
  { name: 'cluster_ask', field: 'clusterAsk', type: 'counter', desc: '# ASK redirections followed (redis_cluster)', own: true },
  { name: 'cluster_tryagain', field: 'clusterTryagain', type: 'counter', desc: '# TRYAGAIN replies retried (redis_cluster)', own: true },
  { name: 'cluster_down', field: 'clusterDown', type: 'counter', desc: '# CLUSTERDOWN replies (redis_cluster)', own: true },
  { name: 'cluster_redir_err', field: 'clusterRedirectErrors', type: 'counter', desc: '# requests failed past cluster_max_redirects or redirected on a pinned connection (redis_cluster)', own: true },
  { name: 'cluster_refreshes', field: 'clusterRefreshes', type: 'counter', desc: '# CLUSTER SLOTS refreshes (redis_cluster)', own: true },
  { name: 'cluster_refresh_err', field: 'clusterRefreshErrors', type: 'counter', desc: '# refreshes no node answered (redis_cluster)', own: true },
] as const satisfies readonly StatDesc<PoolCounterName>[];

export const SERVER_STATS = [
  { name: 'server_eof', field: 'serverEof', type: 'counter', desc: '# eof on server connections' },
  { name: 'server_err', field: 'serverErr', type: 'counter', desc: '# errors on server connections' },
  { name: 'server_timedout', field: 'serverTimedout', type: 'counter', desc: '# timeouts on server connections' },
  { name: 'server_connections', field: 'serverConnections', type: 'gauge', desc: '# active server connections' },
  { name: 'server_ejected_at', field: 'serverEjectedAt', type: 'timestamp', desc: 'timestamp when server was ejected in usec since epoch' },
  { name: 'requests', field: 'requests', type: 'counter', desc: '# requests' },
  { name: 'request_bytes', field: 'requestBytes', type: 'counter', desc: 'total request bytes' },
  { name: 'responses', field: 'responses', type: 'counter', desc: '# responses' },
  { name: 'response_bytes', field: 'responseBytes', type: 'counter', desc: 'total response bytes' },
  { name: 'in_queue', field: 'inQueue', type: 'gauge', desc: '# requests in incoming queue' },
  { name: 'in_queue_bytes', field: 'inQueueBytes', type: 'gauge', desc: 'current request bytes in incoming queue' },
  { name: 'out_queue', field: 'outQueue', type: 'gauge', desc: '# requests in outgoing queue' },
  { name: 'out_queue_bytes', field: 'outQueueBytes', type: 'gauge', desc: 'current request bytes in outgoing queue' },
] as const satisfies readonly StatDesc<ServerCounterName>[];

export type PoolStatName = (typeof POOL_STATS)[number]['name'];
export type ServerStatName = (typeof SERVER_STATS)[number]['name'];

/** nutmeg's own pool metrics (not in twemproxy's table), in stats JSON order. */
export const OWN_POOL_STATS: readonly StatDesc<PoolCounterName>[] = (POOL_STATS as readonly StatDesc<PoolCounterName>[]).filter((d) => d.own === true);
