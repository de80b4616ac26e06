// Control plane, beside the server pools: nutmeg's Sentinel client. It keeps two connections to every sentinel
// of a pool (commands, and a subscriber), asks them where each master is, and passes on what they announce. It
// decides nothing: server/sentinel-pool.ts weighs the answers (config-epoch, ROLE) and moves the backends.
// Plain net sockets, nutmeg's own reply parser; async/await is fine here, nothing of it is on the data path.
//
//   per sentinel:  cmd link ──► AUTH ─► SENTINEL get-master-addr-by-name / MASTER / REPLICAS <name> ...
//                  sub link ──► AUTH ─► SUBSCRIBE +switch-master +sdown ... (CHANNELS) ─► events
//   (re)connected: every name is asked again (events missed while away) ─► onAnswers
//   every sentinel_refresh_interval: every connected sentinel is asked about every name ─► onAnswers
//   a link that fails or does not answer within the timeout closes both; reconnect after the retry delay
//
// Every sentinel is watched at once, not only the first that answers: the sentinel that led a failover
// announces +switch-master first, and the others learn it up to a hello period (2 s) later.

import type * as net from 'node:net';
import { RedisReplyParser } from '../protocol/redis/reply';
import { OK, AGAIN } from '../protocol/parse';
import { decodeReply, fieldMap, RespError, type RespValue } from '../protocol/redis/decode';
import { errCode } from '../util/errors';
import { log } from '../util/log';
import { dial, readyEvent, type DialTls } from '../util/transport';
import { endpointOf } from './backend';
import type { Endpoint } from './conn';

/**
 * Channels every sentinel is subscribed to: the switch, down/up of masters and replicas, new replicas, and the
 * start and abort of a promotion (the leader announces it ~0.1 s before it sends SLAVEOF NO ONE, and ~0.7 s
 * before +switch-master).
 */
const CHANNELS = [
  '+switch-master',
  '+sdown',
  '-sdown',
  '+odown',
  '-odown',
  '+slave',
  '+failover-state-send-slaveof-noone',
  '-failover-abort-slave-timeout',
  '-failover-abort-no-good-slave',
];

export interface SentinelSettings {
  /** Label for log lines (the pool name). */
  readonly pool: string;
  readonly addrs: readonly Endpoint[];
  readonly auth: string | null;
  readonly user: string | null;
  /** ms between periodic queries, 0 = none. */
  readonly refreshMs: number;
  /** ms before reconnecting to a sentinel that failed. */
  readonly retryMs: number;
  /** ms for a connect or a command. */
  readonly timeoutMs: number;
  /** The pool's server_tls: sentinels are reached over TLS too (as redis-cli --tls reaches a sentinel's tls-port). */
  readonly tls: DialTls | null;
}

/** One sentinel's view of one master name. */
export interface MasterAnswer {
  /** The sentinel that answered (host:port). */
  readonly via: string;
  readonly name: string;
  /** null: this sentinel does not know the name. */
  readonly addr: Endpoint | null;
  /** config-epoch from SENTINEL MASTER (-1 when missing). */
  readonly epoch: number;
  /** SENTINEL MASTER flags hold s_down or o_down. */
  readonly down: boolean;
  /** SENTINEL REPLICAS, when asked for; null otherwise. */
  readonly replicas: readonly ReplicaAnswer[] | null;
}

export interface ReplicaAnswer {
  readonly addr: Endpoint;
  /** No s_down, o_down or disconnected flag, and master-link-status ok. */
  readonly healthy: boolean;
}

/** What the client reports to its pool. */
export interface SentinelEvents {
  /** The master names followed now (read at each query). */
  names(): readonly string[];
  /** Whether replicas are wanted (SENTINEL REPLICAS is asked too). */
  wantReplicas(): boolean;
  /** Answers of one or more sentinels about one or more names (a reconnect, a periodic query). */
  onAnswers(answers: readonly MasterAnswer[]): void;
  /** `+switch-master <name> <old ip> <old port> <new ip> <new port>` from the sentinel at `via`. */
  onSwitch(via: string, name: string, to: Endpoint): void;
  /** +sdown/-sdown/+odown/-odown/+slave/+failover-state-.../-failover-abort-... about a master or a replica of `name`. */
  onInstance(via: string, event: string, name: string, master: boolean, addr: Endpoint): void;
}

/** A pending command on a link. */
interface Waiter {
  resolve(v: RespValue): void;
  reject(e: Error): void;
}

/**
 * One RESP connection for control traffic: commands answered in order, or (once subscribed) every reply handed
 * to onPush. A command without an answer within the timeout closes the link; closing rejects what waits.
 */
export class RespLink {
  readonly address: string;
  private readonly sock: net.Socket;
  private readonly parser = new RedisReplyParser();
  private rest: Buffer | null = null;
  private readonly waiting: Waiter[] = [];
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  closed = false;
  /** Subscribed: every reply goes here. */
  onPush: ((v: RespValue) => void) | null = null;
  onClose: ((why: string) => void) | null = null;

  private constructor(sock: net.Socket, address: string, timeoutMs: number) {
    this.sock = sock;
    this.address = address;
    this.timeoutMs = timeoutMs;
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e: Error) => this.close(errCode(e) || e.message));
    sock.on('close', () => this.close('closed by peer'));
  }

  /** Connect within timeoutMs (the TLS handshake included). */
  static open(ep: Endpoint, timeoutMs: number, t: DialTls | null): Promise<RespLink> {
    return new Promise((resolve, reject) => {
      const sock = dial(ep, t, null);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('ETIMEDOUT'));
      }, timeoutMs);
      sock.once('error', (e: Error) => {
        clearTimeout(timer);
        reject(new Error(errCode(e) || e.message));
      });
      sock.once(readyEvent(t), () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new RespLink(sock, ep.address, timeoutMs));
      });
    });
  }

  /** Send one command; resolves with its reply (an error reply is a RespError value). */
  command(...args: string[]): Promise<RespValue> {
    return this.pipeline([args]).then((r) => r[0] ?? null);
  }

  /** Send several commands in one write (one segment, no delayed ACK between them); their replies in order. */
  pipeline(cmds: readonly (readonly string[])[]): Promise<RespValue[]> {
    if (this.closed) return Promise.reject(new Error(`connection to ${this.address} closed`));
    const replies = cmds.map(
      () =>
        new Promise<RespValue>((resolve, reject) => {
          this.waiting.push({ resolve, reject });
        }),
    );
    this.sock.write(Buffer.concat(cmds.map((c) => encode(c))));
    this.armTimer();
    return Promise.all(replies);
  }

  /** SUBSCRIBE: from now on every reply (confirmations, messages) goes to onPush. */
  subscribe(channels: readonly string[], onPush: (v: RespValue) => void): void {
    this.onPush = onPush;
    this.sock.write(encode(['SUBSCRIBE', ...channels]));
  }

  close(why = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.sock.destroy();
    const w = this.waiting.splice(0);
    for (const x of w) x.reject(new Error(why));
    const cb = this.onClose;
    this.onClose = null;
    if (cb !== null) cb(why);
  }

  /** One timer while commands wait: a sentinel that stops answering is closed (and so reconnected). */
  private armTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.close('ETIMEDOUT'), this.timeoutMs);
  }

  private onData(d: Buffer): void {
    const buf = this.rest === null ? d : Buffer.concat([this.rest, d]);
    this.rest = null;
    let pos = 0;
    while (pos < buf.length && !this.closed) {
      const s = this.parser.parse(buf, pos);
      if (s === AGAIN) {
        this.rest = buf.subarray(pos);
        return;
      }
      if (s !== OK) {
        this.close(this.parser.errorText);
        return;
      }
      const v = decodeReply(buf, pos);
      pos = this.parser.end;
      if (this.onPush !== null) {
        this.onPush(v);
        continue;
      }
      const w = this.waiting.shift();
      if (w === undefined) {
        this.close('a reply nobody asked for');
        return;
      }
      if (this.waiting.length === 0 && this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      } else {
        this.armTimer();
      }
      w.resolve(v);
    }
  }
}

function encode(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** AUTH on a fresh link: `AUTH password` or, with a user, `AUTH user password`. Throws with the server's text. */
export async function authenticate(link: RespLink, user: string | null, password: string | null): Promise<void> {
  if (password === null) return;
  const r = user === null ? await link.command('AUTH', password) : await link.command('AUTH', user, password);
  if (r instanceof RespError) throw new Error(`AUTH failed: ${r.message}`);
}

/**
 * The role a Redis server reports (ROLE: master, slave, sentinel), on a connection of its own: the check that a
 * switch announced by a sentinel is real (a stale sentinel may announce an old master, redis#12798).
 */
export async function roleOf(ep: Endpoint, user: string | null, password: string | null, timeoutMs: number, t: DialTls | null): Promise<string> {
  const link = await RespLink.open(ep, timeoutMs, t);
  try {
    await authenticate(link, user, password);
    const r = await link.command('ROLE');
    if (r instanceof RespError) throw new Error(r.message);
    if (!Array.isArray(r) || typeof r[0] !== 'string') throw new Error('unexpected ROLE reply');
    return r[0];
  } finally {
    link.close();
  }
}

/** One sentinel: its two links, and when to try again. */
class SentinelNode {
  readonly ep: Endpoint;
  cmd: RespLink | null = null;
  sub: RespLink | null = null;
  /** Both links are up and subscribed. */
  up = false;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The last failure logged, so that a sentinel that stays down is logged once. */
  private lastError = '';
  private readonly client: SentinelClient;

  constructor(client: SentinelClient, ep: Endpoint) {
    this.client = client;
    this.ep = ep;
  }

  /** Connect, authenticate, subscribe and ask about every name; resolves either way (a failure schedules a retry). */
  async connect(): Promise<void> {
    if (this.stopped || this.up) return;
    const s = this.client.settings;
    let cmd: RespLink | null = null;
    let sub: RespLink | null = null;
    try {
      cmd = await RespLink.open(this.ep, s.timeoutMs, s.tls);
      sub = await RespLink.open(this.ep, s.timeoutMs, s.tls);
      await authenticate(cmd, s.user, s.auth);
      await authenticate(sub, s.user, s.auth);
    } catch (e) {
      cmd?.close();
      sub?.close();
      this.failed((e as Error).message);
      return;
    }
    if (this.stopped) {
      cmd.close();
      sub.close();
      return;
    }
    this.cmd = cmd;
    this.sub = sub;
    this.up = true;
    const via = this.ep.address;
    const lost = (why: string): void => this.lost(why);
    cmd.onClose = lost;
    sub.onClose = lost;
    sub.subscribe(CHANNELS, (v) => this.client.onMessage(via, v));
    if (this.lastError !== '') log().info(`sentinel: pool '${s.pool}': connected to ${via} again; ${this.client.upCount()} of ${this.client.nodeCount()} sentinels connected`);
    this.lastError = '';
    // Events may have been missed while away: ask about every name now.
    const answers = await this.client.ask(this, this.client.events.names());
    this.client.deliver(answers);
  }

  /** Both links go; try again after the retry delay. */
  private lost(why: string): void {
    if (!this.up) return;
    this.up = false;
    this.cmd?.close(why);
    this.sub?.close(why);
    this.cmd = null;
    this.sub = null;
    this.failed(why);
  }

  private failed(why: string): void {
    if (this.stopped) return;
    if (why !== this.lastError) {
      const s = this.client.settings;
      log().warn(`sentinel: pool '${s.pool}': ${this.ep.address} unavailable (${why}); ${this.client.upCount()} of ${this.client.nodeCount()} sentinels connected`);
      this.lastError = why;
    }
    if (this.retry === null) {
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.connect();
      }, this.client.settings.retryMs);
      this.retry.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    this.up = false;
    this.cmd?.close();
    this.sub?.close();
    this.cmd = null;
    this.sub = null;
  }
}

/** The sentinels of one pool. */
export class SentinelClient {
  settings: SentinelSettings;
  readonly events: SentinelEvents;
  private nodes: SentinelNode[];
  private refresh: NodeJS.Timeout | null = null;

  constructor(settings: SentinelSettings, events: SentinelEvents) {
    this.settings = settings;
    this.events = events;
    this.nodes = settings.addrs.map((ep) => new SentinelNode(this, ep));
  }

  upCount(): number {
    let n = 0;
    for (const x of this.nodes) if (x.up) n++;
    return n;
  }

  nodeCount(): number {
    return this.nodes.length;
  }

  /** The sentinels connected now (host:port), in configured order. */
  connected(): string[] {
    return this.nodes.filter((n) => n.up).map((n) => n.ep.address);
  }

  /** Connect to every sentinel and ask each about every name; resolves when all are done or after `boundMs`. */
  async start(boundMs: number): Promise<void> {
    this.armRefresh();
    let timer: NodeJS.Timeout | null = null;
    const bound = new Promise<void>((r) => {
      timer = setTimeout(r, boundMs);
    });
    await Promise.race([Promise.all(this.nodes.map((n) => n.connect())), bound]);
    if (timer !== null) clearTimeout(timer);
  }

  /** New settings (a reload): sentinels no longer listed are closed, new ones connected, the rest kept. */
  reconfigure(settings: SentinelSettings): void {
    const sameAuth = settings.auth === this.settings.auth && settings.user === this.settings.user && settings.tls === this.settings.tls;
    const old = new Map(this.nodes.map((n) => [n.ep.address, n]));
    this.settings = settings;
    const next: SentinelNode[] = [];
    for (const ep of settings.addrs) {
      const n = old.get(ep.address);
      if (n !== undefined && sameAuth) {
        old.delete(ep.address);
        next.push(n);
      } else {
        const fresh = new SentinelNode(this, ep);
        next.push(fresh);
        void fresh.connect();
      }
    }
    for (const n of old.values()) n.stop();
    this.nodes = next;
    this.armRefresh();
  }

  close(): void {
    if (this.refresh !== null) clearInterval(this.refresh);
    this.refresh = null;
    for (const n of this.nodes) n.stop();
  }

  private armRefresh(): void {
    if (this.refresh !== null) clearInterval(this.refresh);
    this.refresh = null;
    if (this.settings.refreshMs <= 0) return;
    this.refresh = setInterval(() => void this.refreshNow(), this.settings.refreshMs);
    this.refresh.unref();
  }

  /** Ask every connected sentinel about every name (the periodic query). */
  async refreshNow(): Promise<void> {
    this.deliver(await this.askAll(this.events.names()));
  }

  /** Answers to the pool; a failure there is logged, never thrown into a socket or timer callback. */
  deliver(answers: readonly MasterAnswer[]): void {
    if (answers.length === 0) return;
    try {
      this.events.onAnswers(answers);
    } catch (e) {
      log().error(`sentinel: pool '${this.settings.pool}': ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  /** Every connected sentinel's answers about `names` (those that fail or time out give none). */
  async askAll(names: readonly string[]): Promise<MasterAnswer[]> {
    const per = await Promise.all(this.nodes.filter((n) => n.up).map((n) => this.ask(n, names)));
    return per.flat();
  }

  /** One sentinel's answer about one name, or null (not connected, failed). */
  async askOne(via: string, name: string): Promise<MasterAnswer | null> {
    const n = this.nodes.find((x) => x.ep.address === via && x.up);
    if (n === undefined) return null;
    const a = await this.ask(n, [name]);
    return a[0] ?? null;
  }

  /** Ask one sentinel about `names`, pipelined; [] if its link fails meanwhile. */
  async ask(node: SentinelNode, names: readonly string[]): Promise<MasterAnswer[]> {
    const link = node.cmd;
    if (link === null || names.length === 0) return [];
    const replicas = this.events.wantReplicas();
    try {
      return await Promise.all(names.map((name) => askName(link, node.ep.address, name, replicas)));
    } catch {
      return []; // the link closed; it reconnects and asks again
    }
  }

  /** A subscriber message from the sentinel at `via` (a failure in the pool is logged, not thrown into the socket). */
  onMessage(via: string, v: RespValue): void {
    try {
      this.dispatch(via, v);
    } catch (e) {
      log().error(`sentinel: pool '${this.settings.pool}': ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private dispatch(via: string, v: RespValue): void {
    if (v instanceof RespError) {
      this.nodes.find((n) => n.ep.address === via)?.sub?.close(`SUBSCRIBE failed: ${v.message}`);
      return;
    }
    if (!Array.isArray(v) || v[0] !== 'message' || typeof v[1] !== 'string' || typeof v[2] !== 'string') return;
    const channel = v[1];
    const f = v[2].split(' ');
    if (channel === '+switch-master') {
      // <name> <old ip> <old port> <new ip> <new port>
      const name = f[0];
      const to = addr(f[3], f[4]);
      if (name !== undefined && to !== null) this.events.onSwitch(via, name, to);
      return;
    }
    // <instance-type> <name> <ip> <port> [@ <master-name> <master-ip> <master-port>]
    const type = f[0];
    const at = f.indexOf('@');
    const a = addr(f[2], f[3]);
    if (a === null) return;
    if (type === 'master' && f[1] !== undefined) this.events.onInstance(via, channel, f[1], true, a);
    else if (type === 'slave' && at > 0 && f[at + 1] !== undefined) this.events.onInstance(via, channel, f[at + 1] as string, false, a);
  }
}

function addr(host: string | undefined, port: string | undefined): Endpoint | null {
  if (host === undefined || port === undefined) return null;
  const p = Number(port);
  return Number.isInteger(p) && p > 0 && p < 65536 ? endpointOf(host, p, null) : null;
}

/** One sentinel's answer about one master name: where it is, its config-epoch and flags, and its replicas if wanted. */
async function askName(link: RespLink, via: string, name: string, replicas: boolean): Promise<MasterAnswer> {
  const q = [
    ['SENTINEL', 'get-master-addr-by-name', name],
    ['SENTINEL', 'MASTER', name],
  ];
  if (replicas) q.push(['SENTINEL', 'REPLICAS', name]);
  const [where, master, reps] = await link.pipeline(q);
  const a = Array.isArray(where) ? addr(str(where[0]), str(where[1])) : null;
  const m = fieldMap(master ?? null);
  const flags = (m.get('flags') ?? '').split(',');
  const epoch = Number(m.get('config-epoch') ?? '-1');
  return {
    via,
    name,
    addr: a,
    epoch: Number.isFinite(epoch) ? epoch : -1,
    down: flags.includes('s_down') || flags.includes('o_down'),
    replicas: replicas && Array.isArray(reps) ? reps.map(replicaOf).filter((r): r is ReplicaAnswer => r !== null) : null,
  };
}

function str(v: RespValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** One entry of SENTINEL REPLICAS: healthy = none of s_down, o_down, disconnected, and the link to its master is ok. */
function replicaOf(v: RespValue): ReplicaAnswer | null {
  const m = fieldMap(v);
  const a = addr(m.get('ip'), m.get('port'));
  if (a === null) return null;
  const flags = (m.get('flags') ?? '').split(',');
  const bad = flags.includes('s_down') || flags.includes('o_down') || flags.includes('disconnected');
  return { addr: a, healthy: !bad && m.get('master-link-status') === 'ok' };
}
