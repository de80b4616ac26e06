// Test harness for Redis Cluster pools: real redis-servers with --cluster-enabled on loopback and ports picked
// by the test (client port and cluster bus port both chosen, so the bus never lands on a taken port), joined by
// `redis-cli --cluster create`, in a temporary directory (nodes.conf files and any RDB go there). Every wait has a
// deadline; stop() kills what the lab started and nothing else.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { freePorts, tmpDir, until, waitPort, Proc } from './procs';
import { redisCmd } from './redis-cmd';
import Redis from 'ioredis';
import { RespError, decodeReply, type RespValue } from '../../src/protocol/redis/decode';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK, AGAIN } from '../../src/protocol/parse';
import type { Certs } from './certs';

export { redisCmd } from './redis-cmd';

export interface ClusterNode {
  port: number;
  bus: number;
  proc: Proc;
}

/** Run redis-cli with a deadline; resolves with its stdout (rejects with stderr/stdout on failure). */
export function redisCli(args: string[], timeoutMs = 60000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.slice(0, 4).join(' ')}... failed: ${err.message}\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

const encode = (args: readonly string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** One command over TLS (CA `ca`) on a fresh connection, after AUTH `password` if given; the reply decoded. */
export function redisCmdTls(port: number, ca: string, password: string | null, ...args: string[]): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: fs.readFileSync(ca), servername: 'localhost' });
    const p = new RedisReplyParser();
    let buf = Buffer.alloc(0);
    let skip = password === null ? 0 : 1;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply from ${port} to ${args.join(' ')}`));
    }, 3000);
    s.on('secureConnect', () => s.write((password === null ? '' : encode(['AUTH', password])) + encode(args)));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const st = p.parse(buf, 0);
        if (st === AGAIN) return;
        if (st === OK && skip > 0) {
          skip--;
          buf = buf.subarray(p.end);
          continue;
        }
        clearTimeout(timer);
        s.destroy();
        if (st === OK) resolve(decodeReply(buf, 0));
        else reject(new Error(p.errorText));
        return;
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export class ClusterLab {
  readonly dir: string;
  readonly nodes = new Map<number, ClusterNode>();
  readonly nodeTimeout: number;
  /** A TLS-only cluster (client port and cluster bus): the certificates; null for plain TCP. */
  readonly certs: Certs | null;
  /** requirepass of every node (TLS labs only); null = none. */
  readonly password: string | null;

  private constructor(dir: string, nodeTimeout: number, certs: Certs | null, password: string | null) {
    this.dir = dir;
    this.nodeTimeout = nodeTimeout;
    this.certs = certs;
    this.password = password;
  }

  /**
   * `masters` masters with `replicas` replicas each, joined and with every slot served; resolves when cluster_state
   * is ok everywhere. `certs`: TLS only (client port and bus); `password`: requirepass (with certs only).
   */
  static async start(masters = 3, replicas = 1, nodeTimeout = 2000, certs: Certs | null = null, password: string | null = null): Promise<ClusterLab> {
    const lab = new ClusterLab(tmpDir('nutmeg-cluster-'), nodeTimeout, certs, certs === null ? null : password);
    try {
      const n = masters * (1 + replicas);
      const nodes = await Promise.all(Array.from({ length: n }, () => lab.startNode()));
      await redisCli([...lab.cliTls(), '--cluster', 'create', ...nodes.map((x) => `127.0.0.1:${x.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
      await lab.waitOk();
      // Replicas show in CLUSTER SLOTS once their master's config reached every node (gossip): wait for that too.
      await until(
        'every replica listed in CLUSTER SLOTS',
        async () => {
          for (const n of lab.running()) {
            const r = await lab.cmd(n.port, 'CLUSTER', 'SLOTS');
            if (!Array.isArray(r) || r.some((e) => !Array.isArray(e) || e.length < 3 + replicas)) return false;
          }
          return true;
        },
        20000,
      );
    } catch (e) {
      await lab.stop();
      throw e;
    }
    return lab;
  }

  /** redis-cli's TLS options for this lab. */
  cliTls(): string[] {
    const auth = this.password === null ? [] : ['-a', this.password, '--no-auth-warning'];
    return this.certs === null ? auth : ['--tls', '--cacert', this.certs.ca, ...auth];
  }

  /** One command to a node of the lab (TLS when the lab is). */
  cmd(port: number, ...args: string[]): Promise<RespValue> {
    return this.certs === null ? redisCmd(port, ...args) : redisCmdTls(port, this.certs.ca, this.password, ...args);
  }

  /** A fresh cluster-enabled node, not yet part of any cluster. */
  async startNode(): Promise<ClusterNode> {
    const [port, bus] = (await freePorts(2)) as [number, number];
    const c = this.certs;
    const listen = c === null
      ? ['--port', String(port)]
      : ['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-cert-file', c.serverCert,
        '--tls-key-file', c.serverKey, '--tls-ca-cert-file', c.ca, '--tls-auth-clients', 'no',
        // the cluster bus always asks the connecting node for a client certificate
        '--tls-client-cert-file', c.clientCert, '--tls-client-key-file', c.clientKey,
        ...(this.password === null ? [] : ['--requirepass', this.password, '--masterauth', this.password])];
    const proc = new Proc(
      'redis-server',
      [
        ...listen, '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(bus),
        '--cluster-config-file', path.join(this.dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(this.nodeTimeout),
        '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', `dump-${port}.rdb`, '--daemonize', 'no',
      ],
      { cwd: this.dir },
    );
    const node = { port, bus, proc };
    this.nodes.set(port, node);
    await waitPort(port);
    return node;
  }

  /** Every running node says cluster_state:ok and agrees on the slot owners. */
  async waitOk(timeoutMs = 20000): Promise<void> {
    await until(
      'cluster_state:ok on every node',
      async () => {
        const maps: string[] = [];
        for (const n of this.running()) {
          const info = await this.cmd(n.port, 'CLUSTER', 'INFO').catch(() => '');
          if (typeof info !== 'string' || !info.includes('cluster_state:ok')) return false;
          maps.push(JSON.stringify(await this.slotOwners(n.port)));
        }
        return maps.every((m) => m === maps[0]);
      },
      timeoutMs,
    );
  }

  running(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null);
  }

  /** [start, end, master port] of each CLUSTER SLOTS entry, as node `port` sees them (sorted). */
  async slotOwners(port: number): Promise<[number, number, number][]> {
    const r = await this.cmd(port, 'CLUSTER', 'SLOTS');
    if (!Array.isArray(r)) throw new Error('CLUSTER SLOTS: not an array');
    const out: [number, number, number][] = [];
    for (const e of r) {
      if (!Array.isArray(e) || !Array.isArray(e[2])) continue;
      out.push([e[0] as number, e[1] as number, e[2][1] as number]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Master ports as a running node sees them. */
  async masters(): Promise<number[]> {
    const any = this.running()[0];
    if (any === undefined) throw new Error('no node running');
    return [...new Set((await this.slotOwners(any.port)).map((x) => x[2]))].sort((a, b) => a - b);
  }

  /** The port of the master serving `slot`. */
  async ownerOf(slot: number): Promise<number> {
    const any = this.running()[0] as ClusterNode;
    const e = (await this.slotOwners(any.port)).find((x) => x[0] <= slot && slot <= x[1]);
    if (e === undefined) throw new Error(`slot ${slot} unserved`);
    return e[2];
  }

  /** Replicas of the master at `port` (ports). */
  async replicasOf(port: number): Promise<number[]> {
    const id = await this.id(port);
    const out: number[] = [];
    for (const n of this.running()) {
      if (n.port === port) continue;
      const info = await this.cmd(n.port, 'CLUSTER', 'MYID');
      if (info === id) continue;
      const nodes = await this.cmd(n.port, 'CLUSTER', 'NODES');
      if (typeof nodes !== 'string') continue;
      const me = nodes.split('\n').find((l) => l.includes('myself'));
      if (me !== undefined && me.includes('slave') && me.includes(id)) out.push(n.port);
    }
    return out;
  }

  async id(port: number): Promise<string> {
    const r = await this.cmd(port, 'CLUSTER', 'MYID');
    if (typeof r !== 'string') throw new Error(`CLUSTER MYID on ${port}: ${r instanceof RespError ? r.message : String(r)}`);
    return r;
  }

  /** The seed lines of a pool: every master given (a pool needs only one). */
  async seedLines(): Promise<string[]> {
    return ['servers:', ...(await this.masters()).map((p) => `  - 127.0.0.1:${p}:1`)];
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.proc.stop()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Keys spread so that each of the lab's masters serves some: `prefix:<i>` for i < count. */
export function keyList(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:${i}`);
}

/** One INCR's outcome, for recovery measurements. */
export interface IncrOp {
  key: string;
  /** Wall clock (ms) when the reply came. */
  at: number;
  ok: boolean;
  error: string;
}

/**
 * Clients that loop pipelined INCRs over `keys` through a proxy, bounded in count and time: each key's successful
 * INCRs are counted (the final value must be at least that, and at most that plus the key's failed INCRs: a
 * request that failed may or may not have run).
 */
export class IncrLoad {
  readonly ok = new Map<string, number>();
  readonly failed = new Map<string, number>();
  readonly ops: IncrOp[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly clients: Redis[] = [];

  constructor(
    private readonly port: number,
    private readonly keys: readonly string[],
    private readonly maxOps = 200000,
    private readonly maxMs = 60000,
  ) {}

  async start(nClients = 4, batch = 20): Promise<void> {
    this.running = true;
    const deadline = Date.now() + this.maxMs;
    for (let c = 0; c < nClients; c++) {
      const r = new Redis({ port: this.port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: true });
      r.on('error', () => {});
      this.clients.push(r);
      this.loops.push(
        (async () => {
          while (this.running && this.ops.length < this.maxOps && Date.now() < deadline) {
            const pick: string[] = [];
            for (let i = 0; i < batch; i++) pick.push(this.keys[Math.floor(Math.random() * this.keys.length)] as string);
            const p = r.pipeline();
            for (const k of pick) p.incr(k);
            let res: [Error | null, unknown][] | null;
            try {
              res = await p.exec();
            } catch (e) {
              res = pick.map(() => [e as Error, null]);
            }
            const at = Date.now();
            (res ?? []).forEach(([err, v], i) => {
              const key = pick[i] as string;
              if (err === null && typeof v === 'number') {
                this.ok.set(key, (this.ok.get(key) ?? 0) + 1);
                this.ops.push({ key, at, ok: true, error: '' });
              } else {
                this.failed.set(key, (this.failed.get(key) ?? 0) + 1);
                this.ops.push({ key, at, ok: false, error: err?.message ?? `unexpected reply ${String(v)}` });
              }
            });
            if (res === null || res.some(([e]) => e !== null && /Connection is closed|ECONNREFUSED/.test(e.message))) await new Promise((x) => setTimeout(x, 20));
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const c of this.clients) c.disconnect();
  }

  errors(): IncrOp[] {
    return this.ops.filter((o) => !o.ok);
  }

  /** Error texts with their counts. */
  errorSummary(): string {
    const m = new Map<string, number>();
    for (const o of this.errors()) m.set(o.error, (m.get(o.error) ?? 0) + 1);
    return [...m].map(([e, n]) => `${n}× ${e}`).join('; ') || 'none';
  }

  /** Wall clock of the last failed INCR, or `none` when none failed (no spread: there may be 100,000 errors). */
  lastErrorAt(none: number): number {
    let last = none;
    let any = false;
    for (const o of this.ops) {
      if (o.ok) continue;
      if (!any || o.at > last) last = o.at;
      any = true;
    }
    return last;
  }

  /** Ops in [from, to) on wall clock that succeeded. */
  okBetween(from: number, to: number): number {
    return this.ops.filter((o) => o.ok && o.at >= from && o.at < to).length;
  }
}
