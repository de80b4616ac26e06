// Live reconfiguration, the control side (never on the data path): SIGUSR1 ─► coalesce ─► validate the
// file exactly as -t does ─► apply in place (Proxy.reload, or the --workers primary's) ─► one log line.
//
//   USR1 ─► run ─► read + validate ─► apply ─► "configuration N applied: ..." | "configuration '<file>' rejected: ...; keeping configuration N"
//   USR1 during a run ─► exactly one more run after it (any number of signals coalesce into one)

import { readConfigText, parseConfigText } from './config/load';
import { ConfigError } from './config/errors';
import type { Config } from './config/types';
import type { ReloadSummary } from './proxy';
import { log } from './util/log';

export type ApplyReload = (config: Config, text: string) => Promise<ReloadSummary>;

export class ReloadControl {
  /** The configuration in force: 1 at start, +1 per applied reload. */
  generation = 1;
  applied = 0;
  rejected = 0;
  private running = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly file: string;
  private readonly apply: ApplyReload;

  constructor(file: string, apply: ApplyReload) {
    this.file = file;
    this.apply = apply;
  }

  /** A reload was asked for (signal name for the log). Coalesced with one that is running. */
  request(signal: string): void {
    log().info(`reload: requested (signal ${signal})`);
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.loop();
  }

  /** Resolves when no reload is running (tests, shutdown). */
  settled(): Promise<void> {
    return this.idle;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.once();
    } while (this.again);
    this.running = false;
  }

  private async once(): Promise<void> {
    const t0 = performance.now();
    let config: Config;
    let text: string;
    try {
      text = readConfigText(this.file);
      config = parseConfigText(text, this.file);
    } catch (e) {
      this.reject(describe(e));
      return;
    }
    let s: ReloadSummary;
    try {
      s = await this.apply(config, text);
    } catch (e) {
      this.reject(describe(e));
      return;
    }
    this.generation++;
    this.applied++;
    const ms = (performance.now() - t0).toFixed(1);
    log().info(`reload: configuration ${this.generation} applied in ${ms} ms: ${summaryText(s)}`);
  }

  private reject(why: string): void {
    this.rejected++;
    log().error(`reload: configuration '${this.file}' rejected: ${why}; keeping configuration ${this.generation}`);
  }
}

function describe(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "+2 pools, -1 pool, 1 listener moved, 3 servers added, 1 removed, ..." (only what changed). */
export function summaryText(s: ReloadSummary): string {
  const parts: string[] = [];
  if (s.poolsAdded > 0) parts.push(`+${plural(s.poolsAdded, 'pool')}`);
  if (s.poolsRemoved > 0) parts.push(`-${plural(s.poolsRemoved, 'pool')}`);
  if (s.listenersMoved > 0) parts.push(`${plural(s.listenersMoved, 'listener')} moved`);
  if (s.serversAdded > 0) parts.push(`${plural(s.serversAdded, 'server')} added`);
  if (s.serversRemoved > 0) parts.push(`${s.serversRemoved} removed`);
  if (s.serversMoved > 0) parts.push(`${s.serversMoved} moved to a new address`);
  if (s.clientsMoved > 0) parts.push(`${plural(s.clientsMoved, 'client')} moved`);
  if (s.clientsDrained > 0) parts.push(`${plural(s.clientsDrained, 'client')} draining`);
  return parts.length === 0 ? 'no change to pools, listeners or servers' : parts.join(', ');
}
