// One command to a redis-server (or sentinel, or nutmeg) on a fresh connection, its reply framed by nutmeg's reply
// parser and decoded: for tests that look at servers directly.
import * as net from 'node:net';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK, AGAIN } from '../../src/protocol/parse';
import { decodeReply, type RespValue } from '../../src/protocol/redis/decode';

/** One command on a fresh connection; the reply decoded (an error reply is a RespError). */
export function redisCmd(port: number, ...args: string[]): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const p = new RedisReplyParser();
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply from ${port} to ${args.join(' ')}`));
    }, 3000);
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const st = p.parse(buf, 0);
      if (st === AGAIN) return;
      clearTimeout(timer);
      s.destroy();
      if (st === OK) resolve(decodeReply(buf, 0));
      else reject(new Error(p.errorText));
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
