// Error texts shared by every layer: errno codes from Node sockets mapped to the glibc
// strerror() strings that twemproxy puts in `-ERR <text>` / `SERVER_ERROR <text>` replies.

const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  EHOSTDOWN: 'Host is down',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENETDOWN: 'Network is down',
  EINVAL: 'Invalid argument',
  ENOMEM: 'Cannot allocate memory',
  ECONNABORTED: 'Software caused connection abort',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTFOUND: 'Host is down',
  EAI_AGAIN: 'Host is down',
  // not an errno: a server connection whose TLS handshake failed (the log says why)
  ETLS: 'TLS handshake failed',
};

/** errno code (as Node reports it) to the text twemproxy would print; '' or unknown codes give 'unknown'. */
export function strerror(code: string | undefined): string {
  return code !== undefined && Object.hasOwn(STRERROR, code) ? (STRERROR[code] ?? 'unknown') : 'unknown';
}

/** The code of a Node error, or 'EUNKNOWN'. */
export function errCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return 'EUNKNOWN';
}
