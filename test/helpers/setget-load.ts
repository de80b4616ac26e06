// Continuous SET/GET load for failover tests: each client writes a key of its own (`<prefix><client>:<seq>`, value
// naming client and sequence), reads it back, and records both with wall-clock times, so a test can tell what
// failed when, which replies were wrong (another request's reply, or a value that was never written), and which
// writes were lost. One request in flight per client; every loop is bounded by stop() and a deadline.
import * as net from 'node:net';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK, AGAIN } from '../../src/protocol/parse';
import { decodeReply, RespError } from '../../src/protocol/redis/decode';

/** Wall-clock ms with sub-ms precision (comparable with nutmeg's Date.now() stamps). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface Op {
  client: number;
  seq: number;
  key: string;
  value: string;
  setSent: number;
  setDone: number;
  /** 'OK', or the error text. */
  setReply: string;
  getSent: number;
  getDone: number;
  /** The value read, null for a nil, or the error text in getError. */
  getValue: string | null;
  getError: string | null;
}

export class SetGetLoad {
  readonly ops: Op[] = [];
  /** Replies that answer another request (wrong type or value): must stay empty. */
  readonly wrong: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];

  private constructor() {}

  /** `clients` connections to 127.0.0.1:port, each looping SET then GET until stop() (or `maxMs`). */
  static start(port: number, clients: number, prefix: string, maxMs = 60000): SetGetLoad {
    const l = new SetGetLoad();
    const deadline = Date.now() + maxMs;
    for (let c = 0; c < clients; c++) l.loops.push(l.loop(port, c, prefix, deadline));
    return l;
  }

  /** Successful SETs so far. */
  get written(): number {
    let n = 0;
    for (const o of this.ops) if (o.setReply === 'OK') n++;
    return n;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(port: number, client: number, prefix: string, deadline: number): Promise<void> {
    let conn: Conn | null = null;
    for (let seq = 0; this.running && Date.now() < deadline; seq++) {
      if (conn === null || conn.closed) {
        try {
          conn = await Conn.open(port);
        } catch {
          await pause(5);
          continue;
        }
      }
      const key = `${prefix}${client}:${seq}`;
      const value = `v${client}:${seq}:${key}`;
      const op: Op = { client, seq, key, value, setSent: wallNow(), setDone: 0, setReply: '', getSent: 0, getDone: 0, getValue: null, getError: null };
      const r1 = await conn.call(['SET', key, value]);
      op.setDone = wallNow();
      if (r1 instanceof RespError) op.setReply = r1.message;
      else if (r1 === 'OK') op.setReply = 'OK';
      else {
        this.wrong.push(`SET ${key} got ${JSON.stringify(r1)}`);
        op.setReply = 'wrong';
      }
      op.getSent = wallNow();
      const r2 = await conn.call(['GET', key]);
      op.getDone = wallNow();
      if (r2 instanceof RespError) op.getError = r2.message;
      else if (r2 === null || r2 === value) op.getValue = r2;
      else this.wrong.push(`GET ${key} got ${JSON.stringify(r2)}`);
      this.ops.push(op);
      // A failing shard answers at once: do not spin on it.
      if (op.setReply !== 'OK' || op.getError !== null) await pause(2);
    }
    conn?.close();
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One client connection with one request in flight; a closed connection answers RespError('closed'). */
class Conn {
  private readonly sock: net.Socket;
  private readonly parser = new RedisReplyParser();
  private buf: Buffer = Buffer.alloc(0);
  private waiter: ((v: ReturnType<typeof decodeReply>) => void) | null = null;
  closed = false;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('close', () => {
      this.closed = true;
      const w = this.waiter;
      this.waiter = null;
      w?.(new RespError('closed'));
    });
    sock.on('error', () => {});
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  call(args: string[]): Promise<ReturnType<typeof decodeReply>> {
    if (this.closed) return Promise.resolve(new RespError('closed'));
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const st = this.parser.parse(this.buf, 0);
    if (st === AGAIN) return;
    if (st !== OK) {
      this.sock.destroy();
      return;
    }
    const v = decodeReply(this.buf, 0);
    this.buf = this.buf.subarray(this.parser.end);
    const w = this.waiter;
    this.waiter = null;
    if (w === null) {
      this.sock.destroy(); // a reply nobody asked for
      return;
    }
    w(v);
  }

  close(): void {
    this.sock.destroy();
  }
}
