// util/input: the receive side under every parser. A message split at every boundary comes out whole and
// byte-exact through the three paths (small chunks joined; a large known wait read straight into the
// message's buffer; large values flowing: fresh read buffers, a message that starts in one goes on in place),
// and what was handed out is never overwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Input, DIRECT_MIN } from '../../src/util/input';

/** A stand-in for the socket layer: each read lands where Input.readTarget() says (or in a copy of the shared buffer). */
function deliver(input: Input, data: Buffer): Buffer | null {
  input.noteRead(data.length);
  const t = input.readTarget();
  if (t !== null && data.length <= t.length) {
    data.copy(t, 0);
    return input.take(t.subarray(0, data.length));
  }
  return input.take(Buffer.from(data));
}

/** Frames: a 4-byte big-endian length, then that many bytes. Returns the parsed bodies; holds partials. */
function feed(input: Input, reads: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const r of reads) {
    let rest = r;
    while (rest.length > 0) {
      // one read at most as large as the target the input offers
      const t = input.readTarget();
      const n = t === null ? Math.min(rest.length, 64 * 1024) : Math.min(rest.length, t.length);
      const buf = deliver(input, rest.subarray(0, n));
      rest = rest.subarray(n);
      if (buf === null) continue;
      let pos = 0;
      for (;;) {
        if (buf.length - pos < 4) {
          if (pos < buf.length) input.hold(buf, pos, 4);
          else input.clear();
          break;
        }
        const len = buf.readUInt32BE(pos);
        if (buf.length - pos < 4 + len) {
          input.hold(buf, pos, 4 + len);
          break;
        }
        out.push(buf.subarray(pos + 4, pos + 4 + len));
        pos += 4 + len;
      }
    }
  }
  return out;
}

function frame(len: number, seed: number): Buffer {
  const b = Buffer.alloc(4 + len);
  b.writeUInt32BE(len, 0);
  for (let i = 0; i < len; i++) b[4 + i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

test('messages of every size class, cut at many boundaries, come out whole; handed-out views stay intact', () => {
  const sizes = [0, 1, 100, 5000, DIRECT_MIN - 10, DIRECT_MIN + 10, 100 * 1024, 300 * 1024, 1024 * 1024];
  const msgs = sizes.map((n, i) => frame(n, i));
  const stream = Buffer.concat(msgs);
  for (const cut of [1, 3, 1000, 16 * 1024, 32 * 1024 + 7, 64 * 1024, 200 * 1024]) {
    const input = new Input();
    const reads: Buffer[] = [];
    for (let o = 0; o < stream.length; o += cut) reads.push(stream.subarray(o, Math.min(stream.length, o + cut)));
    const got = feed(input, reads);
    assert.equal(got.length, msgs.length, `cut ${cut}`);
    got.forEach((g, i) => assert.ok(g.equals(msgs[i]!.subarray(4)), `message ${i} (size ${sizes[i]}) at cut ${cut}`));
  }
});

test('large values flowing: a message starting in a fresh read buffer goes on in place (no buffer of its own)', () => {
  const input = new Input();
  const n = 100 * 1024;
  const msgs = Array.from({ length: 6 }, (_, i) => frame(n, i));
  // One continuous stream: reads end anywhere, so messages start in the middle of a read.
  const got = feed(input, [Buffer.concat(msgs)]);
  assert.equal(got.length, 6);
  got.forEach((g, i) => assert.ok(g.equals(msgs[i]!.subarray(4))));
  // After the first large message, each later one lies in the fresh buffer its first read landed in.
  const owners = new Set(got.slice(2).map((g) => g.buffer));
  assert.equal(owners.size, 4, 'one buffer per message, read in place');
  for (const g of got.slice(2)) assert.ok(g.buffer.byteLength <= 64 * 1024 + n + 4 + 1024, `buffer of ${g.buffer.byteLength} bytes`);
});

test('heldBytes counts the partial message in every mode', () => {
  const input = new Input();
  const m = frame(200 * 1024, 1);
  assert.equal(feed(input, [m.subarray(0, 1000)]).length, 0);
  assert.equal(input.heldBytes, 1000);
  assert.equal(feed(input, [m.subarray(1000, 50000)]).length, 0);
  assert.equal(input.heldBytes, 50000);
  assert.equal(feed(input, [m.subarray(50000)]).length, 1);
  assert.equal(input.heldBytes, 0);
});
