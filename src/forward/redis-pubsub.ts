// Redis pub/sub through a sharded pool: channels are placed like keys, and each server of a pool gets one
// upstream subscriber connection (server/subscriber.ts) per nutmeg process, whatever the number of clients:
// one upstream SUBSCRIBE per channel per server, with the fan-out to clients done here.
//
//   client SUBSCRIBE a b ─► Hub: a's server, b's server ─► upstream SUBSCRIBE (first subscriber only)
//        ◄─ subscribe a 1, subscribe b 2 (made here, sent once the servers confirmed)
//   server ─► [message a payload] ─► every client subscribed to a (the same bytes, no copy)
//   PSUBSCRIBE ─► every server (a PUBLISH lands on exactly one, so each pmessage arrives once)
//   upstream lost ─► comes back by itself ─► every channel and pattern subscribed again (the gap is logged)
//
// The confirmations and counts a client sees are made here, as Redis makes them for it; PUBSUB CHANNELS,
// NUMSUB, NUMPAT and the SHARD variants are answered from this process's registry; a PUBLISH's count is
// the server's with this process's upstream subscriptions replaced by its clients'.

import type { Forwarder, PushChannel, PushSink, Session, Target } from './protocol';
import type { Msg } from './msg';
import { freeMsg } from './msg';
import { log } from '../util/log';

/** Channel (SUBSCRIBE), pattern (PSUBSCRIBE), shard channel (SSUBSCRIBE). */
export const CHANNEL = 0;
export const PATTERN = 1;
export const SHARD = 2;
const SUB = ['subscribe', 'psubscribe', 'ssubscribe'];
const UNSUB = ['unsubscribe', 'punsubscribe', 'sunsubscribe'];
const SUB_CMD = ['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE'];
const UNSUB_CMD = ['UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE'];

/** One client's subscriptions (kept by its request reader). */
export class Subscriptions {
  readonly names: [Map<string, Upstream | null>, Map<string, Upstream | null>, Map<string, Upstream | null>] = [new Map(), new Map(), new Map()];
  hub: Hub | null = null;

  constructor(readonly session: Session) {}

  /** Subscriptions Redis counts in its replies (channels + patterns; shard channels count apart). */
  count(kind: number): number {
    return kind === SHARD ? this.of(SHARD).size : this.of(CHANNEL).size + this.of(PATTERN).size;
  }

  of(kind: number): Map<string, Upstream | null> {
    return this.names[kind] as Map<string, Upstream | null>;
  }

  get active(): boolean {
    return this.names[0].size + this.names[1].size + this.names[2].size > 0;
  }
}

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

function confirmation(kind: string, name: string | null, count: number): string {
  return `*3\r\n${bulk(kind)}${name === null ? '$-1\r\n' : bulk(name)}:${count}\r\n`;
}

function request(cmd: string, names: readonly string[]): Buffer {
  let s = `*${names.length + 1}\r\n${bulk(cmd)}`;
  for (const n of names) s += bulk(n);
  return Buffer.from(s);
}

/** Redis's glob (stringmatchlen): *, ?, [a-z], [^...], \x. */
export function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(
    '^' +
      pattern.replace(/\\(.)|\[(\^?)((?:\\.|[^\]])*)\]|([*?])|([.+^${}()|\\/])/g, (m, esc: string | undefined, neg: string | undefined, cls: string | undefined, wild: string | undefined, meta: string | undefined) => {
        if (esc !== undefined) return esc.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        if (cls !== undefined) return `[${neg === '^' ? '^' : ''}${cls.replace(/\\/g, '\\\\')}]`;
        if (wild !== undefined) return wild === '*' ? '[\\s\\S]*' : '[\\s\\S]';
        return meta !== undefined ? `\\${meta}` : m;
      }) +
      '$',
  );
  return re.test(s);
}

/** One server's upstream subscriber connection, and who of this process listens to what on it. */
class Upstream implements PushSink {
  readonly channel: PushChannel;
  /** Per kind: name ─► the clients subscribed to it here. */
  readonly listeners: [Map<string, Set<Subscriptions>>, Map<string, Set<Subscriptions>>, Map<string, Set<Subscriptions>>] = [new Map(), new Map(), new Map()];
  /** Per kind: names the server has confirmed on the current connection. */
  private confirmed: [Set<string>, Set<string>, Set<string>] = [new Set(), new Set(), new Set()];
  /** Client requests (SUBSCRIBE ...) waiting for a name's confirmation. */
  private readonly waiting = new Map<string, Msg[]>();
  private up = false;
  private downSince = 0;

  constructor(
    private readonly target: Target,
    fw: Forwarder,
  ) {
    this.channel = fw.openChannel(target, this);
  }

  get isUp(): boolean {
    return this.up;
  }

  of(kind: number): Map<string, Set<Subscriptions>> {
    return this.listeners[kind] as Map<string, Set<Subscriptions>>;
  }

  private conf(kind: number): Set<string> {
    return this.confirmed[kind] as Set<string>;
  }

  /** `who` listens to `name` here; false when it already did. Sends the upstream SUBSCRIBE for the first listener. */
  add(kind: number, name: string, who: Subscriptions, msg: Msg): void {
    let set = this.of(kind).get(name);
    if (set === undefined) {
      set = new Set();
      this.of(kind).set(name, set);
      if (this.up) this.channel.send(request(SUB_CMD[kind] as string, [name]));
    }
    set.add(who);
    if (this.up && !this.conf(kind).has(name)) {
      // the client's confirmation waits for the server's: a PUBLISH after it must reach the client
      const key = `${kind}:${name}`;
      const list = this.waiting.get(key);
      if (list === undefined) this.waiting.set(key, [msg]);
      else list.push(msg);
      msg.pending++;
    }
  }

  remove(kind: number, name: string, who: Subscriptions): void {
    const set = this.of(kind).get(name);
    if (set === undefined || !set.delete(who) || set.size > 0) return;
    this.of(kind).delete(name);
    this.conf(kind).delete(name);
    if (this.up) this.channel.send(request(UNSUB_CMD[kind] as string, [name]));
  }

  onUp(): void {
    this.up = true;
    this.confirmed = [new Set(), new Set(), new Set()];
    let n = 0;
    for (let k = 0; k < 3; k++) {
      const names = [...this.of(k).keys()];
      n += names.length;
      if (names.length > 0) this.channel.send(request(SUB_CMD[k] as string, names));
    }
    if (this.downSince !== 0) {
      log().warn(`pubsub: subscriber connection to '${this.target.name}' back after ${Date.now() - this.downSince} ms; ${n} subscriptions made again (messages published meanwhile were lost)`);
      this.downSince = 0;
    }
  }

  onDown(): void {
    this.up = false;
    this.downSince = Date.now();
    // nobody waits for a server that is gone: confirmations go out now, messages flow again once it is back
    for (const list of this.waiting.values()) for (const m of list) release(m);
    this.waiting.clear();
    log().warn(`pubsub: subscriber connection to '${this.target.name}' lost; dialling again`);
  }

  onPush(reply: Buffer, elems: readonly number[]): void {
    if (reply[0] !== 0x2a || elems.length < 4) return;
    const text = (i: number): string => {
      const s = elems[2 * i] as number;
      const e = elems[2 * i + 1] as number;
      const nl = reply.indexOf('\r\n', s);
      return reply.toString('latin1', nl + 2, e - 2);
    };
    const kind = text(0);
    if (kind === 'message' || kind === 'smessage' || kind === 'pmessage') {
      const k = kind === 'message' ? CHANNEL : kind === 'smessage' ? SHARD : PATTERN;
      const set = this.of(k).get(text(1));
      if (set !== undefined) for (const who of set) who.session.deliver(reply);
      return;
    }
    const k = SUB.indexOf(kind);
    if (k < 0) return;
    const name = text(1);
    this.conf(k).add(name);
    const key = `${k}:${name}`;
    const list = this.waiting.get(key);
    if (list === undefined) return;
    this.waiting.delete(key);
    for (const m of list) release(m);
  }

  close(): void {
    this.channel.close();
  }
}

/** One name of a client's SUBSCRIBE is confirmed: the request is done once all are. */
function release(m: Msg): void {
  if (--m.pending > 0) return;
  m.done = true;
  const c = m.client;
  if (c === null) freeMsg(m);
  else c.onMsgDone(m);
}

/** The pub/sub registry of one pool (Forwarder) in this process. */
export class Hub {
  private readonly upstreams = new Map<Target, Upstream>();

  constructor(private readonly fw: Forwarder) {}

  private upstream(t: Target): Upstream {
    let u = this.upstreams.get(t);
    if (u === undefined) {
      u = new Upstream(t, this.fw);
      this.upstreams.set(t, u);
    }
    return u;
  }

  /** (P|S)SUBSCRIBE names: the client's confirmations in `msg.reply`, sent once the servers confirmed. */
  subscribe(subs: Subscriptions, kind: number, names: readonly string[], msg: Msg): void {
    subs.hub = this;
    const table = this.fw.table();
    let reply = '';
    msg.pending = 1; // held until every name is registered below
    for (const name of names) {
      const mine = subs.of(kind);
      if (!mine.has(name)) {
        if (kind === PATTERN) {
          mine.set(name, null);
          // Every server (a PUBLISH lands on one); in a Redis Cluster every node sees every PUBLISH: one node.
          const n = table.clustered ? Math.min(1, table.nodeCount) : table.nodeCount;
          for (let k = 0; k < n; k++) {
            const i = table.node(k);
            if (table.isLive(i)) this.upstream(table.target(i)).add(kind, name, subs, msg);
          }
        } else {
          const b = Buffer.from(name);
          const idx = table.route(b, 0, b.length);
          const u = idx < 0 ? null : this.upstream(table.target(idx));
          mine.set(name, u);
          u?.add(kind, name, subs, msg);
        }
      }
      reply += confirmation(SUB[kind] as string, name, subs.count(kind));
    }
    msg.reply = Buffer.from(reply);
    release(msg);
  }

  /** (P|S)UNSUBSCRIBE names (null: all of that kind): the client's confirmations, at once. */
  unsubscribe(subs: Subscriptions, kind: number, names: readonly string[] | null, msg: Msg): void {
    const mine = subs.of(kind);
    const list = names ?? [...mine.keys()];
    let reply = '';
    for (const name of list) {
      if (mine.has(name)) {
        const u = mine.get(name) ?? null;
        mine.delete(name);
        if (kind === PATTERN) for (const up of this.upstreams.values()) up.remove(kind, name, subs);
        else u?.remove(kind, name, subs);
      }
      reply += confirmation(UNSUB[kind] as string, name, subs.count(kind));
    }
    if (list.length === 0) reply = confirmation(UNSUB[kind] as string, null, subs.count(kind));
    msg.reply = Buffer.from(reply);
    msg.done = true;
  }

  /** The client is gone (or RESET): every subscription of it is dropped. */
  drop(subs: Subscriptions): void {
    for (let k = 0; k < 3; k++) {
      for (const [name, u] of subs.of(k)) {
        if (k === PATTERN) for (const up of this.upstreams.values()) up.remove(k, name, subs);
        else u?.remove(k, name, subs);
      }
      subs.of(k).clear();
    }
  }

  /** PUBSUB CHANNELS / SHARDCHANNELS: names with subscribers here, matching `pattern` if given. */
  channels(kind: number, pattern: string | null): string[] {
    const out = new Set<string>();
    for (const u of this.upstreams.values()) {
      for (const [name, set] of u.of(kind)) if (set.size > 0 && (pattern === null || globMatch(pattern, name))) out.add(name);
    }
    return [...out];
  }

  /** PUBSUB NUMSUB / SHARDNUMSUB: clients of this process subscribed to `name`. */
  numsub(kind: number, name: string): number {
    let n = 0;
    for (const u of this.upstreams.values()) n += u.of(kind).get(name)?.size ?? 0;
    return n;
  }

  /** PUBSUB NUMPAT: patterns with subscribers here. */
  numpat(): number {
    const out = new Set<string>();
    for (const u of this.upstreams.values()) for (const [name, set] of u.of(PATTERN)) if (set.size > 0) out.add(name);
    return out.size;
  }

  /**
   * What a PUBLISH's count must be corrected by: the server counts this process's upstream subscriptions (one
   * for the channel, one per matching pattern) where Redis would count the clients behind them.
   */
  publishDelta(channel: string, target: Target): number {
    const u = this.upstreams.get(target);
    if (u === undefined) return 0;
    let delta = 0;
    const set = u.of(CHANNEL).get(channel);
    if (set !== undefined && set.size > 0) delta += set.size - 1;
    for (const [pattern, ps] of u.of(PATTERN)) if (ps.size > 0 && globMatch(pattern, channel)) delta += ps.size - 1;
    return delta;
  }
}

const hubs = new WeakMap<Forwarder, Hub>();

/** The pub/sub registry of a pool (made on first use). */
export function hubOf(fw: Forwarder): Hub {
  let h = hubs.get(fw);
  if (h === undefined) {
    h = new Hub(fw);
    hubs.set(fw, h);
  }
  return h;
}
