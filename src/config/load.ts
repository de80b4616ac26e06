// Start-up, config stage: nutcracker.yml text -> validated Config. The only place that throws on bad config.
//
//   text --YAML.Parser--> CST --reject %dir/---/.../{}/[]/&/*/!--> Composer(failsafe: every scalar a string)
//        --> root map (pools) --> pool map (directives, one `servers:` list) --> PoolConfig --> sort pools/servers
//        --> pool references (failover, mirror_to, warmup_from): exist, memcache, no failover cycle
//
// A flow sequence is allowed in one place only, the value of `mirror_to` (the spec writes `mirror_to: [new]`;
// twemproxy never sees that key). Everything else keeps twemproxy's token rules.
//
// Everything is synchronous; host names are checked for syntax only (no DNS here).

import * as fs from 'fs';
import * as YAML from 'yaml';
import { HASH_NAMES, type HashName } from '../route/hash/index';
import { errCode, strerror } from '../util/errors';
import { ConfigError, type ConfigErrorCode } from './errors';
import { checkCaFile, checkCertificate, checkKeyPair, checkParams, parseProtocols, readTlsFile, tlsParams, TlsConfigError } from './tls';
import {
  DISTRIBUTION_NAMES,
  READ_POLICIES,
  CLUSTER_READ_POLICIES,
  TLS_AUTH_CLIENTS,
  TLS_PROTOCOLS,
  type ClientUserConfig,
  type Config,
  type DistributionName,
  type ListenAddr,
  type PoolConfig,
  type ReadPolicy,
  type SentinelAddr,
  type ServerConfig,
  type TlsFile,
} from './types';

type DirectiveType =
  | 'listen'
  | 'hash'
  | 'hash_tag'
  | 'distribution'
  | 'number'
  | 'size'
  | 'bool'
  | 'string'
  | 'servers'
  | 'pool'
  | 'pools'
  | 'sentinels'
  | 'read_policy'
  | 'tls_listen'
  | 'file'
  | 'tls_auth'
  | 'protocols'
  | 'users';

interface Directive {
  type: DirectiveType;
  /** What a valid value looks like, used in error messages. */
  expect: string;
}

const NUMBER = 'a number (decimal digits only)';
const BOOL = 'true or false';

/** Every directive twemproxy knows, in its documentation order, then nutmeg's own. */
const DIRECTIVES: ReadonlyMap<string, Directive> = new Map<string, Directive>([
  ['listen', { type: 'listen', expect: '"host:port", e.g. 127.0.0.1:22121, or "/path/to/socket [octal permissions]"' }],
  ['hash', { type: 'hash', expect: `one of: ${HASH_NAMES.join(', ')}` }],
  ['hash_tag', { type: 'hash_tag', expect: 'exactly two characters, e.g. "{}"' }],
  ['distribution', { type: 'distribution', expect: `one of: ${DISTRIBUTION_NAMES.join(', ')}` }],
  ['timeout', { type: 'number', expect: 'milliseconds as decimal digits, e.g. 400; 0 or no timeout key means no timeout' }],
  ['backlog', { type: 'number', expect: NUMBER }],
  ['client_connections', { type: 'number', expect: NUMBER }],
  ['redis', { type: 'bool', expect: BOOL }],
  ['redis_auth', { type: 'string', expect: 'a password' }],
  ['redis_db', { type: 'number', expect: NUMBER }],
  ['tcpkeepalive', { type: 'bool', expect: BOOL }],
  ['reuseport', { type: 'bool', expect: BOOL }],
  ['preconnect', { type: 'bool', expect: BOOL }],
  ['auto_eject_hosts', { type: 'bool', expect: BOOL }],
  ['server_connections', { type: 'number', expect: 'a number of connections per server (decimal digits, at least 1)' }],
  ['server_retry_timeout', { type: 'number', expect: 'milliseconds as decimal digits' }],
  ['server_failure_limit', { type: 'number', expect: NUMBER }],
  ['servers', { type: 'servers', expect: 'a list of "host:port:weight [name]" or "/path/to/socket:weight [name]" entries' }],
  // nutmeg's own
  ['client_buffer_limit', { type: 'size', expect: 'a size in bytes, with an optional unit kb, mb or gb (e.g. 256mb), at least 1mb' }],
  ['transaction_max_commands', { type: 'number', expect: 'the most commands one MULTI may queue (decimal digits, at least 1)' }],
  ['redis_admin_commands', { type: 'bool', expect: BOOL }],
  ['pubsub_client_buffer', { type: 'size', expect: 'a size in bytes, with an optional unit kb, mb or gb (e.g. 32mb), at least 1mb' }],
  ['redis_databases', { type: 'number', expect: 'how many databases clients may SELECT, 0..N-1 (decimal digits, at least 1)' }],
  ['server_private_connections', { type: 'number', expect: 'the most connections per server leased to clients for WATCH and blocking commands (decimal digits)' }],
  ['failover', { type: 'pool', expect: 'the name of another memcache pool of this file' }],
  ['failover_exptime', { type: 'number', expect: 'seconds as decimal digits, at least 1' }],
  ['mirror_to', { type: 'pools', expect: "names of other memcache pools of this file, as '- name' lines, [a, b] or one name" }],
  ['warmup_from', { type: 'pool', expect: 'the name of another memcache pool of this file' }],
  ['warmup_exptime', { type: 'number', expect: 'seconds as decimal digits (0 = no expiry)' }],
  // Sentinel (twemproxy PR #324's `sentinels:` list, and nutmeg's keys around it)
  ['sentinels', { type: 'sentinels', expect: 'a list of "host:port:weight" sentinel addresses (weight and name are ignored)' }],
  ['sentinel_auth', { type: 'string', expect: 'the password of the sentinels' }],
  ['sentinel_user', { type: 'string', expect: 'an ACL user name of the sentinels (with sentinel_auth)' }],
  ['sentinel_refresh_interval', { type: 'number', expect: 'milliseconds between re-queries of the sentinels as decimal digits; 0 = events only' }],
  ['read_policy', { type: 'read_policy', expect: `one of: ${READ_POLICIES.join(', ')}` }],
  // Redis Cluster (wave2 §3)
  ['redis_cluster', { type: 'bool', expect: BOOL }],
  ['cluster_refresh_interval', { type: 'number', expect: 'milliseconds between CLUSTER SLOTS refreshes as decimal digits; 0 = only when a redirection or failure asks for one' }],
  ['cluster_max_redirects', { type: 'number', expect: 'how many times one request may be redirected (MOVED, ASK, TRYAGAIN) as decimal digits, at least 1' }],
  // TLS and ACL (wave2 §5): names after redis.conf's tls-* directives
  ['tls_listen', { type: 'tls_listen', expect: '"host:port" or "/path/to/socket [octal permissions]" for a TLS-only listener' }],
  ['tls_cert_file', { type: 'file', expect: 'the path of a PEM certificate (chain)' }],
  ['tls_key_file', { type: 'file', expect: 'the path of the PEM private key of tls_cert_file' }],
  ['tls_ca_cert_file', { type: 'file', expect: 'the path of the PEM CA certificates that client certificates are checked against' }],
  ['tls_auth_clients', { type: 'tls_auth', expect: `one of: ${TLS_AUTH_CLIENTS.join(', ')}` }],
  ['tls_protocols', { type: 'protocols', expect: `TLS versions separated by spaces, from: ${TLS_PROTOCOLS.join(', ')}` }],
  ['tls_ciphers', { type: 'string', expect: 'an OpenSSL cipher list for TLS 1.2' }],
  ['tls_ciphersuites', { type: 'string', expect: 'an OpenSSL cipher suite list for TLS 1.3' }],
  ['server_tls', { type: 'bool', expect: BOOL }],
  ['server_tls_ca_cert_file', { type: 'file', expect: "the path of the PEM CA certificates that the servers' certificates are checked against" }],
  ['server_tls_cert_file', { type: 'file', expect: 'the path of the PEM client certificate nutmeg presents to the servers' }],
  ['server_tls_key_file', { type: 'file', expect: 'the path of the PEM private key of server_tls_cert_file' }],
  ['server_tls_servername', { type: 'string', expect: "the name sent as SNI and checked in the servers' certificates" }],
  ['server_tls_verify', { type: 'bool', expect: BOOL }],
  ['redis_auth_user', { type: 'string', expect: 'a Redis 6 ACL user name' }],
  ['client_users', { type: 'users', expect: "a list of users: '- {name: n, password: p, mode: read|write, key_prefixes: [\"a:\"]}'" }],
]);

/** The keys that name other pools, in the order they are checked. */
const POOL_REF_KEYS = ['failover', 'mirror_to', 'warmup_from'] as const;

/** failover_exptime's default (mcrouter's): a gutter copy outlives the outage by at most a minute. */
export const DEFAULT_FAILOVER_EXPTIME = 60;
/** warmup_exptime's default: a classic get does not tell the old pool's remaining time, so copies live at most an hour. */
export const DEFAULT_WARMUP_EXPTIME = 3600;

/** Keys that only mean something in a pool with `sentinels:`. */
const SENTINEL_KEYS: readonly string[] = ['sentinel_auth', 'sentinel_user', 'sentinel_refresh_interval', 'read_policy'];
/** Keys that only mean something with `redis_cluster: true`. */
const CLUSTER_KEYS: readonly string[] = ['cluster_refresh_interval', 'cluster_max_redirects'];
/** Keys a Redis Cluster pool refuses, and why (the cluster decides placement and failover). */
const NOT_IN_CLUSTER: ReadonlyMap<string, string> = new Map([
  ['hash', 'Redis Cluster places keys by CRC16 slot'],
  ['hash_tag', "Redis Cluster's {...} hash tags always apply"],
  ['distribution', 'Redis Cluster places keys by CRC16 slot'],
  ['auto_eject_hosts', 'the cluster fails over; nutmeg follows CLUSTER SLOTS instead of ejecting nodes'],
  ['server_failure_limit', 'nodes are never ejected in a cluster pool'],
  ['server_retry_timeout', 'nodes are never ejected in a cluster pool'],
  ['sentinels', 'Redis Cluster does its own failover'],
  ['sentinel_auth', 'Redis Cluster does its own failover'],
  ['sentinel_user', 'Redis Cluster does its own failover'],
  ['sentinel_refresh_interval', 'Redis Cluster does its own failover (see cluster_refresh_interval)'],
]);
export const DEFAULT_CLUSTER_REFRESH = 10000;
export const DEFAULT_CLUSTER_MAX_REDIRECTS = 5;
/** sentinel_refresh_interval's default (ms): events do the work, this catches what they missed. */
export const DEFAULT_SENTINEL_REFRESH = 10000;

/** client_buffer_limit's default: far above what an ordinary pipeline is owed (redis-py writes whole pipelines before reading). */
export const DEFAULT_CLIENT_BUFFER_LIMIT = 256 * 1024 * 1024;
const MIN_CLIENT_BUFFER_LIMIT = 1024 * 1024;

/** CST token types twemproxy rejects at the token level, and how to explain each (given the token's text). */
const DISALLOWED_TOKENS: ReadonlyMap<string, (src: string) => string> = new Map([
  ['directive', (src: string) => `YAML directive '${src}' is not allowed`],
  ['doc-start', () => "document start marker '---' is not allowed (the file is a single document without markers)"],
  ['doc-end', () => "document end marker '...' is not allowed (the file is a single document without markers)"],
  ['flow-map-start', () => "flow mapping '{...}' is not allowed; quote values that start with '{', e.g. hash_tag: \"{}\""],
  ['flow-seq-start', () => "flow sequence '[...]' is not allowed; write lists as '- item' lines and quote values that start with '['"],
  ['anchor', (src: string) => `anchor '${src}' is not allowed (twemproxy accepts no anchors, aliases or tags)`],
  ['alias', (src: string) => `alias '${src}' is not allowed (twemproxy accepts no anchors, aliases or tags)`],
  ['tag', (src: string) => `tag '${src}' is not allowed (twemproxy accepts no anchors, aliases or tags)`],
]);

const INT_MAX = 2147483647;
const KETAMA_DEFAULT_PORT = 11211;

/** Name order used by twemproxy for pools and servers: shorter (in bytes) first, then byte order. */
export function compareNames(a: string, b: string): number {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length - bb.length || Buffer.compare(ab, bb);
}

/** Reads and validates a config file. Throws ConfigError (code EOPEN when the file cannot be read). */
export function loadConfig(file: string): Config {
  return parseConfigText(readConfigText(file), file);
}

/** The text of a config file, checked to be UTF-8. Throws ConfigError (EOPEN, EYAML). */
export function readConfigText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = errCode(err);
    const text = strerror(code);
    const why = text === 'unknown' ? (err instanceof Error ? err.message : code) : text;
    throw new ConfigError('EOPEN', file, null, null, null, `cannot read the configuration file: ${why}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError('EYAML', file, null, null, null, 'the file is not valid UTF-8 text');
  }
}

/** Validates config text; `file` is only used in error messages and Config.file. Throws ConfigError. */
export function parseConfigText(text: string, file: string): Config {
  return new Loader(text, file).load();
}

/**
 * A pool being filled in; every field starts at twemproxy's default (listen and servers: not seen yet). The
 * Sentinel keys are read one by one and become PoolConfig.sentinel at the end.
 */
type PoolDraft = Omit<PoolConfig, 'name' | 'listen' | 'servers' | 'sentinel'> & {
  listen: ListenAddr | null;
  servers: ServerConfig[] | null;
  sentinels: SentinelAddr[] | null;
  sentinelAuth: string | null;
  sentinelUser: string | null;
  sentinelRefresh: number;
};

function newDraft(): PoolDraft {
  return {
    listen: null,
    hash: 'fnv1a_64',
    hashTag: null,
    distribution: 'ketama',
    timeout: 0,
    backlog: 512,
    clientConnections: 0,
    redis: false,
    redisAuth: null,
    redisDb: 0,
    tcpkeepalive: false,
    reuseport: false,
    preconnect: false,
    autoEjectHosts: false,
    serverConnections: 1,
    serverRetryTimeout: 30000,
    serverFailureLimit: 2,
    clientBufferLimit: DEFAULT_CLIENT_BUFFER_LIMIT,
    transactionMaxCommands: 1000,
    serverPrivateConnections: 64,
    redisDatabases: 1,
    redisAdminCommands: false,
    pubsubClientBuffer: 32 * 1024 * 1024,
    failover: null,
    failoverExptime: DEFAULT_FAILOVER_EXPTIME,
    mirrorTo: [],
    warmupFrom: null,
    warmupExptime: DEFAULT_WARMUP_EXPTIME,
    tlsListen: null,
    tlsCertFile: null,
    tlsKeyFile: null,
    tlsCaCertFile: null,
    tlsAuthClients: 'no',
    tlsProtocols: ['TLSv1.2', 'TLSv1.3'],
    tlsCiphers: null,
    tlsCiphersuites: null,
    serverTls: false,
    serverTlsCaCertFile: null,
    serverTlsCertFile: null,
    serverTlsKeyFile: null,
    serverTlsServername: null,
    serverTlsVerify: true,
    redisAuthUser: null,
    clientUsers: null,
    servers: null,
    sentinels: null,
    sentinelAuth: null,
    sentinelUser: null,
    sentinelRefresh: DEFAULT_SENTINEL_REFRESH,
    readPolicy: 'master',
    redisCluster: false,
    clusterRefreshInterval: DEFAULT_CLUSTER_REFRESH,
    clusterMaxRedirects: DEFAULT_CLUSTER_MAX_REDIRECTS,
  };
}

class Loader {
  private readonly text: string;
  private readonly file: string;
  private readonly lines: YAML.LineCounter;
  /** Per pool, the line of each directive (for errors found after the pool was read). */
  private readonly keyLines = new Map<string, Map<string, number>>();
  /** Line of each server entry, for errors found once the whole pool is read. */
  private readonly entryLine = new Map<ServerConfig, number>();

  constructor(text: string, file: string) {
    this.text = text;
    this.file = file;
    this.lines = new YAML.LineCounter();
  }

  load(): Config {
    const tokens = Array.from(new YAML.Parser(this.lines.addNewLine).parse(this.text));
    const composer = new YAML.Composer({ schema: 'failsafe', uniqueKeys: false });
    const docs = Array.from(composer.compose(tokens, false, this.text.length));
    this.rejectDisallowedTokens(tokens, docs);
    for (const doc of docs) {
      const err = doc.errors[0];
      if (err !== undefined) this.fail('EYAML', null, null, err.pos[0], `YAML syntax error: ${err.message}`);
    }
    const doc = docs[0];
    if (doc === undefined || doc.contents === null) this.fail('ENOPOOLS', null, null, null, 'no pools defined (the file is empty)');
    if (docs.length > 1) this.fail('ESTRUCTURE', null, null, null, `contains ${docs.length} YAML documents (expected exactly one)`);
    const root = doc.contents;
    if (!YAML.isMap(root)) {
      this.fail('ESTRUCTURE', null, null, offsetOf(root), `the top level must be a mapping of pool names to pool settings, got ${describe(root)}`);
    }
    if (root.items.length === 0) this.fail('ENOPOOLS', null, null, offsetOf(root), 'no pools defined');

    const pools: PoolConfig[] = [];
    const poolLine = new Map<string, number>();
    for (const pair of root.items) {
      const name = this.keyName(pair, null);
      const line = this.lineOf(offsetOf(pair.key));
      const first = poolLine.get(name);
      if (first !== undefined) {
        this.fail('EDUPPOOL', name, null, offsetOf(pair.key), `defined again (pool names must be unique; first definition at line ${first})`);
      }
      poolLine.set(name, line ?? 0);
      pools.push(this.pool(name, pair));
    }

    // Two pools cannot listen on the same address (twemproxy compares the text; we also catch 0.0.0.0:22121 vs 0.0.0.0:022121).
    const seen = new Map<string, { pool: PoolConfig; text: string; key: string }>();
    for (const p of pools) {
      const addrs: [string, ListenAddr][] = [['listen', p.listen]];
      if (p.tlsListen !== null) addrs.push(['tls_listen', p.tlsListen]);
      for (const [key, l] of addrs) {
        if (l.kind === 'none') continue;
        const k = listenKey(l);
        const other = seen.get(k);
        if (other !== undefined) {
          const same = other.text === l.text ? '' : ` ('${other.text}')`;
          const whose = other.pool === p ? `the ${other.key} address of this pool` : `already the ${other.key === 'listen' ? 'listen' : 'tls_listen'} address of pool '${other.pool.name}'`;
          this.fail('EDUPLISTEN', p.name, key, null, `'${l.text}' is ${whose}${same}`);
        }
        seen.set(k, { pool: p, text: l.text, key });
      }
    }
    this.checkPoolRefs(pools);

    pools.sort((a, b) => compareNames(a.name, b.name));
    return { file: this.file, pools };
  }

  /** failover, mirror_to and warmup_from name other memcache pools of the file; failover chains end. */
  private checkPoolRefs(pools: readonly PoolConfig[]): void {
    const byName = new Map(pools.map((p) => [p.name, p]));
    for (const p of pools) {
      for (const key of POOL_REF_KEYS) {
        const names = key === 'mirror_to' ? p.mirrorTo : [key === 'failover' ? p.failover : p.warmupFrom];
        const seenNames = new Set<string>();
        for (const name of names) {
          if (name === null) continue;
          const why: (reason: string) => never = (reason) => this.failAtKey('EBADPOOLREF', p.name, key, reason);
          if (name === p.name) why(`'${name}' is this pool itself (expected another memcache pool)`);
          if (seenNames.has(name)) why(`'${name}' is listed twice`);
          seenNames.add(name);
          const target = byName.get(name);
          if (target === undefined) why(`'${name}' is not a pool of this file (pools: ${pools.map((x) => x.name).join(', ')})`);
          if (target.redis) why(`'${name}' is a redis pool (expected a memcache pool)`);
        }
      }
    }
    // A failover chain may be long, but must end: a request cannot be sent round in a circle.
    for (const start of pools) {
      const path = [start.name];
      let at = start.failover;
      while (at !== null) {
        if (at === start.name) {
          this.failAtKey('EFAILOVERCYCLE', start.name, 'failover', `failover pools form a cycle: ${[...path, at].join(' -> ')}`);
        }
        if (path.includes(at)) break; // a cycle that does not pass through `start`: reported from one of its own pools
        path.push(at);
        at = byName.get(at)?.failover ?? null;
      }
    }
  }

  /** Fails at the line where `key` was set in `pool` (for checks made after the pool was read). */
  private failAtKey(code: ConfigErrorCode, pool: string, key: string, reason: string): never {
    throw new ConfigError(code, this.file, pool, key, this.keyLines.get(pool)?.get(key) ?? null, reason);
  }

  private pool(name: string, pair: YAML.Pair<unknown, unknown>): PoolConfig {
    const keyOffset = offsetOf(pair.key);
    const value = pair.value;
    if (value === null || value === undefined || (YAML.isScalar(value) && value.value === '')) {
      this.fail('ESTRUCTURE', name, null, keyOffset, "has no settings (expected indented 'key: value' lines such as 'listen: 127.0.0.1:22121')");
    }
    if (!YAML.isMap(value)) {
      this.fail('ESTRUCTURE', name, null, offsetOf(value), `expected the pool settings as indented 'key: value' lines, got ${describe(value)}`);
    }

    const d = newDraft();
    const keyLine = new Map<string, number>();
    this.keyLines.set(name, keyLine);
    for (const item of value.items) {
      const key = this.keyName(item, name);
      const at = offsetOf(item.key);
      const first = keyLine.get(key);
      if (first !== undefined) this.fail('EDUPKEY', name, key, at, `set twice (first at line ${first})`);
      keyLine.set(key, this.lineOf(at) ?? 0);
      const dir = DIRECTIVES.get(key);
      if (dir === undefined) this.fail('EUNKNOWNKEY', name, key, at, unknownKeyReason(key));
      if (dir.type === 'servers') {
        d.servers = this.servers(name, item, at);
        continue;
      }
      if (dir.type === 'pools') {
        d.mirrorTo = this.poolNames(name, key, dir, item, at);
        continue;
      }
      if (dir.type === 'sentinels') {
        d.sentinels = this.sentinels(name, item, at);
        continue;
      }
      if (dir.type === 'users') {
        d.clientUsers = this.users(name, key, dir, item, at);
        continue;
      }
      const v = this.scalar(name, key, dir, item, at);
      const vAt = offsetOf(item.value);
      switch (key) {
        case 'listen':
          d.listen = this.listen(name, v, vAt);
          break;
        case 'hash':
          d.hash = this.hash(name, v, vAt);
          break;
        case 'hash_tag':
          if (Buffer.byteLength(v, 'utf8') !== 2) this.bad('EBADHASHTAG', name, key, vAt, `'${v}' is not a valid hash tag`, dir);
          d.hashTag = Buffer.from(v, 'utf8');
          break;
        case 'distribution':
          d.distribution = this.distribution(name, v, vAt);
          break;
        case 'timeout':
          d.timeout = this.number(name, key, dir, v, vAt);
          break;
        case 'backlog':
          d.backlog = this.number(name, key, dir, v, vAt);
          break;
        case 'client_connections':
          d.clientConnections = this.number(name, key, dir, v, vAt);
          break;
        case 'redis':
          d.redis = this.bool(name, key, v, vAt);
          break;
        case 'redis_auth':
          d.redisAuth = v;
          break;
        case 'redis_db':
          d.redisDb = this.number(name, key, dir, v, vAt);
          break;
        case 'tcpkeepalive':
          d.tcpkeepalive = this.bool(name, key, v, vAt);
          break;
        case 'reuseport':
          d.reuseport = this.bool(name, key, v, vAt);
          break;
        case 'preconnect':
          d.preconnect = this.bool(name, key, v, vAt);
          break;
        case 'auto_eject_hosts':
          d.autoEjectHosts = this.bool(name, key, v, vAt);
          break;
        case 'server_connections':
          d.serverConnections = this.number(name, key, dir, v, vAt);
          if (d.serverConnections === 0) this.fail('EZEROCONNS', name, key, vAt, 'cannot be 0 (expected at least 1 connection per server)');
          break;
        case 'server_retry_timeout':
          d.serverRetryTimeout = this.number(name, key, dir, v, vAt);
          break;
        case 'server_failure_limit':
          d.serverFailureLimit = this.number(name, key, dir, v, vAt);
          break;
        case 'transaction_max_commands':
          d.transactionMaxCommands = this.number(name, key, dir, v, vAt);
          if (d.transactionMaxCommands === 0) this.fail('EBADNUMBER', name, key, vAt, 'cannot be 0 (expected at least 1 command)');
          break;
        case 'pubsub_client_buffer':
          d.pubsubClientBuffer = this.size(name, key, dir, v, vAt);
          if (d.pubsubClientBuffer < MIN_CLIENT_BUFFER_LIMIT) this.fail('EBADNUMBER', name, key, vAt, `'${v}' is too small (expected at least 1mb)`);
          break;
        case 'redis_admin_commands':
          d.redisAdminCommands = this.bool(name, key, v, vAt);
          break;
        case 'redis_databases':
          d.redisDatabases = this.number(name, key, dir, v, vAt);
          if (d.redisDatabases === 0) this.fail('EBADNUMBER', name, key, vAt, 'cannot be 0 (expected at least 1 database)');
          break;
        case 'server_private_connections':
          d.serverPrivateConnections = this.number(name, key, dir, v, vAt);
          break;
        case 'client_buffer_limit':
          d.clientBufferLimit = this.size(name, key, dir, v, vAt);
          if (d.clientBufferLimit < MIN_CLIENT_BUFFER_LIMIT) this.fail('EBADNUMBER', name, key, vAt, `'${v}' is too small (expected at least 1mb)`);
          break;
        case 'failover':
          d.failover = this.poolName(name, key, dir, v, vAt);
          break;
        case 'failover_exptime':
          d.failoverExptime = this.number(name, key, dir, v, vAt);
          if (d.failoverExptime === 0) this.fail('EBADNUMBER', name, key, vAt, "cannot be 0 (memcached reads exptime 0 as 'never expires'; expected at least 1 second)");
          break;
        case 'warmup_from':
          d.warmupFrom = this.poolName(name, key, dir, v, vAt);
          break;
        case 'warmup_exptime':
          d.warmupExptime = this.number(name, key, dir, v, vAt);
          break;
        case 'sentinel_auth':
          d.sentinelAuth = v;
          break;
        case 'sentinel_user':
          d.sentinelUser = v;
          break;
        case 'sentinel_refresh_interval':
          d.sentinelRefresh = this.number(name, key, dir, v, vAt);
          break;
        case 'read_policy':
          d.readPolicy = this.readPolicy(name, v, vAt);
          break;
        case 'redis_cluster':
          d.redisCluster = this.bool(name, key, v, vAt);
          break;
        case 'cluster_refresh_interval':
          d.clusterRefreshInterval = this.number(name, key, dir, v, vAt);
          break;
        case 'cluster_max_redirects':
          d.clusterMaxRedirects = this.number(name, key, dir, v, vAt);
          if (d.clusterMaxRedirects === 0) this.fail('EBADNUMBER', name, key, vAt, 'cannot be 0 (expected at least 1 redirection)');
          break;
        case 'tls_listen': {
          const l = this.listen(name, v, vAt, key);
          if (l.kind === 'none') this.bad('EBADLISTEN', name, key, vAt, "'none' is not a TLS listen address (leave the key out)", dir);
          d.tlsListen = l;
          break;
        }
        case 'tls_cert_file':
          d.tlsCertFile = this.tlsFile(name, key, v, vAt);
          break;
        case 'tls_key_file':
          d.tlsKeyFile = this.tlsFile(name, key, v, vAt);
          break;
        case 'tls_ca_cert_file':
          d.tlsCaCertFile = this.tlsFile(name, key, v, vAt);
          break;
        case 'tls_auth_clients': {
          const a = TLS_AUTH_CLIENTS.find((x) => x === v);
          d.tlsAuthClients = a ?? this.bad('EBADTLS', name, key, vAt, `'${v}' is not a valid value`, dir);
          break;
        }
        case 'tls_protocols':
          d.tlsProtocols = this.tls(name, key, vAt, () => parseProtocols(v));
          break;
        case 'tls_ciphers':
          d.tlsCiphers = v;
          break;
        case 'tls_ciphersuites':
          d.tlsCiphersuites = v;
          break;
        case 'server_tls':
          d.serverTls = this.bool(name, key, v, vAt);
          break;
        case 'server_tls_ca_cert_file':
          d.serverTlsCaCertFile = this.tlsFile(name, key, v, vAt);
          break;
        case 'server_tls_cert_file':
          d.serverTlsCertFile = this.tlsFile(name, key, v, vAt);
          break;
        case 'server_tls_key_file':
          d.serverTlsKeyFile = this.tlsFile(name, key, v, vAt);
          break;
        case 'server_tls_servername':
          if (/\s/.test(v)) this.bad('EBADTLS', name, key, vAt, `'${v}' is not a host name (it has a space)`, dir);
          d.serverTlsServername = v;
          break;
        case 'server_tls_verify':
          d.serverTlsVerify = this.bool(name, key, v, vAt);
          break;
        case 'redis_auth_user':
          if (/\s/.test(v)) this.bad('EBADUSERS', name, key, vAt, `'${v}' is not a user name (it has a space)`, dir);
          d.redisAuthUser = v;
          break;
      }
    }

    // tls_listen may replace the plain listener (a TLS-only pool).
    if (d.listen === null && d.tlsListen !== null) d.listen = { kind: 'none', text: 'none' };
    if (d.listen === null) this.fail('EMISSING', name, 'listen', keyOffset, 'missing (every pool needs one, e.g. listen: 127.0.0.1:22121)');
    if (d.servers === null) this.fail('ENOSERVERS', name, 'servers', keyOffset, "missing (every pool needs a list of servers, e.g. '- 127.0.0.1:6379:1')");
    if (d.redisDatabases > 1 && !d.redis) {
      const at = keyLine.get('redis_databases') ?? null;
      throw new ConfigError('EAUTHNOTREDIS', this.file, name, 'redis_databases', at, "only valid in a redis pool (this pool has no 'redis: true')");
    }
    if (d.redisAuth !== null && !d.redis) {
      const at = keyLine.get('redis_auth') ?? null;
      throw new ConfigError('EAUTHNOTREDIS', this.file, name, 'redis_auth', at, "only valid in a redis pool (this pool has no 'redis: true')");
    }
    this.checkTls(name, d, keyLine);
    this.checkAcl(name, d, keyLine);
    if (d.redis) {
      for (const key of POOL_REF_KEYS) {
        const at = keyLine.get(key);
        if (at !== undefined) throw new ConfigError('EMEMCACHEONLY', this.file, name, key, at, "only valid in a memcache pool (this pool has 'redis: true')");
      }
    }
    this.checkCluster(name, d, keyLine);
    this.checkSentinel(name, d, keyLine);
    const { sentinels, sentinelAuth, sentinelUser, sentinelRefresh, ...rest } = d;
    return {
      ...rest,
      name,
      listen: d.listen,
      servers: d.servers,
      sentinel: sentinels === null ? null : { addrs: sentinels, auth: sentinelAuth, user: sentinelUser, refreshInterval: sentinelRefresh },
    };
  }

  /** A TLS file, read now (every reload reads it again): unreadable is an error naming the file. */
  private tlsFile(pool: string, key: string, v: string, at: number | null): TlsFile {
    return this.tls(pool, key, at, () => readTlsFile(v));
  }

  /** Runs a TLS check; its TlsConfigError becomes this key's ConfigError. */
  private tls<T>(pool: string, key: string, at: number | null, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof TlsConfigError) this.fail('EBADTLS', pool, key, at, e.message);
      throw e;
    }
  }

  /**
   * The TLS keys of a pool fit together: a TLS listener has a certificate and its key (valid now), a CA when client
   * certificates are asked for; server-side files only with server_tls; OpenSSL takes the versions and ciphers.
   */
  private checkTls(pool: string, d: PoolDraft, keyLine: Map<string, number>): void {
    const at = (key: string): number | null => keyLine.get(key) ?? null;
    const need = (key: string, why: string): never => {
      throw new ConfigError('ETLSPAIR', this.file, pool, key, at(key), why);
    };
    // tls() takes an offset; these checks come after the pool was read, so they carry the key's line instead.
    const check = <T>(key: string, f: () => T): T => {
      try {
        return f();
      } catch (e) {
        if (e instanceof TlsConfigError) throw new ConfigError('EBADTLS', this.file, pool, key, at(key), e.message);
        throw e;
      }
    };
    if (d.tlsListen !== null) {
      const certFile = d.tlsCertFile;
      const keyFile = d.tlsKeyFile;
      if (certFile === null) return need('tls_listen', 'needs tls_cert_file and tls_key_file (the certificate the listener presents)');
      if (keyFile === null) return need('tls_listen', 'needs tls_key_file (the private key of tls_cert_file)');
      if (d.tlsAuthClients !== 'no' && d.tlsCaCertFile === null) need('tls_auth_clients', `'${d.tlsAuthClients}' needs tls_ca_cert_file (the CA client certificates are checked against)`);
      const cert = check('tls_cert_file', () => checkCertificate(certFile));
      check('tls_key_file', () => checkKeyPair(keyFile, cert, certFile));
      const ca = d.tlsCaCertFile;
      if (ca !== null) check('tls_ca_cert_file', () => checkCaFile(ca));
    } else {
      for (const key of ['tls_cert_file', 'tls_key_file', 'tls_ca_cert_file', 'tls_auth_clients']) {
        if (keyLine.has(key)) need(key, 'only used with tls_listen (the pool has no TLS listener)');
      }
    }
    if (d.serverTls) {
      const sc = d.serverTlsCertFile;
      const sk = d.serverTlsKeyFile;
      if (sc !== null && sk === null) need('server_tls_cert_file', 'needs server_tls_key_file (its private key)');
      if (sk !== null && sc === null) need('server_tls_key_file', 'needs server_tls_cert_file (the certificate it belongs to)');
      if (sc !== null && sk !== null) {
        const cert = check('server_tls_cert_file', () => checkCertificate(sc));
        check('server_tls_key_file', () => checkKeyPair(sk, cert, sc));
      }
      const ca = d.serverTlsCaCertFile;
      if (ca !== null) check('server_tls_ca_cert_file', () => checkCaFile(ca));
      if (d.serverTlsVerify && d.serverTlsServername === null && (d.servers ?? []).some((s) => s.unixPath !== null)) {
        need('server_tls', 'a unix socket server has no host name to check its certificate against: set server_tls_servername (or server_tls_verify: false)');
      }
    } else {
      for (const key of ['server_tls_ca_cert_file', 'server_tls_cert_file', 'server_tls_key_file', 'server_tls_servername', 'server_tls_verify']) {
        if (keyLine.has(key)) need(key, 'only used with server_tls: true');
      }
    }
    const key = keyLine.has('tls_ciphers') ? 'tls_ciphers' : keyLine.has('tls_ciphersuites') ? 'tls_ciphersuites' : 'tls_protocols';
    check(key, () => checkParams(tlsParams(d.tlsProtocols, d.tlsCiphers, d.tlsCiphersuites)));
  }

  /** redis_auth_user goes with redis_auth; ACL keys only in a redis pool. */
  private checkAcl(pool: string, d: PoolDraft, keyLine: Map<string, number>): void {
    for (const key of ['redis_auth_user', 'client_users']) {
      if (keyLine.has(key) && !d.redis) throw new ConfigError('EAUTHNOTREDIS', this.file, pool, key, keyLine.get(key) ?? null, "only valid in a redis pool (this pool has no 'redis: true')");
    }
    if (d.redisAuthUser !== null && d.redisAuth === null) {
      throw new ConfigError('ETLSPAIR', this.file, pool, 'redis_auth_user', keyLine.get('redis_auth_user') ?? null, 'needs redis_auth (the password sent with the user name)');
    }
  }

  /** client_users: a list of {name, password, mode, key_prefixes} mappings (flow or block style). */
  private users(pool: string, key: string, dir: Directive, item: YAML.Pair<unknown, unknown>, keyAt: number | null): ClientUserConfig[] {
    const v = item.value;
    const bad = (at: number | null, why: string): never => this.fail('EBADUSERS', pool, key, at ?? keyAt, `${why} (expected ${dir.expect})`);
    if (!YAML.isSeq(v) || v.items.length === 0) return bad(offsetOf(v), `got ${describe(v)}`);
    const out: ClientUserConfig[] = [];
    for (const entry of v.items) {
      const at = offsetOf(entry);
      if (!YAML.isMap(entry)) return bad(at, `a user must be a mapping, got ${describe(entry)}`);
      const u: { name: string | null; password: string | null; mode: 'read' | 'write'; keyPrefixes: string[] } = { name: null, password: null, mode: 'write', keyPrefixes: [] };
      for (const f of entry.items) {
        const fk = scalarString(f.key);
        const fAt = offsetOf(f.value) ?? offsetOf(f.key) ?? at;
        if (fk === 'key_prefixes') {
          const list = YAML.isSeq(f.value) ? f.value.items : [f.value];
          for (const x of list) {
            if (!YAML.isScalar(x) || typeof x.value !== 'string' || x.value === '') return bad(offsetOf(x) ?? fAt, `key_prefixes: expected prefixes, got ${describe(x)}`);
            u.keyPrefixes.push(x.value);
          }
          continue;
        }
        const fv = scalarString(f.value);
        if (fv === null) return bad(fAt, `'${fk ?? '?'}' has no value`);
        if (fk === 'name') u.name = fv;
        else if (fk === 'password') u.password = fv;
        else if (fk === 'mode') {
          if (fv !== 'read' && fv !== 'write') return bad(fAt, `mode '${fv}' is not read or write`);
          u.mode = fv;
        } else return bad(offsetOf(f.key) ?? at, `'${fk ?? '?'}' is not a user field (name, password, mode, key_prefixes)`);
      }
      if (u.name === null || u.password === null) return bad(at, 'every user needs a name and a password');
      if (/\s/.test(u.name)) return bad(at, `user name '${u.name}' has a space`);
      if (out.some((x) => x.name === u.name)) return bad(at, `user '${u.name}' is listed twice`);
      out.push({ name: u.name, password: u.password, mode: u.mode, keyPrefixes: u.keyPrefixes });
    }
    return out;
  }

  /**
   * A pool with `sentinels:` follows Sentinel: each server's name is its Sentinel master name (so a failover
   * never moves a key), and only redis pools have one. The Sentinel keys make no sense without `sentinels:`.
   */
  private checkSentinel(pool: string, d: PoolDraft, keyLine: ReadonlyMap<string, number>): void {
    const lineOf = (key: string): number | null => keyLine.get(key) ?? null;
    if (d.sentinels === null) {
      for (const key of SENTINEL_KEYS) {
        if (!keyLine.has(key) || (key === 'read_policy' && d.redisCluster)) continue;
        const why = key === 'read_policy' ? 'replicas come from Sentinel' : 'it configures how nutmeg talks to the sentinels';
        throw new ConfigError('ENOSENTINELS', this.file, pool, key, lineOf(key), `only valid in a pool with 'sentinels:' (${why})`);
      }
      return;
    }
    if (!d.redis) {
      throw new ConfigError('ESENTINELNOTREDIS', this.file, pool, 'sentinels', lineOf('sentinels'),
        "only valid in a redis pool (this pool has no 'redis: true'; Sentinel manages Redis masters)");
    }
    if (d.sentinelUser !== null && d.sentinelAuth === null) {
      throw new ConfigError('EMISSING', this.file, pool, 'sentinel_user', lineOf('sentinel_user'), 'needs sentinel_auth (the password of that user)');
    }
    for (const s of d.servers ?? []) {
      if (s.text.includes(' ')) continue;
      throw new ConfigError('ESENTINELNAME', this.file, pool, 'servers', this.entryLine.get(s) ?? lineOf('servers'),
        `'${s.text}' has no name: with 'sentinels:' each server's name is its Sentinel master name (e.g. '${s.text} shard1')`);
    }
  }

  /**
   * `redis_cluster: true`: the servers are seed nodes, the cluster places keys (CRC16 slots) and fails over, so
   * the keys that choose placement or ejection make no sense; Redis Cluster has only database 0.
   */
  private checkCluster(pool: string, d: PoolDraft, keyLine: ReadonlyMap<string, number>): void {
    const lineOf = (key: string): number | null => keyLine.get(key) ?? null;
    if (!d.redisCluster) {
      for (const key of CLUSTER_KEYS) {
        if (keyLine.has(key)) throw new ConfigError('ECLUSTER', this.file, pool, key, lineOf(key), "only valid in a pool with 'redis_cluster: true'");
      }
      return;
    }
    if (!d.redis) {
      throw new ConfigError('ECLUSTER', this.file, pool, 'redis_cluster', lineOf('redis_cluster'), "only valid in a redis pool (this pool has no 'redis: true')");
    }
    for (const [key, why] of NOT_IN_CLUSTER) {
      if (keyLine.has(key)) throw new ConfigError('ECLUSTER', this.file, pool, key, lineOf(key), `not valid with 'redis_cluster: true' (${why})`);
    }
    if (d.redisDb !== 0) {
      throw new ConfigError('ECLUSTER', this.file, pool, 'redis_db', lineOf('redis_db'), `${d.redisDb} is not valid with 'redis_cluster: true' (Redis Cluster has only database 0)`);
    }
    if (d.redisDatabases !== 1) {
      throw new ConfigError('ECLUSTER', this.file, pool, 'redis_databases', lineOf('redis_databases'), "not valid with 'redis_cluster: true' (Redis Cluster has only database 0)");
    }
    if (!CLUSTER_READ_POLICIES.includes(d.readPolicy)) {
      throw new ConfigError('ECLUSTER', this.file, pool, 'read_policy', lineOf('read_policy'),
        `'${d.readPolicy}' is not valid with 'redis_cluster: true' (expected one of: ${CLUSTER_READ_POLICIES.join(', ')})`);
    }
  }

  private readPolicy(pool: string, v: string, at: number | null): ReadPolicy {
    for (const p of READ_POLICIES) if (p === v) return p;
    return this.bad('EBADPOLICY', pool, 'read_policy', at, `'${v}' is not a valid read policy`, DIRECTIVES.get('read_policy'));
  }

  /** `sentinels:` entries: the servers' syntax (PR #324), weight and name ignored; each address once. */
  private sentinels(pool: string, item: YAML.Pair<unknown, unknown>, keyAt: number | null): SentinelAddr[] {
    const key = 'sentinels';
    const v = item.value;
    const empty = "no sentinels listed (expected indented '- 127.0.0.1:26379:1' lines)";
    if (v === null || v === undefined || (YAML.isScalar(v) && v.value === '')) this.fail('ENOSERVERS', pool, key, keyAt, empty);
    if (!YAML.isSeq(v)) this.fail('ESTRUCTURE', pool, key, offsetOf(v), `expected ${DIRECTIVES.get(key)?.expect ?? ''}, got ${describe(v)}`);
    if (v.items.length === 0) this.fail('ENOSERVERS', pool, key, keyAt, empty);
    const out: SentinelAddr[] = [];
    const seen = new Map<string, string>();
    for (const entry of v.items) {
      const at = offsetOf(entry) ?? keyAt;
      if (!YAML.isScalar(entry) || typeof entry.value !== 'string' || entry.value === '') {
        this.fail('ESTRUCTURE', pool, key, at, `expected a sentinel entry ("host:port:weight"), got ${describe(entry)}`);
      }
      const s = this.server(pool, entry.value, at, key);
      const addr = s.unixPath ?? `${s.host.toLowerCase()}:${s.port}`;
      const prev = seen.get(addr);
      if (prev !== undefined) this.fail('EDUPSERVER', pool, key, at, `'${s.text}' is the same sentinel as '${prev}' (each sentinel once)`);
      seen.set(addr, s.text);
      out.push({ host: s.host, port: s.port, unixPath: s.unixPath, text: s.text });
    }
    return out;
  }

  /** The string value of a single-value directive; rejects lists, mappings and empty values. */
  private scalar(pool: string, key: string, dir: Directive, item: YAML.Pair<unknown, unknown>, keyAt: number | null): string {
    const v = item.value;
    if (v === null || v === undefined) this.fail('EEMPTY', pool, key, keyAt, `empty value (expected ${dir.expect})`);
    if (!YAML.isScalar(v) || typeof v.value !== 'string') {
      this.fail('ESTRUCTURE', pool, key, offsetOf(v), `expected a single value (${dir.expect}), got ${describe(v)}`);
    }
    if (v.value === '') this.fail('EEMPTY', pool, key, offsetOf(v) ?? keyAt, `empty value (expected ${dir.expect})`);
    return v.value;
  }

  private servers(pool: string, item: YAML.Pair<unknown, unknown>, keyAt: number | null): ServerConfig[] {
    const v = item.value;
    const dir = DIRECTIVES.get('servers');
    const expect = dir === undefined ? '' : dir.expect;
    if (v === null || v === undefined || (YAML.isScalar(v) && v.value === '')) {
      this.fail('ENOSERVERS', pool, 'servers', keyAt, "no servers listed (expected indented '- 127.0.0.1:6379:1' lines)");
    }
    if (!YAML.isSeq(v)) this.fail('ESTRUCTURE', pool, 'servers', offsetOf(v), `expected ${expect}, got ${describe(v)}`);
    if (v.items.length === 0) this.fail('ENOSERVERS', pool, 'servers', keyAt, "no servers listed (expected indented '- 127.0.0.1:6379:1' lines)");

    const out: ServerConfig[] = [];
    const byName = new Map<string, ServerConfig>();
    for (const entry of v.items) {
      const at = offsetOf(entry) ?? keyAt;
      if (entry === null || entry === undefined || (YAML.isScalar(entry) && entry.value === '')) {
        this.fail('EEMPTY', pool, 'servers', at, 'empty server entry (expected "host:port:weight [name]" or "/path/to/socket:weight [name]")');
      }
      if (!YAML.isScalar(entry) || typeof entry.value !== 'string') {
        const hint = YAML.isMap(entry) ? "; a ': ' inside an entry makes it a mapping, write host:port:weight without spaces around ':'" : '';
        this.fail('ESTRUCTURE', pool, 'servers', at, `expected a server entry ("host:port:weight [name]"), got ${describe(entry)}${hint}`);
      }
      const s = this.server(pool, entry.value, at);
      const prev = byName.get(s.name);
      if (prev !== undefined) {
        this.fail('EDUPSERVER', pool, 'servers', at,
          `'${s.text}' has the same name '${s.name}' as '${prev.text}' (server names must be unique; give each an explicit name after a space)`);
      }
      byName.set(s.name, s);
      const line = this.lineOf(at);
      if (line !== null) this.entryLine.set(s, line);
      out.push(s);
    }
    out.sort((a, b) => compareNames(a.name, b.name));
    return out;
  }

  /** `host:port:weight [name]` or `/path:weight [name]`, parsed from the right like twemproxy. */
  private server(pool: string, entry: string, at: number | null, key = 'servers'): ServerConfig {
    const format = '(expected "host:port:weight [name]" or "/path/to/socket:weight [name]")';
    let name: string | null = null;
    let pname = entry;
    const sp = entry.lastIndexOf(' ');
    if (sp >= 0) {
      name = entry.slice(sp + 1);
      pname = entry.slice(0, sp);
      if (name === '') this.fail('EBADSERVER', pool, key, at, `'${entry}' ends with a space but has no name after it ${format}`);
    }
    const unix = entry.charCodeAt(0) === 0x2f; // '/'
    const c1 = pname.lastIndexOf(':');
    if (c1 < 0) this.fail('EBADSERVER', pool, key, at, `'${entry}' is not a valid server ${format}`);
    const weightText = pname.slice(c1 + 1);
    const rest = pname.slice(0, c1);
    let host = '';
    let portText = '';
    if (unix) {
      if (rest.includes(':')) {
        this.fail('EBADSERVER', pool, key, at, `'${entry}' is not a valid server: a unix socket path cannot contain ':' (expected "/path/to/socket:weight [name]")`);
      }
    } else {
      const c2 = rest.lastIndexOf(':');
      if (c2 < 0) this.fail('EBADSERVER', pool, key, at, `'${entry}' is not a valid server: it needs host, port and weight ${format}`);
      host = rest.slice(0, c2);
      portText = rest.slice(c2 + 1);
    }
    const weight = atoi(weightText);
    if (weight < 0) {
      const hint = /\s/.test(weightText) ? '; only one space is allowed, before the name' : '';
      this.fail('EBADWEIGHT', pool, key, at, `'${entry}' has an invalid weight '${weightText}' (expected a positive integer${hint})`);
    }
    if (weight === 0) this.fail('EZEROWEIGHT', pool, key, at, `'${entry}' has a zero weight (expected a positive integer)`);
    if (unix) {
      return { name: name ?? `${rest}:`, host: '', port: 0, unixPath: rest, weight, text: entry };
    }
    const port = atoi(portText);
    if (port < 1 || port > 65535) this.fail('EBADPORT', pool, key, at, `'${entry}' has an invalid port '${portText}' (expected 1..65535)`);
    if (host === '') this.fail('EBADSERVER', pool, key, at, `'${entry}' has no host before the port ${format}`);
    if (/\s/.test(host)) this.fail('EBADSERVER', pool, key, at, `'${entry}' has a space inside the host; only one space is allowed, before the name`);
    if (name === null) name = port === KETAMA_DEFAULT_PORT ? host : `${host}:${portText}`;
    return { name, host: unbracket(host), port, unixPath: null, weight, text: entry };
  }

  private listen(pool: string, v: string, at: number | null, key = 'listen'): ListenAddr {
    if (v === 'none') return { kind: 'none', text: 'none' };
    if (v.charCodeAt(0) === 0x2f) {
      const sp = v.lastIndexOf(' ');
      if (sp < 0) return { kind: 'unix', path: v, perm: 0, text: v };
      const permText = v.slice(sp + 1);
      const perm = /^[0-7]{1,4}$/.test(permText) ? parseInt(permText, 8) : -1;
      if (perm < 0 || perm > 0o777) {
        this.fail('EBADPERM', pool, key, at, `'${v}' has an invalid permission '${permText}' (expected octal digits up to 0777, e.g. 0666)`);
      }
      return { kind: 'unix', path: v.slice(0, sp), perm, text: v };
    }
    const c = v.lastIndexOf(':');
    if (c < 0) this.fail('EBADLISTEN', pool, key, at, `'${v}' is not a valid listen address (expected ${DIRECTIVES.get('listen')?.expect ?? ''})`);
    const host = v.slice(0, c);
    const portText = v.slice(c + 1);
    const port = atoi(portText);
    if (port < 1 || port > 65535) this.fail('EBADPORT', pool, key, at, `'${v}' has an invalid port '${portText}' (expected 1..65535)`);
    if (host === '') this.fail('EBADLISTEN', pool, key, at, `'${v}' has no host before the ':' (use e.g. 0.0.0.0:${port} for all interfaces)`);
    if (/\s/.test(host)) this.fail('EBADLISTEN', pool, key, at, `'${v}' has a space inside the host`);
    return { kind: 'tcp', host: unbracket(host), port, text: v };
  }

  /** A pool name as a value: the characters a pool name may have, checked against the file's pools later. */
  private poolName(pool: string, key: string, dir: Directive, v: string, at: number | null): string {
    if (/\s/.test(v)) this.bad('EBADPOOLREF', pool, key, at, `'${v}' is not a pool name (it has a space)`, dir);
    return v;
  }

  /** mirror_to: one name, a '- name' list or a [a, b] flow list (the only place a flow sequence is allowed). */
  private poolNames(pool: string, key: string, dir: Directive, item: YAML.Pair<unknown, unknown>, keyAt: number | null): string[] {
    const v = item.value;
    if (v === null || v === undefined || (YAML.isScalar(v) && v.value === '')) this.fail('EEMPTY', pool, key, keyAt, `empty value (expected ${dir.expect})`);
    if (YAML.isScalar(v) && typeof v.value === 'string') return [this.poolName(pool, key, dir, v.value, offsetOf(v))];
    if (!YAML.isSeq(v)) this.fail('ESTRUCTURE', pool, key, offsetOf(v), `expected ${dir.expect}, got ${describe(v)}`);
    const out: string[] = [];
    for (const entry of v.items) {
      if (!YAML.isScalar(entry) || typeof entry.value !== 'string' || entry.value === '') {
        this.fail('ESTRUCTURE', pool, key, offsetOf(entry) ?? keyAt, `expected a pool name, got ${describe(entry)}`);
      }
      out.push(this.poolName(pool, key, dir, entry.value, offsetOf(entry)));
    }
    return out;
  }

  private hash(pool: string, v: string, at: number | null): HashName {
    for (const h of HASH_NAMES) if (h === v) return h;
    return this.bad('EBADHASH', pool, 'hash', at, `'${v}' is not a valid hash`, DIRECTIVES.get('hash'));
  }

  private distribution(pool: string, v: string, at: number | null): DistributionName {
    for (const n of DISTRIBUTION_NAMES) if (n === v) return n;
    return this.bad('EBADDIST', pool, 'distribution', at, `'${v}' is not a valid distribution`, DIRECTIVES.get('distribution'));
  }

  private number(pool: string, key: string, dir: Directive, v: string, at: number | null): number {
    if (!/^[0-9]+$/.test(v)) this.bad('EBADNUMBER', pool, key, at, `'${v}' is not a number`, dir);
    const n = atoi(v);
    if (n < 0) this.fail('EBADNUMBER', pool, key, at, `'${v}' is too large (maximum ${INT_MAX})`);
    return n;
  }

  /** Bytes, as redis.conf writes sizes: digits with an optional k/kb/m/mb/g/gb (1024-based, any case). */
  private size(pool: string, key: string, dir: Directive, v: string, at: number | null): number {
    const m = /^([0-9]+)(k|kb|m|mb|g|gb)?$/i.exec(v);
    if (m === null) return this.bad('EBADNUMBER', pool, key, at, `'${v}' is not a size`, dir);
    const unit = (m[2] ?? '').toLowerCase().charAt(0);
    const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : unit === 'g' ? 1024 * 1024 * 1024 : 1);
    if (!Number.isSafeInteger(n) || n > 2 ** 48) this.fail('EBADNUMBER', pool, key, at, `'${v}' is too large`);
    return n;
  }

  private bool(pool: string, key: string, v: string, at: number | null): boolean {
    if (v === 'true') return true;
    if (v === 'false') return false;
    return this.fail('EBADBOOL', pool, key, at, `'${v}' is not a boolean (expected true or false)`);
  }

  /** The key of a mapping entry as a non-empty string. `pool` null means a pool name at the top level. */
  private keyName(pair: YAML.Pair<unknown, unknown>, pool: string | null): string {
    const k = pair.key;
    const what = pool === null ? 'pool name' : 'directive name';
    if (!YAML.isScalar(k) || typeof k.value !== 'string') {
      this.fail('ESTRUCTURE', pool, null, offsetOf(k) ?? offsetOf(pair.value), `expected a ${what}, got ${describe(k)}`);
    }
    if (k.value === '') this.fail('ESTRUCTURE', pool, null, offsetOf(k), `empty ${what}`);
    return k.value;
  }

  private bad(code: ConfigErrorCode, pool: string, key: string, at: number | null, what: string, dir: Directive | undefined): never {
    return this.fail(code, pool, key, at, dir === undefined ? what : `${what} (expected ${dir.expect})`);
  }

  private fail(code: ConfigErrorCode, pool: string | null, key: string | null, at: number | null | undefined, reason: string): never {
    throw new ConfigError(code, this.file, pool, key, at === null || at === undefined ? null : this.lineOf(at), reason);
  }

  private lineOf(offset: number | null): number | null {
    return offset === null ? null : this.lines.linePos(offset).line;
  }

  /** Finds the first token twemproxy's libyaml loop would reject. The CST is small; walk it generically. */
  private rejectDisallowedTokens(tokens: readonly unknown[], docs: readonly YAML.Document.Parsed[]): void {
    const found: { offset: number; type: string; source: string }[] = [];
    const walk = (node: unknown): void => {
      if (typeof node !== 'object' || node === null) return;
      if (Array.isArray(node)) {
        for (const n of node) walk(n);
        return;
      }
      const rec = node as Record<string, unknown>;
      const type = rec['type'];
      const offset = rec['offset'];
      if (typeof type === 'string' && typeof offset === 'number' && DISALLOWED_TOKENS.has(type)) {
        const src = rec['source'];
        found.push({ offset, type, source: typeof src === 'string' ? src : '' });
      }
      for (const k of Object.keys(rec)) if (k !== 'source') walk(rec[k]);
    };
    walk(tokens);
    found.sort((a, b) => a.offset - b.offset);
    const root = docs[0]?.contents;
    for (const t of found) {
      // Name the pool and directive around the token when the document could still be composed.
      const poolPair = YAML.isMap(root) ? pairAt(root.items, t.offset) : null;
      const pool = poolPair === null ? null : scalarString(poolPair.key);
      const keyPair = poolPair !== null && YAML.isMap(poolPair.value) ? pairAt(poolPair.value.items, t.offset) : null;
      const key = keyPair === null ? null : scalarString(keyPair.key);
      // `mirror_to: [a, b]` as the spec writes it: the list itself, not something nested in it.
      if (t.type === 'flow-seq-start' && key === 'mirror_to' && keyPair !== null && offsetOf(keyPair.value) === t.offset) continue;
      // client_users may be written as the spec writes it: '- {name: r, password: p, key_prefixes: ["app:"]}'.
      if ((t.type === 'flow-seq-start' || t.type === 'flow-map-start') && key === 'client_users') continue;
      const explain = DISALLOWED_TOKENS.get(t.type);
      const reason = explain === undefined ? `'${t.source}' is not allowed` : explain(t.source);
      this.fail('EYAMLFEATURE', pool, pool === null ? null : key, t.offset, reason);
    }
  }
}

/** The last entry whose key starts at or before `offset` (entries are in text order). */
function pairAt(items: readonly YAML.Pair<unknown, unknown>[], offset: number): YAML.Pair<unknown, unknown> | null {
  let found: YAML.Pair<unknown, unknown> | null = null;
  for (const p of items) {
    const start = offsetOf(p.key);
    if (start === null || start > offset) break;
    found = p;
  }
  return found;
}

function scalarString(node: unknown): string | null {
  return YAML.isScalar(node) && typeof node.value === 'string' && node.value !== '' ? node.value : null;
}

/** twemproxy's nc_atoi: decimal digits only, else -1; we also give -1 above INT_MAX instead of wrapping. */
function atoi(s: string): number {
  if (!/^[0-9]+$/.test(s)) return -1;
  const n = Number(s);
  return n > INT_MAX ? -1 : n;
}

function unbracket(host: string): string {
  return host.length > 2 && host.charCodeAt(0) === 0x5b && host.charCodeAt(host.length - 1) === 0x5d ? host.slice(1, -1) : host;
}

function listenKey(l: ListenAddr): string {
  return l.kind === 'unix' ? `unix ${l.path}` : l.kind === 'tcp' ? `tcp ${l.host.toLowerCase()} ${l.port}` : 'none';
}

function offsetOf(node: unknown): number | null {
  if (YAML.isNode(node) && node.range) return node.range[0];
  return null;
}

function describe(node: unknown): string {
  if (YAML.isMap(node)) return 'a mapping';
  if (YAML.isSeq(node)) return 'a list';
  if (YAML.isScalar(node)) return `the value '${String(node.value)}'`;
  return 'nothing';
}

function unknownKeyReason(key: string): string {
  if (key === 'sentinel_rewrite_config') return 'unknown directive (nutmeg follows Sentinel at run time and never rewrites its configuration file)';
  let best = '';
  let bestD = Infinity;
  for (const k of DIRECTIVES.keys()) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  if (bestD <= 2 || (bestD <= 4 && key.length > 8)) return `unknown directive (did you mean '${best}'?)`;
  return `unknown directive (expected one of: ${Array.from(DIRECTIVES.keys()).join(', ')})`;
}

function editDistance(a: string, b: string): number {
  let prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const cur = new Array<number>(b.length + 1);
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
