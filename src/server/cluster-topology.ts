// Control plane of a Redis Cluster pool: CLUSTER SLOTS asked of one node on a connection of its own, and its
// answer turned into slot ranges (server/cluster-pool.ts builds the routing table from them). Never on the data path.
//
//   node ─► RespLink (TLS like the data connections, AUTH) ─► CLUSTER SLOTS ─► [start, end, master, replicas...]

import { RespError, type RespValue } from '../protocol/redis/decode';
import type { DialTls } from '../util/transport';
import { endpointOf } from './backend';
import type { Endpoint } from './conn';
import { RespLink, authenticate } from './sentinel';
import { SLOTS } from '../route/slot';

/** One entry of CLUSTER SLOTS: slots start..end (inclusive), their master and its replicas. */
export interface SlotRange {
  start: number;
  end: number;
  master: Endpoint;
  replicas: Endpoint[];
}

/**
 * The ranges of a CLUSTER SLOTS reply asked of `via`, or a string saying why it is not one. A node whose address
 * is empty is `via` itself (Redis answers so for the node asked when it does not know its own IP); a node with an
 * unknown endpoint (`?`) is left out (its slots are left unserved by this answer).
 */
export function parseClusterSlots(v: RespValue, via: Endpoint): SlotRange[] | string {
  if (v instanceof RespError) return v.message;
  if (!Array.isArray(v)) return 'CLUSTER SLOTS did not answer an array';
  const out: SlotRange[] = [];
  for (const e of v) {
    if (!Array.isArray(e) || e.length < 3) return 'a CLUSTER SLOTS entry is not [start, end, master, ...]';
    const start = e[0];
    const end = e[1];
    if (typeof start !== 'number' || typeof end !== 'number' || start < 0 || end >= SLOTS || start > end) {
      return `a CLUSTER SLOTS entry has a bad slot range (${String(start)}-${String(end)})`;
    }
    const master = nodeOf(e[2], via);
    if (master === null) continue;
    const replicas: Endpoint[] = [];
    for (let i = 3; i < e.length; i++) {
      const r = nodeOf(e[i], via);
      if (r !== null) replicas.push(r);
    }
    out.push({ start, end, master, replicas });
  }
  return out;
}

function nodeOf(n: RespValue | undefined, via: Endpoint): Endpoint | null {
  if (!Array.isArray(n) || n.length < 2) return null;
  const ip = n[0];
  const port = n[1];
  if (typeof ip !== 'string' || typeof port !== 'number' || port <= 0 || port > 65535 || ip === '?') return null;
  return endpointOf(ip === '' ? via.host : ip, port, null);
}

/** Slots covered by `ranges`. */
export function coveredSlots(ranges: readonly SlotRange[]): number {
  const seen = new Uint8Array(SLOTS);
  let n = 0;
  for (const r of ranges) {
    for (let s = r.start; s <= r.end; s++) {
      if (seen[s] === 0) {
        seen[s] = 1;
        n++;
      }
    }
  }
  return n;
}

/** CLUSTER SLOTS of the node at `ep`, on a connection of its own (connect, AUTH, one command, each within timeoutMs). */
export async function askSlots(ep: Endpoint, user: string | null, password: string | null, timeoutMs: number, t: DialTls | null): Promise<SlotRange[]> {
  const link = await RespLink.open(ep, timeoutMs, t);
  try {
    await authenticate(link, user, password);
    const r = parseClusterSlots(await link.command('CLUSTER', 'SLOTS'), ep);
    if (typeof r === 'string') throw new Error(r);
    return r;
  } finally {
    link.close();
  }
}

/** "host:port" of a MOVED/ASK reply ("-MOVED 3999 127.0.0.1:6381"): the slot and the endpoint, or null. */
export function parseRedirect(line: string): { slot: number; to: Endpoint } | null {
  const parts = line.split(' ');
  if (parts.length < 3) return null;
  const slot = Number(parts[1]);
  const hp = parts[2] as string;
  const colon = hp.lastIndexOf(':');
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS || colon < 0) return null;
  const port = Number(hp.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  let host = hp.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { slot, to: endpointOf(host, port, null) };
}
