// A TCP relay that records every byte it forwards, both ways: put between two parties to check, at the socket level,
// what actually crosses the wire (no plaintext inside a TLS connection).
import * as net from 'node:net';
import { freePort } from './procs';

export class Relay {
  readonly server: net.Server;
  /** Bytes from the connecting side (towards `to`) and back. */
  readonly up: Buffer[] = [];
  readonly down: Buffer[] = [];
  private readonly socks = new Set<net.Socket>();

  private constructor(to: number) {
    this.server = net.createServer((a) => {
      const b = net.connect({ host: '127.0.0.1', port: to });
      for (const s of [a, b]) {
        this.socks.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.socks.delete(s);
          a.destroy();
          b.destroy();
        });
      }
      a.on('data', (d: Buffer) => {
        this.up.push(Buffer.from(d));
        b.write(d);
      });
      b.on('data', (d: Buffer) => {
        this.down.push(Buffer.from(d));
        a.write(d);
      });
    });
  }

  /** A relay on a free loopback port (below the ephemeral range) to 127.0.0.1:`to`. */
  static async start(to: number): Promise<Relay> {
    const r = new Relay(to);
    const port = await freePort();
    await new Promise<void>((resolve) => r.server.listen(port, '127.0.0.1', resolve));
    return r;
  }

  get port(): number {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** Everything recorded, both directions. */
  bytes(): Buffer {
    return Buffer.concat([...this.up, ...this.down]);
  }

  close(): void {
    this.server.close();
    for (const s of this.socks) s.destroy();
  }
}
