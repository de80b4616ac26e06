// Routing, the table stage of a Redis Cluster pool: slot -> master backend, built once from a CLUSTER SLOTS
// answer (or from the table in force with one slot changed by a MOVED) and swapped whole by its pool.
//
//   key ─► keySlot (CRC16 of the key or its {tag}, mod 16384) ─► slot = table index ─► target(slot) = master
//
// Table indices are slots, not servers: the multi-key split (forward/redis.ts fragment) groups keys by index, so
// MGET/DEL/... are split per slot, as Redis requires even for two slots of one node; and "all keys at one index"
// is Redis's own CROSSSLOT rule. Commands sent to every server use nodeCount/node(k): one slot per master.

import { FragScratch, type RouteView, type Target } from '../forward/protocol';
import { SLOTS, keySlot } from './slot';

let nextVersion = 1;

export class ClusterTable<B extends Target> implements RouteView {
  /** Increases with every table built in this process (logs, tests). */
  readonly version: number;
  /** The master of each slot; null: no node serves it. */
  readonly slots: readonly (B | null)[];
  /** The distinct masters, in the order of their first slot. */
  readonly nodes: readonly B[];
  /** A slot of each of `nodes`. */
  private readonly firstSlot: Int32Array;
  /** Slots with a master. */
  readonly covered: number;
  readonly timeout: number;
  /** Shared by every table of a pool (16384 entries; used synchronously, left zeroed by its user). */
  readonly scratch: FragScratch;

  constructor(slots: readonly (B | null)[], timeout: number, scratch: FragScratch) {
    this.version = nextVersion++;
    this.slots = slots;
    this.timeout = timeout > 0 ? timeout : 0;
    this.scratch = scratch;
    const nodes: B[] = [];
    const first: number[] = [];
    const seen = new Set<B>();
    let covered = 0;
    for (let s = 0; s < SLOTS; s++) {
      const b = slots[s] ?? null;
      if (b === null) continue;
      covered++;
      if (seen.has(b)) continue;
      seen.add(b);
      nodes.push(b);
      first.push(s);
    }
    this.nodes = nodes;
    this.firstSlot = Int32Array.from(first);
    this.covered = covered;
  }

  /** An empty table: no slot served yet (before the first CLUSTER SLOTS answer). */
  static empty<B extends Target>(timeout: number, scratch: FragScratch): ClusterTable<B> {
    return new ClusterTable<B>(new Array<B | null>(SLOTS).fill(null), timeout, scratch);
  }

  /** The same table with `slot` served by `b` (a MOVED). */
  withSlot(slot: number, b: B): ClusterTable<B> {
    const s = this.slots.slice();
    s[slot] = b;
    return new ClusterTable(s, this.timeout, this.scratch);
  }

  /** The same slots with another timeout (a reload). */
  withTimeout(timeout: number): ClusterTable<B> {
    return new ClusterTable(this.slots, timeout, this.scratch);
  }

  /** The key's slot when a master serves it, else -1. */
  route(buf: Buffer, start: number, end: number): number {
    const slot = keySlot(buf, start, end);
    return this.slots[slot] === null ? -1 : slot;
  }

  get size(): number {
    return SLOTS;
  }

  isLive(index: number): boolean {
    return (this.slots[index] ?? null) !== null;
  }

  firstLive(): number {
    return this.firstSlot.length > 0 ? (this.firstSlot[0] as number) : -1;
  }

  target(index: number): B {
    return this.slots[index] as B;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  node(k: number): number {
    return this.firstSlot[k] as number;
  }

  get clustered(): boolean {
    return true;
  }

  /** The slot ranges `b` serves, as "0-5460 10923" (stats, logs). */
  rangesOf(b: B): string {
    return slotRanges(this.slots, (x) => x === b);
  }
}

/** The slots for which `pick` holds, as ranges: "0-99 200 300-310"; '' for none. */
export function slotRanges<T>(slots: readonly T[], pick: (x: T, slot: number) => boolean): string {
  const out: string[] = [];
  let from = -1;
  for (let s = 0; s <= SLOTS; s++) {
    const on = s < SLOTS && pick(slots[s] as T, s);
    if (on && from < 0) from = s;
    else if (!on && from >= 0) {
      out.push(from === s - 1 ? String(from) : `${from}-${s - 1}`);
      from = -1;
    }
  }
  return out.join(' ');
}
