// A raw RESP client for tests: requests encoded by hand, every reply framed by nutmeg's own reply parser,
// so a lost, doubled or garbled reply shows (faults, reload).
import assert from 'node:assert/strict';
import { connectClient, FramedClient } from './faults';
import { RedisReplyParser } from '../../src/protocol/redis/reply';

export function enc(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class Resp extends FramedClient {
  private readonly parser = new RedisReplyParser();

  static connect(port: number): Promise<Resp> {
    return connectClient(port, (s) => new Resp(s));
  }

  protected override frame(buf: Buffer): number {
    return FramedClient.framed(this.parser.parse(buf, 0), this.parser.end);
  }

  send(...args: (string | Buffer)[]): void {
    this.sock.write(enc(...args));
  }

  async cmd(...args: (string | Buffer)[]): Promise<string> {
    this.send(...args);
    const r = await this.take(1);
    assert.equal(r.length, 1, `one reply to ${args.join(' ')}: ${JSON.stringify(r)}`);
    return r[0]!;
  }
}

/** One command on a fresh direct connection to a backend (no proxy), its one reply. */
export async function direct(b: { port: number }, ...args: string[]): Promise<string> {
  const c = await Resp.connect(b.port);
  try {
    return await c.cmd(...args);
  } finally {
    c.close();
  }
}
