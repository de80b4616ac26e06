// Start-up and stop with --workers N > 1 (node:cluster): the primary owns the stats port, the HTTP port, the pid
// file and the signals; N workers share every pool's listening socket and each run the whole data path with their
// own server connections. Nothing here is on the data path: one IPC message per worker every STATS_PUSH_MS.
//
//   primary: config ─► stats port (+ http) ─► unlink stale unix sockets ─► fork N ──start{config text}──► worker
//            ◄──ready── (all N) ─► serve                                  worker: Proxy(shared listeners) ─► ready
//            ◄──stats{snapshot}── every STATS_PUSH_MS, and on snap{seq} (stats port / HTTP ask, wait ≤ SNAP_WAIT_MS)
//            stats port / HTTP = Σ worker snapshots + retired (counters of dead workers) + the primary's listeners
//            worker exits unexpectedly ─► log, retire its counters, fork a new one (≤ RESTART_BURST per window)
//            SIGHUP/SIGTTIN/SIGTTOU ─► applied here, then sent to each worker
//            SIGUSR1 (reload) ─► validated here ─► reload{text} to each worker ─► reloaded{error?} from each
//            SIGINT/SIGTERM ─► stop{} to each worker (stop accepting, drain, exit 0) ─► all exited ─► exit 0
//
// Listening sockets: a worker's Listener (shared mode) goes through node:cluster (never `exclusive`), so the socket is bound once,
// in the primary; with SCHED_NONE each worker accepts from it itself. A unix socket file is unlinked (if stale)
// by the primary before the first fork and never by a worker.

import cluster, { type Worker } from 'node:cluster';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { listenAddrs, type Config } from './config/types';
import { addSnapshot, emptySnapshot, type StatsSnapshot, type StatsSource } from './stats/snapshot';
import { startStatsPort } from './stats/json';
import type { HttpServer } from './stats/http';
import { startHttpLazily } from './stats/http-start';
import { log, logAlways, logLevel } from './util/log';
import type { ReloadSummary } from './proxy';

/** How often a worker pushes its counters to the primary. */
export const STATS_PUSH_MS = 200;
/** How long a stats read waits for fresh snapshots before using the latest ones. */
export const SNAP_WAIT_MS = 50;
/** How long the primary waits for every worker to be listening at start. */
const START_TIMEOUT_MS = 30000;
/** Restart rate bound: at most RESTART_BURST restarts per RESTART_WINDOW_MS, later ones wait. */
const RESTART_BURST = 5;
const RESTART_WINDOW_MS = 10000;

/** Set in a worker's environment: this process is a nutmeg worker (not, say, a worker of some process manager). */
const WORKER_ENV = 'NUTMEG_WORKER';

/** True in a process forked by Primary. */
export function isWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === '1';
}

// ---- IPC messages (JSON over the cluster channel) --------------------------------------------------------------

/** What a worker needs to run: the config text the primary validated, and the current log level. */
export interface StartMsg {
  nutmeg: 'start';
  slot: number;
  file: string;
  text: string;
  verbose: number;
}
type ToWorker = StartMsg | { nutmeg: 'snap'; seq: number } | { nutmeg: 'stop' } | { nutmeg: 'reload'; seq: number; file: string; text: string; drain: number };
type ToPrimary =
  | { nutmeg: 'ready' }
  | { nutmeg: 'fatal'; text: string }
  | { nutmeg: 'stats'; seq: number; snap: StatsSnapshot }
  | { nutmeg: 'reloaded'; seq: number; error: string | null; summary: ReloadSummary | null };

function kind(m: unknown): string {
  if (typeof m !== 'object' || m === null || !('nutmeg' in m)) return '';
  const k = (m as { nutmeg: unknown }).nutmeg;
  return typeof k === 'string' ? k : '';
}

// ---- worker side ---------------------------------------------------------------------------------------------------

/**
 * The worker's end of the IPC channel: waits for the start message, reports ready or a fatal start-up error,
 * pushes snapshots of its counters (periodically and when asked), and turns `stop` into a call to onStop.
 */
export class WorkerChannel {
  private snap: (() => StatsSnapshot) | null = null;
  private timer: NodeJS.Timeout | null = null;
  onStop: () => void = () => {};
  /** Apply a reload the primary validated; resolves with the summary or rejects with the reason. */
  onReload: (file: string, text: string, drainMs: number) => Promise<ReloadSummary> = () => Promise.reject(new Error('not serving yet'));

  /** Resolves with the start message. */
  started(): Promise<StartMsg> {
    return new Promise((resolve) => {
      process.on('message', (m: unknown) => {
        const k = kind(m);
        if (k === 'start') resolve(m as StartMsg);
        else if (k === 'snap') this.push((m as { seq: number }).seq);
        else if (k === 'stop') this.onStop();
        else if (k === 'reload') {
          const r = m as Extract<ToWorker, { nutmeg: 'reload' }>;
          this.onReload(r.file, r.text, r.drain).then(
            (summary) => this.send({ nutmeg: 'reloaded', seq: r.seq, error: null, summary }),
            (e: unknown) => this.send({ nutmeg: 'reloaded', seq: r.seq, error: e instanceof Error ? e.message : String(e), summary: null }),
          );
        }
      });
    });
  }

  /** Listening: tell the primary, then push counters every STATS_PUSH_MS. */
  ready(snap: () => StatsSnapshot): void {
    this.snap = snap;
    this.send({ nutmeg: 'ready' });
    this.timer = setInterval(() => this.push(0), STATS_PUSH_MS);
    this.timer.unref();
  }

  /** Report a start-up error; resolves once the message is written (the worker exits next). */
  fatal(text: string): Promise<void> {
    return new Promise((resolve) => {
      if (!process.connected || process.send === undefined) {
        resolve();
        return;
      }
      const msg: ToPrimary = { nutmeg: 'fatal', text };
      try {
        process.send(msg, undefined, {}, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Last snapshot on the way out (so the primary's sums include the drained requests); resolves once written. */
  close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const snap = this.snap;
    this.snap = null;
    return new Promise((resolve) => {
      if (snap === null || !process.connected || process.send === undefined) {
        resolve();
        return;
      }
      const msg: ToPrimary = { nutmeg: 'stats', seq: 0, snap: snap() };
      try {
        process.send(msg, undefined, {}, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  private push(seq: number): void {
    if (this.snap !== null) this.send({ nutmeg: 'stats', seq, snap: this.snap() });
  }

  private send(msg: ToPrimary): void {
    if (!process.connected || process.send === undefined) return;
    try {
      process.send(msg);
    } catch {
      // channel closing: the primary is going away
    }
  }
}

// ---- primary side --------------------------------------------------------------------------------------------------

interface Slot {
  readonly index: number;
  worker: Worker | null;
  ready: boolean;
  /** Latest snapshot from the current worker, null until the first one. */
  snap: StatsSnapshot | null;
  /** Highest snap request this worker has answered. */
  seq: number;
  restartTimer: NodeJS.Timeout | null;
  exited: Promise<void>;
}

interface Waiter {
  seq: number;
  slots: Slot[];
  done: () => void;
}

export interface PrimaryOptions {
  workers: number;
  confFile: string;
  statsAddr: string;
  statsPort: number;
  httpAddr: string;
  httpPort: number;
}

export class Primary implements StatsSource {
  config: Config;
  private text: string;
  private reloadSeq = 0;
  private reloadWait: { seq: number; left: Set<Slot>; errors: string[]; summary: ReloadSummary | null; done: () => void } | null = null;
  private readonly slots: Slot[] = [];
  /** Counters of workers that are gone (a restarted worker starts from 0). */
  private retired: StatsSnapshot;
  private readonly restarts: number[] = [];
  private waiters: Waiter[] = [];
  private seq = 0;
  private started = false;
  private startError: ((text: string) => void) | null = null;
  private onReady: () => void = () => {};
  private stats: net.Server | null = null;
  private http: HttpServer | null = null;
  stopping = false;

  /** `text` is the config file's text, which every worker parses (restarted ones too). */
  constructor(config: Config, text: string, workers: number) {
    this.config = config;
    this.text = text;
    this.retired = emptySnapshot(config);
    for (let i = 0; i < workers; i++) {
      this.slots.push({ index: i, worker: null, ready: false, snap: null, seq: 0, restartTimer: null, exited: Promise.resolve() });
    }
  }

  /** Stats port, HTTP port, then the workers; resolves once every worker listens, rejects on a start-up error. */
  async start(opts: PrimaryOptions): Promise<void> {
    this.stats = await startStatsPort(this, opts.statsAddr, opts.statsPort);
    if (opts.httpPort > 0) this.http = await startHttpLazily(this, opts.httpAddr, opts.httpPort);
    for (const p of this.config.pools) {
      for (const { addr } of listenAddrs(p)) {
        if (addr.kind !== 'unix') continue;
        try {
          fs.unlinkSync(addr.path);
        } catch {
          // no stale socket file
        }
      }
    }
    // Workers accept from the shared socket themselves (measured faster than the primary's round robin, README);
    // NODE_CLUSTER_SCHED_POLICY=rr|none in the environment still decides when set.
    if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.startError?.(`workers not listening after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      this.startError = (text) => {
        clearTimeout(timer);
        this.startError = null;
        reject(new Error(text));
      };
      this.onReady = () => {
        if (!this.slots.every((s) => s.ready)) return;
        clearTimeout(timer);
        this.startError = null;
        this.onReady = () => {};
        this.started = true;
        resolve();
      };
      for (const s of this.slots) this.fork(s);
    });
  }

  private fork(slot: Slot): void {
    slot.restartTimer = null;
    const w = cluster.fork({ [WORKER_ENV]: '1' });
    slot.worker = w;
    slot.ready = false;
    slot.snap = null;
    slot.seq = 0;
    slot.exited = new Promise((resolve) => w.once('exit', () => resolve()));
    const start: StartMsg = { nutmeg: 'start', slot: slot.index, file: this.config.file, text: this.text, verbose: logLevel() };
    w.once('online', () => w.send(start));
    w.on('message', (m: unknown) => this.onMessage(slot, w, m));
    w.on('error', () => {}); // IPC write to a dying worker
    w.once('exit', (code, signal) => this.onExit(slot, w, code, signal));
    log().info(`worker ${slot.index} started on pid ${w.process.pid ?? -1}`);
  }

  private onMessage(slot: Slot, w: Worker, m: unknown): void {
    if (slot.worker !== w) return;
    const k = kind(m);
    if (k === 'stats') {
      const msg = m as Extract<ToPrimary, { nutmeg: 'stats' }>;
      slot.snap = msg.snap;
      if (msg.seq > slot.seq) slot.seq = msg.seq;
      if (this.waiters.length > 0) this.checkWaiters();
    } else if (k === 'ready') {
      slot.ready = true;
      this.onReady();
    } else if (k === 'reloaded') {
      const msg = m as Extract<ToPrimary, { nutmeg: 'reloaded' }>;
      const rw = this.reloadWait;
      if (rw === null || msg.seq !== rw.seq) return;
      if (msg.error !== null) rw.errors.push(`worker ${slot.index}: ${msg.error}`);
      else if (rw.summary === null) rw.summary = msg.summary;
      rw.left.delete(slot);
      if (rw.left.size === 0) rw.done();
    } else if (k === 'fatal') {
      const text = (m as Extract<ToPrimary, { nutmeg: 'fatal' }>).text;
      if (this.startError !== null) this.startError(text);
      else log().error(`worker ${slot.index} failed to start: ${text}`);
    }
  }

  private onExit(slot: Slot, w: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== w) return;
    const rw = this.reloadWait;
    if (rw !== null && rw.left.delete(slot) && rw.left.size === 0) rw.done();
    slot.worker = null;
    slot.ready = false;
    if (slot.snap !== null) addSnapshot(this.retired, slot.snap, false);
    slot.snap = null;
    this.checkWaiters();
    const how = signal !== null ? `signal ${signal}` : `code ${code ?? -1}`;
    if (this.stopping) {
      log().info(`worker ${slot.index} (pid ${w.process.pid ?? -1}) exited with ${how}`);
      return;
    }
    if (!this.started) {
      this.startError?.(`worker ${slot.index} exited with ${how} during start-up`);
      return;
    }
    // Restart, at most RESTART_BURST per RESTART_WINDOW_MS (a worker that dies at once must not spin the CPU).
    const now = Date.now();
    while (this.restarts.length > 0 && (this.restarts[0] ?? 0) <= now - RESTART_WINDOW_MS) this.restarts.shift();
    const delay = this.restarts.length < RESTART_BURST ? 0 : (this.restarts[0] ?? now) + RESTART_WINDOW_MS - now;
    this.restarts.push(now + delay);
    log().error(`worker ${slot.index} (pid ${w.process.pid ?? -1}) exited with ${how}, restarting${delay > 0 ? ` in ${delay} ms` : ''}`);
    slot.restartTimer = setTimeout(() => {
      if (!this.stopping) this.fork(slot);
    }, delay);
  }

  /** Counters of every worker (fresh ones when they answer within SNAP_WAIT_MS), summed. */
  async snapshot(): Promise<StatsSnapshot> {
    const seq = ++this.seq;
    const asked: Slot[] = [];
    for (const s of this.slots) {
      const w = s.worker;
      if (w === null || !s.ready || !w.isConnected()) continue;
      const msg: ToWorker = { nutmeg: 'snap', seq };
      w.send(msg);
      asked.push(s);
    }
    if (asked.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => finish(), SNAP_WAIT_MS);
        const waiter: Waiter = { seq, slots: asked, done: () => finish() };
        const finish = (): void => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((x) => x !== waiter);
          resolve();
        };
        this.waiters.push(waiter);
        this.checkWaiters();
      });
    }
    return this.sum();
  }

  private checkWaiters(): void {
    for (const w of this.waiters.slice()) {
      if (w.slots.every((s) => s.worker === null || s.seq >= w.seq)) w.done();
    }
  }

  private sum(): StatsSnapshot {
    const out = emptySnapshot(this.config);
    addSnapshot(out, this.retired, false);
    for (const s of this.slots) if (s.snap !== null) addSnapshot(out, s.snap, true);
    // The pools' listening sockets live here (workers do not count them), as one listener each in twemproxy.
    const listeners = this.config.pools.reduce((n, p) => n + listenAddrs(p).length, 0);
    out.total += listeners;
    if (!this.stopping) out.current += listeners;
    return out;
  }

  /**
   * Reload (validated by the caller): every worker applies the new text in place; workers started from now on get it.
   * Resolves with the first worker's summary; rejects naming the workers that refused (the others did apply it).
   */
  async reload(config: Config, text: string, drainMs: number): Promise<ReloadSummary> {
    const had = new Set(this.config.pools.flatMap((p) => listenAddrs(p).map((l) => l.addr.text)));
    for (const p of config.pools) {
      for (const { addr } of listenAddrs(p)) {
        if (addr.kind !== 'unix' || had.has(addr.text)) continue;
        try {
          fs.unlinkSync(addr.path); // a new unix address: a stale file would make the bind fail
        } catch {
          // none
        }
      }
    }
    this.config = config;
    this.text = text;
    const seq = ++this.reloadSeq;
    const left = new Set(this.slots.filter((s) => s.worker !== null && s.ready && s.worker.isConnected()));
    const rw = { seq, left, errors: [] as string[], summary: null as ReloadSummary | null, done: () => {} };
    const finished = new Promise<void>((resolve) => (rw.done = resolve));
    this.reloadWait = rw;
    for (const s of left) {
      const msg: ToWorker = { nutmeg: 'reload', seq, file: config.file, text, drain: drainMs };
      s.worker?.send(msg);
    }
    if (left.size === 0) rw.done();
    const timer = setTimeout(() => {
      for (const s of rw.left) rw.errors.push(`worker ${s.index}: no answer within 10 s`);
      rw.done();
    }, 10000);
    await finished;
    clearTimeout(timer);
    this.reloadWait = null;
    // Counters of dead workers follow the new pools by name.
    const retired = emptySnapshot(config);
    addSnapshot(retired, this.retired, false);
    this.retired = retired;
    if (rw.errors.length > 0) throw new Error(rw.errors.join('; '));
    return rw.summary ?? emptySummary();
  }

  /** SIGHUP/SIGTTIN/SIGTTOU: already applied in the primary; each worker applies it too. */
  signal(sig: NodeJS.Signals): void {
    for (const s of this.slots) {
      try {
        s.worker?.process.kill(sig);
      } catch {
        // gone
      }
    }
  }

  /**
   * Graceful stop: each worker stops accepting, drains (bounded by its own drain time) and exits 0; workers still
   * running after `drainMs` + a margin are killed. Then the stats and HTTP ports close.
   */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.restartTimer !== null) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      const w = s.worker;
      if (w === null) continue;
      const msg: ToWorker = { nutmeg: 'stop' };
      if (w.isConnected()) w.send(msg);
      else w.process.kill('SIGTERM'); // same graceful stop, by signal
    }
    const all = Promise.all(this.slots.map((s) => s.exited));
    let timer: NodeJS.Timeout | null = null;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), drainMs + 2000)));
    if (await Promise.race([all.then(() => false), late])) {
      for (const s of this.slots) {
        if (s.worker === null) continue;
        logAlways(`worker ${s.index} (pid ${s.worker.process.pid ?? -1}) did not stop in time, killing it`);
        s.worker.process.kill('SIGKILL');
      }
      await all;
    }
    if (timer !== null) clearTimeout(timer);
    this.stats?.close();
    this.http?.close();
  }

  /** Start-up failed or a second stop signal: kill whatever runs, do not wait. */
  kill(): void {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.restartTimer !== null) clearTimeout(s.restartTimer);
      try {
        s.worker?.process.kill('SIGKILL');
      } catch {
        // gone
      }
    }
    this.stats?.close();
    this.http?.close();
  }
}

function emptySummary(): ReloadSummary {
  return { poolsAdded: 0, poolsRemoved: 0, listenersMoved: 0, serversAdded: 0, serversRemoved: 0, serversMoved: 0, clientsMoved: 0, clientsDrained: 0 };
}
