// Test harness for pools with sentinels: real redis-servers (a master and a replica per shard) and three real
// sentinels (`redis-server <conf> --sentinel`), on loopback and ephemeral ports, in a temporary directory (the
// sentinels rewrite their config files there). Wave 2's recipe: down-after-milliseconds 1000, failover-timeout
// 5000, quorum 2, bind 127.0.0.1, --save '' --appendonly no. Every wait has a deadline.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, startRedis, tmpDir, until, waitPort, sleep, Proc, type Backend } from './procs';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK } from '../../src/protocol/parse';
import { decodeReply, fieldMap, RespError } from '../../src/protocol/redis/decode';
import { redisCmd } from './redis-cmd';

export { redisCmd } from './redis-cmd';
import { Router } from '../../src/route/router';
import { wallNow } from './setget-load';

/** A sentinel process and its config file (kept between restarts, as a real one would be). */
export interface SentinelProc {
  port: number;
  conf: string;
  proc: Proc | null;
  stopped: boolean;
}

export class SentinelLab {
  readonly dir: string;
  readonly names: readonly string[];
  /** Every redis-server of the lab by port (masters and replicas; roles change with failovers). */
  readonly nodes = new Map<number, Backend>();
  readonly sentinels: SentinelProc[] = [];

  private constructor(dir: string, names: readonly string[]) {
    this.dir = dir;
    this.names = names;
  }

  /** One master and one replica per name, three sentinels watching them; resolves when the sentinels know everything. */
  static async start(names: readonly string[] = ['shard1', 'shard2']): Promise<SentinelLab> {
    const lab = new SentinelLab(tmpDir('nutmeg-sentinel-'), names);
    try {
      const monitors: string[] = [];
      for (const name of names) {
        const m = await startRedis(undefined, ['--dir', lab.dir, '--dbfilename', `${name}.rdb`]);
        lab.nodes.set(m.port, m);
        const r = await startRedis(undefined, ['--replicaof', '127.0.0.1', String(m.port), '--dir', lab.dir, '--dbfilename', `${name}-r.rdb`]);
        lab.nodes.set(r.port, r);
        monitors.push(
          `sentinel monitor ${name} 127.0.0.1 ${m.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
        );
      }
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = path.join(lab.dir, `sentinel-${i}.conf`);
        fs.writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', 'daemonize no', `dir ${lab.dir}`, ...monitors, ''].join('\n'));
        lab.sentinels.push({ port, conf, proc: null, stopped: false });
      }
      await Promise.all(lab.sentinels.map((s) => lab.runSentinel(s)));
      await lab.waitReady();
    } catch (e) {
      await lab.stop();
      throw e;
    }
    return lab;
  }

  /** The `sentinels:` lines of a pool. */
  sentinelLines(): string[] {
    return ['sentinels:', ...this.sentinels.map((s) => `  - 127.0.0.1:${s.port}:1`)];
  }

  /** The sentinels that run and are not stopped. */
  live(): SentinelProc[] {
    return this.sentinels.filter((s) => s.proc !== null && !s.stopped);
  }

  private async runSentinel(s: SentinelProc): Promise<void> {
    s.proc = new Proc('redis-server', [s.conf, '--sentinel']);
    s.stopped = false;
    await waitPort(s.port);
  }

  /**
   * Every live sentinel knows every name with a healthy replica and the other live sentinels (hello messages
   * come every 2 s): what a failover needs.
   */
  async waitReady(timeoutMs = 25000): Promise<void> {
    const others = this.live().length - 1;
    await until(
      'the sentinels to know the masters, a healthy replica each and each other',
      async () => {
        for (const s of this.live()) {
          for (const name of this.names) {
            const m = fieldMap(await redisCmd(s.port, 'SENTINEL', 'MASTER', name));
            if (m.get('flags') !== 'master' || Number(m.get('num-other-sentinels')) < others) return false;
            const reps = await redisCmd(s.port, 'SENTINEL', 'REPLICAS', name);
            if (!Array.isArray(reps) || !reps.some((r) => healthyReplica(fieldMap(r)))) return false;
          }
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** Where a live sentinel says the master of `name` is (port). */
  async masterPort(name: string, s: SentinelProc = this.live()[0] as SentinelProc): Promise<number> {
    const r = await redisCmd(s.port, 'SENTINEL', 'get-master-addr-by-name', name);
    if (!Array.isArray(r) || typeof r[1] !== 'string') throw new Error(`no master for ${name}: ${JSON.stringify(r)}`);
    return Number(r[1]);
  }

  /** The other node of a shard (the lab has two per name). */
  async replicaPort(name: string): Promise<number> {
    const s = this.live()[0] as SentinelProc;
    const reps = await redisCmd(s.port, 'SENTINEL', 'REPLICAS', name);
    const m = Array.isArray(reps) ? fieldMap(reps[0] ?? null) : new Map<string, string>();
    return Number(m.get('port'));
  }

  /** Every live sentinel says `port` is the master of `name`, and ROLE there says master. */
  async waitMaster(name: string, port: number, timeoutMs = 15000): Promise<void> {
    await until(
      `${name} at ${port} for every live sentinel`,
      async () => {
        for (const s of this.live()) if ((await this.masterPort(name, s)) !== port) return false;
        return (await role(port)) === 'master';
      },
      timeoutMs,
    );
  }

  /** SENTINEL FAILOVER (retried while the sentinel says it cannot yet); resolves with the old and new master ports. */
  async failover(name: string, via: SentinelProc = this.live()[0] as SentinelProc): Promise<{ from: number; to: number }> {
    const from = await this.masterPort(name, via);
    const deadline = Date.now() + 15000;
    for (;;) {
      const r = await redisCmd(via.port, 'SENTINEL', 'FAILOVER', name);
      if (r === 'OK') break;
      if (Date.now() > deadline) throw new Error(`SENTINEL FAILOVER ${name}: ${r instanceof RespError ? r.message : JSON.stringify(r)}`);
      await sleep(200);
    }
    await until(`${name} to leave ${from}`, async () => (await this.masterPort(name, via)) !== from, 15000);
    const to = await this.masterPort(name, via);
    await this.waitMaster(name, to);
    return { from, to };
  }

  /**
   * After a failover: make the old master a replica of the new one now (Sentinel would, about 10 s later); the
   * sentinels count it as a healthy replica within their INFO period (waitReady), then the shard can fail over again.
   */
  async rejoin(oldPort: number, newPort: number): Promise<void> {
    await redisCmd(oldPort, 'REPLICAOF', '127.0.0.1', String(newPort));
    await until(`${oldPort} to replicate from ${newPort}`, async () => (await role(oldPort)) === 'slave', 10000);
  }

  /** SIGKILL a redis-server of the lab. */
  async killNode(port: number): Promise<void> {
    await this.nodes.get(port)?.stop('SIGKILL');
  }

  /** Start a redis-server again on the same port, as a replica of `masterPort`. */
  async restartNodeAsReplica(port: number, masterPort: number): Promise<void> {
    const r = await startRedis(port, ['--replicaof', '127.0.0.1', String(masterPort), '--dir', this.dir, '--dbfilename', `r-${port}.rdb`]);
    this.nodes.set(port, r);
  }

  async killSentinel(s: SentinelProc): Promise<void> {
    await s.proc?.stop('SIGKILL');
    s.proc = null;
  }

  /** Start a killed sentinel again on its config file (or on `confText`: an old copy, to make it stale). */
  async restartSentinel(s: SentinelProc, confText: string | null = null): Promise<void> {
    if (confText !== null) fs.writeFileSync(s.conf, confText);
    await this.runSentinel(s);
  }

  async pauseSentinel(s: SentinelProc): Promise<void> {
    await s.proc?.pause();
    s.stopped = true;
  }

  resumeSentinel(s: SentinelProc): void {
    s.proc?.signal('SIGCONT');
    s.stopped = false;
  }

  async stop(): Promise<void> {
    for (const s of this.sentinels) s.proc?.signal('SIGCONT');
    await Promise.all(this.sentinels.map((s) => s.proc?.stop('SIGKILL')));
    await Promise.all([...this.nodes.values()].map((n) => n.stop('SIGKILL')));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function healthyReplica(m: Map<string, string>): boolean {
  const flags = (m.get('flags') ?? '').split(',');
  return flags.includes('slave') && !flags.some((f) => f === 's_down' || f === 'o_down' || f === 'disconnected') && m.get('master-link-status') === 'ok';
}

/** ROLE's first element at a port ('master', 'slave'), or the error. */
export async function role(port: number): Promise<string> {
  try {
    const r = await redisCmd(port, 'ROLE');
    return Array.isArray(r) && typeof r[0] === 'string' ? r[0] : String(r);
  } catch (e) {
    return (e as Error).message;
  }
}

/** `+switch-master` as every sentinel announces it, timed by the test (wall clock, sub-ms: wallNow()). */
export interface SwitchSeen {
  at: number;
  via: number;
  name: string;
  to: number;
}

/** The test's own subscriber on every sentinel: when each +switch-master came (the reference for write gaps). */
export class SwitchWatch {
  readonly seen: SwitchSeen[] = [];
  private readonly socks: net.Socket[] = [];

  static async start(ports: readonly number[]): Promise<SwitchWatch> {
    const w = new SwitchWatch();
    await Promise.all(ports.map((p) => w.watch(p)));
    return w;
  }

  private watch(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      this.socks.push(s);
      const p = new RedisReplyParser();
      let buf = Buffer.alloc(0);
      let subscribed = false;
      s.on('connect', () => s.write('*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n'));
      s.on('data', (d: Buffer) => {
        const at = wallNow();
        buf = Buffer.concat([buf, d]);
        let pos = 0;
        while (pos < buf.length && p.parse(buf, pos) === OK) {
          const v = decodeReply(buf, pos);
          pos = p.end;
          if (Array.isArray(v) && v[0] === 'subscribe' && !subscribed) {
            subscribed = true;
            resolve();
          } else if (Array.isArray(v) && v[0] === 'message' && typeof v[2] === 'string') {
            const f = v[2].split(' ');
            this.seen.push({ at, via: port, name: f[0] ?? '', to: Number(f[4]) });
          }
        }
        buf = buf.subarray(pos);
      });
      s.on('error', (e) => {
        if (!subscribed) reject(e);
      });
    });
  }

  /** The first announcement of `name` moving to `to`, or undefined. */
  first(name: string, to: number): SwitchSeen | undefined {
    return this.seen.find((e) => e.name === name && e.to === to);
  }

  close(): void {
    for (const s of this.socks) s.destroy();
  }
}

/** `count` keys that a pool of these server names (fnv1a_64, ketama, weight 1) routes to `name`. */
export function keysFor(names: readonly string[], name: string, prefix: string, count: number): string[] {
  const sorted = [...names].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const r = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers: sorted.map((n) => ({ name: n, weight: 1 })) });
  const idx = sorted.indexOf(name);
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 1000000; i++) {
    const k = Buffer.from(`${prefix}${i}`);
    if (r.route(k, 0, k.length) === idx) out.push(k.toString());
  }
  return out;
}

/** A master as the fake sentinel describes it. */
export interface FakeMaster {
  port: number;
  epoch: number;
}

/**
 * A fake sentinel in the test process: answers what a test sets (get-master-addr-by-name, MASTER, REPLICAS) and
 * publishes what a test says, so that nutmeg's guards are driven exactly (a stale announcement, an older epoch,
 * a silent change only a -READONLY reveals). Real sentinels cannot be made to do these on cue.
 */
export class FakeSentinel {
  readonly masters = new Map<string, FakeMaster>();
  private readonly subs = new Set<net.Socket>();
  private readonly socks = new Set<net.Socket>();
  private server: net.Server | null = null;
  port = 0;
  /** Commands received, for the tests (e.g. how often nutmeg asked). */
  readonly asked: string[] = [];

  static async start(): Promise<FakeSentinel> {
    const f = new FakeSentinel();
    f.server = net.createServer((s) => f.serve(s));
    await new Promise<void>((r) => f.server?.listen(0, '127.0.0.1', r));
    f.port = (f.server.address() as net.AddressInfo).port;
    return f;
  }

  /** Tell subscribers (`+switch-master`: `<name> <old ip> <old port> <new ip> <new port>`). */
  publish(channel: string, payload: string): void {
    const msg = bulkArray(['message', channel, payload]);
    for (const s of this.subs) s.write(msg);
  }

  /** Subscribers connected now. */
  get subscribers(): number {
    return this.subs.size;
  }

  private serve(s: net.Socket): void {
    s.setNoDelay(true); // as Redis does: a pipelined answer must not wait for an ACK
    this.socks.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseRequest(buf);
        if (r === null) return;
        buf = buf.subarray(r.end);
        s.write(this.answer(s, r.args));
      }
    });
    s.on('close', () => {
      this.subs.delete(s);
      this.socks.delete(s);
    });
    s.on('error', () => {});
  }

  private answer(s: net.Socket, args: string[]): string {
    const cmd = (args[0] ?? '').toUpperCase();
    this.asked.push(args.join(' '));
    if (cmd === 'AUTH') return '+OK\r\n';
    if (cmd === 'PING') return '+PONG\r\n';
    if (cmd === 'SUBSCRIBE') {
      this.subs.add(s);
      return args
        .slice(1)
        .map((ch, i) => `*3\r\n$9\r\nsubscribe\r\n$${Buffer.byteLength(ch)}\r\n${ch}\r\n:${i + 1}\r\n`)
        .join('');
    }
    if (cmd !== 'SENTINEL') return `-ERR unknown command '${args[0] ?? ''}'\r\n`;
    const sub = (args[1] ?? '').toLowerCase();
    const m = this.masters.get(args[2] ?? '');
    if (sub === 'get-master-addr-by-name') return m === undefined ? '*-1\r\n' : bulkArray(['127.0.0.1', String(m.port)]);
    if (sub === 'master') {
      if (m === undefined) return '-ERR No such master with that name\r\n';
      return bulkArray(['name', args[2] ?? '', 'ip', '127.0.0.1', 'port', String(m.port), 'flags', 'master', 'config-epoch', String(m.epoch)]);
    }
    if (sub === 'replicas' || sub === 'slaves') return '*0\r\n';
    return '-ERR unknown sentinel subcommand\r\n';
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise<void>((r) => (this.server === null ? r() : this.server.close(() => r())));
  }
}

function bulkArray(items: string[]): string {
  return `*${items.length}\r\n${items.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
}

/** One RESP request (an array of bulk strings) at the start of buf, or null when incomplete. */
function parseRequest(buf: Buffer): { args: string[]; end: number } | null {
  let p = 0;
  const line = (): string | null => {
    const e = buf.indexOf('\r\n', p);
    if (e < 0) return null;
    const s = buf.toString('latin1', p, e);
    p = e + 2;
    return s;
  };
  const head = line();
  if (head === null || head[0] !== '*') return null;
  const n = Number(head.slice(1));
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    const h = line();
    if (h === null) return null;
    const len = Number(h.slice(1));
    if (p + len + 2 > buf.length) return null;
    args.push(buf.toString('utf8', p, p + len));
    p += len + 2;
  }
  return { args, end: p };
}
