// A scripted backend (a node net.Server on loopback) for the faults a real redis-server or memcached cannot
// produce on demand: half a reply and then a close, a stall that ends when the test says so. Everything else
// is tested against the real servers. Also a streaming RESP reply framer that records replies without copying
// their payloads, for clients that receive hundreds of megabytes.
import * as net from 'node:net';

export type FakeProto = 'redis' | 'memcache';

/** One accepted connection. `index` is 0 for the first connection the backend accepted. */
export interface FakeConn {
  readonly index: number;
  readonly sock: net.Socket;
  write(data: string | Buffer): void;
  /** Ends the connection (FIN) after what was written. */
  close(): void;
}

/**
 * Called once per complete request. redis: the command's arguments. memcache: the command line's words, plus the
 * data block as the last element for a storage command.
 */
export type OnRequest = (conn: FakeConn, args: Buffer[]) => void;

const STORAGE = new Set(['set', 'add', 'replace', 'append', 'prepend', 'cas']);

/** Length of the complete redis request (an array of bulk strings) at the start of buf and its args; null if incomplete. */
function parseRedis(buf: Buffer): { end: number; args: Buffer[] } | null {
  if (buf.length === 0) return null;
  if (buf[0] !== 0x2a) throw new Error(`fake backend: not a RESP array: ${JSON.stringify(buf.toString('latin1', 0, 40))}`);
  let eol = buf.indexOf('\r\n');
  if (eol < 0) return null;
  const argc = Number(buf.toString('latin1', 1, eol));
  let p = eol + 2;
  const args: Buffer[] = [];
  for (let i = 0; i < argc; i++) {
    eol = buf.indexOf('\r\n', p);
    if (eol < 0) return null;
    const len = Number(buf.toString('latin1', p + 1, eol));
    p = eol + 2;
    if (p + len + 2 > buf.length) return null;
    args.push(buf.subarray(p, p + len));
    p += len + 2;
  }
  return { end: p, args };
}

/** Length of the complete memcache request at the start of buf and its words (+ data block); null if incomplete. */
function parseMemcache(buf: Buffer): { end: number; args: Buffer[] } | null {
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return null;
  const words = buf
    .toString('latin1', 0, eol)
    .split(' ')
    .filter((w) => w.length > 0);
  const args: Buffer[] = words.map((w) => Buffer.from(w, 'latin1'));
  let end = eol + 2;
  if (STORAGE.has(words[0] ?? '')) {
    const n = Number(words[4]);
    if (end + n + 2 > buf.length) return null;
    args.push(buf.subarray(end, end + n));
    end += n + 2;
  }
  return { end, args };
}

export class FakeBackend {
  readonly server: net.Server;
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;
  /** Connections that have closed, from either side. */
  closedConns = 0;
  private readonly socks = new Set<net.Socket>();

  private constructor(proto: FakeProto, onRequest: OnRequest) {
    const parse = proto === 'redis' ? parseRedis : parseMemcache;
    this.server = net.createServer((sock) => {
      const index = this.accepted++;
      this.socks.add(sock);
      const conn: FakeConn = {
        index,
        sock,
        write: (d) => {
          if (!sock.destroyed) sock.write(d);
        },
        close: () => sock.end(),
      };
      let buf: Buffer = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        for (let r = parse(buf); r !== null && !sock.destroyed; r = parse(buf)) {
          // copy the args: the handler may keep them after buf moves on
          const args = r.args.map((a) => Buffer.from(a));
          buf = buf.subarray(r.end);
          onRequest(conn, args);
        }
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        this.closedConns++;
        this.socks.delete(sock);
      });
    });
  }

  static async start(proto: FakeProto, onRequest: OnRequest): Promise<FakeBackend> {
    const fb = new FakeBackend(proto, onRequest);
    await new Promise<void>((resolve, reject) => {
      fb.server.once('error', reject);
      fb.server.listen(0, '127.0.0.1', () => resolve());
    });
    fb.port = (fb.server.address() as net.AddressInfo).port;
    return fb;
  }

  /** Stops listening and destroys every open connection. */
  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One reply seen by RespStream: its type byte, its bulk length (-1 for nil, 0 for a non-bulk) and its first bytes. */
export interface SeenReply {
  type: string;
  len: number;
  /** A simple reply's line without CRLF, or a bulk's first (at most 64) bytes. */
  head: string;
}

/**
 * Frames a stream of RESP replies of the kinds GET/SET/PING give (+ - : and bulk), without keeping the bulk
 * payloads: constant memory per reply. `bad` is set when the bytes are no such reply.
 */
export class RespStream {
  readonly replies: SeenReply[] = [];
  bytes = 0;
  bad = false;
  private line = '';
  /** Payload bytes (+ CRLF) still to skip for the current bulk; -1 while reading a header line. */
  private skip = -1;
  private cur: SeenReply | null = null;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let p = 0;
    while (p < chunk.length && !this.bad) {
      if (this.skip >= 0) {
        const cur = this.cur!;
        const take = Math.min(this.skip, chunk.length - p);
        const want = Math.min(64, cur.len) - cur.head.length;
        if (want > 0) cur.head += chunk.toString('latin1', p, p + Math.min(want, take));
        this.skip -= take;
        p += take;
        if (this.skip === 0) {
          this.replies.push(cur);
          this.cur = null;
          this.skip = -1;
        }
        continue;
      }
      const eol = chunk.indexOf(0x0a, p);
      if (eol < 0) {
        this.line += chunk.toString('latin1', p);
        if (this.line.length > 1024) this.bad = true;
        return;
      }
      this.line += chunk.toString('latin1', p, eol + 1);
      p = eol + 1;
      const l = this.line;
      this.line = '';
      if (!l.endsWith('\r\n') || l.length < 3) {
        this.bad = true;
        return;
      }
      const type = l[0]!;
      const body = l.slice(1, -2);
      if (type === '+' || type === '-' || type === ':') {
        this.replies.push({ type, len: 0, head: body });
      } else if (type === '$') {
        const len = Number(body);
        if (!Number.isInteger(len) || len < -1) {
          this.bad = true;
          return;
        }
        if (len === -1) {
          this.replies.push({ type, len, head: '' });
        } else {
          this.cur = { type, len, head: '' };
          this.skip = len + 2;
        }
      } else {
        this.bad = true;
      }
    }
  }
}
