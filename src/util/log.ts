// Logging for start-up, faults, signals and shutdown (never per request at the default level), through
// pino, one JSON line per message, to stderr or to the -o file. Levels follow nutcracker's -v:
//
//   -v 0..2 fatal   3 error   4 warn   5..6 info (5 = NOTICE, default)   7 debug   8..11 trace
//
// logAlways() is for what nutcracker writes at any level: the start banner, signal lines, `done`.
// SIGHUP -> reopenLog(): the file is reopened by path (logrotate moved the old one away);
// SIGTTIN / SIGTTOU -> changeLogLevel(+1 / -1).

import * as fs from 'node:fs';
import pino from 'pino';
import { strerror, errCode } from './errors';

type Destination = ReturnType<typeof pino.destination>;

let dest: Destination = stderrDestination();
let logger: pino.Logger = pino({ base: null, level: 'info' }, dest);
let always: pino.Logger = logger.child({}, { level: 'trace' });
let verbosity = 5;
let outputFile: string | null = null;

function stderrDestination(): Destination {
  return pino.destination({ dest: 2, sync: true });
}

export function pinoLevel(v: number): pino.Level {
  if (v <= 2) return 'fatal';
  if (v === 3) return 'error';
  if (v === 4) return 'warn';
  if (v <= 6) return 'info';
  if (v === 7) return 'debug';
  return 'trace';
}

/**
 * Open the log (stderr, or the -o file appended/created with mode 0644). Throws an Error whose message is
 * nutcracker's text (`opening log file '<p>' failed: <strerror>`) if the file cannot be opened.
 */
export function initLog(level: number, file: string | null): void {
  verbosity = Math.min(11, Math.max(0, level));
  outputFile = file;
  if (file !== null) {
    // sonic-boom reports an open failure only as a later 'error' event: check it here, synchronously.
    try {
      fs.closeSync(fs.openSync(file, 'a', 0o644));
    } catch (e) {
      throw new Error(`opening log file '${file}' failed: ${describeErrno(e)}`);
    }
  }
  dest = file === null ? stderrDestination() : pino.destination({ dest: file, append: true, sync: true, mkdir: false, mode: 0o644 });
  dest.on('error', () => {}); // a failed reopen keeps writing to the old file
  logger = pino({ base: { pid: process.pid }, level: pinoLevel(verbosity), timestamp: pino.stdTimeFunctions.isoTime }, dest);
  always = logger.child({}, { level: 'trace' });
}

function describeErrno(e: unknown): string {
  const text = strerror(errCode(e));
  return text === 'unknown' && e instanceof Error ? e.message : text;
}

export function log(): pino.Logger {
  return logger;
}

/** A line written whatever the level (nutcracker's loga / log_safe): banners, signals, shutdown. */
export function logAlways(msg: string): void {
  always.info(msg);
}

const limited = new Map<string, { windowStart: number; count: number; dropped: number }>();
const LIMIT_PER_WINDOW = 10;
const LIMIT_WINDOW_MS = 10_000;

/**
 * A warning that a flood of bad clients could repeat without end (overflowing clients, handshake
 * failures): at most 10 lines per kind per 10 s; the next line that gets through says how many were dropped.
 */
export function warnLimited(kind: string, msg: string): void {
  const now = Date.now();
  let e = limited.get(kind);
  if (e === undefined) {
    e = { windowStart: now, count: 0, dropped: 0 };
    limited.set(kind, e);
  }
  if (now - e.windowStart >= LIMIT_WINDOW_MS) {
    e.windowStart = now;
    e.count = 0;
  }
  if (e.count >= LIMIT_PER_WINDOW) {
    e.dropped++;
    return;
  }
  e.count++;
  const more = e.dropped > 0 ? ` (${e.dropped} similar lines dropped)` : '';
  e.dropped = 0;
  logger.warn(msg + more);
}

export function logLevel(): number {
  return verbosity;
}

/** SIGTTIN / SIGTTOU: one step up or down, clamped to 0..11; returns the new level. */
export function changeLogLevel(delta: number): number {
  verbosity = Math.min(11, Math.max(0, verbosity + delta));
  logger.level = pinoLevel(verbosity);
  return verbosity;
}

/** SIGHUP: reopen the log file by path so logrotate can move the old one away; false (nothing done) on stderr. */
export function reopenLog(): boolean {
  if (outputFile === null) return false;
  flushLog();
  dest.reopen();
  return true;
}

export function flushLog(): void {
  try {
    dest.flushSync();
  } catch {
    // nothing buffered
  }
}
