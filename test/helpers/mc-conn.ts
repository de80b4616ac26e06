// Test helper for memcached over raw sockets: a persistent connection that sends requests and waits (bounded) for
// their replies, and one-shot reads straight from a backend (a value, a stat) that leave no timer behind.
import * as net from 'node:net';
import { exchange } from './procs';

/** One connection; call() writes a request and resolves with the text of its `replies` replies. */
export class McConn {
  private readonly sock: net.Socket;
  private buf = '';
  private wake: (() => void) | null = null;
  closed = false;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => {});
  }

  static connect(port: number): Promise<McConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => resolve(new McConn(s)));
      s.once('error', reject);
    });
  }

  /** Send `req` and wait for `replies` whole replies (a multi-get's VALUE blocks and END count as one). */
  async call(req: string | Buffer, replies = 1, timeoutMs = 5000): Promise<string> {
    this.sock.write(req);
    const deadline = Date.now() + timeoutMs;
    const done = (): boolean => countReplies(this.buf) >= replies;
    while (!done()) {
      if (this.closed) throw new Error(`connection closed after ${JSON.stringify(this.buf.slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply in ${timeoutMs} ms to ${JSON.stringify(String(req).slice(0, 80))}: got ${JSON.stringify(this.buf.slice(0, 200))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    const out = this.buf;
    this.buf = '';
    return out;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Replies in `text`: a retrieval reply (VALUE blocks then END) counts once. */
function countReplies(text: string): number {
  let n = 0;
  let i = 0;
  while (i < text.length) {
    const eol = text.indexOf('\r\n', i);
    if (eol < 0) break;
    const line = text.slice(i, eol);
    const m = /^VALUE \S+ \d+ (\d+)/.exec(line);
    if (m !== null) {
      const next = eol + 2 + Number(m[1]) + 2;
      if (next > text.length) break;
      i = next;
      continue;
    }
    const va = /^VA (\d+)/.exec(line);
    if (va !== null) {
      const next = eol + 2 + Number(va[1]) + 2;
      if (next > text.length) break;
      i = next;
      n++;
      continue;
    }
    i = eol + 2;
    n++;
  }
  return n;
}

/** One request on a fresh connection to `port`, answered by one reply (see McConn.call). */
export async function mcOnce(port: number, req: string): Promise<string> {
  const r = await exchange(port, req, (b) => countReplies(b.toString('latin1')) >= 1, 5000);
  return r.data.toString('latin1');
}

/** The value of `key` read straight from a memcached, or null on a miss. */
export async function valueOn(port: number, key: string): Promise<string | null> {
  const out = await mcOnce(port, `get ${key}\r\n`);
  const m = /^VALUE \S+ \d+ (\d+)\r\n/.exec(out);
  if (m === null) return null;
  return out.slice(m[0].length, m[0].length + Number(m[1]));
}

/** The value of `key` on whichever of the memcacheds `bs` has it (a pool's servers), or null. */
export async function valueIn(bs: readonly { port: number }[], key: string): Promise<string | null> {
  for (const b of bs) {
    const v = await valueOn(b.port, key);
    if (v !== null) return v;
  }
  return null;
}

/** One `stats` counter of a memcached. */
export async function statOf(port: number, name: string): Promise<number> {
  const r = await exchange(port, 'stats\r\n', (b) => b.toString('latin1').endsWith('END\r\n'), 5000);
  const m = new RegExp(`STAT ${name} (\\d+)\\r\\n`).exec(r.data.toString('latin1'));
  if (m === null) throw new Error(`no stat ${name}`);
  return Number(m[1]);
}
