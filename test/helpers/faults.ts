// Shared setup for the fault tests (faults-memcache, faults-redis): the processes a file starts, the pool under
// test, which server a key lands on, a raw client that frames every reply, pool stats and ejection timing.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { startNutmeg, startNutcracker, readStats, type Backend, type Proc, type ProxyProc } from './procs';
import { OK, AGAIN } from '../../src/protocol/parse';
import { Router } from '../../src/route/router';

export interface Tracked {
  /** Remembers `p` for the clean-up after the file's tests; returns it. */
  track<P extends Proc>(p: P): P;
  nutmeg(yaml: string, ports: number[]): Promise<ProxyProc>;
  nutcracker(yaml: string, ports: number[]): Promise<ProxyProc>;
}

/** Call once at the top of a test file: every process tracked is resumed (SIGCONT) and stopped after its tests. */
export function trackProcs(): Tracked {
  const procs: Proc[] = [];
  after(async () => {
    for (const p of procs) p.signal('SIGCONT');
    await Promise.all(procs.map((p) => p.stop()));
  });
  const track = <P extends Proc>(p: P): P => {
    procs.push(p);
    return p;
  };
  return {
    track,
    nutmeg: async (yaml, ports) => track(await startNutmeg(yaml, ports)),
    nutcracker: async (yaml, ports) => track(await startNutcracker(yaml, ports)),
  };
}

/** One pool `name` (fnv1a_64, ketama) with `lines` as extra settings and servers s0..s{n-1} of equal weight. */
export function poolYaml(name: string, listen: number, backends: Backend[], lines: string[]): string {
  return [
    `${name}:`,
    `  listen: 127.0.0.1:${listen}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    ...lines.map((l) => `  ${l}`),
    '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 s${i}`),
    '',
  ].join('\n');
}

/** Keys that the pool (servers s0..s{n-1}, all live) routes to server `idx`. */
export function keysOn(n: number, idx: number, prefix: string, count: number): string[] {
  const r = new Router({
    hash: 'fnv1a_64',
    distribution: 'ketama',
    hashTag: null,
    servers: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, weight: 1 })),
  });
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 100000; i++) {
    const k = Buffer.from(`${prefix}${i}`);
    if (r.route(k, 0, k.length) === idx) out.push(k.toString());
  }
  return out;
}

/** Connects to 127.0.0.1:port and wraps the socket with `make` as soon as it is connected. */
export function connectClient<C>(port: number, make: (sock: net.Socket) => C): Promise<C> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => resolve(make(s)));
    s.once('error', reject);
  });
}

/** Raw client whose replies are cut one by one by `frame` (a reply parser), so a lost, doubled or garbled reply shows. */
export abstract class FramedClient {
  readonly sock: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  readonly replies: string[] = [];
  garbage = false;
  closed = false;
  private waiters: (() => void)[] = [];

  protected constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      while (this.buf.length > 0) {
        const end = this.frame(this.buf);
        if (end <= 0) {
          if (end < 0) this.garbage = true;
          break;
        }
        this.replies.push(this.buf.toString('latin1', 0, end));
        this.buf = this.buf.subarray(end);
      }
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  /** Length of the complete reply at the start of `buf`; 0 when incomplete, -1 for bytes that are no reply. */
  protected abstract frame(buf: Buffer): number;

  /** frame() from a parser's status and end. */
  protected static framed(status: number, end: number): number {
    return status === OK ? end : status === AGAIN ? 0 : -1;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait for `n` replies in total (or close / timeout); returns all received so far and clears them. */
  async take(n: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.max(1, deadline - Date.now()));
      });
    }
    return this.replies.splice(0, this.replies.length);
  }

  close(): void {
    this.sock.destroy();
  }
}

export type PoolStats = Record<string, number | Record<string, number>>;

/** The stats of `pool` from the proxy's stats port. */
export async function poolStatsOf(p: ProxyProc, pool: string): Promise<PoolStats> {
  const s = await readStats(p.statsPort);
  return s[pool] as PoolStats;
}

export function srv(st: PoolStats, name: string): Record<string, number> {
  return st[name] as Record<string, number>;
}

export function num(st: PoolStats, name: string): number {
  return st[name] as number;
}

/** What one run of an auto-eject scenario saw. */
export interface EjectRun {
  log: string[];
  moved: number[];
  stats: PoolStats[];
  /** [sent, replied] in ms around the request that made each ejection. */
  windows: [number, number][];
}

/** server_ejected_at (µs) lies within the window (ms) of the request that caused it. */
export function ejectedWithin(at: number, w: [number, number]): boolean {
  return at >= (w[0] - 2) * 1000 && at <= (w[1] + 2) * 1000;
}

/**
 * The ejection counts and times of a two-ejection scenario: s1 ejected once during the request of the first
 * window, a second time during that of the second window; s0 never.
 */
export function assertTwoEjections(run: EjectRun): void {
  const [a, z] = run.stats as [PoolStats, PoolStats];
  assert.equal(num(a, 'server_ejects'), 1);
  assert.ok(ejectedWithin(srv(a, 's1').server_ejected_at!, run.windows[0]!), `first ejection at ${srv(a, 's1').server_ejected_at} in ${run.windows[0]}`);
  assert.equal(num(z, 'server_ejects'), 2);
  assert.ok(ejectedWithin(srv(z, 's1').server_ejected_at!, run.windows[1]!), `second ejection at ${srv(z, 's1').server_ejected_at} in ${run.windows[1]}`);
  assert.equal(srv(z, 's0').server_ejected_at, 0);
}
