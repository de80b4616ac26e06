// Test helper for the memcached parsers: feeds an input whole, byte by byte and split at every
// byte boundary, in "growing buffer" and "new buffer" modes, and checks `need` on the way.
import assert from 'node:assert/strict';
import { OK, AGAIN, ERROR } from '../../src/protocol/parse';

export interface Parser {
  parse(buf: Buffer, start: number): number;
  need: number;
  end: number;
}

export interface Harness<P extends Parser> {
  make(): P;
  /** Called before the first parse() of message number `index`. */
  prepare?(p: P, index: number): void;
  /** What a finished parse (OK or ERROR) produced, with offsets made relative to `start`. */
  snap(p: P, buf: Buffer, start: number, status: number): unknown;
  /** After ERROR: true when the stream stops there. */
  stops(p: P): boolean;
}

const JUNK = Buffer.alloc(16, 0x4a);

/**
 * Feeds `input` cut at `cuts` (sorted positions). newBuffer: on every chunk the unconsumed bytes
 * of the current message are copied into a fresh Buffer behind 1..7 junk bytes; otherwise the
 * parser sees growing views of the same memory. Returns the snapshots, plus `{ again: need }`
 * when the input ends inside a message.
 */
export function feed<P extends Parser>(h: Harness<P>, input: Buffer, cuts: readonly number[], newBuffer: boolean): unknown[] {
  const p = h.make();
  const out: unknown[] = [];
  let index = 0;
  let prepared = false;
  let needs: number[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let start = 0;
  let pos = 0;
  let lastNeed = -1;
  const bounds = [...cuts, input.length];
  for (const b of bounds) {
    if (b <= pos) continue;
    const chunk = input.subarray(pos, b);
    pos = b;
    if (newBuffer) {
      const junk = JUNK.subarray(0, 1 + (b % 7));
      buf = Buffer.concat([junk, buf.subarray(start), chunk]);
      start = junk.length;
    } else {
      buf = input.subarray(0, b);
    }
    lastNeed = -1;
    while (start < buf.length) {
      if (!prepared) {
        h.prepare?.(p, index);
        prepared = true;
      }
      const st = p.parse(buf, start);
      if (st === AGAIN) {
        assert.ok(p.need > buf.length - start, `need ${p.need} must exceed the ${buf.length - start} bytes held`);
        needs.push(p.need);
        lastNeed = p.need;
        break;
      }
      assert.ok(st === OK || st === ERROR);
      out.push(h.snap(p, buf, start, st));
      prepared = false;
      index++;
      if (st === ERROR && h.stops(p)) return out;
      assert.ok(p.end > start, 'end must move forward');
      for (const n of needs) assert.ok(n <= p.end - start, `need ${n} overshoots the message length ${p.end - start}`);
      needs = [];
      start = p.end;
    }
  }
  if (lastNeed >= 0) out.push({ again: lastNeed });
  return out;
}

/** Every feeding pattern must give `expected`. Inputs longer than `maxFull` bytes get sampled splits only. */
export function check<P extends Parser>(h: Harness<P>, input: Buffer, expected: unknown[], maxFull = 4096): void {
  assert.deepStrictEqual(feed(h, input, [], false), expected, 'whole');
  const n = input.length;
  if (n <= maxFull) {
    const every: number[] = [];
    for (let i = 1; i < n; i++) every.push(i);
    assert.deepStrictEqual(feed(h, input, every, false), expected, 'byte by byte, growing buffer');
    assert.deepStrictEqual(feed(h, input, every, true), expected, 'byte by byte, new buffer');
    for (let i = 1; i < n; i++) {
      assert.deepStrictEqual(feed(h, input, [i], true), expected, `split at ${i}, new buffer`);
      assert.deepStrictEqual(feed(h, input, [i], false), expected, `split at ${i}, growing buffer`);
    }
  } else {
    const cuts = [1, 2, 7, 100, n >> 1, n - 3, n - 2, n - 1];
    for (const c of cuts) {
      assert.deepStrictEqual(feed(h, input, [c], true), expected, `split at ${c}, new buffer`);
      assert.deepStrictEqual(feed(h, input, [c], false), expected, `split at ${c}, growing buffer`);
    }
  }
}

/** latin1 text of buf[s, e). */
export function str(buf: Buffer, s: number, e: number): string {
  return buf.toString('latin1', s, e);
}
