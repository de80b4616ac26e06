// Replies the proxy writes itself (local commands, merges, failures): forward/merge → [this] → client FIFO.
// Texts are twemproxy's exact bytes (spec §4.4). Only error and local paths build buffers here.

export const PONG = Buffer.from('+PONG\r\n');
export const OK = Buffer.from('+OK\r\n');
export const NULL_BULK = Buffer.from('$-1\r\n');
export const NULL_ARRAY = Buffer.from('*-1\r\n');
export const EMPTY_ARRAY = Buffer.from('*0\r\n');
export const NOAUTH = Buffer.from('-NOAUTH Authentication required\r\n');
export const ERR_INVALID_PASSWORD = Buffer.from('-ERR invalid password\r\n');
export const ERR_NO_PASSWORD = Buffer.from('-ERR Client sent AUTH, but no password is set\r\n');
export const ERR_INVALID_ARGUMENT = Buffer.from('-ERR Invalid argument\r\n');
export const ERR_UNKNOWN = Buffer.from('-ERR unknown\r\n');
export const ERR_CONNECTION_REFUSED = Buffer.from('-ERR Connection refused\r\n');
export const ERR_TIMED_OUT = Buffer.from('-ERR Connection timed out\r\n');

/** `-<text>\r\n` (text should start with an error word such as `ERR`). */
export function errorReply(text: string): Buffer {
  return Buffer.from(`-${text}\r\n`);
}

/** `:<n>\r\n` */
export function integerReply(n: number): Buffer {
  return Buffer.from(`:${n}\r\n`);
}

/** `$<len>\r\n<bytes>\r\n` (strings are encoded as UTF-8). */
export function bulkReply(value: Buffer | string): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value) : value;
  const head = Buffer.from(`$${body.length}\r\n`);
  const out = Buffer.allocUnsafe(head.length + body.length + 2);
  head.copy(out, 0);
  body.copy(out, head.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}
