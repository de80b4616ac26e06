// Start-up, flags: argv -> CliOptions with nutcracker's getopt_long semantics and texts (spec 1.1, 1.2).
//
//   argv --(bundled -dt, attached -v6, separate -v 6, --verbose=6, --verbose 6, unique --prefix, `--` ends)-->
//   one OPTIONS row per flag --> apply() validates like nutcracker --> CliOptions | CliError (first error wins)
//
// Non-option arguments are ignored wherever they appear (glibc permutes them to the end).

import { VERSION, NUTCRACKER_VERSION } from './version';
import { POOL_STATS, SERVER_STATS, type StatDesc } from './stats/descriptions';

export interface CliOptions {
  help: boolean;
  version: boolean;
  testConf: boolean;
  daemonize: boolean;
  describeStats: boolean;
  /** Log level 0..11 (larger values are clamped to 11). */
  verbose: number;
  /** Log file; null = stderr. */
  output: string | null;
  confFile: string;
  statsPort: number;
  statsAddr: string;
  statsInterval: number;
  pidFile: string | null;
  mbufSize: number;
  /** nutmeg: number of worker processes (--workers). */
  workers: number;
  /** nutmeg: Prometheus/health/status HTTP port, 0 = off (--http-port). */
  httpPort: number;
  /** nutmeg: HTTP bind address (--http-addr). */
  httpAddr: string;
  /** nutmeg: what SIGUSR1 does: reload in place (same pid) or exec a new process (--reload-mode). */
  reloadMode: 'inplace' | 'exec';
  /** nutmeg: ms that clients of a removed listener, or of the old process after an upgrade, may finish (--reload-drain). */
  reloadDrain: number;
}

export type CliErrorCode =
  | 'EMISSINGARG' // option needs a value and none is left
  | 'ENOTNUMBER' // numeric option with a non-number (or -m 0)
  | 'EBADPORT' // -s / --http-port out of range
  | 'EBADMBUF' // -m outside 512..16777216
  | 'EBADWORKERS' // --workers outside 1..MAX_WORKERS
  | 'EBADMODE' // --reload-mode other than inplace / exec
  | 'EUNKNOWNOPT' // unknown short or long option
  | 'EAMBIGUOUS' // --prefix matching several long options
  | 'ENOARGALLOWED'; // --flag=value for a flag without value

/** `error` is the whole message line without newline (e.g. `nutmeg: option -s value 0 is not a valid port`); print it, then usageText(). */
export interface CliError {
  error: string;
  code: CliErrorCode;
}

export const MIN_MBUF_SIZE = 512;
export const MAX_MBUF_SIZE = 16777216;
export const MAX_WORKERS = 1024;
export const MAX_VERBOSE = 11;

export function defaultOptions(): CliOptions {
  return {
    help: false,
    version: false,
    testConf: false,
    daemonize: false,
    describeStats: false,
    verbose: 5,
    output: null,
    confFile: 'conf/nutcracker.yml',
    statsPort: 22222,
    statsAddr: '0.0.0.0',
    statsInterval: 30000,
    pidFile: null,
    mbufSize: 16384,
    workers: 1,
    httpPort: 0,
    httpAddr: '127.0.0.1',
    reloadMode: 'inplace',
    reloadDrain: 3000,
  };
}

type ArgKind = 'none' | 'file' | 'number' | 'string';

interface OptSpec {
  /** Short letter, '' for nutmeg-only options (long form only). */
  short: string;
  long: string;
  arg: ArgKind;
  /** nutmeg extension: matched by --prefix only when no nutcracker option matches (so `--h` stays --help). */
  ext: boolean;
}

/** nutcracker's long_options table plus nutmeg's extensions. */
const OPTIONS: readonly OptSpec[] = [
  { short: 'h', long: 'help', arg: 'none', ext: false },
  { short: 'V', long: 'version', arg: 'none', ext: false },
  { short: 't', long: 'test-conf', arg: 'none', ext: false },
  { short: 'd', long: 'daemonize', arg: 'none', ext: false },
  { short: 'D', long: 'describe-stats', arg: 'none', ext: false },
  { short: 'v', long: 'verbose', arg: 'number', ext: false },
  { short: 'o', long: 'output', arg: 'file', ext: false },
  { short: 'c', long: 'conf-file', arg: 'file', ext: false },
  { short: 's', long: 'stats-port', arg: 'number', ext: false },
  { short: 'i', long: 'stats-interval', arg: 'number', ext: false },
  { short: 'a', long: 'stats-addr', arg: 'string', ext: false },
  { short: 'p', long: 'pid-file', arg: 'file', ext: false },
  { short: 'm', long: 'mbuf-size', arg: 'number', ext: false },
  { short: '', long: 'workers', arg: 'number', ext: true },
  { short: '', long: 'http-port', arg: 'number', ext: true },
  { short: '', long: 'http-addr', arg: 'string', ext: true },
  { short: '', long: 'reload-mode', arg: 'string', ext: true },
  { short: '', long: 'reload-drain', arg: 'number', ext: true },
];

const ARG_WORD: Record<ArgKind, string> = { none: '', file: 'file name', number: 'number', string: 'string' };

export function parseArgs(argv: string[]): CliOptions | CliError {
  const opts = defaultOptions();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') break;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const found = findLong(name);
      if (typeof found === 'string') return found === 'ambiguous' ? ambiguous(name) : err('EUNKNOWNOPT', `nutmeg: unrecognized option '--${name}'`);
      let value: string | null = null;
      if (found.arg === 'none') {
        if (eq >= 0) return err('ENOARGALLOWED', `nutmeg: option '--${found.long}' doesn't allow an argument`);
      } else if (eq >= 0) {
        value = arg.slice(eq + 1);
      } else if (i + 1 < argv.length) {
        value = argv[++i] ?? '';
      } else {
        return missing(found);
      }
      const e = apply(opts, found, value);
      if (e !== null) return e;
      continue;
    }
    if (arg.length < 2 || arg.charCodeAt(0) !== 0x2d) continue; // non-option (incl. a lone '-'): ignored
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j] ?? '';
      const spec = OPTIONS.find((o) => o.short === c);
      if (spec === undefined) return err('EUNKNOWNOPT', `nutmeg: invalid option -- '${c}'`);
      if (spec.arg === 'none') {
        const e = apply(opts, spec, null);
        if (e !== null) return e;
        continue;
      }
      let value: string;
      if (j + 1 < arg.length) value = arg.slice(j + 1);
      else if (i + 1 < argv.length) value = argv[++i] ?? '';
      else return missing(spec);
      const e = apply(opts, spec, value);
      if (e !== null) return e;
      break;
    }
  }
  return opts;
}

/** Exact name, else the unique prefix among nutcracker's options, else among nutmeg's. */
function findLong(name: string): OptSpec | 'unknown' | 'ambiguous' {
  const exact = OPTIONS.find((o) => o.long === name);
  if (exact !== undefined) return exact;
  if (name === '') return 'unknown';
  for (const ext of [false, true]) {
    const m = OPTIONS.filter((o) => o.ext === ext && o.long.startsWith(name));
    if (m.length === 1 && m[0] !== undefined) return m[0];
    if (m.length > 1) return 'ambiguous';
  }
  return 'unknown';
}

function ambiguous(name: string): CliError {
  const ext = !OPTIONS.some((o) => !o.ext && o.long.startsWith(name));
  const list = OPTIONS.filter((o) => o.ext === ext && o.long.startsWith(name)).map((o) => `'--${o.long}'`);
  return err('EAMBIGUOUS', `nutmeg: option '--${name}' is ambiguous; possibilities: ${list.join(' ')}`);
}

function flagName(o: OptSpec): string {
  return o.short === '' ? `--${o.long}` : `-${o.short}`;
}

function missing(o: OptSpec): CliError {
  return err('EMISSINGARG', `nutmeg: option ${flagName(o)} requires a ${ARG_WORD[o.arg]}`);
}

function err(code: CliErrorCode, error: string): CliError {
  return { error, code };
}

/** nc_atoi: decimal digits only, else -1 (we also give -1 above INT_MAX, where nutcracker's int wraps). */
function atoi(s: string): number {
  if (!/^[0-9]+$/.test(s)) return -1;
  const n = Number(s);
  return n > 2147483647 ? -1 : n;
}

/** Applies one option like nutcracker's nc_get_options switch; returns the error or null. */
function apply(opts: CliOptions, o: OptSpec, value: string | null): CliError | null {
  const v = value ?? '';
  const notNumber = (): CliError => err('ENOTNUMBER', `nutmeg: option ${flagName(o)} requires a number`);
  switch (o.long) {
    case 'help':
      opts.help = true;
      break;
    case 'version':
      opts.version = true;
      break;
    case 'test-conf':
      opts.testConf = true;
      break;
    case 'daemonize':
      opts.daemonize = true;
      break;
    case 'describe-stats':
      opts.describeStats = true;
      break;
    case 'verbose': {
      const n = atoi(v);
      if (n < 0) return notNumber();
      opts.verbose = Math.min(n, MAX_VERBOSE);
      break;
    }
    case 'output':
      opts.output = v === '' ? null : v;
      break;
    case 'conf-file':
      opts.confFile = v;
      break;
    case 'stats-port': {
      const n = atoi(v);
      if (n < 0) return notNumber();
      if (n < 1 || n > 65535) return err('EBADPORT', `nutmeg: option -s value ${n} is not a valid port`);
      opts.statsPort = n;
      break;
    }
    case 'stats-interval': {
      const n = atoi(v);
      if (n < 0) return notNumber();
      opts.statsInterval = n;
      break;
    }
    case 'stats-addr':
      opts.statsAddr = v;
      break;
    case 'pid-file':
      opts.pidFile = v;
      break;
    case 'mbuf-size': {
      const n = atoi(v);
      if (n <= 0) return err('ENOTNUMBER', 'nutmeg: option -m requires a non-zero number');
      if (n < MIN_MBUF_SIZE || n > MAX_MBUF_SIZE) {
        return err('EBADMBUF', `nutmeg: mbuf chunk size must be between ${MIN_MBUF_SIZE} and ${MAX_MBUF_SIZE} bytes`);
      }
      opts.mbufSize = n;
      break;
    }
    case 'workers': {
      const n = atoi(v);
      if (n < 0) return notNumber();
      if (n < 1 || n > MAX_WORKERS) return err('EBADWORKERS', `nutmeg: option --workers value ${n} must be between 1 and ${MAX_WORKERS}`);
      opts.workers = n;
      break;
    }
    case 'http-port': {
      const n = atoi(v);
      if (n < 0) return notNumber();
      if (n > 65535) return err('EBADPORT', `nutmeg: option --http-port value ${n} is not a valid port`);
      opts.httpPort = n;
      break;
    }
    case 'http-addr':
      if (v === '') return err('EMISSINGARG', 'nutmeg: option --http-addr requires a string');
      opts.httpAddr = v;
      break;
    case 'reload-mode':
      if (v !== 'inplace' && v !== 'exec') return err('EBADMODE', `nutmeg: option --reload-mode value '${v}' must be inplace or exec`);
      opts.reloadMode = v;
      break;
    case 'reload-drain': {
      const n = atoi(v);
      if (n < 0) return notNumber();
      opts.reloadDrain = n;
      break;
    }
  }
  return null;
}

// ---- texts (all go to stderr) ----------------------------------------------------------------------------------

const CRLF = '\r\n';

/**
 * nutcracker's usage text with nutmeg's name and extension flags. Like the original, lines inside a block end in
 * CRLF and each block ends with an extra LF (so an empty line follows it); the -D line ends in LF only.
 */
export function usageText(): string {
  const pad = ' '.repeat('Usage: nutmeg '.length);
  const synopsis =
    'Usage: nutmeg [-?hVdDt] [-v verbosity level] [-o output file]' + CRLF +
    pad + '[-c conf file] [-s stats port] [-a stats addr]' + CRLF +
    pad + '[-i stats interval] [-p pid file] [-m mbuf size]' + CRLF +
    pad + '[--workers=N] [--http-port=N] [--http-addr=S]' + CRLF +
    pad + '[--reload-mode=inplace|exec] [--reload-drain=N]' + CRLF +
    '\n';
  const line = (flags: string, text: string, end: string = CRLF): string => `  ${flags.padEnd(22)} : ${text}${end}`;
  const options =
    'Options:' + CRLF +
    line('-h, --help', 'this help') +
    line('-V, --version', 'show version and exit') +
    line('-t, --test-conf', 'test configuration for syntax errors and exit') +
    line('-d, --daemonize', 'run as a daemon') +
    line('-D, --describe-stats', 'print stats description and exit', '\n') +
    line('-v, --verbose=N', 'set logging level (default: 5, min: 0, max: 11)') +
    line('-o, --output=S', 'set logging file (default: stderr)') +
    line('-c, --conf-file=S', 'set configuration file (default: conf/nutcracker.yml)') +
    line('-s, --stats-port=N', 'set stats monitoring port (default: 22222)') +
    line('-a, --stats-addr=S', 'set stats monitoring ip (default: 0.0.0.0)') +
    line('-i, --stats-interval=N', 'set stats aggregation interval in msec (default: 30000 msec)') +
    line('-p, --pid-file=S', 'set pid file (default: off)') +
    line('-m, --mbuf-size=N', 'set size of mbuf chunk in bytes (default: 16384 bytes)') +
    line('    --workers=N', 'set number of worker processes (default: 1)') +
    line('    --http-port=N', 'set metrics/health/status http port (default: 0 = off)') +
    line('    --http-addr=S', 'set metrics/health/status http ip (default: 127.0.0.1)') +
    line('    --reload-mode=S', 'what SIGUSR1 does: inplace or exec (default: inplace)') +
    line('    --reload-drain=N', 'set msec removed clients may finish on reload (default: 3000)') +
    '\n';
  return synopsis + options;
}

/** Printed for -h, -V and -D: two lines and an empty line, like nutcracker's. */
export function versionBanner(): string {
  return `This is nutmeg-${VERSION}\ncompatible with nutcracker-${NUTCRACKER_VERSION}\n\n`;
}

/** The -D block (printed after the banner): name left-justified in 20 columns, description in double quotes. */
/** twemproxy's -D text, byte for byte, with nutmeg's own pool metrics after twemproxy's. */
export function describeStatsText(): string {
  const block = (stats: readonly StatDesc[]): string => stats.map((s) => `  ${s.name.padEnd(20)}"${s.desc}"\n`).join('');
  return `pool stats:\n${block(POOL_STATS)}\nserver stats:\n${block(SERVER_STATS)}`;
}
