// Start-up, config stage: the one error class for a bad configuration file, with stable codes.
// Thrown only by config/load.ts; main prints `message` and exits 1 (`-t` adds "syntax is invalid").

/** Stable codes; tests and callers match on these, never on message text. */
export type ConfigErrorCode =
  | 'EOPEN' // file cannot be read
  | 'EYAML' // YAML syntax error reported by the parser
  | 'EYAMLFEATURE' // a YAML feature twemproxy rejects: %directives, ---/... markers, flow {} [], anchors, aliases, tags
  | 'ENOPOOLS' // empty file / no pools
  | 'ESTRUCTURE' // wrong shape: root not a mapping, pool not a mapping, list where a value is expected, ...
  | 'EDUPPOOL' // two pools with the same name
  | 'EDUPKEY' // a directive repeated inside a pool
  | 'EUNKNOWNKEY' // a directive twemproxy does not know
  | 'EEMPTY' // `key:` or `key: ""`
  | 'EMISSING' // `listen:` missing
  | 'ENOSERVERS' // `servers:` missing or empty
  | 'EBADNUMBER' // not decimal digits, or too large
  | 'EBADBOOL' // not exactly true/false
  | 'EBADHASH'
  | 'EBADDIST'
  | 'EBADHASHTAG'
  | 'EBADLISTEN' // listen: not host:port or /path [perm]
  | 'EBADPORT' // port not 1..65535 (listen or server)
  | 'EBADPERM' // unix listen permission not octal <= 0777
  | 'EBADSERVER' // server entry with the wrong fields
  | 'EBADWEIGHT'
  | 'EZEROWEIGHT'
  | 'EZEROCONNS' // server_connections: 0
  | 'EAUTHNOTREDIS' // redis_auth on a memcache pool
  | 'EDUPSERVER' // two servers of a pool with the same name
  | 'EDUPLISTEN' // two pools with the same listen address
  | 'EMEMCACHEONLY' // failover, mirror_to or warmup_from on a redis pool
  | 'EBADPOOLREF' // failover, mirror_to or warmup_from names no pool of the file, a redis pool, the pool itself, or one twice
  | 'EFAILOVERCYCLE' // failover pools that lead back to where they started
  | 'ESENTINELNOTREDIS' // sentinels: on a memcache pool
  | 'ESENTINELNAME' // a server without a name in a pool with sentinels: (its name is the Sentinel master name)
  | 'ENOSENTINELS' // sentinel_auth, read_policy, ... without sentinels:
  | 'EBADPOLICY' // read_policy: not one of the five
  | 'EBADTLS' // a TLS file that cannot be read or used (names the file and why), a bad TLS version or cipher list
  | 'ETLSPAIR' // a TLS key without the key that goes with it (tls_listen without a certificate, a key without its certificate, ...)
  | 'ECLUSTER' // redis_cluster: on a memcache pool, or with a key that makes no sense for it (hash, distribution, sentinels, ...), or a cluster_* key without it
  | 'EBADUSERS'; // client_users: not a list of {name, password, mode, key_prefixes}, a name twice, an unknown mode

/**
 * message = `<file>: pool '<pool>': key '<key>': <reason> at line <n>`; the pool, key and line parts
 * are left out when they do not apply.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly pool: string | null;
  readonly key: string | null;
  /** 1-based line in the file, or null when the error is not about one place. */
  readonly line: number | null;
  /** The message without the file/pool/key prefix and line suffix. */
  readonly reason: string;

  constructor(code: ConfigErrorCode, file: string, pool: string | null, key: string | null, line: number | null, reason: string) {
    let msg = `${file}: `;
    if (pool !== null) msg += `pool '${pool}': `;
    if (key !== null) msg += `key '${key}': `;
    msg += reason;
    if (line !== null) msg += ` at line ${line}`;
    super(msg);
    this.code = code;
    this.file = file;
    this.pool = pool;
    this.key = key;
    this.line = line;
    this.reason = reason;
  }
}
