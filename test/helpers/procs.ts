// Test harness: real redis-server, memcached, nutcracker and nutmeg processes on loopback,
// on ephemeral ports, started and stopped by the tests themselves.

import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const NUTMEG_BIN = path.join(ROOT, 'bin', 'nutmeg');
/** The node flags on bin/nutmeg's shebang line (`#!/usr/bin/env -S node --flag ...`): tests and benchmarks run what users run. */
export const NUTMEG_NODE_FLAGS: readonly string[] = (fs.readFileSync(NUTMEG_BIN, 'utf8').split('\n')[0] ?? '')
  .split(/\s+/)
  .filter((a) => a.startsWith('--'));
/** The node binary that runs nutmeg: $NUTMEG_NODE (e.g. from scripts/fetch-node.sh 24), else this process's own. */
export const NUTMEG_NODE = process.env['NUTMEG_NODE'] || process.execPath;

/**
 * Ports the kernel hands out as the source port of outgoing connections (ip_local_port_range): a port picked
 * there may be taken by some client connection before the server that should listen on it starts.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: no range known
  }
  return [32768, 60999];
}
const [EPH_LO] = ephemeralRange();
/** Listening ports for tests come from below the ephemeral range, so no client connection can take one first. */
const PORT_LO = Math.max(1024, Math.min(10000, EPH_LO - 2000));
const PORT_HI = EPH_LO - 1;

function tryPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1, below the ephemeral range (random, then checked by binding it). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = PORT_LO + Math.floor(Math.random() * (PORT_HI - PORT_LO + 1));
    if (await tryPort(port)) return port;
  }
  throw new Error(`no free port in ${PORT_LO}..${PORT_HI}`);
}

export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until a TCP port accepts connections (bounded). */
export async function waitPort(port: number, timeoutMs = 10000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Wait (bounded) until `fn` is true. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function tmpDir(prefix = 'nutmeg-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export class Proc {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  exited: Promise<number | null>;

  constructor(cmd: string, args: string[], opts: { cwd?: string } = {}) {
    // A redis-server replica writes the RDB of its full sync into its working directory even with `--save ''`:
    // run it outside the checkout (tests never write tracked files).
    const cwd = opts.cwd ?? (cmd === 'redis-server' ? os.tmpdir() : undefined);
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    this.child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** SIGSTOP, then wait until the kernel reports the process stopped (kill() returns before it is). */
  async pause(): Promise<void> {
    this.signal('SIGSTOP');
    const pid = this.child.pid;
    if (pid === undefined) return;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      try {
        const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
        if (state === 'T' || state === 't') return;
      } catch {
        return; // gone
      }
      await sleep(1);
    }
  }

  async stop(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.signal(sig);
    await this.exited;
  }
}

/** A started redis-server or memcached and the port it listens on. */
export type Backend = Proc & { port: number };

export async function startRedis(port?: number, extra: string[] = []): Promise<Backend> {
  const p = port ?? (await freePort());
  const proc = new Proc('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extra]) as Backend;
  proc.port = p;
  await waitPort(p);
  return proc;
}

export async function startMemcached(port?: number): Promise<Backend> {
  const p = port ?? (await freePort());
  const proc = new Proc('memcached', ['-p', String(p), '-l', '127.0.0.1', '-U', '0', '-t', '1', '-m', '64', '-u', 'root']) as Backend;
  proc.port = p;
  await waitPort(p);
  return proc;
}

export interface ProxyProc extends Proc {
  statsPort: number;
  dir: string;
  conf: string;
}

/** Start nutmeg (bin/nutmeg) on a YAML text; waits for the stats port and every listen port given. */
export async function startNutmeg(yaml: string, listenPorts: number[], extraArgs: string[] = []): Promise<ProxyProc> {
  return startProxy(NUTMEG_NODE, [...NUTMEG_NODE_FLAGS, NUTMEG_BIN], yaml, listenPorts, extraArgs);
}

/** Start the real nutcracker (Debian package) on the same YAML: the oracle. */
export async function startNutcracker(yaml: string, listenPorts: number[]): Promise<ProxyProc> {
  return startProxy('nutcracker', [], yaml, listenPorts, ['-i', '1']);
}

/** Start any proxy command (`cmd pre... -c <conf> -s <port> -a 127.0.0.1 extra...`) on a YAML text, as startNutmeg does. */
export async function startProxy(cmd: string, pre: string[], yaml: string, listenPorts: number[], extraArgs: string[] = []): Promise<ProxyProc> {
  const dir = tmpDir();
  const conf = path.join(dir, 'conf.yml');
  fs.writeFileSync(conf, yaml);
  const statsPort = await freePort();
  const proc = new Proc(cmd, [...pre, '-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', ...extraArgs]) as ProxyProc;
  proc.statsPort = statsPort;
  proc.dir = dir;
  proc.conf = conf;
  try {
    await waitPort(statsPort, 10000);
    for (const p of listenPorts) await waitPort(p, 10000);
  } catch (e) {
    await proc.stop();
    throw new Error(`${cmd} did not start: ${(e as Error).message}\n${proc.stderr}`);
  }
  return proc;
}

/** Read the stats JSON document from a stats port. */
export function readStats(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => {
      try {
        resolve(JSON.parse(data) as Record<string, unknown>);
      } catch (e) {
        reject(new Error(`bad stats JSON: ${(e as Error).message}: ${data.slice(0, 200)}`));
      }
    });
    s.on('error', reject);
  });
}

export function readStatsRaw(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}

/** A raw TCP client for exact byte-level checks. */
export class RawClient {
  private sock: net.Socket;
  private buf = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  end(): void {
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }

  /** Wait until `n` bytes arrived (or the peer closed / timeout), then take them. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.max(1, deadline - Date.now()));
      });
    }
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return Buffer.from(out);
  }

  /** Read until the data ends with `suffix` (or close/timeout); returns everything read. */
  async readUntil(suffix: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.buf.toString('latin1').endsWith(suffix) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.max(1, deadline - Date.now()));
      });
    }
    const out = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Wait for the peer to close (true) or the timeout (false). */
  async waitClose(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.max(1, deadline - Date.now()));
      });
    }
    return this.closed;
  }
}

/**
 * One request/reply exchange on a fresh connection: connect, write `data`, collect bytes until `done(received)`
 * is true, the peer closes, or `timeoutMs` passes; then close. Leaves no timer or socket behind
 * (RawClient.read/readUntil leave their timeout timers pending, which keeps a test file alive until they fire).
 */
export function exchange(port: number, data: string | Buffer, done: (received: Buffer) => boolean, timeoutMs = 10000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let size = 0;
    let closed = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks, size), closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    s.once('connect', () => s.write(data));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (done(Buffer.concat(chunks, size))) finish();
    });
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', (e) => {
      if (size === 0 && !finished) {
        finished = true;
        clearTimeout(timer);
        reject(e);
      }
    });
  });
}
