// Test driver for resumable parsers (parse.ts contract): feeds a message whole, byte by byte and
// split at every boundary, in a growing buffer and in fresh buffers with a junk prefix.

import assert from 'node:assert/strict';
import { OK, AGAIN, ERROR, type ParseStatus } from '../../src/protocol/parse';

export type Snap = Record<string, unknown>;

export interface Resumable {
  parse(buf: Buffer, start: number): ParseStatus;
  readonly end: number;
  readonly need: number;
  readonly errorText: string;
  reset(): void;
}

/**
 * Feeds chunks to the parser. fresh=false: one growing buffer, the message start stays put.
 * fresh=true: on AGAIN keep the bytes from the message start, copy them into a new buffer after
 * a junk prefix, append the next chunk. Returns a snapshot per message, {error} or {incomplete}.
 */
export function feed<P extends Resumable>(
  p: P,
  chunks: Buffer[],
  fresh: boolean,
  snap: (p: P, buf: Buffer, start: number) => Snap,
): Snap[] {
  p.reset();
  const out: Snap[] = [];
  const full = Buffer.concat(chunks);
  let cum = 0;
  let pending: Buffer = Buffer.alloc(0);
  let start = 0;
  let prevNeed = 0;
  let calls = 0;
  let data: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    cum += chunk.length;
    if (fresh) {
      const junk = Buffer.alloc(1 + (calls % 5), 0x2a);
      data = Buffer.concat([junk, pending, chunk]);
      start = junk.length;
    } else {
      data = full.subarray(0, cum);
    }
    for (;;) {
      calls++;
      const avail = data.length - start;
      const st = p.parse(data, start);
      if (prevNeed > avail) assert.equal(st, AGAIN, 'need was a lower bound');
      if (st === OK) {
        assert.ok(p.end > start && p.end <= data.length);
        out.push(snap(p, data, start));
        start = p.end;
        prevNeed = 0;
        if (start === data.length) break;
      } else if (st === AGAIN) {
        assert.ok(p.need > avail, `need ${p.need} > available ${avail}`);
        prevNeed = p.need;
        break;
      } else {
        assert.equal(st, ERROR);
        out.push({ error: p.errorText });
        assert.equal(p.parse(data, start), ERROR, 'stays failed');
        return out;
      }
    }
    pending = data.subarray(start);
  }
  if (data.length - start > 0) out.push({ incomplete: true, need: p.need });
  return out;
}

export function allModes<P extends Resumable>(p: P, input: Buffer, snap: (p: P, buf: Buffer, start: number) => Snap): Snap[] {
  const whole = feed(p, [input], false, snap);
  const bytes: Buffer[] = [];
  for (let i = 0; i < input.length; i++) bytes.push(input.subarray(i, i + 1));
  assert.deepEqual(feed(p, bytes, false, snap), whole, 'byte by byte, growing buffer');
  assert.deepEqual(feed(p, bytes, true, snap), whole, 'byte by byte, fresh buffers');
  for (let i = 1; i < input.length; i++) {
    const two = [input.subarray(0, i), input.subarray(i)];
    assert.deepEqual(feed(p, two, true, snap), whole, `split at ${i}, fresh`);
    assert.deepEqual(feed(p, two, false, snap), whole, `split at ${i}, growing`);
  }
  return whole;
}

