// Server side, pub/sub: one connection to a backend that carries the pool's subscriptions (SUBSCRIBE,
// PSUBSCRIBE, SSUBSCRIBE). Replies are not paired with requests: every whole reply the server pushes goes to
// the sink (forward/redis-pubsub.ts), which fans messages out to the subscribed clients and matches
// confirmations. A lost connection is dialled again after a pause; the sink then subscribes anew. When its
// backend moves (a reload, a Sentinel failover) it leaves the old address at once and dials the new one.
//
//   sink.send(SUBSCRIBE ch) ─► socket ─► server ─► [subscribe ch n] [message ch payload] ... ─► sink.onPush

import type * as net from 'node:net';
import { RedisReplyParser } from '../protocol/redis/reply';
import { OK, AGAIN } from '../protocol/parse';
import { Input } from '../util/input';
import { onreadOption } from '../util/socket';
import { dial, readyEvent, tlsFailureReason, type DialTls } from '../util/transport';
import { connCounts } from '../stats/counters';
import type { Endpoint } from './conn';
import type { PushChannel, PushSink } from '../forward/protocol';

/** Pause before dialling a lost subscriber connection again. */
const REDIAL_MS = 500;

export class SubscriberConn implements PushChannel {
  private sock: net.Socket | null = null;
  private readonly parser = new RedisReplyParser();
  private readonly input = new Input();
  private closed = false;
  private redial: NodeJS.Timeout | null = null;
  /** Requests written while the connection is down: dropped (onUp subscribes anew). */
  private up = false;
  private gen = 0;

  /** Called once by close() (the backend forgets the channel). */
  onClose: (() => void) | null = null;

  /** `where` is the backend: each dial goes to its endpoint of the moment (a reload or a failover moves it). */
  constructor(
    private readonly where: { readonly endpoint: Endpoint },
    private readonly tls: DialTls | null,
    private readonly handshake: readonly Buffer[],
    private readonly sink: PushSink,
    /** A TLS handshake with the server failed (counted and logged by the pool). */
    private readonly onTlsFailure: ((reason: string) => void) | null = null,
  ) {
    this.parser.collect = true;
    this.dial();
  }

  send(request: Buffer): void {
    if (this.up && this.sock !== null) this.sock.write(request);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.redial !== null) clearTimeout(this.redial);
    this.redial = null;
    this.drop();
    this.onClose?.();
  }

  /** The backend moved (reload, failover): leave the old address now and subscribe anew at the new one. */
  moved(): void {
    if (this.closed) return;
    if (this.redial !== null) clearTimeout(this.redial);
    this.redial = null;
    const wasUp = this.up;
    this.drop();
    if (wasUp) this.sink.onDown();
    this.dial();
  }

  private dial(): void {
    const ep = this.where.endpoint;
    const gen = ++this.gen;
    const onread = onreadOption((chunk: Buffer) => {
      if (gen === this.gen) this.onData(chunk);
    }, this.input);
    const sock = dial(ep, this.tls, onread);
    this.sock = sock;
    connCounts.total++;
    connCounts.current++;
    sock.on(readyEvent(this.tls), () => {
      if (gen !== this.gen) return;
      for (const h of this.handshake) sock.write(h);
      this.up = true;
      this.sink.onUp();
    });
    let tlsPending = false;
    if (this.tls !== null) sock.once('connect', () => (tlsPending = true));
    const lost = (err?: Error): void => {
      if (gen !== this.gen) return;
      if (tlsPending && !this.up && this.onTlsFailure !== null) this.onTlsFailure(tlsFailureReason(err ?? new Error('the connection closed during the TLS handshake')));
      const wasUp = this.up;
      this.drop();
      if (wasUp) this.sink.onDown();
      if (!this.closed) this.redial = setTimeout(() => this.dial(), REDIAL_MS);
    };
    sock.on('error', lost);
    sock.on('end', () => lost());
    sock.on('close', () => lost());
  }

  /** Detach the socket whole (parser and input reset too), as every teardown does. */
  private drop(): void {
    const sock = this.sock;
    if (sock === null) return;
    this.gen++;
    this.sock = null;
    this.up = false;
    sock.removeAllListeners();
    sock.on('error', () => {});
    sock.destroy();
    connCounts.current--;
    this.parser.reset();
    this.parser.collect = true;
    this.input.clear();
  }

  private onData(chunk: Buffer): void {
    const buf = this.input.take(chunk);
    if (buf === null) return;
    const gen = this.gen;
    let pos = 0;
    while (pos < buf.length) {
      const st = this.parser.parse(buf, pos);
      if (st === AGAIN) {
        this.input.hold(buf, pos, this.parser.need);
        return;
      }
      if (st !== OK) {
        this.drop(); // a stream that cannot be parsed: dial again
        this.sink.onDown();
        if (!this.closed) this.redial = setTimeout(() => this.dial(), REDIAL_MS);
        return;
      }
      const end = this.parser.end;
      const reply = buf.subarray(pos, end);
      const elems = this.parser.elems.slice(0, 2 * Math.max(0, this.parser.count)).map((x) => x - pos);
      this.sink.onPush(reply, elems);
      if (gen !== this.gen) return;
      pos = end;
    }
    this.input.clear();
  }
}
