// Logging for start-up, faults and shutdown (never per request at the default level), through
// pino. Levels follow nutcracker's -v: 0 EMERG .. 5 NOTICE (default) .. 11 PVERB.
//
//   -v 0..2 fatal   3 error   4 warn   5..6 info   7 debug   8..11 trace

import pino from 'pino';

let dest: pino.DestinationStream & { reopen?: () => void; flushSync?: () => void } = pino.destination({ dest: 2, sync: true });
let logger: pino.Logger = pino({ base: null, level: 'info' }, dest);
let verbosity = 5;
let outputFile: string | null = null;

function pinoLevel(v: number): pino.Level {
  if (v <= 2) return 'fatal';
  if (v === 3) return 'error';
  if (v === 4) return 'warn';
  if (v <= 6) return 'info';
  if (v === 7) return 'debug';
  return 'trace';
}

/** Open the log (stderr or -o file, appended). Throws if the file cannot be opened. */
export function initLog(level: number, file: string | null): void {
  verbosity = Math.min(11, Math.max(0, level));
  outputFile = file;
  dest = file === null ? pino.destination({ dest: 2, sync: true }) : pino.destination({ dest: file, append: true, sync: true, mkdir: false });
  logger = pino({ base: { pid: process.pid }, level: pinoLevel(verbosity), timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

export function log(): pino.Logger {
  return logger;
}

export function logLevel(): number {
  return verbosity;
}

/** SIGTTIN / SIGTTOU: one step up or down, clamped to 0..11. */
export function changeLogLevel(delta: number): number {
  verbosity = Math.min(11, Math.max(0, verbosity + delta));
  logger.level = pinoLevel(verbosity);
  return verbosity;
}

/** SIGHUP: reopen the log file so logrotate can move it away. */
export function reopenLog(): void {
  if (outputFile !== null && dest.reopen !== undefined) dest.reopen();
}

export function flushLog(): void {
  if (dest.flushSync !== undefined) {
    try {
      dest.flushSync();
    } catch {
      // nothing buffered
    }
  }
}
