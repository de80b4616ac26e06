// Receive side of every socket, below the parsers: libuv reads into one shared buffer and calls
// the connection directly (`onread`), skipping the Readable stream (a push, an event and a fresh
// 64 KB-then-shrunk ArrayBuffer per read); each read is copied once into a pooled Buffer.
//
//   kernel ─► READ_BUF (shared, reused by every socket) ─► one copy per read ─► Input.take ─► parser
//   kernel ─► the awaited message's own buffer (Input.readTarget: a large value) ─► Input.take (a view, no copy)
//   kernel ─► a fresh buffer (Input.readTarget, after a read that filled half the shared one: large values
//             flowing): the chunk is the buffer the kernel wrote, no copy

import * as net from 'node:net';
import { copyBytes } from './bytes';
import type { Input } from './input';
import type { TLSSocket } from 'node:tls';

/** One read buffer for all sockets: a read callback runs to completion before the next read starts. */
const READ_BUF = Buffer.allocUnsafe(64 * 1024);

/** Gets each read as its own Buffer, which it may keep. */
export type ReadCallback = (chunk: Buffer) => void;

/** The `onread` option shape: Node asks `buffer()` after every read for where the next one lands. */
export interface OnreadOption {
  buffer: () => Uint8Array;
  callback: (n: number, b: Uint8Array) => boolean;
}

/**
 * The `onread` option for net.connect / new net.Socket: `cb` gets each read as its own Buffer (pooled when
 * small). With `input`, a read may land straight in the buffer of the message being awaited (see
 * Input.readTarget); `cb` then gets a view of the landed bytes.
 */
export function onreadOption(cb: ReadCallback, input: Input | null = null): OnreadOption {
  return {
    buffer: input === null ? sharedBuffer : (): Uint8Array => input.readTarget() ?? READ_BUF,
    callback: (n: number, b: Uint8Array): boolean => {
      if (n <= 0) return true;
      if (input !== null) input.noteRead(n);
      if (b !== READ_BUF) {
        cb((b as Buffer).subarray(0, n));
        return true;
      }
      // Requests and replies are kept as views of the chunk until written out (one turn later), so
      // the shared buffer is copied (copyBytes: without a subarray view, a second object per read);
      // a copy of a small read is cheaper than the stream path's allocation.
      const chunk = Buffer.allocUnsafe(n);
      copyBytes(READ_BUF, 0, n, chunk, 0);
      cb(chunk);
      return true;
    },
  };
}

function sharedBuffer(): Uint8Array {
  return READ_BUF;
}

/** The parts of net.Socket's constructor options that Node itself uses for accepted sockets. */
interface AdoptOptions extends net.SocketConstructorOpts {
  handle: unknown;
  onread: OnreadOption;
}

/**
 * Move an accepted socket (created paused: `pauseOnConnect`) onto a new net.Socket that reads with
 * `onread`. net.Server has no option for it, so the accepted socket's handle is taken over the way
 * net.Server builds its sockets (`new Socket({ handle })`), and the first socket is retired without
 * closing the handle. If the handle is not there (another runtime), or the socket speaks TLS, the socket is kept
 * and read as a stream: same bytes, only slower.
 */
export function adoptAccepted(sock: net.Socket, allowHalfOpen: boolean, cb: ReadCallback, input: Input | null = null): net.Socket {
  const holder = sock as unknown as { _handle: unknown };
  const handle = holder._handle;
  // A TLS socket's handle carries the TLS layer: it is read as a stream (util/transport.ts says why).
  if (handle === null || typeof handle !== 'object' || !directWritable(sock)) {
    sock.on('data', cb);
    sock.resume();
    return sock;
  }
  const opts: AdoptOptions = { handle, allowHalfOpen, readable: true, writable: true, onread: onreadOption(cb, input) };
  const adopted = new net.Socket(opts);
  // Retire the first socket: without its handle, destroy() only updates the server's connection count.
  holder._handle = null;
  sock.destroy();
  return adopted;
}

/** Bytes may go straight to the socket's fd (util/outbox); a TLS socket's handle reports the TCP fd (util/transport.ts): plain sockets only. */
export function directWritable(s: net.Socket): boolean {
  return (s as Partial<TLSSocket>).encrypted !== true;
}
