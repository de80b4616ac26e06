// Memcached ASCII command table: request parser → [this table: grammar shape, flags, reply mode] → forward/route/merge.
//
// One row per command name; the row index is the command id. Adding a command means adding a
// row (and, for a new grammar, a SHAPE_* case in request.ts). Names are matched without
// creating strings: the parser packs the lowercase name bytes into a number (`packName`) and
// compares it with each row's `code`.
//
// Deviations from twemproxy 0.5.0 (spec §5.1), chosen on purpose:
//   * meta commands (mg ms md ma mn me) are supported; `mn` is answered by the proxy itself.
//   * bad requests get memcached's own error reply instead of a silent close (see request.ts).

import { MODE_RETRIEVAL, MODE_SINGLE, MODE_META } from './reply';

export const MC_UNKNOWN = -1;
export const MC_GET = 0;
export const MC_GETS = 1;
export const MC_SET = 2;
export const MC_ADD = 3;
export const MC_REPLACE = 4;
export const MC_APPEND = 5;
export const MC_PREPEND = 6;
export const MC_CAS = 7;
export const MC_INCR = 8;
export const MC_DECR = 9;
export const MC_DELETE = 10;
export const MC_TOUCH = 11;
export const MC_QUIT = 12;
export const MC_VERSION = 13;
export const MC_MG = 14;
export const MC_MS = 15;
export const MC_MD = 16;
export const MC_MA = 17;
export const MC_MN = 18;
export const MC_ME = 19;

/** Grammar shapes understood by McRequestParser (the tokens after the command name). */
/** `<key>+` */
export const SHAPE_RETRIEVAL = 0;
/** `<key> <flags> <exptime> <bytes> [noreply]` + data block */
export const SHAPE_STORAGE = 1;
/** `<key> <flags> <exptime> <bytes> <cas> [noreply]` + data block */
export const SHAPE_CAS = 2;
/** `<key> <[-]digits> [noreply]` (incr, decr, touch) */
export const SHAPE_KEY_NUM = 3;
/** `<key> [noreply]` */
export const SHAPE_DELETE = 4;
/** nothing (only spaces before CRLF) */
export const SHAPE_NOARGS = 5;
/** `<key> <flag>*` */
export const SHAPE_META = 6;
/** `<key> <datalen> <flag>*` + data block */
export const SHAPE_META_SET = 7;

export interface McCommand {
  readonly id: number;
  readonly name: string;
  /** get/gets: multi-key, fragmented per server when there is more than one key. */
  readonly isRetrieval: boolean;
  /** A data block follows the command line. */
  readonly isStorage: boolean;
  /** Meta protocol (mg ms md ma mn me): `q` makes it quiet, the reply is one meta reply. */
  readonly isMeta: boolean;
  /** Answered by the proxy itself, never forwarded (quit: close after pending replies; mn: `MN\r\n`). */
  readonly isLocal: boolean;
  /** No key: a forwarded keyless command (version) is routed by hashing `placeholder`. */
  readonly keyless: boolean;
  /** Grammar of the arguments (SHAPE_*). */
  readonly shape: number;
  /** Reply mode for McReplyParser; a quiet meta request uses MODE_META_QUIET instead. */
  readonly replyMode: number;
  /** packName(name). */
  readonly code: number;
}

/** Packs a lowercase ASCII name (≤ 7 letters) into an exact integer: base 27, a=1..z=26. */
export function packName(name: string): number {
  let code = 0;
  for (let i = 0; i < name.length; i++) code = code * 27 + (name.charCodeAt(i) - 96);
  return code;
}

/** Longest command name, in bytes. */
export const MC_MAX_NAME = 7;

function row(
  id: number,
  name: string,
  shape: number,
  flags: { retrieval?: boolean; storage?: boolean; meta?: boolean; local?: boolean; keyless?: boolean },
): McCommand {
  const meta = flags.meta === true;
  return {
    id,
    name,
    isRetrieval: flags.retrieval === true,
    isStorage: flags.storage === true,
    isMeta: meta,
    isLocal: flags.local === true,
    keyless: flags.keyless === true,
    shape,
    replyMode: flags.retrieval === true ? MODE_RETRIEVAL : meta ? MODE_META : MODE_SINGLE,
    code: packName(name),
  };
}

/** The command table, indexed by command id (MC_*). */
export const MC_COMMANDS: readonly McCommand[] = [
  row(MC_GET, 'get', SHAPE_RETRIEVAL, { retrieval: true }),
  row(MC_GETS, 'gets', SHAPE_RETRIEVAL, { retrieval: true }),
  row(MC_SET, 'set', SHAPE_STORAGE, { storage: true }),
  row(MC_ADD, 'add', SHAPE_STORAGE, { storage: true }),
  row(MC_REPLACE, 'replace', SHAPE_STORAGE, { storage: true }),
  row(MC_APPEND, 'append', SHAPE_STORAGE, { storage: true }),
  row(MC_PREPEND, 'prepend', SHAPE_STORAGE, { storage: true }),
  row(MC_CAS, 'cas', SHAPE_CAS, { storage: true }),
  row(MC_INCR, 'incr', SHAPE_KEY_NUM, {}),
  row(MC_DECR, 'decr', SHAPE_KEY_NUM, {}),
  row(MC_DELETE, 'delete', SHAPE_DELETE, {}),
  row(MC_TOUCH, 'touch', SHAPE_KEY_NUM, {}),
  row(MC_QUIT, 'quit', SHAPE_NOARGS, { local: true, keyless: true }),
  row(MC_VERSION, 'version', SHAPE_NOARGS, { keyless: true }),
  row(MC_MG, 'mg', SHAPE_META, { meta: true }),
  row(MC_MS, 'ms', SHAPE_META_SET, { meta: true, storage: true }),
  row(MC_MD, 'md', SHAPE_META, { meta: true }),
  row(MC_MA, 'ma', SHAPE_META, { meta: true }),
  row(MC_MN, 'mn', SHAPE_NOARGS, { meta: true, local: true, keyless: true }),
  row(MC_ME, 'me', SHAPE_META, { meta: true }),
];

/** Row codes in id order, for the parser's linear lookup (get and set come first). */
const CODES: readonly number[] = MC_COMMANDS.map((c) => c.code);

/** Command id for a packed name, or MC_UNKNOWN. */
export function lookupCode(code: number): number {
  for (let i = 0; i < CODES.length; i++) if (CODES[i] === code) return i;
  return MC_UNKNOWN;
}

/**
 * Command id for the name bytes buf[s, e), or MC_UNKNOWN. Lowercase letters only, so `GET`
 * and `Get` are unknown (memcached answers them with `ERROR`).
 */
export function lookupCommand(buf: Buffer, s: number, e: number): number {
  if (e - s > MC_MAX_NAME) return MC_UNKNOWN;
  let code = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 97 || c > 122) return MC_UNKNOWN;
    code = code * 27 + (c - 96);
  }
  return lookupCode(code);
}
