// Write side of every socket (client replies and server requests): buffers queued during one
// event-loop turn go out in one write per socket, in the check phase after all I/O callbacks
// of the turn ran, so fifty clients' requests to one server cost one syscall.
//
//   push(buf) ... push(buf)  --(setImmediate, once per turn for all dirty outboxes)-->  socket.write(one buffer)

import type { Socket } from 'node:net';

/** Below this many bytes the queued buffers are joined with one copy; above, they are corked and written as a writev. */
const CONCAT_LIMIT = 64 * 1024;

export class Outbox {
  socket: Socket | null = null;
  private bufs: Buffer[] = [];
  private bytes = 0;
  private dirty = false;
  /** false while the socket cannot take writes yet (connecting); the bytes wait. */
  ready = false;
  /** Called after the queued bytes were handed to the socket (server connections move in_queue to out_queue). */
  onFlush: (() => void) | null = null;

  get pendingBytes(): number {
    return this.bytes;
  }

  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.bufs.push(buf);
    this.bytes += buf.length;
    if (!this.dirty && this.ready) {
      this.dirty = true;
      dirtyList.push(this);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  /** Put a buffer in front of everything queued (used for AUTH/SELECT on a new server connection). */
  unshift(buf: Buffer): void {
    this.bufs.unshift(buf);
    this.bytes += buf.length;
  }

  /** Called when the socket becomes writable for the first time. */
  markReady(): void {
    this.ready = true;
    if (this.bytes > 0) this.flush();
  }

  discard(): void {
    this.bufs = [];
    this.bytes = 0;
  }

  flush(): void {
    this.dirty = false;
    const s = this.socket;
    const bufs = this.bufs;
    if (s === null || bufs.length === 0 || !this.ready) return;
    if (s.destroyed) {
      this.discard();
      return;
    }
    this.bufs = [];
    const bytes = this.bytes;
    this.bytes = 0;
    if (bufs.length === 1) {
      s.write(bufs[0] as Buffer);
    } else if (bytes <= CONCAT_LIMIT) {
      s.write(Buffer.concat(bufs, bytes));
    } else {
      s.cork();
      for (let i = 0; i < bufs.length; i++) s.write(bufs[i] as Buffer);
      s.uncork();
    }
    if (this.onFlush !== null) this.onFlush();
  }
}

let dirtyList: Outbox[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const list = dirtyList;
  dirtyList = [];
  for (let i = 0; i < list.length; i++) (list[i] as Outbox).flush();
}
