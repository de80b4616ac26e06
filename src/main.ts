// Process start and stop: flags, config, pools, listeners, stats port, signals, shutdown.
//
//   parse flags ─► -h/-V/-D/-t ─► log ─► (-d: detached copy, parent exits 0) ─► signals ─► pid file
//     ─► banner ─► config ─► stats port (+ http port) ─► pools (+ preconnect) ─► listeners
//     ─► serve ... SIGINT/SIGTERM ─► drain ─► pid file removed ─► exit 0
//
// With --workers N > 1 the same process is the primary of src/workers.ts: after the config it starts the stats and
// HTTP ports and N workers (this file again, runWorker: config from the primary ─► pools ─► shared listeners).
//
// SIGHUP reopens the log file, SIGTTIN/SIGTTOU move the log level (and are passed on to the workers),
// SIGUSR1/SIGUSR2 are only logged.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import { parseArgs, usageText, versionBanner, describeStatsText, type CliOptions } from './cli-args';
import { loadConfig, parseConfigText } from './config/load';
import { ConfigError } from './config/errors';
import type { Config } from './config/types';
import { ServerPool } from './server/pool';
import { Listener } from './client/listener';
import { redisProtocol } from './forward/redis';
import { memcacheProtocol } from './forward/memcache';
import { startStatsPort } from './stats/json';
import { initLog, log, logAlways, changeLogLevel, reopenLog, flushLog } from './util/log';
import { VERSION } from './version';
import { stopTicker } from './util/clock';
import { connCounts } from './stats/counters';
import type { HttpServer } from './stats/http';
import { startHttpLazily } from './stats/http-start';
import { takeSnapshot, type StatsSnapshot, type StatsSource } from './stats/snapshot';
import { Primary, WorkerChannel, isWorker } from './workers';

/** How long a shutdown waits for in-flight requests before closing anyway. */
const DRAIN_MS = 5000;

export class Proxy implements StatsSource {
  readonly config: Config;
  readonly pools: ServerPool[];
  private readonly listeners: Listener[];
  private stats: net.Server | null = null;
  private http: HttpServer | null = null;
  /** Set when shutdown begins (/healthz answers 503 from then on). */
  stopping = false;

  /** `shared`: a --workers worker, whose listening sockets are bound by the primary. */
  constructor(config: Config, shared = false) {
    this.config = config;
    this.pools = config.pools.map((p) => new ServerPool(p, p.redis ? redisProtocol : memcacheProtocol));
    this.listeners = this.pools.map((p) => new Listener(p, shared));
  }

  /** `opts` null (a worker): no stats or HTTP port, the primary serves them. */
  async start(opts: Pick<CliOptions, 'statsPort' | 'statsAddr' | 'httpPort' | 'httpAddr'> | null): Promise<void> {
    if (opts !== null) {
      this.stats = await startStatsPort(this, opts.statsAddr, opts.statsPort);
      if (opts.httpPort > 0) this.http = await startHttpLazily(this, opts.httpAddr, opts.httpPort);
    }
    for (const p of this.pools) if (p.config.preconnect) p.preconnect();
    for (const l of this.listeners) await l.listen();
  }

  /** This process's counters now. */
  snapshotNow(): StatsSnapshot {
    return takeSnapshot(this.pools, connCounts);
  }

  snapshot(): Promise<StatsSnapshot> {
    return Promise.resolve(this.snapshotNow());
  }

  /** Stop accepting, let in-flight requests finish (bounded), then close everything. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.listeners.map((l) => l.close()));
    const deadline = Date.now() + DRAIN_MS;
    while (Date.now() < deadline && this.pools.some((p) => p.busy())) await sleep(10);
    for (const p of this.pools) p.close();
    for (const p of this.pools) for (const c of p.clients) c.socket.destroy();
    this.stats?.close();
    this.http?.close();
    stopTicker();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function write(s: string): void {
  process.stderr.write(s);
}

/** Set in the environment of the detached copy started by -d, so that it runs instead of daemonizing again. */
const DAEMON_ENV = 'NUTMEG_DAEMON_CHILD';

/** "signal 1 (SIGHUP)": the number as Linux numbers it, then the name. */
function signalText(name: NodeJS.Signals): string {
  return `signal ${os.constants.signals[name]} (${name})`;
}

/** The whole CLI; returns the exit code for the commands that end at once, or never resolves while serving. */
export async function main(argv: string[]): Promise<number> {
  if (isWorker()) return runWorker(argv);
  const r = parseArgs(argv);
  if ('error' in r) {
    write(`${r.error}\n${usageText()}`);
    return 1;
  }
  const opts = r;
  if (opts.help) {
    write(versionBanner() + usageText());
    return 0;
  }
  if (opts.version) {
    write(versionBanner());
    return 0;
  }
  if (opts.describeStats) {
    write(versionBanner() + describeStatsText());
    return 0;
  }
  if (opts.testConf) {
    try {
      loadConfig(opts.confFile);
      write(`nutmeg: configuration file '${opts.confFile}' syntax is ok\n`);
      return 0;
    } catch (e) {
      write(`nutmeg: configuration file '${opts.confFile}' syntax is invalid\n${describeError(e)}\n`);
      return 1;
    }
  }
  const daemonChild = process.env[DAEMON_ENV] === '1';
  delete process.env[DAEMON_ENV];

  // Start-up order as nutcracker's: log, (daemonize), signals, pid file, banner, config, stats port, pools.
  try {
    initLog(opts.verbose, opts.output);
  } catch (e) {
    write(`${(e as Error).message}\n`);
    return 1;
  }
  if (opts.daemonize && !daemonChild) return daemonize(argv);
  process.title = `nutmeg ${argv.join(' ')}`;

  let stopSignal: NodeJS.Signals | null = null;
  let wake: (() => void) | null = null;
  let pidWritten = false;
  let primary: Primary | null = null;
  const removePid = (): void => {
    if (opts.pidFile === null || !pidWritten) return;
    pidWritten = false;
    try {
      fs.unlinkSync(opts.pidFile);
    } catch {
      // already gone
    }
  };
  installSignals((sig) => {
    if (stopSignal !== null) {
      // A second SIGINT/SIGTERM while draining: stop waiting.
      logAlways(`${signalText(sig)} received again, exiting now`);
      primary?.kill();
      removePid();
      flushLog();
      process.exit(1);
    }
    stopSignal = sig;
    logAlways(`${signalText(sig)} received, exiting`);
    if (wake !== null) wake();
  }, (sig) => primary?.signal(sig));

  if (opts.pidFile !== null) {
    try {
      fs.writeFileSync(opts.pidFile, String(process.pid), { mode: 0o644 });
      pidWritten = true;
    } catch (e) {
      const text = `opening pid file '${opts.pidFile}' failed: ${(e as Error).message}`;
      log().fatal(text);
      flushLog();
      write(`nutmeg: ${text}\n`);
      return 1;
    }
  }
  logAlways(`nutmeg-${VERSION} built for ${os.type()} ${os.release()} ${os.arch()} started on pid ${process.pid}`);

  let config: Config;
  try {
    config = loadConfig(opts.confFile);
  } catch (e) {
    const text = describeError(e);
    log().fatal(text);
    flushLog();
    write(`nutmeg: configuration file '${opts.confFile}' syntax is invalid\n${text}\n`);
    removePid();
    return 1;
  }
  let stop: () => Promise<void>;
  try {
    if (opts.workers > 1) {
      // Every worker parses this same text (restarted ones too, whatever happens to the file meanwhile).
      const p = new Primary(config, fs.readFileSync(opts.confFile, 'utf8'), opts.workers);
      primary = p;
      stop = () => p.stop(DRAIN_MS);
      await p.start(opts);
    } else {
      const proxy = new Proxy(config);
      stop = () => proxy.stop();
      await proxy.start(opts);
    }
  } catch (e) {
    const text = (e as Error).message;
    primary?.kill();
    log().fatal(text);
    flushLog();
    write(`nutmeg: ${text}\n`);
    removePid();
    return 1;
  }
  for (const p of config.pools) log().info(`pool '${p.name}' listening on ${p.listen.text} with ${p.servers.length} servers`);
  if (opts.workers > 1) log().info(`${opts.workers} workers serving`);
  if (opts.httpPort > 0) log().info(`metrics, health and status on http://${opts.httpAddr}:${opts.httpPort}/`);

  await new Promise<void>((resolve) => {
    wake = resolve;
    if (stopSignal !== null) resolve();
  });
  await stop();
  removePid();
  logAlways('done, nutmeg done');
  flushLog();
  return 0;
}

/**
 * SIGHUP/SIGTTIN/SIGTTOU/SIGUSR1/SIGUSR2 as nutcracker handles them; SIGINT and SIGTERM call `stop`. `forward` gets
 * SIGHUP/SIGTTIN/SIGTTOU once applied here (the --workers primary passes them on to its workers).
 */
function installSignals(stop: (sig: NodeJS.Signals) => void, forward: (sig: NodeJS.Signals) => void): void {
  process.on('SIGPIPE', () => {});
  process.on('SIGHUP', () => {
    // The line goes to the old file first (nutcracker's order), then the file is reopened by path.
    logAlways(`${signalText('SIGHUP')} received, reopening log file`);
    if (reopenLog()) logAlways('log file reopened');
    forward('SIGHUP');
  });
  process.on('SIGTTIN', () => {
    logAlways(`${signalText('SIGTTIN')} received, up logging level`);
    const n = changeLogLevel(1);
    logAlways(`up log level to ${n}`);
    log().debug(`log level ${n}: debug lines are written`);
    forward('SIGTTIN');
  });
  process.on('SIGTTOU', () => {
    logAlways(`${signalText('SIGTTOU')} received, down logging level`);
    const n = changeLogLevel(-1);
    logAlways(`down log level to ${n}`);
    log().debug(`log level ${n}: debug lines are written`);
    forward('SIGTTOU');
  });
  process.on('SIGUSR1', () => logAlways(`${signalText('SIGUSR1')} received`));
  process.on('SIGUSR2', () => logAlways(`${signalText('SIGUSR2')} received`));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * A --workers worker (forked by the primary with the same argv): takes the config text and log level from the
 * primary, serves the pools on the shared listening sockets, pushes its counters to the primary, and on `stop`
 * (or its own SIGINT/SIGTERM) stops accepting, drains like a single process and returns 0.
 */
async function runWorker(argv: string[]): Promise<number> {
  const ch = new WorkerChannel();
  const started = ch.started(); // listening from the first tick: the primary sends `start` at once
  const r = parseArgs(argv);
  const start = await started;
  try {
    initLog(start.verbose, 'error' in r ? null : r.output);
  } catch (e) {
    await ch.fatal((e as Error).message);
    return 1;
  }
  process.title = `nutmeg worker ${start.slot} ${argv.join(' ')}`;
  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (wake !== null) wake();
  };
  ch.onStop = stop;
  // A signal sent to the whole process group reaches the workers too: any number of them means one graceful stop.
  installSignals((sig) => {
    if (!stopping) logAlways(`${signalText(sig)} received, exiting`);
    stop();
  }, () => {});
  let proxy: Proxy;
  try {
    proxy = new Proxy(parseConfigText(start.text, start.file), true);
    await proxy.start(null);
  } catch (e) {
    await ch.fatal(describeError(e)); // the primary logs it and stops
    return 1;
  }
  ch.ready(() => proxy.snapshotNow());
  await new Promise<void>((resolve) => {
    wake = resolve;
    if (stopping) resolve();
  });
  await proxy.stop();
  await ch.close();
  flushLog();
  return 0;
}

function describeError(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * -d: start a detached copy of this command line (new session, stdio on /dev/null, same cwd) and return 0 at once,
 * as nutcracker's parent does. The copy finds DAEMON_ENV set and runs instead of daemonizing again, so argv is
 * passed through untouched (bundled flags like `-dv 6` included).
 */
function daemonize(argv: string[]): number {
  const script = require.main?.filename ?? process.argv[1] ?? '';
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    detached: true,
    stdio: 'ignore',
    cwd: process.cwd(),
    env: { ...process.env, [DAEMON_ENV]: '1' },
  });
  child.on('error', (e) => write(`nutmeg: daemonize failed: ${e.message}\n`));
  child.unref();
  return 0;
}
