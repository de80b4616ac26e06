// Redis key specs, read side: request offsets + a command's key specs → the argument positions of its keys.
// Redis's own algorithm (db.c getKeysUsingKeySpecs), so nutmeg finds exactly the keys Redis would: used to
// route every key-bearing command and to check that all of its keys map to one server.
//
//   spec: begin (index pos | keyword searched from startfrom) ─► find (range last/step/limit | keynum count/first/step)

import type { RawSpec } from './command-specs';

export const BEGIN_INDEX = 0;
export const BEGIN_KEYWORD = 1;
export const FIND_RANGE = 0;
export const FIND_KEYNUM = 1;

/** One compiled key spec. `keyword` is uppercase ASCII bytes for a keyword search. */
export interface KeySpec {
  readonly begin: number;
  readonly index: number;
  readonly keyword: Buffer | null;
  readonly startfrom: number;
  readonly find: number;
  /** range: lastkey, step, limit; keynum: keynumidx, firstkey, step. */
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

/** Compiles the generated specs; unknown ones (SORT's BY/GET/STORE) are dropped, callers handle those commands. */
export function compileSpecs(raw: readonly RawSpec[]): KeySpec[] {
  const out: KeySpec[] = [];
  for (const s of raw) {
    const [bt, b1, b2, ft, f1, f2, f3] = s;
    if (bt === 'U' || ft === 'U') continue;
    out.push({
      begin: bt === 'I' ? BEGIN_INDEX : BEGIN_KEYWORD,
      index: bt === 'I' ? Number(b1) : 0,
      keyword: bt === 'K' ? Buffer.from(String(b1).toUpperCase(), 'latin1') : null,
      startfrom: bt === 'K' ? Number(b2) : 0,
      find: ft === 'R' ? FIND_RANGE : FIND_KEYNUM,
      a: Number(f1),
      b: Number(f2),
      c: Number(f3),
    });
  }
  return out;
}

/** Argument i (1 = first after the name) equals the uppercase ASCII `word`, ignoring case. */
function argIs(buf: Buffer, args: readonly number[], i: number, word: Buffer): boolean {
  const s = args[2 * (i - 1)] as number;
  const e = args[2 * (i - 1) + 1] as number;
  if (e - s !== word.length) return false;
  for (let j = 0; j < word.length; j++) {
    let c = buf[s + j] as number;
    if (c >= 97 && c <= 122) c -= 32;
    if (c !== word[j]) return false;
  }
  return true;
}

/** A non-negative decimal integer argument, or -1. */
function argCount(buf: Buffer, args: readonly number[], i: number): number {
  const s = args[2 * (i - 1)] as number;
  const e = args[2 * (i - 1) + 1] as number;
  if (e <= s || e - s > 9) return -1;
  let n = 0;
  for (let j = s; j < e; j++) {
    const c = buf[j] as number;
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/**
 * Writes the positions of the keys (1 = first argument after the name) into `out` and returns how many; -1
 * when a spec cannot be applied (a count that is not a number, a count past the arguments): the command is
 * malformed and its server will say how. `narg` counts the command name, as Redis's argc does.
 */
export function findKeys(specs: readonly KeySpec[], buf: Buffer, args: readonly number[], narg: number, out: Int32Array): number {
  let n = 0;
  for (let si = 0; si < specs.length; si++) {
    const sp = specs[si] as KeySpec;
    let first = 0;
    if (sp.begin === BEGIN_INDEX) {
      first = sp.index;
    } else {
      const from = sp.startfrom > 0 ? sp.startfrom : narg + sp.startfrom;
      const to = sp.startfrom > 0 ? narg - 1 : 0;
      for (let i = from; i !== to; i = from <= to ? i + 1 : i - 1) {
        if (i >= narg || i < 1) break;
        if (argIs(buf, args, i, sp.keyword as Buffer)) {
          first = i + 1;
          break;
        }
      }
      if (first === 0) continue; // the keyword is optional (STORE, STREAMS missing: the server will tell)
    }
    let last: number;
    let step: number;
    if (sp.find === FIND_RANGE) {
      step = sp.b;
      if (sp.a >= 0) last = first + sp.a;
      else if (sp.c === 0) last = narg + sp.a;
      else last = first + (Math.floor((narg - first) / sp.c) + sp.a);
    } else {
      step = sp.c;
      if (sp.a >= narg - first) return -1;
      const count = argCount(buf, args, first + sp.a);
      if (count < 0) return -1;
      first += sp.b;
      last = first + count - 1;
      if (count > 0 && last >= narg) return -1;
    }
    if (step <= 0) step = 1;
    for (let j = first; j <= last; j += step) {
      if (j >= narg) break; // too few arguments: the server reports the arity or syntax error
      if (n >= out.length) return -1;
      out[n++] = j;
    }
  }
  return n;
}

const STORE = Buffer.from('STORE');
const LIMIT = Buffer.from('LIMIT');
const BY = Buffer.from('BY');
const GET = Buffer.from('GET');

/** SORT / SORT_RO: the key, then the STORE destination if any (Redis's sortGetKeys; BY and GET patterns are not keys here). */
export function sortKeys(buf: Buffer, args: readonly number[], narg: number, out: Int32Array): number {
  out[0] = 1;
  let n = 1;
  for (let i = 2; i < narg; i++) {
    if (argIs(buf, args, i, LIMIT)) i += 2;
    else if (argIs(buf, args, i, BY) || argIs(buf, args, i, GET)) i += 1;
    else if (argIs(buf, args, i, STORE) && i + 1 < narg) {
      out[n++] = i + 1;
      i += 1;
    }
  }
  return n;
}
