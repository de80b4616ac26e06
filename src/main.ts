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
// SIGUSR1 reloads the config in place (reload.ts; --reload-mode exec: a binary upgrade), SIGUSR2 is a binary
// upgrade (upgrade.ts), SIGSEGV is logged by name and then kills the process as it would have.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import { parseArgs, usageText, versionBanner, describeStatsText } from './cli-args';
import { loadConfig, parseConfigText, readConfigText } from './config/load';
import { ConfigError } from './config/errors';
import type { Config } from './config/types';
import { initLog, log, logAlways, changeLogLevel, reopenLog, flushLog } from './util/log';
import { VERSION } from './version';
import { Proxy, DRAIN_MS } from './proxy';
import { ReloadControl } from './reload';
import { inheritedFromEnv, signalReady, spawnUpgrade } from './upgrade';
import { takeEarlySignals } from './early-signals';
import { Primary, WorkerChannel, isWorker } from './workers';

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
  let proxy: Proxy | null = null;
  let reloads: ReloadControl | null = null;
  /** Set once a binary upgrade handed the sockets over: this process only finishes its clients. */
  let upgraded = false;
  let upgrading = false;
  /** A reload asked for before serving: it runs once serving. */
  let pendingReload: string | null = null;
  const inherited = daemonChild ? null : inheritedFromEnv();
  const removePid = (): void => {
    if (opts.pidFile === null || !pidWritten) return;
    pidWritten = false;
    try {
      // After a binary upgrade the file holds the new process's pid: it is not ours to remove.
      if (fs.readFileSync(opts.pidFile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(opts.pidFile);
    } catch {
      // already gone
    }
  };
  const upgrade = async (sig: NodeJS.Signals): Promise<void> => {
    if (upgrading || upgraded || stopSignal !== null) return;
    if (primary !== null || proxy === null) {
      log().error(`upgrade: not available with --workers (signal ${sig.slice(3)} ignored); reload in place with SIGUSR1`);
      return;
    }
    upgrading = true;
    try {
      loadConfig(opts.confFile); // validate first, exactly as -t
    } catch (e) {
      log().error(`upgrade: configuration '${opts.confFile}' rejected: ${describeError(e)}; keeping this process`);
      upgrading = false;
      return;
    }
    const script = require.main?.filename ?? process.argv[1] ?? '';
    try {
      const child = await spawnUpgrade(script, argv, proxy.upgradeFds());
      upgraded = true;
      log().info(`upgrade: new process ${child.pid ?? -1} is accepting; this process (${process.pid}) serves its clients for ${opts.reloadDrain} ms, then exits`);
    } catch (e) {
      log().error(`upgrade: ${(e as Error).message}; this process goes on serving`);
      upgrading = false;
      return;
    }
    upgrading = false;
    pidWritten = false; // the new process owns the pid file now
    await proxy.retireAll(opts.reloadDrain);
    stopSignal = sig;
    if (wake !== null) wake();
  };
  installSignals(
    (sig) => {
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
    },
    (sig) => primary?.signal(sig),
    (sig) => {
      if (upgraded) return; // the old process after an upgrade ignores further reloads
      if (sig === 'SIGUSR2' || opts.reloadMode === 'exec') void upgrade(sig);
      else if (reloads !== null) reloads.request(sig.slice(3));
      else pendingReload = sig.slice(3);
    },
  );

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
  let text: string;
  try {
    text = readConfigText(opts.confFile);
    config = parseConfigText(text, opts.confFile);
  } catch (e) {
    const msg = describeError(e);
    log().fatal(msg);
    flushLog();
    write(`nutmeg: configuration file '${opts.confFile}' syntax is invalid\n${msg}\n`);
    removePid();
    return 1;
  }
  let stop: () => Promise<void>;
  try {
    if (opts.workers > 1) {
      // Every worker parses this same text (restarted ones too, whatever happens to the file meanwhile).
      const p = new Primary(config, text, opts.workers);
      primary = p;
      stop = () => p.stop(DRAIN_MS);
      await p.start(opts);
      reloads = new ReloadControl(opts.confFile, (cfg, t) => p.reload(cfg, t, opts.reloadDrain));
    } else {
      const px = new Proxy(config, false, opts.reloadDrain);
      proxy = px;
      stop = () => px.stop();
      await px.start(opts, inherited?.fds ?? null);
      reloads = new ReloadControl(opts.confFile, (cfg) => px.reload(cfg));
    }
  } catch (e) {
    const msg = (e as Error).message;
    primary?.kill();
    log().fatal(msg);
    flushLog();
    write(`nutmeg: ${msg}\n`);
    removePid();
    return 1;
  }
  for (const p of config.pools) {
    const addrs = [...(p.listen.kind === 'none' ? [] : [p.listen.text]), ...(p.tlsListen === null ? [] : [`${p.tlsListen.text} (TLS)`])];
    const where = addrs.length === 0 ? 'not listening (a route target)' : `listening on ${addrs.join(' and ')}`;
    const tls = p.serverTls ? ' (TLS)' : '';
    log().info(`pool '${p.name}' ${where} with ${p.servers.length} servers${tls}`);
  }
  if (opts.workers > 1) log().info(`${opts.workers} workers serving`);
  if (opts.httpPort > 0) log().info(`metrics, health and status on http://${opts.httpAddr}:${opts.httpPort}/`);
  if (inherited !== null) {
    log().info(`upgrade: accepting on the sockets handed over (${inherited.fds.size})`);
    signalReady(inherited.ready);
  }
  // Signals that came while starting (early-signals.ts, or after the handlers were installed) are acted on now.
  for (const sig of takeEarlySignals()) process.emit(sig, sig);
  if (pendingReload !== null) reloads?.request(pendingReload);

  await new Promise<void>((resolve) => {
    wake = resolve;
    if (stopSignal !== null) resolve();
  });
  if (!upgraded) await stop();
  removePid();
  logAlways('done, nutmeg done');
  flushLog();
  return 0;
}

/**
 * Signals as nutcracker handles them, plus reload: SIGHUP/SIGTTIN/SIGTTOU act here and `forward` passes them on (the
 * --workers primary to its workers); SIGINT and SIGTERM call `stop`; SIGUSR1/SIGUSR2 call `reload`; SIGSEGV is
 * logged by name, then the default action runs (twemproxy logs it and re-raises).
 */
function installSignals(
  stop: (sig: NodeJS.Signals) => void,
  forward: (sig: NodeJS.Signals) => void,
  reload: (sig: NodeJS.Signals) => void,
): void {
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
  process.on('SIGUSR1', () => {
    logAlways(`${signalText('SIGUSR1')} received`);
    reload('SIGUSR1');
  });
  process.on('SIGUSR2', () => {
    logAlways(`${signalText('SIGUSR2')} received`);
    reload('SIGUSR2');
  });
  const segv = (): void => {
    logAlways(`${signalText('SIGSEGV')} received, core dumping`);
    flushLog();
    process.off('SIGSEGV', segv); // one shot: the default action (a core dump) runs on the re-raise
    process.kill(process.pid, 'SIGSEGV');
  };
  process.on('SIGSEGV', segv);
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
  installSignals(
    (sig) => {
      if (!stopping) logAlways(`${signalText(sig)} received, exiting`);
      stop();
    },
    () => {},
    () => {}, // reloads come from the primary, which validated the file
  );
  takeEarlySignals();
  let proxy: Proxy;
  try {
    proxy = new Proxy(parseConfigText(start.text, start.file), true);
    await proxy.start(null);
    const px = proxy;
    ch.onReload = (file, text, drainMs) => {
      px.drainMs = drainMs;
      return px.reload(parseConfigText(text, file));
    };
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
