// Bad input over real sockets: random and mutated requests of both protocols, written in random splits
// by short-lived clients, while a well-behaved client on the same pool runs a checked SET/GET loop.
// The proxy never crashes, every bad client gets its replies/errors and is closed (after its EOF, or at
// once on a fatal protocol error), and the good client sees only correct replies throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import fc from 'fast-check';
import Redis from 'ioredis';
import { startRedis, startMemcached, startNutmeg, freePorts, readStats, sleep, type Proc, type ProxyProc } from '../helpers/procs';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK, AGAIN } from '../../src/protocol/parse';
import { inputs, redisRequests, mcRequests, REDIS_CHARS, MC_CHARS } from './harness';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const procs: Proc[] = [];
let proxy: ProxyProc;
let rport = 0;
let mport = 0;

before(async () => {
  const [r1, r2, m1, m2] = await Promise.all([startRedis(), startRedis(), startMemcached(), startMemcached()]);
  procs.push(r1, r2, m1, m2);
  [rport, mport] = (await freePorts(2)) as [number, number];
  const yaml = [
    'alpha:',
    `  listen: 127.0.0.1:${rport}`,
    '  redis: true',
    '  timeout: 3000',
    '  servers:',
    `    - 127.0.0.1:${r1.port}:1 r1`,
    `    - 127.0.0.1:${r2.port}:1 r2`,
    'beta:',
    `  listen: 127.0.0.1:${mport}`,
    '  timeout: 3000',
    '  servers:',
    `    - 127.0.0.1:${m1.port}:1 m1`,
    `    - 127.0.0.1:${m2.port}:1 m2`,
    '',
  ].join('\n');
  proxy = await startNutmeg(yaml, [rport, mport]);
  procs.push(proxy);
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
});

interface BadResult {
  data: Buffer;
  closed: boolean;
}

/** One bad client: connect, write the chunks (a turn apart), half-close, wait for the proxy to close. */
async function badClient(port: number, bytes: Buffer, cuts: number[]): Promise<BadResult> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  sock.setNoDelay(true);
  const parts: Buffer[] = [];
  let closed = false;
  sock.on('data', (d: Buffer) => parts.push(d));
  sock.on('error', () => {});
  const done = new Promise<void>((resolve) => sock.once('close', () => {
    closed = true;
    resolve();
  }));
  await new Promise<void>((resolve) => {
    sock.once('connect', () => resolve());
    sock.once('close', () => resolve());
  });
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    if (sock.destroyed) break;
    if (c > prev) sock.write(bytes.subarray(prev, c));
    prev = c;
    await new Promise((r) => setImmediate(r));
  }
  if (!sock.destroyed) sock.end();
  await Promise.race([done, sleep(5000)]);
  sock.destroy();
  return { data: Buffer.concat(parts), closed };
}

function cutsOf(raw: number[], n: number): number[] {
  if (n < 2) return [];
  return [...new Set(raw.map((c) => 1 + (c % (n - 1))))].sort((a, b) => a - b);
}

/** Every byte the proxy sent frames as whole RESP replies. */
function respFrames(data: Buffer): { count: number; rest: number; firstByte: number } {
  const p = new RedisReplyParser();
  let pos = 0;
  let count = 0;
  while (pos < data.length) {
    const st = p.parse(data, pos);
    if (st !== OK) return { count, rest: data.length - pos, firstByte: data[0] ?? 0 };
    pos = p.end;
    count++;
  }
  void AGAIN;
  return { count, rest: 0, firstByte: data[0] ?? 0 };
}

/** A checked loop on the same pool until stopped: each GET must return exactly what was SET. */
function goodRedis(bad: string[]): { stop: () => Promise<number> } {
  const r = new Redis({ port: rport, maxRetriesPerRequest: 0 });
  let stop = false;
  let n = 0;
  const loop = (async () => {
    for (let i = 0; !stop && i < 1_000_000; i++) {
      const k = `good:${i % 100}`;
      const v = `v${i}:${'x'.repeat(i % 50)}`;
      try {
        const [s, g] = await Promise.all([r.set(k, v), r.get(k)]);
        if (s !== 'OK' || g !== v) bad.push(`${k}: ${s} ${g} != ${v}`);
      } catch (e) {
        bad.push(`${k}: ${(e as Error).message}`);
      }
      n++;
    }
  })();
  return {
    stop: async () => {
      stop = true;
      await loop;
      r.disconnect();
      return n;
    },
  };
}

function goodMemcache(bad: string[]): { stop: () => Promise<number> } {
  let stop = false;
  let n = 0;
  const loop = (async () => {
    const sock = net.connect({ port: mport, host: '127.0.0.1' });
    sock.on('error', (e) => bad.push(`good memcache client: ${e.message}`));
    let buf = '';
    let wake: (() => void) | null = null;
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      wake?.();
    });
    sock.on('close', () => {
      if (!stop) bad.push('good memcache client closed');
      wake?.();
    });
    await new Promise((r) => sock.once('connect', r));
    for (let i = 0; !stop && !sock.destroyed && i < 1_000_000; i++) {
      const k = `good:${i % 100}`;
      const v = `v${i}:${'x'.repeat(i % 50)}`;
      sock.write(`set ${k} 0 0 ${v.length}\r\n${v}\r\nget ${k}\r\n`);
      const want = `STORED\r\nVALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`;
      const deadline = Date.now() + 5000;
      while (buf.length < want.length && !sock.destroyed && Date.now() < deadline) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      if (buf !== want) {
        bad.push(`${k}: ${JSON.stringify(buf)} != ${JSON.stringify(want)}`);
        break;
      }
      buf = '';
      n++;
    }
    sock.destroy();
  })();
  return {
    stop: async () => {
      stop = true;
      await loop;
      return n;
    },
  };
}

async function alive(): Promise<void> {
  assert.equal(proxy.child.exitCode, null, `proxy exited: ${proxy.stderr.slice(-2000)}`);
  assert.equal(proxy.child.signalCode, null);
  await readStats(proxy.statsPort);
}

test(`redis pool: ${RUNS} random/mutated requests in random splits; a good client stays correct`, async (t) => {
  const bad: string[] = [];
  const good = goodRedis(bad);
  let errors = 0;
  let silent = 0;
  try {
    await fc.assert(
      fc.asyncProperty(inputs(redisRequests, REDIS_CHARS), fc.array(fc.nat(), { maxLength: 6 }), async (bytes, raw) => {
        const r = await badClient(rport, bytes, cutsOf(raw, bytes.length));
        assert.ok(r.closed, 'the proxy closed the bad client');
        const f = respFrames(r.data);
        assert.equal(f.rest, 0, `only whole RESP replies: ${JSON.stringify(r.data.toString('latin1').slice(0, 200))}`);
        // (Bytes that are not a multibulk are inline commands, as for Redis: whatever they ask, the replies stay framed.)
        if (/^-ERR/m.test(r.data.toString('latin1'))) errors++;
        if (r.data.length === 0) silent++;
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  } finally {
    const n = await good.stop();
    t.diagnostic(`good client: ${n} checked SET/GET pairs; bad clients with an error reply: ${errors}, with no reply: ${silent}`);
  }
  assert.deepEqual(bad.slice(0, 5), []);
  await alive();
});

test(`memcache pool: ${RUNS} random/mutated requests in random splits; a good client stays correct`, async (t) => {
  const bad: string[] = [];
  const good = goodMemcache(bad);
  let errors = 0;
  try {
    await fc.assert(
      fc.asyncProperty(inputs(mcRequests, MC_CHARS), fc.array(fc.nat(), { maxLength: 6 }), async (bytes, raw) => {
        const r = await badClient(mport, bytes, cutsOf(raw, bytes.length));
        assert.ok(r.closed, 'the proxy closed the bad client');
        const s = r.data.toString('latin1');
        assert.ok(s === '' || s.endsWith('\r\n'), `replies end with CRLF: ${JSON.stringify(s.slice(-100))}`);
        if (/(^|\n)(ERROR|CLIENT_ERROR|SERVER_ERROR)/.test(s)) errors++;
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  } finally {
    const n = await good.stop();
    t.diagnostic(`good client: ${n} checked set/get pairs; bad clients with an error reply: ${errors}`);
  }
  assert.deepEqual(bad.slice(0, 5), []);
  await alive();
});

test('fatal protocol errors close the connection without waiting for EOF; non-fatal ones keep it; framing kept', async () => {
  const cases: [number, string, RegExp, boolean][] = [
    [rport, '*1\r\n$4\r\nPING\r\n*\x00\x01garbage', /^\+PONG\r\n-ERR Protocol error[^\r\n]*\r\n$/, true],
    [rport, 'PING\r\n"unbalanced\r\n', /^\+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n$/, true],
    [rport, '*1\r\n$-5\r\n', /^-ERR Protocol error: invalid bulk length\r\n$/, true],
    [mport, 'set k 0 0 2\r\nabcd\r\n', /^CLIENT_ERROR bad data chunk\r\n$/, true],
    [mport, 'bogus\r\nversion\r\n', /^ERROR\r\nVERSION [^\r\n]+\r\n$/, false],
    [mport, 'get ' + 'k'.repeat(251) + '\r\nversion\r\n', /^CLIENT_ERROR bad command line format\r\nVERSION [^\r\n]+\r\n$/, false],
    // Lines memcached would read differently (its line ends at a NUL or a bare LF; a 20-digit flags value
    // fails its parse without swallowing the data): refused here, the server connection stays in step.
    [mport, 'get fz:a\nset fz:b 0 0 1\r\nx\r\nversion\r\n', /^CLIENT_ERROR bad command line format\r\nERROR\r\nVERSION [^\r\n]+\r\n$/, false],
    [mport, 'set fz:a\x00b 0 0 1\r\nx\r\nversion\r\n', /^CLIENT_ERROR bad command line format\r\nVERSION [^\r\n]+\r\n$/, false],
    [mport, 'set fz:a 99999999999999999999 0 1\r\nx\r\nversion\r\n', /^CLIENT_ERROR bad command line format\r\nVERSION [^\r\n]+\r\n$/, false],
    [mport, 'set fz:a 0 9223372036854775808 1\r\nx\r\nversion\r\n', /^CLIENT_ERROR bad command line format\r\nVERSION [^\r\n]+\r\n$/, false],
    [mport, 'set fz:q 18446744073709551615 9223372036854775807 1\r\nx\r\nversion\r\n', /^STORED\r\nVERSION [^\r\n]+\r\n$/, false],
    // A meta flag token starting with q is quiet for memcached: a miss answers nothing at all.
    [mport, 'mg fz:none qX v\r\nversion\r\n', /^VERSION [^\r\n]+\r\n$/, false],
  ];
  for (const [port, input, want, closes] of cases) {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    let closed = false;
    sock.on('data', (d: Buffer) => (data += d.toString('latin1')));
    sock.on('close', () => (closed = true));
    sock.on('error', () => {});
    await new Promise((r) => sock.once('connect', r));
    sock.write(Buffer.from(input, 'latin1'));
    const deadline = Date.now() + 2000;
    while (!closed && !want.test(data) && Date.now() < deadline) await sleep(10);
    await sleep(100);
    assert.match(data, want, JSON.stringify(input));
    assert.equal(closed, closes, `${JSON.stringify(input)} closes: ${closes}`);
    sock.destroy();
  }
  await alive();
});
