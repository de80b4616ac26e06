// Regression tests for issue 11 (reliability after a server connection fails, and clients that read late or never):
// each reproduction of ../shared/repro/ ported, the write-then-read stall of a redis-py style pipeline, and the
// byte bound on a client that never reads. Real redis-server/memcached wherever a real server can produce the
// fault; a scripted fake backend (helpers/fake-backend) only for half a reply then a close, and for a stall.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { startRedis, freePorts, until, sleep, exchange, type Backend, type ProxyProc } from '../helpers/procs';
import { trackProcs, connectClient, poolStatsOf, srv, num } from '../helpers/faults';
import { FakeBackend, RespStream, type FakeConn, type SeenReply } from '../helpers/fake-backend';
import { enc } from '../helpers/resp-client';

const { track, nutmeg, nutcracker } = trackProcs();

const fakes: FakeBackend[] = [];
after(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

async function fake(...a: Parameters<typeof FakeBackend.start>): Promise<FakeBackend> {
  const f = await FakeBackend.start(...a);
  fakes.push(f);
  return f;
}

async function redis(): Promise<Backend> {
  return track(await startRedis());
}

const MB = 1024 * 1024;

/** One pool `p` with one server `s0` at `port`, and `lines` as extra settings. */
function yaml(listen: number, port: number, redisPool: boolean, lines: string[]): string {
  return [
    'p:',
    `  listen: 127.0.0.1:${listen}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    `  redis: ${redisPool}`,
    ...lines.map((l) => `  ${l}`),
    '  servers:',
    `    - 127.0.0.1:${port}:1 s0`,
    '',
  ].join('\n');
}


const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

/** Short, readable form of a reply for assertion messages. */
function show(r: SeenReply | undefined): string {
  if (r === undefined) return '<none>';
  return r.type === '$' ? `$${r.len} ${JSON.stringify(r.head.slice(0, 24))}` : `${r.type}${r.head}`;
}

/** Raw RESP client whose replies are framed by RespStream (no payload kept): for streams of large replies. */
class Stream {
  readonly rs = new RespStream();
  closed = false;
  private waiters: (() => void)[] = [];

  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.rs.feed(d);
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  /** Connected; with `paused`, nothing is read from the socket until resume(). */
  static connect(port: number, paused = false): Promise<Stream> {
    return connectClient(port, (sock) => {
      if (paused) sock.pause(); // before the 'data' listener: an explicit pause keeps the socket from flowing
      return new Stream(sock);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds, the peer closed, or `timeoutMs` passed; returns pred(). Leaves no timer behind. */
  async wait(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred() && !this.closed && !this.rs.bad && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return pred();
  }

  /** Waits for `n` replies in total (bounded); true if they came. */
  waitReplies(n: number, timeoutMs: number): Promise<boolean> {
    return this.wait(() => this.rs.replies.length >= n, timeoutMs);
  }

  /** Sends one command and returns its reply (undefined if none came within `timeoutMs`). */
  async cmd(timeoutMs: number, ...args: (string | Buffer)[]): Promise<SeenReply | undefined> {
    const n = this.rs.replies.length + 1;
    this.sock.write(enc(...args));
    await this.waitReplies(n, timeoutMs);
    return this.rs.replies[n - 1];
  }

  close(): void {
    this.sock.destroy();
  }
}

async function serverStat(px: ProxyProc, field: string): Promise<number> {
  return srv(await poolStatsOf(px, 'p'), 's0')[field] ?? 0;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. parser-reset: a backend sends half a reply and closes its first connection (../shared/repro/parser-reset.py)
// ---------------------------------------------------------------------------------------------------------------

const PR = {
  redis: { req: enc('GET', 'k'), half: '$100\r\nabc', whole: '$1\r\nv\r\n', error: /^-ERR .*\r\n$/ },
  memcache: { req: Buffer.from('get k\r\n'), half: 'VALUE k 0 100\r\nabc', whole: 'VALUE k 0 1\r\nv\r\nEND\r\n', error: /^SERVER_ERROR .*\r\n$/ },
} as const;

/** A reply is complete: a single line, or for a memcache VALUE the END line. */
function oneReply(proto: 'redis' | 'memcache', b: Buffer): boolean {
  const s = b.toString('latin1');
  if (proto === 'redis') {
    const rs = new RespStream();
    rs.feed(b);
    return rs.replies.length > 0 || rs.bad;
  }
  return s.startsWith('VALUE ') ? s.endsWith('END\r\n') : s.endsWith('\r\n');
}

/** Five GETs, each on a fresh connection, through a proxy in front of a fake backend that cuts its first reply. */
async function parserResetRun(proxy: 'nutmeg' | 'nutcracker', proto: 'redis' | 'memcache', timeout: number): Promise<{ replies: string[]; conns: number }> {
  const spec = PR[proto];
  let cut = false;
  const fb = await fake(proto, (c: FakeConn) => {
    if (c.index === 0) {
      // half a reply, then the connection closes (the 50 ms makes the half its own read on the proxy's side)
      if (cut) return;
      cut = true;
      c.write(spec.half);
      setTimeout(() => c.sock.destroy(), 50);
      return;
    }
    c.write(spec.whole);
  });
  const [listen] = await freePorts(1);
  const conf = yaml(listen!, fb.port, proto === 'redis', timeout > 0 ? [`timeout: ${timeout}`] : []);
  const px = proxy === 'nutmeg' ? await nutmeg(conf, [listen!]) : await nutcracker(conf, [listen!]);
  const replies: string[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const r = await exchange(listen!, spec.req, (b) => oneReply(proto, b), 3000);
      const s = r.data.toString('latin1');
      replies.push(s.length === 0 ? (r.closed ? '<closed, no reply>' : '<no reply in 3 s>') : s);
    }
  } finally {
    await px.stop();
  }
  return { replies, conns: fb.accepted };
}

for (const proto of ['redis', 'memcache'] as const) {
  for (const timeout of [1000, 0]) {
    const what = timeout > 0 ? `timeout: ${timeout}` : 'no timeout';
    test(`parser-reset (${proto}, ${what}): after a backend closes in the middle of a reply, every later request gets its right reply`, async () => {
      const spec = PR[proto];
      // The oracle first: nutcracker answers this scenario correctly (an error, then every GET served).
      for (const proxy of ['nutcracker', 'nutmeg'] as const) {
        const { replies, conns } = await parserResetRun(proxy, proto, timeout);
        const msg = `${proxy}: ${JSON.stringify(replies)} (backend connections: ${conns})`;
        assert.match(replies[0]!, spec.error, `${msg}: the cut reply is an error`);
        assert.deepEqual(replies.slice(1), [spec.whole, spec.whole, spec.whole, spec.whole], `${msg}: every later GET is served`);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. reentrant-fail: the timeout fails a connection while a client is held back (../shared/repro/reentrant-fail.py)
// ---------------------------------------------------------------------------------------------------------------

/**
 * Fake backend: its first connection never answers; every other connection holds its replies until `release()`,
 * then answers each GET with the key itself as the value.
 */
async function stallingEcho(): Promise<{ fb: FakeBackend; seen: Set<string>; release: () => void }> {
  let released = false;
  const held: [FakeConn, string][] = [];
  const seen = new Set<string>();
  const fb = await fake('redis', (c, args) => {
    const key = (args[1] ?? Buffer.alloc(0)).toString('latin1');
    seen.add(key);
    if (c.index === 0) return;
    const reply = bulk(key);
    if (released) c.write(reply);
    else held.push([c, reply]);
  });
  const release = (): void => {
    released = true;
    for (const [c, r] of held) c.write(r);
    held.length = 0;
  };
  return { fb, seen, release };
}

async function reentrantRun(proxy: 'nutmeg' | 'nutcracker'): Promise<{ c: string[]; b: SeenReply[]; bCount: number; conns: number }> {
  const { fb, seen, release } = await stallingEcho();
  const [listen] = await freePorts(1);
  const conf = yaml(listen!, fb.port, true, ['timeout: 1000']);
  const px = proxy === 'nutmeg' ? await nutmeg(conf, [listen!]) : await nutcracker(conf, [listen!]);
  const B = await Stream.connect(listen!, true); // never reads (until the end)
  let C: Stream | null = null;
  try {
    B.sock.write(Buffer.concat(Array.from({ length: 2000 }, (_, i) => enc('GET', `b:${i}`))));
    // The proxy's timeout fails the first backend connection (the fake never answers it) ...
    await until('the first backend connection timed out', async () => (await serverStat(px, 'server_timedout')) >= 1, 5000);
    // ... then C asks, and once C's request reached the backend, the backend answers everything it holds.
    C = await Stream.connect(listen!);
    C.sock.write(enc('GET', 'c:1'));
    await until('c:1 reached the backend', () => seen.has('c:1'), 3000).catch(() => undefined);
    release();
    await C.waitReplies(1, 3000);
    for (let i = 2; i <= 3; i++) await C.cmd(3000, 'GET', `c:${i}`);
    const c = [1, 2, 3].map((i) => show(C!.rs.replies[i - 1]));
    // B reads at last: its replies must be its own, in order (or errors).
    B.sock.resume();
    await B.waitReplies(2000, 10000);
    return { c, b: B.rs.replies, bCount: B.rs.replies.length, conns: fb.accepted };
  } finally {
    B.close();
    C?.close();
    await px.stop();
  }
}

test('reentrant-fail: after the timeout fails a connection while a client is held back, another client never gets its reply', async () => {
  for (const proxy of ['nutcracker', 'nutmeg'] as const) {
    const r = await reentrantRun(proxy);
    const msg = `${proxy}: client C got ${JSON.stringify(r.c)} (backend connections: ${r.conns})`;
    for (let i = 1; i <= 3; i++) {
      const got = r.c[i - 1]!;
      assert.ok(got === `$3 "c:${i}"` || got.startsWith('-'), `${msg}: GET c:${i} must get c:${i} or an error, never another request's reply`);
    }
    assert.equal(r.c[2], '$3 "c:3"', `${msg}: served again once the backend answers`);
    const wrong = r.b.map((x, i) => [i, x] as const).filter(([i, x]) => !(x.type === '-' || (x.type === '$' && x.head === `b:${i}`)));
    assert.deepEqual(
      wrong.slice(0, 5).map(([i, x]) => `#${i}: ${show(x)}`),
      [],
      `${proxy}: client B's replies are its own, in order (${wrong.length} wrong of ${r.bCount})`,
    );
    assert.equal(r.bCount, 2000, `${proxy}: client B gets all its 2000 replies`);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 3. midreply-timeout: real redis-server stopped (SIGSTOP) while streaming 1 MB replies (../shared/repro/midreply-timeout.py)
// ---------------------------------------------------------------------------------------------------------------

/** The scenario, `iterations` times on one backend and proxy; throws at the first wrong reply. */
async function midreplyRun(proxy: 'nutmeg' | 'nutcracker', iterations: number): Promise<void> {
  const r = await redis();
  const [listen] = await freePorts(1);
  const conf = yaml(listen!, r.port, true, ['timeout: 1000']);
  const px = proxy === 'nutmeg' ? await nutmeg(conf, [listen!]) : await nutcracker(conf, [listen!]);
  const WINDOW = 64;
  const setup = await Stream.connect(r.port);
  assert.equal(show(await setup.cmd(10000, 'SET', 'big', Buffer.alloc(MB, 0x78))), '+OK');
  setup.close();
  const C = await Stream.connect(listen!);
  assert.equal(show(await C.cmd(3000, 'SET', 'small', 'small-value')), '+OK');
  const deadline = Date.now() + 40000;
  try {
    for (let it = 0; it < iterations && Date.now() < deadline; it++) {
      const tag = `${proxy} #${it}`;
      // B pipelines 300 GETs of 1 MB, at most WINDOW in flight, and reads them as they come. WINDOW MB is far more
      // than the loopback socket buffers hold, so the backend is always in the middle of writing a reply when it
      // stops; yet no request waits anywhere near the pool's timeout on its own.
      const B = await Stream.connect(listen!);
      let sent = 0;
      const feeder = (async () => {
        const end = Date.now() + 30000;
        while (sent < 300 && !B.closed && !B.rs.bad && Date.now() < end) {
          await B.wait(() => sent - B.rs.replies.length < WINDOW, 1000);
          const n = Math.min(300 - sent, WINDOW - (sent - B.rs.replies.length));
          if (n > 0) B.sock.write(Buffer.concat(Array.from({ length: n }, () => enc('GET', 'big'))));
          sent += Math.max(0, n);
        }
      })();
      try {
        assert.ok(await B.wait(() => B.rs.bytes >= 8 * MB, 10000), `${tag}: B received ${B.rs.bytes} bytes: ${B.rs.replies.slice(0, 3).map(show)}`);
        const before = await serverStat(px, 'server_timedout');
        r.signal('SIGSTOP');
        try {
          await until(`${tag}: the backend connection timed out`, async () => (await serverStat(px, 'server_timedout')) > before, 5000);
        } finally {
          r.signal('SIGCONT');
        }
        const got: string[] = [];
        for (let i = 0; i < 4; i++) got.push(show(await C.cmd(3000, 'GET', 'small')));
        // Each is small's value or an error (one queued behind B's megabytes on a loaded machine may time out),
        // never another request's reply; the last one is small's value.
        const want = '$11 "small-value"';
        const msg = `${tag}: GET small after the timeout got ${JSON.stringify(got)} (B had ${B.rs.replies.length} replies)`;
        assert.ok(got.every((x) => x === want || x.startsWith('-ERR Connection timed out')), msg);
        assert.equal(got[3], want, msg);
        // B: 300 replies, each the 1 MB value or an error, none of them C's.
        await feeder;
        await B.waitReplies(300, 15000);
        const odd = B.rs.replies.filter((x) => !(x.type === '-' || (x.type === '$' && x.len === MB)));
        assert.equal(B.rs.bad, false, `${tag}: B's stream frames as RESP`);
        assert.deepEqual(odd.slice(0, 5).map(show), [], `${tag}: B gets only the 1 MB value or errors`);
        assert.equal(B.rs.replies.length, 300, `${tag}: B gets one reply per GET`);
      } finally {
        B.close();
      }
    }
  } finally {
    r.signal('SIGCONT');
    C.close();
    await px.stop();
    await r.stop();
  }
}

test('midreply-timeout: a backend stopped in the middle of 1 MB replies past the timeout, then continued: other clients get their own values', async () => {
  await midreplyRun('nutcracker', 1); // the oracle
  await midreplyRun('nutmeg', 3);
});

// ---------------------------------------------------------------------------------------------------------------
// 4. The write-then-read stall (issue 11): a redis-py pipeline writes every command before reading any reply
// ---------------------------------------------------------------------------------------------------------------

const VALUE_2MB = 2 * MB;

function keyValue(i: number): Buffer {
  const v = Buffer.alloc(VALUE_2MB, 0x61 + i);
  v.write(`pre:${i}:`, 0, 'latin1');
  return v;
}

/** 60 GETs of the 10 preloaded keys and 40 SETs of 2 MB, interleaved GET SET GET SET GET. */
function pipeline(): { data: Buffer; expect: string[] } {
  const parts: Buffer[] = [];
  const expect: string[] = [];
  const setValue = Buffer.alloc(VALUE_2MB, 0x7a);
  let g = 0;
  let s = 0;
  for (let i = 0; i < 100; i++) {
    if (i % 5 === 1 || i % 5 === 3) {
      parts.push(enc('SET', `w:${s++}`, setValue));
      expect.push('+OK');
    } else {
      const k = g++ % 10;
      parts.push(enc('GET', `pre:${k}`));
      expect.push(`$${VALUE_2MB} ${JSON.stringify(`pre:${k}:`.padEnd(24, String.fromCharCode(0x61 + k)))}`);
    }
  }
  return { data: Buffer.concat(parts), expect };
}

/** Writes the whole pipeline without reading; once the write completed, reads every reply. Bounded by `timeoutMs`. */
async function writeThenRead(port: number, data: Buffer, n: number, timeoutMs: number): Promise<{ written: boolean; replies: SeenReply[]; ms: number; received: number }> {
  const t0 = Date.now();
  const s = await Stream.connect(port, true);
  try {
    let written = false;
    s.sock.write(data, () => {
      written = true;
    });
    await until('the pipeline written', () => written || s.closed, timeoutMs).catch(() => undefined);
    if (written) {
      s.sock.resume();
      await s.waitReplies(n, Math.max(1, timeoutMs - (Date.now() - t0)));
    }
    return { written, replies: s.rs.replies, ms: Date.now() - t0, received: s.rs.bytes };
  } finally {
    s.close();
  }
}

test('write-then-read: a client that writes 60 GETs and 40 SETs of 2 MB before reading any reply never stalls (5 runs)', async (t) => {
  const r = await redis();
  const direct = await Stream.connect(r.port);
  for (let i = 0; i < 10; i++) direct.sock.write(enc('SET', `pre:${i}`, keyValue(i)));
  assert.ok(await direct.waitReplies(10, 20000), 'preloaded 10 keys of 2 MB');
  direct.close();
  const [ln, lm] = await freePorts(2);
  const nc = await nutcracker(yaml(ln!, r.port, true, ['timeout: 10000']), [ln!]);
  const nm = await nutmeg(yaml(lm!, r.port, true, ['timeout: 10000']), [lm!]);
  const { data, expect } = pipeline();
  const targets: [string, number, number][] = [
    ['direct', r.port, 1],
    ['nutcracker', ln!, 1],
    ['nutmeg', lm!, 5],
  ];
  try {
    for (const [name, port, runs] of targets) {
      const seen: string[] = [];
      for (let run = 0; run < runs; run++) {
        const res = await writeThenRead(port, data, expect.length, 20000);
        const line = `${name} run ${run + 1}: ${res.written ? 'written' : 'write never completed'}, ${res.replies.length}/100 replies, ${(res.received / MB).toFixed(1)} MB read, ${res.ms} ms`;
        seen.push(line);
        t.diagnostic(line);
        assert.ok(res.written, `${line}: the proxy stopped reading a client that is still writing (stalled)`);
        assert.equal(res.replies.length, expect.length, `${line}: every reply within 20 s`);
        assert.deepEqual(res.replies.map(show), expect, `${line}: replies`);
      }
    }
  } finally {
    await nc.stop();
    await nm.stop();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 5. A client that never reads is bounded by bytes: client_buffer_limit, client_overflow
// ---------------------------------------------------------------------------------------------------------------

/** Resident set size of a process in MB (VmRSS). */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Writes, and when the socket's buffer is full waits for 'drain', 'close' or the deadline: never more queued in this process. */
async function writeOrWait(sock: net.Socket, data: Buffer, deadline: number): Promise<void> {
  if (sock.write(data)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    const t = setTimeout(done, Math.max(1, deadline - Date.now()));
    sock.on('drain', done);
    sock.on('close', done);
  });
}

test('a client that never reads is bounded by bytes: past client_buffer_limit it is disconnected and counted; RSS bounded; others keep their timeout', async (t) => {
  const LIMIT = 32 * MB;
  const r = await redis();
  const [listen] = await freePorts(1);
  const px = await nutmeg(yaml(listen!, r.port, true, ['timeout: 1000', `client_buffer_limit: ${LIMIT}`]), [listen!]);
  const setup = await Stream.connect(r.port);
  assert.equal(show(await setup.cmd(10000, 'SET', 'big', Buffer.alloc(MB, 0x62))), '+OK');
  assert.equal(show(await setup.cmd(3000, 'SET', 'small', 'small-value')), '+OK');
  setup.close();
  const good = await Stream.connect(listen!);
  const base = rssMb(px.pid);
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(px.pid))), 50);
  let stop = false;
  const hogs = { started: 0, disconnected: 0, wrote: 0, live: null as Stream | null };
  try {
    // Up to 4 hogs, one after another, for at most 3 s: each keeps writing GETs of the 1 MB value (1000 per batch,
    // 1 GB of replies owed per batch) and never reads. Each must be disconnected past the limit; one that is not
    // within 20 s ends the loop.
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => enc('GET', 'big')));
    const hogLoop = (async () => {
      const end = Date.now() + 3000;
      while (Date.now() < end && hogs.started < 4) {
        const hog = await Stream.connect(listen!, true);
        hogs.live = hog;
        hogs.started++;
        const hogEnd = Date.now() + 20000;
        while (!hog.closed && Date.now() < hogEnd) {
          await writeOrWait(hog.sock, batch, hogEnd);
          hogs.wrote += 1000;
        }
        const closed = hog.closed;
        hog.close();
        if (!closed) break;
        hogs.disconnected++;
      }
    })();
    // Meanwhile another client on the same backend: each GET answered right, well within the pool's timeout.
    let served = 0;
    let worst = 0;
    const bad: string[] = [];
    const goodUntil = Date.now() + 2000; // at least 2 s, and as long as the hogs last
    const goodLoop = (async () => {
      for (let i = 0; (!stop || Date.now() < goodUntil) && i < 20000; i++) {
        const t0 = Date.now();
        const got = show(await good.cmd(2000, 'GET', 'small'));
        worst = Math.max(worst, Date.now() - t0);
        if (got !== '$11 "small-value"') bad.push(got);
        else served++;
        if (bad.length > 0 || good.closed) break;
        await sleep(2); // pacing: a steady client, not a second hog
      }
    })();
    await hogLoop;
    stop = true;
    await goodLoop;
    clearInterval(sampler);
    const overflow = async (): Promise<number> => num(await poolStatsOf(px, 'p'), 'client_overflow') ?? 0;
    await until('client_overflow counts every hog', async () => (await overflow()) >= hogs.started, 3000).catch(() => undefined);
    const counted = await overflow();
    t.diagnostic(
      `${hogs.started} hogs wrote ${hogs.wrote} GETs of 1 MB; ${hogs.disconnected} disconnected; client_overflow ${counted}; ` +
        `RSS ${base.toFixed(0)} MB at start, peak ${peak.toFixed(0)} MB; good client ${served} GETs, worst ${worst} ms, bad ${JSON.stringify(bad.slice(0, 3))}`,
    );
    assert.deepEqual(bad, [], 'the other client gets every reply right and none times out');
    assert.ok(worst < 1000, `the other client's worst GET took ${worst} ms (pool timeout 1000 ms)`);
    assert.ok(served > 20, `the other client was served ${served} times`);
    // A margin for garbage not yet collected (4 hogs one after another); before the fix one hog alone grew it 281 MB.
    assert.ok(peak - base < 6 * (LIMIT / MB), `RSS grew ${(peak - base).toFixed(0)} MB (limit ${LIMIT / MB} MB per client)`);
    assert.equal(hogs.disconnected, hogs.started, 'every client that never reads is disconnected past client_buffer_limit');
    assert.ok(counted >= hogs.disconnected, `client_overflow counts them (${counted} for ${hogs.disconnected})`);
    // The proxy serves normally afterwards.
    assert.equal(show(await good.cmd(3000, 'GET', 'small')), '$11 "small-value"');
  } finally {
    stop = true;
    clearInterval(sampler);
    hogs.live?.close();
    good.close();
  }
});
