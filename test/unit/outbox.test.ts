// Outbox over a real loopback socket: direct write(2) while the stream is empty, the stream once
// the kernel refuses bytes, later bytes parked while the stream drains, and back; every byte arrives
// once and in order across the switches.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { Outbox, noteClientRead } from '../../src/util/outbox';

/** Byte at stream offset o: reordered, lost or repeated chunks change what lands at an offset. */
function byteAt(o: number): number {
  return (o ^ (o >>> 7) ^ (o >>> 13) ^ (o >>> 21)) & 0xff;
}

function chunk(from: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = byteAt(from + i);
  return b;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A loopback connection, with a ready Outbox on its writing end. */
async function pair(): Promise<{ server: net.Server; writer: net.Socket; reader: net.Socket; out: Outbox }> {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const writer = net.connect({ port, host: '127.0.0.1' });
  await once(writer, 'connect');
  const [reader] = (await accepted) as [net.Socket];
  const out = new Outbox();
  out.socket = writer;
  out.ready = true;
  return { server, writer, reader, out };
}

test('outbox: bytes stay in order across direct writes, kernel-full fallback to the stream, and back', async () => {
  const { server, writer, reader, out } = await pair();
  let sent = 0;
  let seed = 1;
  const pushSome = (): void => {
    // 1..3 buffers of 1..40000 bytes per turn: one write, a writev, and stream fallbacks both joined and corked (over 64 KB).
    const k = 1 + (seed % 3);
    for (let i = 0; i < k; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const len = 1 + (seed % 40000);
      out.push(chunk(sent, len));
      sent += len;
    }
  };
  // Phase 1: the peer does not read, so the kernel fills up and the stream starts queueing.
  let turns = 0;
  while (writer.writableLength === 0 && sent < 256 * 1024 * 1024) {
    pushSome();
    await turn();
    turns++;
  }
  assert.ok(writer.writableLength > 0, `the kernel never refused bytes after ${sent} bytes`);
  // Phase 2: more while the stream is queueing: parked in the outbox, not queued behind the stream.
  const streamHeld = writer.writableLength;
  for (let i = 0; i < 200; i++) {
    pushSome();
    await turn();
  }
  assert.ok(out.pendingBytes > 0, 'bytes parked while the stream holds refused ones');
  assert.equal(writer.writableLength, streamHeld, 'nothing more went to the stream meanwhile');
  // Phase 3: the peer reads everything; once drained, pushes go direct again.
  let got = 0;
  let bad = -1;
  reader.on('data', (d: Buffer) => {
    for (let i = 0; i < d.length; i++) {
      if (bad < 0 && d[i] !== byteAt(got + i)) bad = got + i;
    }
    got += d.length;
  });
  reader.resume();
  // The stream drains, then the parked bytes go out directly (the kernel may refuse some again: the stream again).
  const drained = Date.now() + 20000;
  while ((out.pendingBytes > 0 || writer.writableLength > 0) && Date.now() < drained) await new Promise((r) => setTimeout(r, 5));
  assert.equal(out.pendingBytes, 0);
  assert.equal(writer.writableLength, 0);
  for (let i = 0; i < 200; i++) {
    pushSome();
    await turn();
  }
  out.flush();
  const deadline = Date.now() + 20000;
  while (got < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(bad, -1, `wrong byte at offset ${bad}`);
  assert.equal(got, sent);
  assert.ok(turns > 1);
  writer.destroy();
  reader.destroy();
  server.close();
});

test('outbox: writing to a connection the peer has reset fails through the socket, without throwing', async () => {
  const { server, writer, reader, out } = await pair();
  let errors = 0;
  writer.on('error', () => errors++);
  const closed = new Promise<void>((r) => writer.once('close', () => r()));
  reader.resetAndDestroy();
  await once(reader, 'close');
  // Keep writing until the reset is seen; bounded in turns.
  for (let i = 0; i < 200 && !writer.destroyed; i++) {
    out.push(Buffer.from('+OK\r\n'));
    await turn();
  }
  await closed;
  assert.ok(writer.destroyed);
  assert.ok(errors <= 1);
  out.push(Buffer.from('+OK\r\n'));
  out.flush(); // a destroyed socket drops the bytes
  assert.equal(out.pendingBytes, 0);
  server.close();
});

test('outbox: a gathering outbox waits one loop pass when several clients read this turn, none for a lone client', async () => {
  const { server, writer, reader, out } = await pair();
  out.gather = true;
  // A lone client: written in this turn's flush.
  noteClientRead();
  out.push(Buffer.from('a'));
  await turn();
  assert.equal(out.pendingBytes, 0);
  // Two clients read: the write waits for the next pass, and a push in that pass joins it.
  noteClientRead();
  noteClientRead();
  out.push(Buffer.from('b'));
  await turn();
  assert.equal(out.pendingBytes, 1);
  out.push(Buffer.from('c'));
  await turn();
  assert.equal(out.pendingBytes, 0);
  let got = '';
  reader.on('data', (d: Buffer) => (got += d.toString()));
  reader.resume();
  const deadline = Date.now() + 5000;
  while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(got, 'abc');
  writer.destroy();
  reader.destroy();
  server.close();
});
