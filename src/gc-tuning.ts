// Start-up, before the proxy allocates anything: V8 garbage-collector flags that depend on the V8 release
// under the Node major in use (bin/nutmeg's shebang holds the ones that must be set before the heap exists).
import * as v8 from 'node:v8';

/**
 * V8 counts the ArrayBuffer memory allocated since the last mark-compact against the old generation's free
 * room. nutmeg's JS heap is about 10 MB, but it reads replies into fresh Buffers at up to hundreds of MB/s,
 * so once that room is small the room is used up every few tens of milliseconds and a full marking cycle
 * runs almost back to back (bench mc-mget10-1k: 70-105 mark-compacts per run instead of 1, 1.5-1.8x
 * nutcracker's CPU per request instead of 1.1x). Buffer memory still gets collected through V8's separate
 * external-memory limit. docs/performance.md has the runs.
 *
 * V8 13 (Node 24): marking starts when the JS heap itself has filled 80 % (in a task) or 90 % (at once)
 * of its room, not counting Buffers. V8 11 and 12 (Node 20, 22) have the same flags but still count
 * Buffers in them; there the room is made larger instead: the old generation may grow to 5x its live size
 * (3x was just enough in the bench, 2x is the default). Node 20 hit it less often than 22 (only after the
 * memory reducer had shrunk the heap: 2 runs of 3 after the whole bench, none with mc-mget10 alone).
 */
const FLAGS_BY_V8_MAJOR: ReadonlyArray<readonly [number, readonly string[]]> = [
  [13, ['--incremental-marking-soft-trigger=80', '--incremental-marking-hard-trigger=90']],
  [11, ['--heap-growing-percent=400']],
];

/** The flags applied for this V8 version (none before V8 11, which nutmeg does not support). */
export function gcFlagsFor(v8Version: string): readonly string[] {
  const major = Number.parseInt(v8Version, 10);
  for (const [min, flags] of FLAGS_BY_V8_MAJOR) if (major >= min) return flags;
  return [];
}

for (const f of gcFlagsFor(process.versions.v8)) v8.setFlagsFromString(f);
