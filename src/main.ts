// Process start and stop: flags, config, pools, listeners, stats port, signals, shutdown.
//
//   parse flags ─► -h/-V/-D/-t ─► (daemonize) ─► log ─► pid file ─► config ─► stats port
//     ─► pools (+ preconnect) ─► listeners ─► serve ... SIGINT/SIGTERM ─► drain ─► exit 0

import * as fs from 'node:fs';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { parseArgs, usageText, versionBanner, describeStatsText, type CliOptions } from './cli-args';
import { loadConfig } from './config/load';
import { ConfigError } from './config/errors';
import type { Config } from './config/types';
import { ServerPool } from './server/pool';
import { Listener } from './client/listener';
import { redisProtocol } from './forward/redis';
import { memcacheProtocol } from './forward/memcache';
import { statsJson } from './stats/json';
import { initLog, log, changeLogLevel, reopenLog, flushLog } from './util/log';
import { stopTicker } from './util/clock';
import { connCounts } from './stats/counters';
import { startHttp, type HttpServer } from './stats/http';

/** How long a shutdown waits for in-flight requests before closing anyway. */
const DRAIN_MS = 5000;

export class Proxy {
  readonly config: Config;
  readonly pools: ServerPool[];
  private readonly listeners: Listener[];
  private stats: net.Server | null = null;
  private http: HttpServer | null = null;

  constructor(config: Config) {
    this.config = config;
    this.pools = config.pools.map((p) => new ServerPool(p, p.redis ? redisProtocol : memcacheProtocol));
    this.listeners = this.pools.map((p) => new Listener(p));
  }

  async start(opts: Pick<CliOptions, 'statsPort' | 'statsAddr' | 'httpPort' | 'httpAddr'>): Promise<void> {
    this.stats = await listenStats(this, opts.statsAddr, opts.statsPort);
    if (opts.httpPort > 0) this.http = await startHttp(this, opts.httpAddr, opts.httpPort);
    for (const p of this.pools) if (p.config.preconnect) p.preconnect();
    for (const l of this.listeners) await l.listen();
  }

  statsJson(): string {
    return statsJson(this.pools, connCounts);
  }

  /** Stop accepting, let in-flight requests finish (bounded), then close everything. */
  async stop(): Promise<void> {
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

function listenStats(proxy: Proxy, addr: string, port: number): Promise<net.Server> {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.end(proxy.statsJson());
  });
  return new Promise((resolve, reject) => {
    srv.once('error', (e) => reject(new Error(`bind on stats server addr '${addr}:${port}' failed: ${e.message}`)));
    srv.listen({ host: addr, port }, () => {
      srv.on('error', () => {});
      resolve(srv);
    });
  });
}

function write(s: string): void {
  process.stderr.write(s);
}

/** The whole CLI; returns the exit code for the commands that end at once, or never resolves while serving. */
export async function main(argv: string[]): Promise<number> {
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
  if (opts.daemonize) return daemonize(argv);

  process.title = `nutmeg ${argv.join(' ')}`;
  try {
    initLog(opts.verbose, opts.output);
  } catch (e) {
    write(`opening log file '${opts.output ?? ''}' failed: ${(e as Error).message}\n`);
    return 1;
  }
  if (opts.pidFile !== null) {
    try {
      fs.writeFileSync(opts.pidFile, String(process.pid), { mode: 0o644 });
    } catch (e) {
      log().fatal(`opening pid file '${opts.pidFile}' failed: ${(e as Error).message}`);
      flushLog();
      write(`nutmeg: opening pid file '${opts.pidFile}' failed: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const removePid = (): void => {
    if (opts.pidFile !== null) {
      try {
        fs.unlinkSync(opts.pidFile);
      } catch {
        // already gone
      }
    }
  };
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
  const proxy = new Proxy(config);
  try {
    await proxy.start(opts);
  } catch (e) {
    const text = (e as Error).message;
    log().fatal(text);
    flushLog();
    write(`nutmeg: ${text}\n`);
    removePid();
    return 1;
  }
  log().info(`nutmeg-${versionBanner().split('\n')[0]?.replace('This is nutmeg-', '') ?? ''} started on pid ${process.pid}`);
  for (const p of proxy.pools) log().info(`pool '${p.config.name}' listening on ${p.config.listen.text} with ${p.servers.length} servers`);

  process.on('SIGPIPE', () => {});
  process.on('SIGHUP', () => {
    log().info('signal 1 (SIGHUP) received, reopening log file');
    reopenLog();
  });
  process.on('SIGTTIN', () => {
    log().info('signal 21 (SIGTTIN) received, up logging level');
    log().info(`up log level to ${changeLogLevel(1)}`);
  });
  process.on('SIGTTOU', () => {
    log().info('signal 22 (SIGTTOU) received, down logging level');
    log().info(`down log level to ${changeLogLevel(-1)}`);
  });
  process.on('SIGUSR1', () => log().info('signal 10 (SIGUSR1) received'));
  process.on('SIGUSR2', () => log().info('signal 12 (SIGUSR2) received'));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log().info(`signal ${sig} received, exiting`);
      void proxy.stop().then(() => {
        removePid();
        log().info('done, nutmeg done');
        flushLog();
        resolve(0);
      });
    };
    process.on('SIGINT', () => stop('2 (SIGINT)'));
    process.on('SIGTERM', () => stop('15 (SIGTERM)'));
  });
}

function describeError(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** -d: start a detached copy without -d, with stdio released, and return 0 at once (as nutcracker's parent does). */
function daemonize(argv: string[]): number {
  const args = argv.filter((a) => a !== '-d' && a !== '--daemonize').map((a) => (a.startsWith('-') && !a.startsWith('--') && a.includes('d') && !/^-[vocsaipm]/.test(a) ? a.replace(/d/g, '') : a));
  const child = spawn(process.execPath, [...process.execArgv, require.main?.filename ?? process.argv[1] ?? '', ...args.filter((a) => a !== '-')], {
    detached: true,
    stdio: 'ignore',
    cwd: process.cwd(),
  });
  child.unref();
  return 0;
}
