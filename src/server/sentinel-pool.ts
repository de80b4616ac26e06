// Server side, a pool that follows Redis Sentinel: the same routing as any pool (each server's name is its
// Sentinel master name, so the ring never changes on a failover), but each backend's address is where Sentinel
// says its master is. Control plane: sentinel answers and events (server/sentinel.ts) ─► checks ─► switches.
// Data path: only read-only commands of a pool with a read_policy look at replicas (forward/send below).
//
//   +failover-state-send-slaveof-noone (the leader is about to promote a replica)
//        ─► backend.hold(), until +switch-master, an abort, or PROMOTION_HOLD_MS: writes that would reach the
//           old master after the promotion, and be lost with it, wait for the new master instead (deviation:
//           wave2 calls those ~0.6 s of writes inherent; holding them costs that much latency instead)
//   +switch-master / a query that finds a new address / -READONLY from the master
//        ─► backend.hold(): nothing more is written to the old address; new and unsent requests wait
//        ─► check: the announcing sentinel's config-epoch ≥ the one in force, and ROLE on the new address = master
//             (a stale sentinel may announce an old master: redis#12798)
//        ─► backend.resume(new address) ─► log `sentinel: shard1 switched A -> B (via S, epoch N)`
//           or release(same address) ─► log why not
//   requests the old master had already been sent get their replies, or, if that connection fails,
//   `-ERR nutmeg: master 'shard1' failed over while request was in flight` (clients may retry).
//   A request answered -READONLY is sent again to the master the query finds (wave2 relays that reply; it is
//   relayed here only when no other master is found, or after a query less than READONLY_REQUERY_MS ago).
//
// Replica reads (read_policy): replicas come from SENTINEL REPLICAS, healthy ones only (no s_down, o_down or
// disconnected flag, master-link-status ok), minus those Sentinel says are down (+sdown) and those whose
// connection just failed (skipped for server_retry_timeout). A replica connection that fails, for instance when
// Sentinel promotes that replica and kills its clients, sends its requests (all read-only) to the master once,
// instead of failing them. Plain replicas need no READONLY command (that is Redis Cluster's).
// MULTI/WATCH are refused by nutmeg today; when a session keeps state, its reads must stay on the master.
//
// Checks of one name run one at a time (a promise chain per name); a hold lasts at most the check (one
// connect + AUTH + ROLE, and one sentinel query, each bounded by SENTINEL_TIMEOUT_MS).

import type { PoolConfig, ReadPolicy, ServerConfig } from '../config/types';
import { READ_ONLY_CMD } from '../protocol/redis/commands';
import { requestBytes, type Msg } from '../forward/msg';
import type { Protocol, Target } from '../forward/protocol';
import { log } from '../util/log';
import { Backend, endpointOf, sameEndpoint } from './backend';
import type { Endpoint } from './conn';
import { ReplicaHostBase, ServerPool, type FollowInfo, type ServerChanges } from './pool';
import { SentinelClient, roleOf, type MasterAnswer, type ReplicaAnswer, type SentinelEvents, type SentinelSettings } from './sentinel';

/** ms for a connect or a command to a sentinel, and for the ROLE check of a new master. */
export const SENTINEL_TIMEOUT_MS = 1000;
/** How long start-up waits for the sentinels before the pool serves its configured addresses. */
const START_BOUND_MS = 3000;
/** -READONLY makes the sentinels be asked again at most this often (then it is relayed). */
const READONLY_REQUERY_MS = 1000;
/** A replica event is followed by one query of that name after this delay (events come in bursts). */
const REPLICA_QUERY_DELAY_MS = 50;
/**
 * Longest hold from a promotion's start to its +switch-master: Sentinel sends SLAVEOF NO ONE ~0.1 s after
 * announcing it and sees the promotion in the replica's INFO, asked every second during a failover.
 */
const PROMOTION_HOLD_MS = 2000;

const P_MASTER = 0;
const P_PREFER_MASTER = 1;
const P_REPLICA = 2;
const P_PREFER_REPLICA = 3;
const P_ANY = 4;
const POLICY_CODE: Record<ReadPolicy, number> = { master: 0, prefer_master: 1, replica: 2, prefer_replica: 3, any: 4 };

/** One replica Sentinel knows for a shard. */
interface ReplicaState {
  readonly backend: Backend;
  /** Healthy in Sentinel's last answer. */
  healthy: boolean;
  /** +sdown from a sentinel since. */
  sdown: boolean;
  /** Its connection failed: skipped until then (ms since epoch). */
  downUntil: number;
}

/** One followed master name. */
class Shard {
  readonly name: string;
  backend: Backend;
  /** Some sentinel gave an address for the name. */
  known = false;
  /** config-epoch of the address in force (-1: none yet). */
  epoch = -1;
  /** Sentinel says the master is s_down/o_down. */
  down = false;
  switches = 0;
  lastSwitchAt = 0;
  lastSwitch = '';
  /** Sentinels that answered that they do not know the name (logged once each). */
  readonly unknownTo = new Set<string>();
  /** The last answer in force, for the "ignored" log lines (logged once per answer). */
  lastIgnored = '';
  lastReadonlyAt = 0;
  /** Held since a promotion started (ends at the switch, an abort, or PROMOTION_HOLD_MS). */
  promotion: NodeJS.Timeout | null = null;
  /** Checks queued or running. */
  checks = 0;
  readonly replicas = new Map<string, ReplicaState>();
  replicaQuery: NodeJS.Timeout | null = null;
  /** Checks of this name, one at a time. */
  chain: Promise<void> = Promise.resolve();
  readonly host: ReplicaHost;

  constructor(pool: SentinelPool, name: string, backend: Backend) {
    this.name = name;
    this.backend = backend;
    this.host = new ReplicaHost(pool, this);
  }
}

/**
 * What a replica's backend sees as its pool: the pool's settings, but its failed requests are sent to the
 * master instead of failing (they are all read-only), and its failures skip it instead of ejecting.
 */
class ReplicaHost extends ReplicaHostBase<SentinelPool> {
  private readonly shard: Shard;

  constructor(pool: SentinelPool, shard: Shard) {
    super(pool);
    this.shard = shard;
  }

  onServerFailure(b: Backend): void {
    this.pool.onReplicaFailure(this.shard, b);
  }

  onRedirect(): boolean {
    return false;
  }

  /** Called during the teardown of a replica connection (its queues are already detached): send the read to the master. */
  failMsg(msg: Msg, text: string): void {
    this.pool.resendRead(this.shard, msg, text);
  }
}

/** A candidate address for a name, and who said so. */
interface Candidate {
  via: string;
  to: Endpoint;
  /** Known config-epoch, or null: ask `via`. */
  epoch: number | null;
  why: string;
  /** performance.now() when it was heard of (the debug line says how long the check held the master). */
  at: number;
}

export class SentinelPool extends ServerPool implements SentinelEvents {
  private client: SentinelClient;
  private readonly shards = new Map<string, Shard>();
  private policy = P_MASTER;
  private closed = false;

  constructor(config: PoolConfig, protocol: Protocol, drainMs = 3000) {
    super(config, protocol, drainMs);
    this.policy = POLICY_CODE[config.readPolicy];
    for (const s of config.servers) this.addShard(s.name);
    this.client = new SentinelClient(this.settingsOf(config), this);
  }

  override keeps(config: PoolConfig): boolean {
    return config.sentinel !== null && !config.redisCluster;
  }

  override async start(): Promise<void> {
    await this.client.start(START_BOUND_MS);
    await Promise.all([...this.shards.values()].map((s) => s.chain));
    if (this.client.upCount() === 0) {
      log().error(`sentinel: pool '${this.config.name}': no sentinel reachable; serving the configured addresses until one answers`);
    }
  }

  // --- data path: read-only commands may go to a replica (read_policy); everything else as in any pool

  override forward(msg: Msg, keyBuf: Buffer, keyStart: number, keyEnd: number): void {
    if (this.policy === P_MASTER || READ_ONLY_CMD[msg.cmd] !== 1) {
      super.forward(msg, keyBuf, keyStart, keyEnd);
      return;
    }
    const t = this.routing();
    const idx = t.route(keyBuf, keyStart, keyEnd);
    if (idx < 0) {
      this.failMsg(msg, 'Connection refused');
      return;
    }
    const b = this.readTarget(t.backends[idx] as Backend);
    if (b === null) this.failMsg(msg, noReplica(t.backends[idx] as Backend));
    else b.conn(msg.db).enqueue(msg, requestBytes(msg), t.timeout);
  }

  override send(target: Target, msg: Msg, bytes: Buffer): void {
    if (this.policy === P_MASTER || READ_ONLY_CMD[msg.cmd] !== 1) {
      super.send(target, msg, bytes);
      return;
    }
    const b = this.readTarget(target as Backend);
    if (b === null) this.failMsg(msg, noReplica(target as Backend));
    else super.send(b, msg, bytes);
  }

  /** Where a read-only command for master `b` goes under the read policy; null: nowhere (replica, none healthy). */
  private readTarget(b: Backend): Backend | null {
    const rs = b.replicas;
    const n = rs.length;
    switch (this.policy) {
      case P_PREFER_MASTER:
        // The master is away: its connection fails, Sentinel says it is down, or it is held for a failover.
        return n > 0 && (b.connDown || b.holding || this.shards.get(b.name)?.down === true) ? next(b, rs, n) : b;
      case P_REPLICA:
        return n > 0 ? next(b, rs, n) : null;
      case P_PREFER_REPLICA:
        return n > 0 ? next(b, rs, n) : b;
      case P_ANY: {
        const i = b.readRr;
        b.readRr = i >= n ? 0 : i + 1;
        return i >= n ? b : (rs[i] as Backend);
      }
      default:
        return b;
    }
  }

  /** A replica connection failed (its queues already detached): its requests, all read-only, go to the master once. */
  resendRead(shard: Shard, msg: Msg, text: string): void {
    const b = shard.backend;
    if (this.closed || b.removed) super.failMsg(msg, text);
    else b.conn(msg.db).enqueue(msg, requestBytes(msg), this.timeout);
  }

  /** -READONLY from a server believed master: hold it, ask the sentinels now, send the request to whoever is master then. */
  override onReadonly(b: Backend, msg: Msg): boolean {
    const shard = this.shards.get(b.name);
    if (shard === undefined || shard.backend !== b || this.closed) return false;
    if (!b.holding) {
      const now = Date.now();
      if (now - shard.lastReadonlyAt < READONLY_REQUERY_MS) return false;
      shard.lastReadonlyAt = now;
      log().warn(`sentinel: ${shard.name}: -READONLY from ${b.endpoint.address}, asking the sentinels where the master is`);
      b.hold(failedOver(shard.name));
      this.requery(shard);
    }
    b.conn(msg.db).enqueue(msg, requestBytes(msg), this.timeout);
    return true;
  }

  // --- SentinelEvents (control plane)

  names(): readonly string[] {
    return [...this.shards.keys()];
  }

  wantReplicas(): boolean {
    return this.policy !== P_MASTER;
  }

  onAnswers(answers: readonly MasterAnswer[]): void {
    const byName = new Map<string, MasterAnswer[]>();
    for (const a of answers) {
      const l = byName.get(a.name);
      if (l === undefined) byName.set(a.name, [a]);
      else l.push(a);
    }
    for (const [name, list] of byName) {
      const shard = this.shards.get(name);
      if (shard !== undefined) this.weigh(shard, list, 'query');
    }
  }

  onSwitch(via: string, name: string, to: Endpoint): void {
    const shard = this.shards.get(name);
    if (shard === undefined || this.closed) return; // not a name this pool follows
    const b = shard.backend;
    if (sameEndpoint(b.endpoint, to) && !b.holding) return; // already there (another sentinel said it first)
    // From now on nothing is written to the old master; the check decides where the waiting requests go.
    b.hold(failedOver(name));
    this.follow(shard, { via, to, epoch: null, why: '+switch-master', at: performance.now() });
  }

  onInstance(via: string, event: string, name: string, master: boolean, addr: Endpoint): void {
    const shard = this.shards.get(name);
    if (shard === undefined || this.closed) return;
    if (event === '+failover-state-send-slaveof-noone') {
      this.holdForPromotion(shard, via, addr);
      return;
    }
    if (event.startsWith('-failover-abort')) {
      this.endPromotion(shard, `${via} aborted the failover (${event})`);
      return;
    }
    if (master) {
      if (!sameEndpoint(addr, shard.backend.endpoint)) return;
      if (event === '+sdown' || event === '+odown') shard.down = true;
      else if (event === '-sdown') shard.down = false;
      return;
    }
    if (this.policy === P_MASTER) return;
    const r = shard.replicas.get(addr.address);
    if (event === '+sdown' && r !== undefined) {
      r.sdown = true;
      this.rebuildReads(shard);
    } else if (event === '-sdown' || event === '+slave') {
      this.queryReplicasSoon(shard);
    }
  }

  // --- following

  /** A sentinel starts promoting `replica`: from now on the old master's writes would be lost; hold them. */
  private holdForPromotion(shard: Shard, via: string, replica: Endpoint): void {
    const b = shard.backend;
    if (shard.promotion !== null || sameEndpoint(replica, b.endpoint)) return;
    log().info(`sentinel: ${shard.name}: ${via} is promoting ${replica.address}; requests wait for the switch`);
    b.hold(failedOver(shard.name));
    shard.promotion = setTimeout(() => this.endPromotion(shard, `no switch within ${PROMOTION_HOLD_MS} ms`), PROMOTION_HOLD_MS);
    shard.promotion.unref();
  }

  /** The promotion ended without a switch (aborted, or too slow): requests go on to the master in force. */
  private endPromotion(shard: Shard, why: string): void {
    if (shard.promotion === null) return;
    clearTimeout(shard.promotion);
    shard.promotion = null;
    if (shard.checks > 0) return; // a check is running: it releases
    log().warn(`sentinel: ${shard.name}: ${why}; requests go on to ${shard.backend.endpoint.address}`);
    shard.backend.resume(shard.backend.endpoint);
  }

  /** A check ends without a switch: requests go on to the master in force, unless a promotion holds them. */
  private letGo(shard: Shard): void {
    if (shard.promotion === null) shard.backend.resume(shard.backend.endpoint);
  }

  /** Answers of one or more sentinels about a name: follow the best one if it moves the master. */
  private weigh(shard: Shard, answers: readonly MasterAnswer[], why: string): void {
    const best = this.best(shard, answers);
    if (best !== null) this.follow(shard, { via: best.via, to: best.addr as Endpoint, epoch: best.epoch, why, at: performance.now() }, best.replicas);
  }

  /**
   * The answer to follow, if it moves the master: the highest config-epoch wins (the first listed on a tie);
   * an older epoch than the one in force is ignored. Answers that agree with the address in force update the
   * name's state here.
   */
  private best(shard: Shard, answers: readonly MasterAnswer[]): MasterAnswer | null {
    let best: MasterAnswer | null = null;
    for (const a of answers) {
      if (a.addr === null) {
        if (!shard.unknownTo.has(a.via)) {
          shard.unknownTo.add(a.via);
          log().warn(`sentinel: master '${shard.name}' unknown to ${a.via}`);
        }
        continue;
      }
      shard.unknownTo.delete(a.via);
      if (best === null || a.epoch > best.epoch) best = a;
    }
    if (best === null || best.addr === null) return null;
    const b = shard.backend;
    if (sameEndpoint(best.addr, b.endpoint)) {
      if (!shard.known) log().info(`sentinel: ${shard.name} is at ${b.endpoint.address} (via ${best.via}, epoch ${best.epoch})`);
      shard.known = true;
      shard.down = best.down;
      if (best.epoch > shard.epoch) shard.epoch = best.epoch;
      if (best.replicas !== null) this.setReplicas(shard, best.replicas);
      return null;
    }
    if (best.epoch < shard.epoch) {
      this.ignored(shard, `${best.via} says ${best.addr.address} with epoch ${best.epoch}, older than epoch ${shard.epoch} in force`);
      return null;
    }
    return best;
  }

  /** Queue a check of `cand` for this name (one at a time). */
  private follow(shard: Shard, cand: Candidate, replicas: readonly ReplicaAnswer[] | null = null): void {
    shard.checks++;
    shard.chain = shard.chain
      .then(() => this.check(shard, cand, replicas))
      .catch((e: unknown) => {
        log().error(`sentinel: ${shard.name}: check of ${cand.to.address} failed: ${String(e)}`);
        this.letGo(shard);
      })
      .finally(() => shard.checks--);
  }

  /** -READONLY (the backend is held): ask every sentinel now; follow the best answer, or go on at the same address. */
  private requery(shard: Shard): void {
    shard.checks++;
    shard.chain = shard.chain
      .then(async () => {
        const best = this.best(shard, await this.client.askAll([shard.name]));
        if (best === null || best.addr === null) return;
        await this.check(shard, { via: best.via, to: best.addr, epoch: best.epoch, why: '-READONLY', at: performance.now() }, best.replicas);
      })
      .catch((e: unknown) => log().error(`sentinel: ${shard.name}: query after -READONLY failed: ${String(e)}`))
      .finally(() => {
        shard.checks--;
        this.letGo(shard);
      });
  }

  /** Hold the backend, check the candidate (epoch, ROLE), then release it to the candidate or to where it was. */
  private async check(shard: Shard, cand: Candidate, replicas: readonly ReplicaAnswer[] | null): Promise<void> {
    const b = shard.backend;
    const from = b.endpoint;
    if (this.closed || b.removed || shard.backend !== b) {
      b.resume(from);
      return;
    }
    if (sameEndpoint(cand.to, from) && shard.known) {
      this.letGo(shard); // an earlier check already moved it there
      return;
    }
    b.hold(failedOver(shard.name));
    const [role, said] = await Promise.all([
      roleOf(cand.to, this.config.redisAuthUser, this.config.redisAuth, SENTINEL_TIMEOUT_MS, this.serverTls).catch((e: unknown) => `unreachable (${e instanceof Error ? e.message : String(e)})`),
      cand.epoch === null ? this.client.askOne(cand.via, shard.name) : Promise.resolve(null),
    ]);
    let epoch = cand.epoch ?? -1;
    let why: string | null = null;
    if (said !== null) {
      epoch = said.epoch;
      if (said.addr === null || !sameEndpoint(said.addr, cand.to)) why = `${cand.via} now says ${said.addr?.address ?? 'nothing'}`;
    } else if (cand.epoch === null) {
      why = `${cand.via} did not confirm it`;
    }
    if (why === null && epoch < shard.epoch) why = `epoch ${epoch} is older than epoch ${shard.epoch} in force`;
    if (why === null && role !== 'master') why = `ROLE there says ${role}`;
    if (this.closed || b.removed) why = 'the pool was removed';
    if (why !== null) {
      this.letGo(shard);
      this.ignored(shard, `${cand.via} says ${cand.to.address} (${cand.why}), not followed: ${why}`);
      return;
    }
    if (shard.promotion !== null) clearTimeout(shard.promotion);
    shard.promotion = null;
    b.resume(cand.to);
    shard.epoch = epoch;
    shard.down = false;
    shard.lastIgnored = '';
    const first = !shard.known;
    shard.known = true;
    if (first) {
      // Not a failover: where the master was when nutmeg first asked (the configured address is only a start).
      const not = sameEndpoint(from, cand.to) ? '' : `, not at the configured ${from.address}`;
      log().info(`sentinel: ${shard.name} is at ${cand.to.address}${not} (via ${cand.via}, epoch ${epoch})`);
    } else if (!sameEndpoint(from, cand.to)) {
      shard.switches++;
      shard.lastSwitchAt = Date.now();
      shard.lastSwitch = `${from.address} -> ${cand.to.address}`;
      log().info(`sentinel: ${shard.name} switched ${from.address} -> ${cand.to.address} (via ${cand.via}, epoch ${epoch})`);
      log().debug(`sentinel: ${shard.name}: ${cand.why} to ${cand.to.address} checked in ${(performance.now() - cand.at).toFixed(1)} ms`);
    }
    if (this.policy !== P_MASTER) {
      if (replicas !== null) this.setReplicas(shard, replicas);
      else this.rebuildReads(shard);
      this.queryReplicasSoon(shard);
    }
  }

  private ignored(shard: Shard, text: string): void {
    if (shard.lastIgnored === text) return;
    shard.lastIgnored = text;
    log().warn(`sentinel: ${shard.name}: ${text}`);
  }

  // --- replicas

  private setReplicas(shard: Shard, list: readonly ReplicaAnswer[]): void {
    if (this.policy === P_MASTER) return;
    const seen = new Set<string>();
    for (const r of list) {
      const key = r.addr.address;
      seen.add(key);
      let st = shard.replicas.get(key);
      if (st === undefined) {
        st = { backend: new Backend(shard.host, `${shard.name} replica ${key}`, r.addr), healthy: r.healthy, sdown: false, downUntil: 0 };
        shard.replicas.set(key, st);
      }
      st.healthy = r.healthy;
      if (r.healthy) st.sdown = false;
    }
    for (const [key, st] of shard.replicas) {
      if (seen.has(key)) continue;
      shard.replicas.delete(key);
      st.backend.remove();
    }
    this.rebuildReads(shard);
  }

  /** The master's read set, swapped whole: healthy replicas, not the master itself, not skipped for a failure. */
  private rebuildReads(shard: Shard): void {
    const now = Date.now();
    const master = shard.backend.endpoint.address;
    const out: Backend[] = [];
    for (const [key, st] of shard.replicas) {
      if (st.healthy && !st.sdown && st.downUntil <= now && key !== master) out.push(st.backend);
    }
    shard.backend.replicas = out;
  }

  private queryReplicasSoon(shard: Shard): void {
    if (shard.replicaQuery !== null || this.closed) return;
    shard.replicaQuery = setTimeout(() => {
      shard.replicaQuery = null;
      this.client.askAll([shard.name]).then(
        (a) => this.onAnswers(a),
        (e: unknown) => log().error(`sentinel: ${shard.name}: replica query failed: ${String(e)}`),
      );
    }, REPLICA_QUERY_DELAY_MS);
    shard.replicaQuery.unref();
  }

  /** A replica's connection failed: reads skip it for server_retry_timeout (its requests already went to the master). */
  onReplicaFailure(shard: Shard, b: Backend): void {
    const st = [...shard.replicas.values()].find((r) => r.backend === b);
    if (st === undefined || this.closed) return;
    const ms = Math.max(100, this.config.serverRetryTimeout);
    const wasUp = st.downUntil <= Date.now();
    st.downUntil = Date.now() + ms;
    this.rebuildReads(shard);
    if (wasUp) log().warn(`sentinel: ${shard.name}: replica ${b.endpoint.address} failed; reads skip it for ${ms} ms`);
    setTimeout(() => this.rebuildReads(shard), ms + 10).unref();
  }

  /** Replica connections have request deadlines too (the pool's tick checks its masters). */
  protected override checkTimeouts(now: number): void {
    super.checkTimeouts(now);
    if (this.policy === P_MASTER) return;
    for (const s of this.shards.values()) for (const r of s.replicas.values()) r.backend.checkTimeouts(now);
  }

  // --- configuration

  private addShard(name: string): Shard {
    const s = new Shard(this, name, this.backends.get(name) as Backend);
    this.shards.set(name, s);
    return s;
  }

  private settingsOf(config: PoolConfig): SentinelSettings {
    const sc = config.sentinel;
    return {
      pool: config.name,
      addrs: (sc?.addrs ?? []).map((a) => endpointOf(a.host, a.port, a.unixPath)),
      auth: sc?.auth ?? null,
      user: sc?.user ?? null,
      refreshMs: sc?.refreshInterval ?? 0,
      retryMs: Math.min(1000, Math.max(100, config.serverRetryTimeout)),
      timeoutMs: SENTINEL_TIMEOUT_MS,
      tls: this.serverTls,
    };
  }

  /** A followed server keeps the address it was followed to; one no sentinel has placed yet takes the configured one. */
  protected override endpointFor(s: ServerConfig, b: Backend | undefined): Endpoint {
    if (b !== undefined && this.shards.get(s.name)?.known === true) return b.endpoint;
    return super.endpointFor(s, b);
  }

  /** Reload: servers kept by name keep following; new names are asked about; the sentinels list and read_policy apply. */
  override reconfigure(config: PoolConfig, drainMs: number): ServerChanges {
    const changes = super.reconfigure(config, drainMs);
    const policy = POLICY_CODE[config.readPolicy];
    const wanted = new Set(config.servers.map((s) => s.name));
    for (const [name, shard] of this.shards) {
      if (wanted.has(name)) continue;
      this.dropShard(shard);
      this.shards.delete(name);
    }
    const added: string[] = [];
    for (const s of config.servers) {
      if (this.shards.has(s.name)) continue;
      this.addShard(s.name);
      added.push(s.name);
    }
    if (policy !== this.policy) {
      this.policy = policy;
      if (policy === P_MASTER) for (const shard of this.shards.values()) this.dropReplicas(shard);
    }
    this.client.reconfigure(this.settingsOf(config));
    const ask = policy === P_MASTER ? added : this.names();
    if (ask.length > 0) {
      this.client.askAll(ask).then(
        (a) => this.onAnswers(a),
        (e: unknown) => log().error(`sentinel: pool '${config.name}': query after the reload failed: ${String(e)}`),
      );
    }
    return changes;
  }

  override remove(): void {
    this.stop();
    super.remove();
  }

  override close(): void {
    this.stop();
    super.close();
  }

  private stop(): void {
    this.closed = true;
    this.client.close();
    for (const shard of this.shards.values()) this.dropShard(shard);
  }

  private dropShard(shard: Shard): void {
    if (shard.replicaQuery !== null) clearTimeout(shard.replicaQuery);
    shard.replicaQuery = null;
    if (shard.promotion !== null) clearTimeout(shard.promotion);
    shard.promotion = null;
    this.dropReplicas(shard);
  }

  private dropReplicas(shard: Shard): void {
    for (const st of shard.replicas.values()) st.backend.remove();
    shard.replicas.clear();
    shard.backend.replicas = [];
  }

  // --- stats

  override followInfo(b: Backend): FollowInfo | null {
    const s = this.shards.get(b.name);
    if (s === undefined) return null;
    return {
      role: b.holding ? 'switching' : !s.known ? 'unknown' : s.down ? 'down' : 'master',
      epoch: s.epoch,
      switches: s.switches,
      lastSwitchAt: s.lastSwitchAt,
      lastSwitch: s.lastSwitch,
      replicas: b.replicas.map((r) => r.endpoint.address),
      sentinels: this.client.upCount(),
    };
  }
}

/** Round robin over n replicas. */
function next(b: Backend, rs: readonly Backend[], n: number): Backend {
  const i = b.readRr >= n ? 0 : b.readRr;
  b.readRr = i + 1;
  return rs[i] as Backend;
}

function noReplica(b: Backend): string {
  return `nutmeg: no healthy replica of '${b.name}' (read_policy replica)`;
}

/** The error of a request whose connection to a demoted master failed before its reply came. */
function failedOver(name: string): string {
  return `nutmeg: master '${name}' failed over while request was in flight`;
}
