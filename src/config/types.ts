// Start-up, config stage: the validated shape of a nutcracker.yml, as consumed by listeners, routers and server pools.

import type { HashName } from '../route/hash/index';

export type { HashName } from '../route/hash/index';

export type DistributionName = 'ketama' | 'modula' | 'random';
export const DISTRIBUTION_NAMES: readonly DistributionName[] = ['ketama', 'modula', 'random'];

/**
 * `text` is the `listen:` value as written. tcp `host` has [] removed from a bracketed IPv6 literal.
 * `none`: the pool has no listener (nutmeg's own: a memcache pool used only as a failover, mirror or warm-up target).
 */
export type ListenAddr =
  | { kind: 'tcp'; host: string; port: number; text: string }
  | { kind: 'unix'; path: string; perm: number /* 0 = leave the mode alone */; text: string }
  | { kind: 'none'; text: 'none' };

/** An address a listener binds (every ListenAddr but `none`). */
export type BoundAddr = Exclude<ListenAddr, { kind: 'none' }>;

/**
 * One `servers:` entry. `name` is what ketama hashes, stats report and duplicates compare:
 * the explicit name, else the host alone for port 11211, else `host:port` as written, else `path:` for unix sockets.
 * Unix entries have host '' and port 0.
 */
export interface ServerConfig {
  name: string;
  host: string;
  port: number;
  unixPath: string | null;
  weight: number;
  text: string; // the entry as written
}

/** Where replica-eligible reads go in a pool with sentinels (Envoy's names); `master` = no replica reads. */
export type ReadPolicy = 'master' | 'prefer_master' | 'replica' | 'prefer_replica' | 'any';
export const READ_POLICIES: readonly ReadPolicy[] = ['master', 'prefer_master', 'replica', 'prefer_replica', 'any'];
/** The read policies a Redis Cluster pool knows (replicas are asked with READONLY). */
export const CLUSTER_READ_POLICIES: readonly ReadPolicy[] = ['master', 'replica', 'prefer_replica'];

/** One `sentinels:` entry (same syntax as a server; its weight and name are ignored). */
export interface SentinelAddr {
  host: string;
  port: number;
  unixPath: string | null;
  text: string; // the entry as written
}

/** A pool's Sentinel settings (twemproxy PR #324's `sentinels:` list and nutmeg's keys around it). */
export interface SentinelConfig {
  /** In the configured order. */
  addrs: SentinelAddr[];
  /** sentinel_auth: AUTH to the sentinels; sentinel_user makes it `AUTH user password` (ACL, Redis 6.2+). */
  auth: string | null;
  user: string | null;
  /** ms between periodic re-queries of every master name, 0 = none (events only). */
  refreshInterval: number;
}

/** A certificate, key or CA file as read (at start and at every reload: rotation without a restart). */
export interface TlsFile {
  path: string;
  pem: Buffer;
}

/** tls_auth_clients, as redis.conf's tls-auth-clients: client certificates required, checked when given, or not asked for. */
export type TlsAuthClients = 'no' | 'optional' | 'yes';
export const TLS_AUTH_CLIENTS: readonly TlsAuthClients[] = ['no', 'optional', 'yes'];

/** tls_protocols: the TLS versions nutmeg speaks on both sides (TLS 1.2+ only). */
export type TlsProtocol = 'TLSv1.2' | 'TLSv1.3';
export const TLS_PROTOCOLS: readonly TlsProtocol[] = ['TLSv1.2', 'TLSv1.3'];

/** One `client_users` entry: a proxy-side user (predixy-like); `read` users may run only reads. */
export interface ClientUserConfig {
  name: string;
  password: string;
  mode: 'read' | 'write';
  /** Every key argument must start with one of these; empty = any key. */
  keyPrefixes: string[];
}

export interface PoolConfig {
  name: string;
  listen: ListenAddr;
  /** A second, TLS-only listener of the pool (like redis.conf's tls-port beside port); null = none. */
  tlsListen: BoundAddr | null;
  tlsCertFile: TlsFile | null;
  tlsKeyFile: TlsFile | null;
  tlsCaCertFile: TlsFile | null;
  tlsAuthClients: TlsAuthClients;
  tlsProtocols: TlsProtocol[];
  /** TLS 1.2 cipher list (OpenSSL syntax), null = Node's default. */
  tlsCiphers: string | null;
  /** TLS 1.3 cipher suites (OpenSSL syntax), null = Node's default. */
  tlsCiphersuites: string | null;
  /** Server connections speak TLS. */
  serverTls: boolean;
  /** CA for the servers' certificates; null = the system CAs. */
  serverTlsCaCertFile: TlsFile | null;
  /** Client certificate (mTLS) nutmeg presents to servers, with its key; null = none. */
  serverTlsCertFile: TlsFile | null;
  serverTlsKeyFile: TlsFile | null;
  /** SNI and the name checked in the servers' certificates; null = each server's host. */
  serverTlsServername: string | null;
  serverTlsVerify: boolean;
  /** Redis 6 ACL user sent with redis_auth (`AUTH user pass`); null = `AUTH pass`. */
  redisAuthUser: string | null;
  /** Proxy-side users; when set they replace redis_auth for clients. null = none. */
  clientUsers: ClientUserConfig[] | null;
  hash: HashName;
  hashTag: Buffer | null;
  distribution: DistributionName;
  timeout: number; // ms, 0 = none (twemproxy -1 and 0 both mean none)
  backlog: number;
  clientConnections: number; // 0 = unlimited; twemproxy parses it but never enforces it
  redis: boolean;
  redisAuth: string | null;
  redisDb: number;
  tcpkeepalive: boolean;
  reuseport: boolean;
  preconnect: boolean;
  autoEjectHosts: boolean;
  serverConnections: number;
  serverRetryTimeout: number;
  serverFailureLimit: number;
  /** Held request bytes + unread reply bytes past which a client is closed (nutmeg's own key). */
  clientBufferLimit: number;
  /** The most commands one MULTI may queue (nutmeg's own key). */
  transactionMaxCommands: number;
  /** The most connections per server leased to clients (WATCH, blocking commands); nutmeg's own key. */
  serverPrivateConnections: number;
  /** Databases clients may SELECT (0..N-1); 1 = only redis_db (nutmeg's own key). */
  redisDatabases: number;
  /** FLUSHDB / FLUSHALL allowed (sent to every server); nutmeg's own key. */
  redisAdminCommands: boolean;
  /** Unread pub/sub bytes past which a subscriber is closed; nutmeg's own key. */
  pubsubClientBuffer: number;
  // nutmeg's own memcache routes (wave2 §6): other pools of the same config, by name
  /** Pool that takes requests whose server failed (connect error, timeout, ejected); null = none. */
  failover: string | null;
  /** Seconds: writes sent to the failover pool expire after at most this long. */
  failoverExptime: number;
  /** Pools that get a fire-and-forget copy of every write. */
  mirrorTo: string[];
  /** Pool a get miss is retried on; a hit there is copied here with `add`. null = none. */
  warmupFrom: string | null;
  /** Seconds: the exptime of the copies warm-up writes here (0 = no expiry). */
  warmupExptime: number;
  /** `sentinels:` and its keys; null = a pool of fixed addresses. */
  sentinel: SentinelConfig | null;
  readPolicy: ReadPolicy;
  /** redis_cluster: the servers are seed nodes of a Redis Cluster; keys go by slot (CRC16 mod 16384, {tag}). */
  redisCluster: boolean;
  /** ms between periodic CLUSTER SLOTS refreshes (0 = only when triggered). */
  clusterRefreshInterval: number;
  /** The most times one request is sent again after MOVED, ASK or TRYAGAIN. */
  clusterMaxRedirects: number;
  servers: ServerConfig[]; // sorted by name: shorter first, then byte order (spec 2.4)
}

export interface Config {
  file: string;
  pools: PoolConfig[]; // sorted by pool name, same rule
}

/** The addresses a pool listens on: `listen` (plain) and `tls_listen` (TLS), each when set. */
export function listenAddrs(pc: PoolConfig): { addr: BoundAddr; tls: boolean }[] {
  const out: { addr: BoundAddr; tls: boolean }[] = [];
  if (pc.listen.kind !== 'none') out.push({ addr: pc.listen, tls: false });
  if (pc.tlsListen !== null) out.push({ addr: pc.tlsListen, tls: true });
  return out;
}
