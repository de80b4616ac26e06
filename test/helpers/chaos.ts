// Bounded chaos run against one proxy (nutmeg or nutcracker: the same scenario, seed and schedule for both),
// used by test/integration/chaos.test.ts (short form, CI) and scripts/chaos.ts (long form, `npm run chaos`).
// Two pools of three real backends each, a redis pool and a memcached pool (ketama, timeout, auto-eject),
// carry self-checking clients and bad clients while the fault schedule hits backend i of both pools at once.
//
//   checkers (SET then GET of own keys,   ─┐                          ┌─► redis s0..s2     ◄─ kill -9 + restart,
//     values "c3:k17:s942:pad", checked)   │                          │                       SIGSTOP past the timeout
//   pipeliner (1,000 GETs at a time)      ─┼─► proxy ─ ketama, timeout,┤                       (also while it streams
//   big reader (1 MB values, and bursts   ─┤    auto-eject ×2 pools    │                       a burst of big replies),
//     the schedule stops a backend in)     │                          └─► memcached s0..s2 ◄─ EVAL busy loop (redis) /
//   garbage, half-request, never-reads    ─┘ (not checked)                                    SIGSTOP as long (memcached)
//
// A reply that belongs to another key, client or request is a misdelivery; a request with no reply, on a
// connection that made no progress, for `hangMs` is a hang. After the last fault: the time until every
// backend serves again through the proxy (a probe key written directly on each backend reads back through
// the proxy, which it cannot while its backend is ejected), the errors seen later than
// server_retry_timeout + 2 s, and over the whole run the proxy's peak RSS.

import * as net from 'node:net';
import * as fs from 'node:fs';
import { Proc, startRedis, startMemcached, freePorts, freePort, sleep, readStats, exchange, type Backend, type ProxyProc } from './procs';
import { childrenOf } from './pids';
import { poolYaml, keysOn } from './faults';
import { Router } from '../../src/route/router';
import { mulberry32 } from './prng';

// ---------------------------------------------------------------------------------------------------------
// Options and result

export interface ChaosOptions {
  /** Label for the result ('nutmeg', 'nutcracker'). */
  name: string;
  /** Starts the proxy on a YAML text; resolves once the listen ports accept connections. */
  start: (yaml: string, listenPorts: number[]) => Promise<ProxyProc>;
  /** Length of the fault schedule (the last fault may end up to ~2 s later). */
  faultMs: number;
  seed?: number;
  /** Self-checking clients on the redis pool. */
  checkers?: number;
  /** Self-checking clients on the memcached pool; 0: no memcached pool. */
  mcCheckers?: number;
  /** SET+GET pairs per pipelined batch of a checker. */
  pipeline?: number;
  keysPerChecker?: number;
  /** GETs per batch of the pipelining client (half as many on the memcached pool). */
  pipelinerBatch?: number;
  /** Size of the values the big reader streams (at most 512 KB on memcached). 0: no big reader. */
  bigBytes?: number;
  /** GETs of big values per batch of the big reader. */
  bigPipeline?: number;
  /** GETs of one backend's big values in the burst a 'stream' fault stops that backend in the middle of. */
  bigBurst?: number;
  /** GETs the never-reading client writes per connection. */
  neverReadCount?: number;
  /** A request without a reply, on a connection without progress, for this long is a hang. */
  hangMs?: number;
  timeoutMs?: number;
  retryMs?: number;
  failureLimit?: number;
  /** How long the load keeps running after the last fault (at least retry + 2 s + 1 s). */
  quietMs?: number;
  /** Progress lines (fault schedule, phases). */
  log?: (line: string) => void;
}

export interface ChaosResult {
  name: string;
  seed: number;
  /** Requests of the checked clients (checkers, pipeliners, big readers) that got a reply or were dropped. */
  requests: number;
  /** Error replies plus requests dropped with their connection. */
  errors: number;
  misdelivered: number;
  hangs: number;
  /** Time from the end of the last fault until every backend served through the proxy; null: not within the bound + 3 s. */
  recoveryMs: number | null;
  /** The bound recoveryMs is held to (server_retry_timeout + margin). */
  recoveryBoundMs: number;
  /** Errors seen more than server_retry_timeout + 2 s after the last fault. */
  lateErrors: number;
  /** Time of the last error after the last fault, relative to it (ms); null: none. */
  lastErrorMs: number | null;
  peakRssMb: number;
  /** GETs that returned an older value of the same client and key (legitimate under auto-eject), and misses. */
  stale: number;
  nils: number;
  faults: number;
  ejects: number | null;
  proxyExited: boolean;
  errorKinds: Record<string, number>;
  examples: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Reply framing (independent of the proxy's own parsers). Both protocols' replies are framed into one
// shape: '+' OK/STORED, '-' an error (line: its text), '$' a value (body; null: nil/END), ':' an integer,
// '*' an array, '?' a memcached line that is none of those.

export interface Reply {
  type: string;
  line: string;
  body: Buffer | null;
}

const enum F {
  ERROR = -1,
  AGAIN = 0,
  OK = 1,
}

const CR = 13;
const LF = 10;
const MAX_LINE = 1024;

interface Framer {
  /** After OK: offset past the reply. */
  end: number;
  /** After AGAIN: total bytes (from the offset given) the reply needs, when known; else 0. */
  need: number;
  reply: Reply;
  parse(buf: Buffer, off: number): F;
}

/** Offset of the CR of the line starting at `off`; -1: incomplete; -2: no line (too long, bare CR). */
function lineEnd(buf: Buffer, off: number): number {
  const lim = Math.min(buf.length - 1, off + MAX_LINE);
  for (let i = off; i < lim; i++) {
    if (buf[i] === CR) return buf[i + 1] === LF ? i : -2;
  }
  return buf.length - off > MAX_LINE ? -2 : -1;
}

class RespFramer implements Framer {
  end = 0;
  need = 0;
  reply: Reply = { type: '', line: '', body: null };

  parse(buf: Buffer, off: number): F {
    this.need = 0;
    return this.at(buf, off, off, 0);
  }

  private at(buf: Buffer, base: number, off: number, depth: number): F {
    if (off >= buf.length) return F.AGAIN;
    if (depth > 8) return F.ERROR;
    const t = buf[off]!;
    const cr = lineEnd(buf, off + 1);
    if (cr === -2) return F.ERROR;
    if (cr === -1) return F.AGAIN;
    const line = buf.toString('latin1', off + 1, cr);
    const top = depth === 0;
    switch (t) {
      case 0x2b: // +
      case 0x2d: // -
      case 0x3a: // :
        if (top) this.reply = { type: String.fromCharCode(t), line, body: null };
        this.end = cr + 2;
        return F.OK;
      case 0x24: {
        // $
        if (!/^(-1|\d+)$/.test(line)) return F.ERROR;
        const n = Number(line);
        if (n === -1) {
          if (top) this.reply = { type: '$', line, body: null };
          this.end = cr + 2;
          return F.OK;
        }
        const end = cr + 2 + n + 2;
        if (buf.length < end) {
          this.need = end - base;
          return F.AGAIN;
        }
        if (buf[end - 2] !== CR || buf[end - 1] !== LF) return F.ERROR;
        if (top) this.reply = { type: '$', line, body: buf.subarray(cr + 2, end - 2) };
        this.end = end;
        return F.OK;
      }
      case 0x2a: {
        // *
        if (!/^(-1|\d+)$/.test(line)) return F.ERROR;
        let pos = cr + 2;
        for (let i = 0; i < Number(line); i++) {
          const st = this.at(buf, base, pos, depth + 1);
          if (st !== F.OK) return st;
          pos = this.end;
        }
        if (top) this.reply = { type: '*', line, body: null };
        this.end = pos;
        return F.OK;
      }
      default:
        return F.ERROR;
    }
  }
}

/** Memcached ASCII replies to single-key get and set. */
class McFramer implements Framer {
  end = 0;
  need = 0;
  reply: Reply = { type: '', line: '', body: null };

  parse(buf: Buffer, off: number): F {
    this.need = 0;
    const cr = lineEnd(buf, off);
    if (cr === -2) return F.ERROR;
    if (cr === -1) return F.AGAIN;
    const line = buf.toString('latin1', off, cr);
    if (line.startsWith('VALUE ')) {
      const f = line.split(' ');
      if (f.length < 4 || !/^\d+$/.test(f[3]!)) return F.ERROR;
      const ds = cr + 2;
      const de = ds + Number(f[3]);
      const end = de + 7; // \r\nEND\r\n
      if (buf.length < end) {
        this.need = end - off;
        return F.AGAIN;
      }
      // a second VALUE in place of END (two values for one key) is no reply to a single-key get
      if (buf.toString('latin1', de, end) !== '\r\nEND\r\n') return F.ERROR;
      this.reply = { type: '$', line: f[1]!, body: buf.subarray(ds, de) };
      this.end = end;
      return F.OK;
    }
    this.end = cr + 2;
    if (line === 'END') this.reply = { type: '$', line: '-1', body: null };
    else if (line === 'STORED') this.reply = { type: '+', line: 'OK', body: null };
    else if (line === 'ERROR' || line.startsWith('SERVER_ERROR') || line.startsWith('CLIENT_ERROR')) this.reply = { type: '-', line, body: null };
    else this.reply = { type: '?', line, body: null };
    return F.OK;
  }
}

/** Cuts a byte stream into replies; joins chunks only when a reply can be complete. */
class ReplyStream {
  private chunks: Buffer[] = [];
  private size = 0;
  private need = 0;

  constructor(private readonly framer: Framer) {}

  /** Feeds `d`; calls `emit` per whole reply. Returns false when the bytes are no reply. */
  push(d: Buffer, emit: (r: Reply) => void): boolean {
    this.chunks.push(d);
    this.size += d.length;
    if (this.size < this.need) return true;
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    let off = 0;
    for (;;) {
      const st = this.framer.parse(buf, off);
      if (st === F.ERROR) return false;
      if (st === F.AGAIN) {
        this.need = this.framer.need;
        break;
      }
      off = this.framer.end;
      emit(this.framer.reply);
    }
    buf = buf.subarray(off);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.size = buf.length;
    return true;
  }
}

/** One request (an array of bulk strings) in RESP. */
export function encode(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** What the clients need of a protocol. */
interface Proto {
  name: 'redis' | 'memcache';
  framer(): Framer;
  set(key: string, value: string): Buffer;
  get(key: string): Buffer;
  /** What the garbage client sends, in turn. */
  garbage: Buffer[];
  start(port?: number): Promise<Backend>;
}

const REDIS: Proto = {
  name: 'redis',
  framer: () => new RespFramer(),
  set: (k, v) => encode('SET', k, v),
  get: (k) => encode('GET', k),
  garbage: [
    Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0d, 0x0a, 0x00, 0x01]),
    Buffer.from('*abc\r\n'),
    Buffer.from('$-7\r\n\r\n'),
    Buffer.from('*1\r\n$99999999999999999999\r\n'),
    Buffer.from('*2\r\n$3\r\nGET\r\n:5\r\n'),
    Buffer.from('*-5\r\n*2\r\n$3\r\nGET\r\n'),
    Buffer.from('\r\n\r\n\xff\xfe*1\r\n', 'latin1'),
  ],
  start: (port) => startRedis(port),
};

const MEMCACHE: Proto = {
  name: 'memcache',
  framer: () => new McFramer(),
  set: (k, v) => Buffer.from(`set ${k} 0 0 ${Buffer.byteLength(v)}\r\n${v}\r\n`),
  get: (k) => Buffer.from(`get ${k}\r\n`),
  garbage: [
    Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0d, 0x0a, 0x00, 0x01]),
    Buffer.from('get\r\n'),
    Buffer.from('set k 0 0 -1\r\n'),
    Buffer.from('set k 0 0 3\r\nabcdef\r\n'),
    Buffer.from(`get ${'k'.repeat(300)}\r\n`),
    Buffer.from('bogus command\r\n'),
    Buffer.from('\xff\xfeget x\r\n', 'latin1'),
  ],
  start: (port) => startMemcached(port),
};

function show(r: Reply): string {
  if (r.type !== '$' || r.body === null) return `${r.type}${r.line}`;
  const head = r.body.toString('latin1', 0, Math.min(40, r.body.length));
  return `$${r.body.length} "${head}${r.body.length > 40 ? '…' : ''}"`;
}

/** One request straight to a backend (not through the proxy): its first reply, or null (none in time). */
async function direct(proto: Proto, port: number, timeoutMs: number, req: Buffer): Promise<Reply | null> {
  const f = proto.framer();
  try {
    const r = await exchange(port, req, (b) => f.parse(b, 0) !== F.AGAIN, timeoutMs);
    return f.parse(r.data, 0) === F.OK ? f.reply : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// What the checked clients saw

class Tally {
  requests = 0;
  errors = 0;
  misdelivered = 0;
  hangs = 0;
  lateErrors = 0;
  stale = 0;
  nils = 0;
  /** Errors after this time are late (set when the faults end). */
  lateAfter = Infinity;
  faultEnd = Infinity;
  lastErrorAt = 0;
  readonly errorKinds: Record<string, number> = {};
  readonly examples: string[] = [];
  private perKind: Record<string, number> = {};

  example(kind: string, text: string): void {
    const n = (this.perKind[kind] = (this.perKind[kind] ?? 0) + 1);
    if (n <= 4 && this.examples.length < 20) this.examples.push(`${kind}: ${text}`);
  }

  error(now: number, kind: string, what: string, n = 1): void {
    this.errors += n;
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + n;
    this.lastErrorAt = Math.max(this.lastErrorAt, now);
    if (now > this.lateAfter) {
      this.lateErrors += n;
      this.example('late error', `${what} (${kind}) ${now - this.faultEnd} ms after the last fault`);
    } else if (now > this.faultEnd + 1000) {
      this.example('error after the faults', `${what} (${kind}) ${now - this.faultEnd} ms after the last fault`);
    }
  }

  misdelivery(what: string): void {
    this.misdelivered++;
    this.example('MISDELIVERY', what);
  }

  hang(now: number, n: number, what: string): void {
    this.hangs += n;
    this.example('HANG', `${what}${now > this.faultEnd ? ` (${now - this.faultEnd} ms after the last fault)` : ''}`);
  }
}

/**
 * A connection of a checked client: requests are written in batches, each reply pairs with the oldest
 * pending request and is checked by `verify`. A dropped connection fails its pending requests (errors);
 * no progress for `hangMs` with requests pending is a hang (the connection is then dropped).
 */
class Session<E> {
  private readonly stream: ReplyStream;
  private readonly pending: { e: E; at: number }[] = [];
  private lastProgress = 0;
  private wake: (() => void) | null = null;
  closed = false;
  private hung = false;

  constructor(
    private readonly sock: net.Socket,
    framer: Framer,
    private readonly tally: Tally,
    private readonly label: string,
    private readonly verify: (e: E, r: Reply, now: number) => void,
  ) {
    this.stream = new ReplyStream(framer);
    sock.on('data', (d: Buffer) => {
      const now = Date.now();
      const ok = this.stream.push(d, (r) => {
        const p = this.pending.shift();
        if (p === undefined) {
          this.tally.misdelivery(`${this.label}: a reply with no request pending: ${show(r)}`);
          return;
        }
        this.tally.requests++;
        this.lastProgress = now;
        this.verify(p.e, r, now);
      });
      if (!ok) {
        this.tally.misdelivery(`${this.label}: bytes that are no reply: ${JSON.stringify(d.toString('latin1', 0, 40))}`);
        sock.destroy();
      }
      if (this.pending.length === 0) this.settle();
    });
    sock.on('close', () => {
      this.closed = true;
      const n = this.pending.length;
      if (n > 0 && !this.hung) {
        this.tally.requests += n;
        this.tally.error(Date.now(), 'connection closed', `${this.label}: connection closed with ${n} pending`, n);
      }
      this.pending.length = 0;
      this.settle();
    });
    sock.on('error', () => {});
  }

  private settle(): void {
    const w = this.wake;
    this.wake = null;
    if (w) w();
  }

  /** Writes the batch; resolves when every request of it has its reply, or the connection is gone. */
  send(batch: [Buffer, E][]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const now = Date.now();
    for (const [, e] of batch) this.pending.push({ e, at: now });
    this.sock.write(Buffer.concat(batch.map((b) => b[0])));
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  checkHang(now: number, hangMs: number): void {
    const first = this.pending[0];
    if (first === undefined || this.hung) return;
    if (now - Math.max(this.lastProgress, first.at) <= hangMs) return;
    this.hung = true;
    this.tally.hang(now, this.pending.length, `${this.label}: ${this.pending.length} request(s) without a reply for ${now - first.at} ms`);
    this.sock.destroy();
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A socket to the proxy, or null when it does not connect within `timeoutMs`. */
function connectTo(port: number, timeoutMs = 1000): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(null);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(null);
    });
  });
}

/** True when `p` settles within `ms`, false otherwise; leaves no timer behind. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    const done = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    p.then(done, done);
  });
}


// ---------------------------------------------------------------------------------------------------------
// The clients (each a loop bounded in rounds, ended by `stopped()`)

/** What the clients of one pool share. */
interface Ctx {
  proto: Proto;
  port: number;
  /** Label prefix: '' (redis) or 'mc:'. */
  tag: string;
  tally: Tally;
  stopped: () => boolean;
  sessions: Set<Session<unknown>>;
  /** A burst the fault schedule asks of the big reader: `count` GETs of `keys`, `sent` once written. */
  burst: { keys: string[]; count: number; sent: () => void } | null;
  /** The server a key lives on while all are up ('s1'), for the examples. */
  where: (key: string) => string;
}

/** Connects a checked session (watched for hangs); null while the proxy does not accept. */
async function session<E>(ctx: Ctx, label: string, verify: (e: E, r: Reply, now: number) => void): Promise<Session<E> | null> {
  const s = await connectTo(ctx.port);
  if (s === null) {
    ctx.tally.error(Date.now(), 'connect failed', `${label}: connect failed`);
    return null;
  }
  const sess = new Session<E>(s, ctx.proto.framer(), ctx.tally, label, verify);
  ctx.sessions.add(sess as Session<unknown>);
  s.once('close', () => ctx.sessions.delete(sess as Session<unknown>));
  return sess;
}

const MAX_ROUNDS = 10_000_000;
/** Big values per backend: a reply shifted by one request shows as another key's value. */
const BIG_KEYS = 4;
/** memcached's default item size limit is 1 MB. */
const MC_MAX_BIG = 512 * 1024;

/** Runs `round` on a (re)connected session until stopped; waits 50 ms after a failed connect. */
async function loop<E>(ctx: Ctx, label: string, verify: (e: E, r: Reply, now: number) => void, round: () => [Buffer, E][]): Promise<void> {
  let s: Session<E> | null = null;
  for (let i = 0; i < MAX_ROUNDS && !ctx.stopped(); i++) {
    if (s === null || s.closed) {
      s = await session<E>(ctx, label, verify);
      if (s === null) {
        await sleep(50);
        continue;
      }
    }
    await s.send(round());
  }
  s?.close();
}

function padding(r: () => number): string {
  // mostly short values; one in 16 spans many reads (8-40 KB)
  const n = r() < 1 / 16 ? 8192 + Math.floor(r() * 32768) : Math.floor(r() * 64);
  return 'x'.repeat(n);
}

interface CheckExpect {
  set: boolean;
  key: number;
  seq: number;
}

/**
 * A self-checking client: SET then GET of its own keys (distinct within a batch), pipelined. A GET must
 * return this client's value of that key, written no later than the SET before it (an older one is stale,
 * legitimate when a key moved with an ejection), a miss, or an error; anything else is a misdelivery.
 */
function checker(ctx: Ctx, id: number, pipeline: number, keys: number, seed: number): Promise<void> {
  const r = mulberry32(seed);
  const label = `${ctx.tag}c${id}`;
  let seq = 0;
  const verify = (e: CheckExpect, rep: Reply, now: number): void => {
    const key = `${label}:k${e.key}`;
    const what = `${label} ${e.set ? 'SET' : 'GET'} ${key} (seq ${e.seq}, on ${ctx.where(key)})`;
    if (rep.type === '-') ctx.tally.error(now, rep.line, what);
    else if (e.set) {
      if (rep.type !== '+' || rep.line !== 'OK') ctx.tally.misdelivery(`${what} got ${show(rep)}`);
    } else if (rep.type !== '$') ctx.tally.misdelivery(`${what} got ${show(rep)}`);
    else if (rep.body === null) ctx.tally.nils++;
    else {
      const m = /^([a-z:]*c\d+):k(\d+):s(\d+):/.exec(rep.body.toString('latin1', 0, Math.min(48, rep.body.length)));
      if (m === null || m[1] !== label || Number(m[2]) !== e.key || Number(m[3]) > e.seq) ctx.tally.misdelivery(`${what} got ${show(rep)}`);
      else if (Number(m[3]) < e.seq) ctx.tally.stale++;
    }
  };
  return loop<CheckExpect>(ctx, label, verify, () => {
    const batch: [Buffer, CheckExpect][] = [];
    const used = new Set<number>();
    for (let i = 0; i < pipeline; i++) {
      let k = Math.floor(r() * keys);
      for (let j = 0; used.has(k) && j < keys; j++) k = (k + 1) % keys;
      used.add(k);
      seq++;
      const key = `${label}:k${k}`;
      batch.push([ctx.proto.set(key, `${key}:s${seq}:${padding(r)}`), { set: true, key: k, seq }]);
      batch.push([ctx.proto.get(key), { set: false, key: k, seq }]);
    }
    return batch;
  });
}

/** The pipeliner's value of `k`. */
const plValue = (k: string): string => `${k}:${'p'.repeat(100)}`;

/**
 * The pipelining client: `batch` GETs of its own keys at a time, all read and checked. A key found missing
 * (a backend was killed, or the key moved with an ejection) is written again in the next batch.
 */
function pipeliner(ctx: Ctx, keys: string[], batch: number): Promise<void> {
  const label = `${ctx.tag}pipeliner`;
  const missing = new Set<string>();
  let next = 0;
  const verify = (e: { k: string; set: boolean }, rep: Reply, now: number): void => {
    const what = `${label} ${e.set ? 'SET' : 'GET'} ${e.k} (on ${ctx.where(e.k)})`;
    if (rep.type === '-') ctx.tally.error(now, rep.line, what);
    else if (e.set) {
      if (rep.type !== '+' || rep.line !== 'OK') ctx.tally.misdelivery(`${what} got ${show(rep)}`);
    } else if (rep.type !== '$') ctx.tally.misdelivery(`${what} got ${show(rep)}`);
    else if (rep.body === null) {
      ctx.tally.nils++;
      missing.add(e.k);
    } else if (!rep.body.toString('latin1', 0, Math.min(40, rep.body.length)).startsWith(`${e.k}:`)) ctx.tally.misdelivery(`${what} got ${show(rep)}`);
  };
  return loop<{ k: string; set: boolean }>(ctx, label, verify, () => {
    const b: [Buffer, { k: string; set: boolean }][] = [];
    for (const k of missing) b.push([ctx.proto.set(k, plValue(k)), { k, set: true }]);
    missing.clear();
    for (let i = 0; i < batch; i++) {
      const k = keys[next++ % keys.length]!;
      b.push([ctx.proto.get(k), { k, set: false }]);
    }
    return b;
  });
}

/**
 * Streams big values (written directly on their backends) `pipeline` GETs at a time, every reply checked;
 * when the fault schedule asks for a burst, the next batch is that burst.
 */
function bigReader(ctx: Ctx, keys: string[], bytes: number, pipeline: number): Promise<void> {
  const label = `${ctx.tag}big`;
  let next = 0;
  const verify = (k: string, rep: Reply, now: number): void => {
    const what = `${label} GET ${k} (on ${ctx.where(k)})`;
    if (rep.type === '-') ctx.tally.error(now, rep.line, what);
    else if (rep.type !== '$') ctx.tally.misdelivery(`${what} got ${show(rep)}`);
    else if (rep.body === null) ctx.tally.nils++;
    else if (rep.body.length !== bytes || !rep.body.toString('latin1', 0, 40).startsWith(`${k}:`)) ctx.tally.misdelivery(`${what} got ${show(rep)}`);
  };
  const round = (): [Buffer, string][] => {
    const burst = ctx.burst;
    ctx.burst = null;
    const b: [Buffer, string][] = [];
    for (let i = 0; i < (burst?.count ?? pipeline); i++) {
      const k = burst ? burst.keys[i % burst.keys.length]! : keys[next++ % keys.length]!;
      b.push([ctx.proto.get(k), k]);
    }
    // loop() writes the batch as soon as this returns, before any microtask runs
    if (burst) queueMicrotask(burst.sent);
    return b;
  };
  return loop<string>(ctx, label, verify, round);
}

/** Runs `body` on a fresh raw connection, again and again until stopped (50 ms after a failed connect). */
async function eachConnection(ctx: Ctx, body: (s: net.Socket, round: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < MAX_ROUNDS && !ctx.stopped(); i++) {
    const s = await connectTo(ctx.port);
    if (s === null) {
      await sleep(50);
      continue;
    }
    s.on('error', () => {});
    await body(s, i);
    s.destroy();
  }
}

/** Sends garbage, waits for the proxy to close (or 100 ms), reconnects. */
function garbageClient(ctx: Ctx): Promise<void> {
  const g = ctx.proto.garbage;
  return eachConnection(ctx, async (s, i) => {
    s.resume();
    s.write(g[i % g.length]!);
    await within(new Promise((resolve) => s.once('close', resolve)), 100);
    s.destroy();
    await sleep(10);
  });
}

/** Writes part of a request and disconnects, in a loop (cut at a different byte each time). */
function halfClient(ctx: Ctx): Promise<void> {
  const full = ctx.proto.set(`${ctx.tag}half:key`, 'v'.repeat(200));
  return eachConnection(ctx, async (s, i) => {
    s.write(full.subarray(0, 1 + ((i * 37) % (full.length - 2))));
    await sleep(5);
    s.destroy();
    await sleep(10);
  });
}

/** Connects, writes `count` GETs and never reads; holds the connection 1.5 s, then the next one. */
function neverReader(ctx: Ctx, keys: string[], count: number): Promise<void> {
  const b = Buffer.concat(Array.from({ length: count }, (_, i) => ctx.proto.get(keys[i % keys.length]!)));
  return eachConnection(ctx, async (s) => {
    s.pause();
    s.write(b);
    for (let j = 0; j < 15 && !ctx.stopped(); j++) await sleep(100);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Processes

/** VmRSS of a process and its children, in MB (0 when gone). */
function treeRssMb(pid: number): number {
  let kb = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** Processes of a run; killed on exit even if the run's own clean-up never comes (a test timeout). */
const live = new Set<Proc>();
let exitHook = false;
function own<P extends Proc>(p: P): P {
  live.add(p);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const q of live) q.signal('SIGKILL');
    });
  }
  return p;
}

const lua = (n: number): Buffer => encode('EVAL', `local i=0 while i<${n} do i=i+1 end return i`, '0');

/** The Lua loop count that keeps a redis backend busy for about `ms`. */
async function calibrateLua(port: number, ms: number): Promise<number> {
  const n0 = 2_000_000;
  const t0 = Date.now();
  const r = await direct(REDIS, port, 20000, lua(n0));
  const took = Math.max(1, Date.now() - t0);
  if (r === null || r.type !== ':') throw new Error(`Lua calibration failed: ${r === null ? 'no reply' : show(r)}`);
  return Math.max(100_000, Math.min(2_000_000_000, Math.round((n0 * ms) / took)));
}

/** One pool under test: its backends (replaced when restarted), the keys placed on each, its clients' context. */
class Pool {
  readonly backends: Backend[] = [];
  /** probes[i]: a key on backend i, whose value (`probe:s<i>`) is written directly on it. */
  readonly probes: string[];
  /** bigOn[i]: big-value keys on backend i, written directly on it. */
  readonly bigOn: string[][];
  readonly bigBytes: number;
  ctx!: Ctx;

  constructor(
    readonly name: string,
    readonly proto: Proto,
    n: number,
    bigBytes: number,
  ) {
    this.bigBytes = bigBytes;
    this.probes = Array.from({ length: n }, (_, i) => keysOn(n, i, `${proto.name}:probe:`, 1)[0]!);
    this.bigOn = Array.from({ length: n }, (_, i) => (bigBytes > 0 ? keysOn(n, i, `${proto.name}:big:`, BIG_KEYS) : []));
  }

  /** Writes the probe and the big values of backend i, directly on it. */
  async seed(i: number): Promise<void> {
    const port = this.backends[i]!.port;
    const writes = [[this.probes[i]!, `probe:s${i}`], ...this.bigOn[i]!.map((k) => [k, `${k}:`.padEnd(this.bigBytes, 'b')])];
    for (const [k, v] of writes) {
      const rep = await direct(this.proto, port, 5000, this.proto.set(k!, v!));
      if (rep?.type !== '+') throw new Error(`could not write ${k} on ${this.name} s${i}: ${rep === null ? 'no reply' : show(rep)}`);
    }
  }

  /** kill -9 backend i and start it again on the same port, written afresh. */
  async restart(i: number, downMs: number): Promise<void> {
    const b = this.backends[i]!;
    b.signal('SIGKILL');
    await b.exited;
    live.delete(b);
    await sleep(downMs);
    this.backends[i] = own(await this.proto.start(b.port));
    await this.seed(i);
  }

  /** True when every probe reads back through the proxy with the value written on its own backend. */
  async probe(): Promise<boolean> {
    const n = this.probes.length;
    const f = this.proto.framer();
    const count = (b: Buffer): number => {
      let off = 0;
      let k = 0;
      while (k < n && f.parse(b, off) === F.OK) {
        off = f.end;
        k++;
      }
      return k;
    };
    try {
      const got = await exchange(this.ctx.port, Buffer.concat(this.probes.map((k) => this.proto.get(k))), (b) => count(b) === n, 1000);
      let off = 0;
      for (let i = 0; i < n; i++) {
        if (f.parse(got.data, off) !== F.OK || f.reply.body?.toString() !== `probe:s${i}`) return false;
        off = f.end;
      }
      return true;
    } catch {
      return false;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The run

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const seed = o.seed ?? Date.now() % 0x7fffffff;
  const nCheckers = o.checkers ?? 8;
  const nMcCheckers = o.mcCheckers ?? 4;
  const pipeline = o.pipeline ?? 4;
  const keysPer = o.keysPerChecker ?? 64;
  const plBatch = o.pipelinerBatch ?? 1000;
  const bigBytes = o.bigBytes ?? 1 << 20;
  const bigPipeline = o.bigPipeline ?? 4;
  const bigBurst = o.bigBurst ?? 32;
  const neverCount = o.neverReadCount ?? 2000;
  const hangMs = o.hangMs ?? 5000;
  const timeoutMs = o.timeoutMs ?? 500;
  const retryMs = o.retryMs ?? 1000;
  const failureLimit = o.failureLimit ?? 2;
  const lateMs = retryMs + 2000;
  const quietMs = Math.max(o.quietMs ?? lateMs + 3000, lateMs + 1000);
  const recoveryBoundMs = retryMs + 2000;
  const log = o.log ?? ((): void => {});
  const r = mulberry32(seed);
  const N = 3;

  const pools = [new Pool('redis', REDIS, N, bigBytes)];
  if (nMcCheckers > 0) pools.push(new Pool('memcache', MEMCACHE, N, Math.min(bigBytes, MC_MAX_BIG)));
  let proxy: ProxyProc | null = null;
  const tally = new Tally();
  const sessions = new Set<Session<unknown>>();
  let stop = false;
  // Whatever happens to the run (a test timeout abandons it), its clients stop by this time.
  const hardStop = Date.now() + o.faultMs + quietMs + 60_000;
  const stopped = (): boolean => stop || Date.now() > hardStop;
  const timers: NodeJS.Timeout[] = [];
  const loops: Promise<void>[] = [];
  const tStart = Date.now();
  try {
    for (const p of pools) for (let i = 0; i < N; i++) p.backends.push(own(await p.proto.start()));
    const ports = await freePorts(pools.length);
    const settings = [`timeout: ${timeoutMs}`, 'auto_eject_hosts: true', `server_retry_timeout: ${retryMs}`, `server_failure_limit: ${failureLimit}`];
    const yaml = pools.map((p, k) => poolYaml(`chaos_${p.name}`, ports[k]!, p.backends, [`redis: ${p.proto === REDIS}`, ...settings])).join('');
    proxy = own(await o.start(yaml, ports));
    const px = proxy;
    log(`${o.name}: seed ${seed}, proxy pid ${px.pid} on ${ports.join(' ')}, backends ${pools.map((p) => p.backends.map((b) => b.port).join(' ')).join(' / ')}`);

    const router = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers: Array.from({ length: N }, (_, i) => ({ name: `s${i}`, weight: 1 })) });
    const where = (key: string): string => {
      const k = Buffer.from(key);
      return `s${router.route(k, 0, k.length)}`;
    };
    const plKeys = Array.from({ length: 256 }, (_, i) => `pl:${i}`);
    for (const [k, p] of pools.entries()) {
      p.ctx = { proto: p.proto, port: ports[k]!, tag: p.proto === REDIS ? '' : 'mc:', tally, stopped, sessions, burst: null, where };
      for (let i = 0; i < N; i++) await p.seed(i);
      // Placement check: each probe reads back through the proxy from the backend it was written on.
      const tw = Date.now();
      while (!(await p.probe())) {
        if (Date.now() - tw > 5000) throw new Error(`${o.name}: the ${p.name} probes do not read back through the proxy (placement differs from keysOn?)`);
        await sleep(25);
      }
      // The pipeliner's keys, through the proxy.
      const s = await connectTo(p.ctx.port);
      if (s === null) throw new Error(`${o.name}: no connection to the ${p.name} pool`);
      const seeder = new Session<null>(s, p.proto.framer(), new Tally(), 'seed', () => {});
      await seeder.send(plKeys.map((key): [Buffer, null] => [p.proto.set(key, plValue(key)), null]));
      if (seeder.closed) throw new Error(`${o.name}: writing the pipeliner's keys to the ${p.name} pool failed`);
      seeder.close();
    }

    // RSS of the proxy, and hangs, watched for the whole run.
    let peakRss = treeRssMb(px.pid);
    timers.push(
      setInterval(() => {
        peakRss = Math.max(peakRss, treeRssMb(px.pid));
      }, 100),
      setInterval(() => {
        const now = Date.now();
        for (const s of sessions) s.checkHang(now, hangMs);
      }, 100),
    );

    // The load.
    for (const p of pools) {
      const redis = p.proto === REDIS;
      const checkers = redis ? nCheckers : nMcCheckers;
      for (let c = 0; c < checkers; c++) loops.push(checker(p.ctx, c, pipeline, keysPer, (seed + 7919 * (c + 1) + (redis ? 0 : 104729)) >>> 0));
      loops.push(pipeliner(p.ctx, plKeys, redis ? plBatch : Math.ceil(plBatch / 2)));
      if (p.bigBytes > 0) loops.push(bigReader(p.ctx, p.bigOn.flat(), p.bigBytes, bigPipeline));
      loops.push(garbageClient(p.ctx), halfClient(p.ctx), neverReader(p.ctx, plKeys, neverCount));
    }
    // The Lua loop is calibrated under the load (and adjusted after each use).
    const luaTarget = 800;
    let luaN = await calibrateLua(pools[0]!.backends[0]!.port, luaTarget);
    log(`${o.name}: set up in ${Date.now() - tStart} ms; load running; Lua loop ${luaN}`);
    await sleep(300);

    // The fault schedule: each fault hits backend i of every pool at once.
    const t0 = Date.now();
    let faults = 0;
    let lastEnd = t0;
    // 'stream': SIGSTOP a backend while it streams a burst of big replies (a reply cut in the middle, a
    // client paused by backpressure), just past the timeout; 'stop2': two backends at once, longer.
    const kinds = ['stream', 'kill', 'busy', 'stop', 'stream', 'stop2', 'busy', 'kill'] as const;
    const stopFor = async (procs: Proc[], ms: number): Promise<void> => {
      for (const x of procs) x.signal('SIGSTOP');
      await sleep(ms);
      for (const x of procs) x.signal('SIGCONT');
    };
    for (let step = 0; step < 10_000 && Date.now() - t0 < o.faultMs; step++) {
      if (step > 0) await sleep(200 + Math.floor(r() * 500));
      const kind = kinds[step % kinds.length]!;
      const i = Math.floor(r() * N);
      const j = (i + 1 + Math.floor(r() * (N - 1))) % N;
      const at = ((Date.now() - t0) / 1000).toFixed(1);
      faults++;
      if (kind === 'kill') {
        const downMs = 200 + Math.floor(r() * 300);
        await Promise.all(pools.map((p) => p.restart(i, downMs)));
        log(`  ${at}s kill -9 s${i}, restarted after ${downMs} ms`);
      } else if (kind === 'stream' && bigBytes > 0) {
        const began = await Promise.all(
          pools.map((p) =>
            within(
              new Promise<void>((resolve) => {
                p.ctx.burst = { keys: p.bigOn[i]!, count: bigBurst, sent: resolve };
              }),
              3000,
            ),
          ),
        );
        for (const p of pools) p.ctx.burst = null;
        await sleep(20 + Math.floor(r() * 60));
        // just past the timeout: the backend answers again before a second timeout can eject it
        const ms = Math.round(timeoutMs * (1.2 + r() * 0.6));
        await stopFor(pools.map((p) => p.backends[i]!), ms);
        log(`  ${at}s SIGSTOP s${i} for ${ms} ms while it streams a burst of ${bigBurst} big values${began.every(Boolean) ? '' : ' (a burst did not begin)'}`);
      } else if (kind === 'busy') {
        const t = Date.now();
        const b = pools[0]!.backends[i]!;
        const others = pools.slice(1).map((p) => p.backends[i]!);
        for (const x of others) x.signal('SIGSTOP');
        const rep = await direct(REDIS, b.port, 10000, lua(luaN));
        for (const x of others) x.signal('SIGCONT');
        const took = Date.now() - t;
        log(`  ${at}s EVAL busy loop on s${i}: ${took} ms${rep?.type === ':' ? '' : ` (${rep === null ? 'no reply' : show(rep)})`}`);
        if (rep?.type === ':') luaN = Math.max(100_000, Math.round((luaN * luaTarget) / Math.max(1, took)));
      } else {
        const ms = timeoutMs * 2 + Math.floor(r() * timeoutMs * 2);
        await stopFor(pools.flatMap((p) => (kind === 'stop2' ? [p.backends[i]!, p.backends[j]!] : [p.backends[i]!])), ms);
        log(`  ${at}s SIGSTOP s${i}${kind === 'stop2' ? ` and s${j}` : ''} for ${ms} ms`);
      }
      lastEnd = Date.now();
    }
    const faultEnd = lastEnd;
    tally.faultEnd = faultEnd;
    tally.lateAfter = faultEnd + lateMs;
    log(`${o.name}: ${faults} faults in ${((faultEnd - t0) / 1000).toFixed(1)} s; watching recovery`);

    // Recovery: every backend of every pool serves its probe key through the proxy again.
    let recoveryMs: number | null = null;
    for (let k = 0; k < 100_000 && Date.now() - faultEnd <= recoveryBoundMs + 3000; k++) {
      if ((await Promise.all(pools.map((p) => p.probe()))).every(Boolean)) {
        recoveryMs = Date.now() - faultEnd;
        break;
      }
      await sleep(50);
    }
    // Keep the load running through the late-error window.
    while (Date.now() - faultEnd < quietMs) await sleep(Math.min(100, quietMs - (Date.now() - faultEnd)));
    stop = true;
    // Every loop ends after its current batch; a batch without progress is ended by the hang watchdog.
    if (!(await within(Promise.all(loops), hangMs * 3))) tally.hang(Date.now(), 1, 'a client loop did not end');
    log(`${o.name}: recovery ${recoveryMs ?? 'none'} ms; load stopped ${Date.now() - faultEnd - quietMs} ms after the quiet period`);
    let ejects: number | null = null;
    try {
      const st = (await readStats(px.statsPort)) as Record<string, Record<string, unknown> | undefined>;
      ejects = pools.reduce((sum, p) => sum + Number(st[`chaos_${p.name}`]?.['server_ejects'] ?? NaN), 0);
      if (!Number.isFinite(ejects)) ejects = null;
    } catch {
      // the stats port is gone
    }
    const exited = px.child.exitCode !== null || px.child.signalCode !== null;
    if (exited) tally.example('proxy exited', `${px.child.exitCode ?? px.child.signalCode}; stderr: ${px.stderr.slice(-400)}`);
    return {
      name: o.name,
      seed,
      requests: tally.requests,
      errors: tally.errors,
      misdelivered: tally.misdelivered,
      hangs: tally.hangs,
      recoveryMs,
      recoveryBoundMs,
      lateErrors: tally.lateErrors,
      lastErrorMs: tally.lastErrorAt > faultEnd ? tally.lastErrorAt - faultEnd : null,
      peakRssMb: Math.round(peakRss),
      stale: tally.stale,
      nils: tally.nils,
      faults,
      ejects,
      proxyExited: exited,
      errorKinds: tally.errorKinds,
      examples: tally.examples,
    };
  } finally {
    stop = true;
    for (const t of timers) clearInterval(t);
    for (const s of sessions) s.close();
    const procs = [...pools.flatMap((p) => p.backends), ...(proxy ? [proxy] : [])];
    for (const p of procs) p.signal('SIGCONT');
    await Promise.all(procs.map((p) => p.stop()));
    for (const p of procs) live.delete(p);
    if (proxy) fs.rmSync(proxy.dir, { recursive: true, force: true });
    // the client loops end on `stop`: each waits at most for its batch, which the closed sockets end
    await within(Promise.all(loops), 2000);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

/** One line per run. */
export function formatResult(x: ChaosResult): string {
  const rec = x.recoveryMs === null ? `none within ${x.recoveryBoundMs + 3000} ms` : `${x.recoveryMs} ms`;
  return (
    `${x.name}: requests ${x.requests}, errors ${x.errors}, misdelivered ${x.misdelivered}, hangs ${x.hangs}, ` +
    `recovery ${rec}, late errors ${x.lateErrors}, peak RSS ${x.peakRssMb} MB ` +
    `(faults ${x.faults}, ejections ${x.ejects ?? '?'}, stale ${x.stale}, misses ${x.nils}, ` +
    `last error ${x.lastErrorMs === null ? '-' : `${x.lastErrorMs} ms`} after the faults, seed ${x.seed})`
  );
}

/** Side-by-side table of runs (one column each). */
export function formatTable(runs: ChaosResult[]): string {
  const rows: [string, (x: ChaosResult) => string][] = [
    ['requests', (x) => String(x.requests)],
    ['errors', (x) => String(x.errors)],
    ['misdelivered replies', (x) => String(x.misdelivered)],
    ['hangs', (x) => String(x.hangs)],
    ['recovery time', (x) => (x.recoveryMs === null ? 'never' : `${x.recoveryMs} ms`)],
    ['late errors', (x) => String(x.lateErrors)],
    ['last error after faults', (x) => (x.lastErrorMs === null ? '-' : `${x.lastErrorMs} ms`)],
    ['peak RSS', (x) => `${x.peakRssMb} MB`],
    ['faults', (x) => String(x.faults)],
    ['server ejections', (x) => String(x.ejects ?? '?')],
    ['stale GETs / misses', (x) => `${x.stale} / ${x.nils}`],
  ];
  const head = ['', ...runs.map((x) => x.name)];
  const body = rows.map(([k, f]) => [k, ...runs.map(f)]);
  const w = head.map((_, c) => Math.max(...[head, ...body].map((row) => row[c]!.length)));
  const line = (row: string[]): string => `| ${row.map((cell, c) => cell.padEnd(w[c]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The criteria a run fails (empty: passed). An oracle run (nutcracker) is held to no hangs and recovery only. */
export function verdict(x: ChaosResult, opts: { oracle?: boolean; maxRssMb?: number } = {}): string[] {
  const out: string[] = [];
  if (x.proxyExited) out.push('the proxy exited');
  if (x.hangs > 0) out.push(`${x.hangs} hung request(s)`);
  if (x.recoveryMs === null || x.recoveryMs > x.recoveryBoundMs) out.push(`recovery ${x.recoveryMs === null ? 'never' : `${x.recoveryMs} ms`} > ${x.recoveryBoundMs} ms`);
  if (opts.oracle) return out;
  if (x.misdelivered > 0) out.push(`${x.misdelivered} misdelivered repl${x.misdelivered === 1 ? 'y' : 'ies'}`);
  if (x.lateErrors > 0) out.push(`${x.lateErrors} late error(s)`);
  const maxRss = opts.maxRssMb ?? 300;
  if (x.peakRssMb > maxRss) out.push(`peak RSS ${x.peakRssMb} MB > ${maxRss} MB`);
  return out;
}
