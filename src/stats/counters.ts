// The counters every layer bumps: plain number fields, one object per pool and per server.
// Names match twemproxy's stats (src/stats/descriptions.ts holds the table and descriptions).

export class PoolStats {
  clientEof = 0;
  clientErr = 0;
  clientConnections = 0;
  serverEjects = 0;
  forwardError = 0;
  fragments = 0;
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
}

/** Process-wide connection counts (listeners + clients + server connections), as twemproxy reports them. */
export const connCounts = { total: 0, current: 0 };
