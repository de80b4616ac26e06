// Stats port output: the JSON document twemproxy serves, byte for byte in layout
// (one line, fixed key order, `", "` separators, `}\n` at the end). Values are live, not
// aggregated per interval: compatible with readers, and never stale. Rendered from a StatsSnapshot
// (src/stats/snapshot.ts): this process's counters, or the sum of every worker's with --workers.
// A server of a pool with sentinels also says, after twemproxy's counters and inside its own object, where it
// is now and what Sentinel did: "address", "role", "epoch", "switches", "last_switch_at" (µs since epoch, as
// server_ejected_at), "last_switch" ("<from> -> <to>") and "replicas" (how many serve reads).
// A node of a Redis Cluster pool (named by its host:port) says "address", "role" (master | replica) and "slots"
// (the ranges it serves, "0-5460 10923").

import * as os from 'node:os';
import * as net from 'node:net';
import type { StatsSnapshot, StatsSource } from './snapshot';
import { POOL_STATS, SERVER_STATS } from './descriptions';
import { NUTCRACKER_VERSION } from '../version';

const startedAt = Date.now();

export function statsJson(snap: StatsSnapshot): string {
  const nowS = Math.floor(Date.now() / 1000);
  let s =
    `{"service":"nutcracker", "source":"${os.hostname()}", "version":"${NUTCRACKER_VERSION}", ` +
    `"uptime":${Math.floor((Date.now() - startedAt) / 1000)}, "timestamp":${nowS}, ` +
    `"total_connections":${snap.total}, "curr_connections":${snap.current}`;
  // Separators as twemproxy writes them: ", " before the first member of an object, "," after a closing "}".
  snap.pools.forEach((pool, pi) => {
    s += `${pi === 0 ? ', ' : ','}"${pool.name}": {`;
    s += POOL_STATS.map((d) => `"${d.name}":${pool.stats[d.field]}`).join(', ');
    pool.servers.forEach((srv, si) => {
      s += `${si === 0 ? ', ' : ','}"${srv.name}": {`;
      s += SERVER_STATS.map((d) => `"${d.name}":${srv.stats[d.field]}`).join(', ');
      const f = srv.follow;
      if (f !== null) {
        s +=
          `, "address":${JSON.stringify(srv.address)}, "role":"${f.role}", "epoch":${f.epoch}, "switches":${f.switches}, ` +
          `"last_switch_at":${f.lastSwitchAt * 1000}, "last_switch":${JSON.stringify(f.lastSwitch)}, "replicas":${f.replicas.length}`;
      }
      const c = srv.cluster;
      if (c !== null) s += `, "address":${JSON.stringify(srv.address)}, "role":"${c.role}", "slots":${JSON.stringify(c.slots)}`;
      s += '}';
    });
    s += '}';
  });
  return s + '}\n';
}

/** The stats port (-s/-a): each connection gets one document, then the connection is closed. `fd`: an inherited listening socket. */
export function startStatsPort(source: StatsSource, addr: string, port: number, fd: number | null = null): Promise<net.Server> {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    source.snapshot().then(
      (snap) => sock.end(statsJson(snap)),
      () => sock.destroy(),
    );
  });
  return new Promise((resolve, reject) => {
    srv.once('error', (e) => reject(new Error(`bind on stats server addr '${addr}:${port}' failed: ${e.message}`)));
    srv.listen(fd !== null ? { fd } : { host: addr, port }, () => {
      srv.on('error', () => {});
      resolve(srv);
    });
  });
}
