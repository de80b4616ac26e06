// Lua scripts seen by the proxy (SCRIPT LOAD, EVAL), by SHA1: an EVALSHA that a server answers with -NOSCRIPT
// (it restarted, or joined the pool after the SCRIPT LOAD) is sent again once as EVAL with the body, on the
// same connection, and the client gets that reply. Bounded: the oldest scripts are forgotten first.

import { createHash } from 'node:crypto';

const MAX_SCRIPTS = 10000;
/** Bodies larger than this are not kept (an EVAL of a generated script each time would fill the cache). */
const MAX_BODY = 64 * 1024;
const scripts = new Map<string, Buffer>();

/** Remember a script body under its SHA1 (hex, lowercase, as Redis names it). */
export function rememberScript(body: Buffer): void {
  if (body.length > MAX_BODY) return;
  const sha = createHash('sha1').update(body).digest('hex');
  if (scripts.has(sha)) return;
  if (scripts.size >= MAX_SCRIPTS) {
    const oldest = scripts.keys().next();
    if (oldest.done !== true) scripts.delete(oldest.value);
  }
  scripts.set(sha, Buffer.from(body));
}

/** The body of a script seen before, by its SHA1 in any case, or null. */
export function scriptBody(sha: string): Buffer | null {
  return scripts.get(sha.toLowerCase()) ?? null;
}

/** `EVALSHA sha numkeys ...` (RESP, as bytes) rewritten as `EVAL body numkeys ...`. */
export function evalFromEvalsha(request: Buffer, body: Buffer): Buffer | null {
  // *<n>\r\n $<len>\r\n EVALSHA|EVALSHA_RO \r\n $40\r\n <sha> \r\n ...rest
  let p = request.indexOf('\r\n') + 2;
  const nameEnd = request.indexOf('\r\n', p);
  const nameLen = Number(request.toString('latin1', p + 1, nameEnd));
  const name = request.toString('latin1', nameEnd + 2, nameEnd + 2 + nameLen).toUpperCase();
  p = nameEnd + 2 + nameLen + 2;
  const shaHdrEnd = request.indexOf('\r\n', p);
  const shaLen = Number(request.toString('latin1', p + 1, shaHdrEnd));
  const rest = request.subarray(shaHdrEnd + 2 + shaLen + 2);
  const evalName = name === 'EVALSHA_RO' ? 'EVAL_RO' : name === 'EVALSHA' ? 'EVAL' : null;
  if (evalName === null || !Number.isInteger(nameLen) || !Number.isInteger(shaLen)) return null;
  return Buffer.concat([
    request.subarray(0, request.indexOf('\r\n') + 2),
    Buffer.from(`$${evalName.length}\r\n${evalName}\r\n$${body.length}\r\n`),
    body,
    Buffer.from('\r\n'),
    rest,
  ]);
}
