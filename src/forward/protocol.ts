// The seam between the generic connection code (client/, server/) and one wire protocol
// (forward/redis.ts, forward/memcache.ts): per-connection readers that own a typed parser.

import type { ParseStatus } from '../protocol/parse';
import type { Msg } from './msg';
import type { ClientConn } from '../client/conn';
import type { ServerPool } from '../server/pool';

/** Reads requests on one client connection and forwards or answers each one. */
export interface RequestReader {
  parse(buf: Buffer, start: number): ParseStatus;
  /** After OK: end of the request. */
  readonly end: number;
  /** After AGAIN: bytes needed from the request start. */
  readonly need: number;
  /** After OK: answer locally, or route and queue to servers. The msg is already in the client FIFO. */
  dispatch(client: ClientConn, msg: Msg, buf: Buffer, start: number, end: number): void;
  /** After ERROR: the reply that tells the client what was wrong, and whether the stream is lost. */
  errorReply(): Buffer;
  errorCloses(): boolean;
}

/** Reads replies on one server connection and completes the request at the head of its FIFO. */
export interface ReplyReader {
  /** Set up for the head request before parsing its reply. */
  prepare(msg: Msg): void;
  /** Forget a partial reply: the connection it came on is gone, and the next one starts at a reply boundary. */
  reset(): void;
  parse(buf: Buffer, start: number): ParseStatus;
  readonly end: number;
  readonly need: number;
  readonly errorText: string;
  /**
   * A whole reply for msg sits at buf[start, end). Fill msg.reply (or fragment fields).
   * Returns false when the reply is a transient server failure that counts as a server error.
   */
  complete(msg: Msg, buf: Buffer, start: number, end: number): boolean;
}

export interface Protocol {
  readonly redis: boolean;
  newRequestReader(pool: ServerPool): RequestReader;
  newReplyReader(): ReplyReader;
  /** Error reply for a failed request: `-ERR <text>` or `SERVER_ERROR <text>`. */
  errorReply(text: string): Buffer;
  /** Internal requests sent first on every new server connection (AUTH, SELECT). */
  handshake(pool: ServerPool): Buffer[];
  /** All fragments of parent are done: build parent.reply. */
  merge(parent: Msg): void;
}
