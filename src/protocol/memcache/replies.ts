// Constant memcached replies: request parser / forward / merge → [these bytes] → client socket.
//
// Every fixed reply is allocated once at start-up. serverError/clientError build the rare
// proxy-generated error lines and cache them per text (the texts come from a small set:
// strerror strings, parser errors).

export const REPLY_END = Buffer.from('END\r\n', 'latin1');
export const REPLY_MN = Buffer.from('MN\r\n', 'latin1');
export const REPLY_ERROR = Buffer.from('ERROR\r\n', 'latin1');
/** Request line with a bad token (number, key length, noreply, meta flag). */
export const REPLY_BAD_FORMAT = Buffer.from('CLIENT_ERROR bad command line format\r\n', 'latin1');
/** Data block not followed by CRLF at its declared length. */
export const REPLY_BAD_CHUNK = Buffer.from('CLIENT_ERROR bad data chunk\r\n', 'latin1');
/** Command line longer than the limit without a CRLF. */
export const REPLY_LINE_TOO_LONG = Buffer.from('CLIENT_ERROR line too long\r\n', 'latin1');
/** Data block longer than MC_MAX_DATA. */
export const REPLY_TOO_LARGE = Buffer.from('SERVER_ERROR object too large for cache\r\n', 'latin1');

const CACHE_MAX = 64;
const serverCache = new Map<string, Buffer>();
const clientCache = new Map<string, Buffer>();

function build(cache: Map<string, Buffer>, prefix: string, text: string): Buffer {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  // A CR or LF inside the text would end the reply line early and desynchronise the client.
  const buf = Buffer.from(prefix + text.replace(/[\r\n]/g, ' ') + '\r\n', 'latin1');
  if (cache.size < CACHE_MAX) cache.set(text, buf);
  return buf;
}

/** `SERVER_ERROR <text>\r\n`, e.g. serverError('Connection refused'). */
export function serverError(text: string): Buffer {
  return build(serverCache, 'SERVER_ERROR ', text);
}

/** `CLIENT_ERROR <text>\r\n`. */
export function clientError(text: string): Buffer {
  return build(clientCache, 'CLIENT_ERROR ', text);
}
