// Stats, metric table: every pool and server metric with its type and the description `-D` prints.
// The order here is the order of the stats JSON and of `-D` (spec 7.2, 7.3).

export type StatType = 'counter' | 'gauge' | 'timestamp';

export interface StatDesc {
  readonly name: string;
  readonly type: StatType;
  readonly desc: string;
}

export const POOL_STATS = [
  { name: 'client_eof', type: 'counter', desc: '# eof on client connections' },
  { name: 'client_err', type: 'counter', desc: '# errors on client connections' },
  { name: 'client_connections', type: 'gauge', desc: '# active client connections' },
  { name: 'server_ejects', type: 'counter', desc: '# times backend server was ejected' },
  { name: 'forward_error', type: 'counter', desc: '# times we encountered a forwarding error' },
  { name: 'fragments', type: 'counter', desc: '# fragments created from a multi-vector request' },
] as const satisfies readonly StatDesc[];

export const SERVER_STATS = [
  { name: 'server_eof', type: 'counter', desc: '# eof on server connections' },
  { name: 'server_err', type: 'counter', desc: '# errors on server connections' },
  { name: 'server_timedout', type: 'counter', desc: '# timeouts on server connections' },
  { name: 'server_connections', type: 'gauge', desc: '# active server connections' },
  { name: 'server_ejected_at', type: 'timestamp', desc: 'timestamp when server was ejected in usec since epoch' },
  { name: 'requests', type: 'counter', desc: '# requests' },
  { name: 'request_bytes', type: 'counter', desc: 'total request bytes' },
  { name: 'responses', type: 'counter', desc: '# responses' },
  { name: 'response_bytes', type: 'counter', desc: 'total response bytes' },
  { name: 'in_queue', type: 'gauge', desc: '# requests in incoming queue' },
  { name: 'in_queue_bytes', type: 'gauge', desc: 'current request bytes in incoming queue' },
  { name: 'out_queue', type: 'gauge', desc: '# requests in outgoing queue' },
  { name: 'out_queue_bytes', type: 'gauge', desc: 'current request bytes in outgoing queue' },
] as const satisfies readonly StatDesc[];

export type PoolStatName = (typeof POOL_STATS)[number]['name'];
export type ServerStatName = (typeof SERVER_STATS)[number]['name'];
