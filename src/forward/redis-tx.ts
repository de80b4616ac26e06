// Redis transactions through a sharded pool, the client side: MULTI opens a queue kept by the proxy; each
// command is checked (arity, keys) and answered +QUEUED; the first key fixes the server, a key elsewhere gets
// CROSSSLOT and dooms the transaction; EXEC sends MULTI, the commands and EXEC contiguously on one server
// connection, drops the +OK/+QUEUED replies and returns only EXEC's. Nothing from other clients can come
// between them: a server connection is one ordered stream and the batch is queued in one call.
//
//   MULTI ─► Transaction{ parts, target, failed } ─► EXEC ─► [MULTI][cmd]...[cmd][EXEC] on one connection
//                                                            swallow  swallow      the client's reply

import type { Forwarder, RouteView, Target } from './protocol';

/** Redis's texts. */
export const ERR_NESTED = Buffer.from('-ERR MULTI calls can not be nested\r\n');
export const ERR_EXEC_WITHOUT = Buffer.from('-ERR EXEC without MULTI\r\n');
export const ERR_DISCARD_WITHOUT = Buffer.from('-ERR DISCARD without MULTI\r\n');
export const ERR_EXECABORT = Buffer.from('-EXECABORT Transaction discarded because of previous errors.\r\n');
export const ERR_WATCH_IN_MULTI = Buffer.from('-ERR WATCH inside MULTI is not allowed\r\n');
export const QUEUED = Buffer.from('+QUEUED\r\n');
export const MULTI_REQUEST = Buffer.from('*1\r\n$5\r\nMULTI\r\n');
export const ERR_TOO_LARGE = Buffer.from('-ERR nutmeg: transaction too large (transaction_max_commands)\r\n');

export class Transaction {
  /** The queued requests, as the client sent them (views of its receive buffers). */
  readonly parts: Buffer[] = [];
  /** The server the first keyed command chose; null while only keyless commands are queued. */
  target: Target | null = null;
  /** A queue-time error happened: EXEC answers EXECABORT. */
  failed = false;
  /** The pool the transaction was opened in (a reload that moves the client dooms it). */
  readonly forwarder: Forwarder;

  constructor(forwarder: Forwarder) {
    this.forwarder = forwarder;
  }

  /**
   * A queued command routed to table index `idx` (-1: no key): true when it may join, false when its keys
   * are on another server than the transaction's (CROSSSLOT).
   */
  place(table: RouteView, idx: number): boolean {
    if (idx < 0) return true;
    const t = table.target(idx);
    if (this.target === null) {
      this.target = t;
      return true;
    }
    return t === this.target;
  }
}
