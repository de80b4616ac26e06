// Request path, Redis pools: who a client is and what it may run. AUTH and HELLO AUTH log a client in against the
// pool's redis_auth (twemproxy's one password; `AUTH default pass` and `AUTH <redis_auth_user> pass` too) or, when
// the pool has client_users, against those users (they replace redis_auth for clients). A logged-in client_users
// user with `mode: read` or key prefixes is checked on every command, with Redis 7.0's own error texts.
//
//   AUTH [user] pass ─► PoolAuth.login ─► AclUser (session.user) | null (WRONGPASS / invalid password)
//   command row ─► aclDenied(user): mode read ─► readonly flag, a local command or INFO/COMMAND/TIME | NOPERM command
//                                   prefixes  ─► every key the key specs find starts with one | NOPERM keys
//
// Passwords are kept as SHA-256 digests and compared with crypto.timingSafeEqual; an unknown user name is compared
// against a dummy digest, so the time of a refusal does not tell whether the user exists.

import * as crypto from 'node:crypto';
import type { PoolConfig } from '../config/types';
import { errorReply } from '../protocol/redis/replies';
import { CmdFlag, CmdKind, type CommandRow } from '../protocol/redis/commands';
import { findKeys, sortKeys } from '../protocol/redis/keys';

export const WRONGPASS = errorReply('WRONGPASS invalid username-password pair or user is disabled.');
const NOPERM_KEYS = errorReply('NOPERM this user has no permissions to access one of the keys used as arguments');

/** Keyless commands that change nothing, allowed to `mode: read` users beside the readonly ones (ioredis sends INFO first). */
const READ_EXTRA = new Set(['info', 'command', 'time', 'lolwut']);

/** A logged-in client: the pool's password (unrestricted), or a client_users entry. */
export interface AclUser {
  readonly name: string;
  /** SHA-256 of the password it logged in with. */
  readonly digest: Buffer;
  /** Checked per command: mode read, or key prefixes. */
  readonly restricted: boolean;
  readonly readOnly: boolean;
  readonly prefixes: readonly Buffer[];
}

function digestOf(pw: Buffer | string): Buffer {
  return crypto.createHash('sha256').update(pw).digest();
}

const DUMMY = digestOf('nutmeg: no such user');

/** A pool's client authentication (null on a Forwarder: none configured, every client is logged in). */
export class PoolAuth {
  /** client_users set: every login is a user's; the one-argument AUTH is user `default`. */
  readonly usersMode: boolean;
  private readonly users = new Map<string, AclUser>();
  /** redis_auth mode: the names `AUTH user pass` accepts (default, redis_auth_user). */
  private readonly names: readonly string[];
  private readonly full: AclUser | null;

  private constructor(cfg: PoolConfig) {
    this.usersMode = cfg.clientUsers !== null;
    if (cfg.clientUsers !== null) {
      for (const u of cfg.clientUsers) {
        const prefixes = u.keyPrefixes.map((p) => Buffer.from(p));
        const readOnly = u.mode === 'read';
        this.users.set(u.name, { name: u.name, digest: digestOf(u.password), restricted: readOnly || prefixes.length > 0, readOnly, prefixes });
      }
    }
    this.names = cfg.redisAuthUser === null ? ['default'] : ['default', cfg.redisAuthUser];
    this.full = cfg.redisAuth === null ? null : { name: 'default', digest: digestOf(cfg.redisAuth), restricted: false, readOnly: false, prefixes: [] };
  }

  /** null when the pool asks clients for nothing. */
  static of(cfg: PoolConfig): PoolAuth | null {
    return cfg.clientUsers === null && cfg.redisAuth === null ? null : new PoolAuth(cfg);
  }

  /** `AUTH pass` (user null) or `AUTH user pass`: the user now logged in, or null. */
  login(user: string | null, pass: Buffer): AclUser | null {
    const d = digestOf(pass);
    if (this.usersMode) {
      const u = this.users.get(user ?? 'default');
      const ok = crypto.timingSafeEqual(d, u === undefined ? DUMMY : u.digest);
      return ok && u !== undefined ? u : null;
    }
    const full = this.full as AclUser;
    const ok = crypto.timingSafeEqual(d, full.digest);
    return ok && (user === null || this.names.includes(user)) ? full : null;
  }

  /** A reload changed the pool (or moved the client): the same user with the same password, as now configured, or null. */
  revalidate(u: AclUser): AclUser | null {
    const now = this.usersMode ? (this.users.get(u.name) ?? null) : this.full;
    return now !== null && crypto.timingSafeEqual(now.digest, u.digest) ? now : null;
  }
}

let KEYS = new Int32Array(64);

/** The NOPERM reply for a restricted user's command, or null when it may run. `narg` counts the name. */
export function aclDenied(u: AclUser, row: CommandRow, buf: Buffer, args: readonly number[], narg: number): Buffer | null {
  if (u.readOnly && (row.flags & CmdFlag.READONLY) === 0 && row.kind !== CmdKind.LOCAL && !READ_EXTRA.has(row.name)) {
    return errorReply(`NOPERM this user has no permissions to run the '${row.name}' command`);
  }
  const prefixes = u.prefixes;
  if (prefixes.length === 0) return null;
  if (KEYS.length < narg) KEYS = new Int32Array(narg);
  const n = row.name === 'sort' || row.name === 'sort_ro' ? sortKeys(buf, args, narg, KEYS) : findKeys(row.specs, buf, args, narg, KEYS);
  for (let i = 0; i < n; i++) {
    const a = 2 * ((KEYS[i] as number) - 1);
    if (!hasPrefix(buf, args[a] as number, args[a + 1] as number, prefixes)) return NOPERM_KEYS;
  }
  return null;
}

function hasPrefix(buf: Buffer, s: number, e: number, prefixes: readonly Buffer[]): boolean {
  for (const p of prefixes) if (e - s >= p.length && buf.compare(p, 0, p.length, s, s + p.length) === 0) return true;
  return false;
}
