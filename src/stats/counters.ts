// The counters every layer bumps: plain number fields, one object per pool and per server.
// Names match twemproxy's stats (src/stats/descriptions.ts holds the table and descriptions).

export class PoolStats {
  clientEof = 0;
  clientErr = 0;
  clientConnections = 0;
  serverEjects = 0;
  forwardError = 0;
  fragments = 0;
  clientOverflow = 0;
  // memcache routes (forward/mc-routes.ts)
  failoverRequests = 0;
  mirrorRequests = 0;
  mirrorErrors = 0;
  mirrorDropped = 0;
  warmupHits = 0;
  // TLS (util/transport.ts): handshakes refused at the pool's TLS listener, and with its servers
  clientTlsFailures = 0;
  serverTlsFailures = 0;
  // Redis Cluster pools (server/cluster-pool.ts)
  clusterMoved = 0;
  clusterAsk = 0;
  clusterTryagain = 0;
  clusterDown = 0;
  clusterRedirectErrors = 0;
  clusterRefreshes = 0;
  clusterRefreshErrors = 0;
}

export class ServerStats {
  serverEof = 0;
  serverErr = 0;
  serverTimedout = 0;
  serverConnections = 0;
  /** µs since epoch of the latest ejection, 0 = never. */
  serverEjectedAt = 0;
  requests = 0;
  requestBytes = 0;
  responses = 0;
  responseBytes = 0;
  inQueue = 0;
  inQueueBytes = 0;
  outQueue = 0;
  outQueueBytes = 0;
  /** Reply latency (request queued -> reply matched); not part of the twemproxy JSON. */
  readonly latency = new LatencyHistogram();
}

/** Process-wide connection counts (listeners + clients + server connections), as twemproxy reports them. */
export const connCounts = { total: 0, current: 0 };

/**
 * Reply latency buckets, shared by every server: upper bounds in µs (a value lands in the first bucket whose bound is
 * >= it; the extra last bucket is +Inf). Observed once per matched reply, read at scrape time (/metrics, status page).
 */
export const LATENCY_BOUNDS_US: readonly number[] = [
  50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
];

/** Per-server latency histogram: plain numbers, non-cumulative bucket counts (index LATENCY_BOUNDS_US.length = +Inf). */
export class LatencyHistogram {
  readonly buckets = new Float64Array(LATENCY_BOUNDS_US.length + 1);
  /** Sum of the observed latencies in µs. */
  sumUs = 0;
  count = 0;

  /** One reply's latency in ms (performance.now() difference). */
  observe(ms: number): void {
    const us = ms * 1000;
    const bounds = LATENCY_BOUNDS_US;
    const n = bounds.length;
    let i = 0;
    while (i < n && us > (bounds[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sumUs += us;
    this.count++;
  }
}
