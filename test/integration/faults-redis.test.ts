// Liveness of a Redis pool under real faults: backends hung (SIGSTOP), killed (SIGKILL) and restarted,
// timeouts, auto-ejection compared with the real nutcracker, preconnect, and graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import Redis from 'ioredis';
import { startRedis, freePorts, sleep, type Backend, type ProxyProc } from '../helpers/procs';
import { trackProcs, poolYaml as pool, keysOn, poolStatsOf, srv, num, assertTwoEjections, type PoolStats, type EjectRun } from '../helpers/faults';
import { Resp, enc } from '../helpers/resp-client';
import { Router } from '../../src/route/router';

const { track, nutmeg, nutcracker } = trackProcs();

async function redis(port?: number): Promise<Backend> {
  return track(await startRedis(port));
}

function poolYaml(listen: number, backends: Backend[], extra: string[]): string {
  return pool('alpha', listen, backends, ['redis: true', ...extra]);
}

function poolStats(p: ProxyProc): Promise<PoolStats> {
  return poolStatsOf(p, 'alpha');
}

const TIMEDOUT = '-ERR Connection timed out\r\n';
const REFUSED = '-ERR Connection refused\r\n';
const NIL = '$-1\r\n';
const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

test('timeout: a hung backend (SIGSTOP) fails its requests in order, others are unaffected, SIGCONT recovers', async () => {
  const b = [await redis(), await redis()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 400']), [port!]);
  const [a0, a1] = keysOn(2, 0, 'to:a:', 2);
  const [c0] = keysOn(2, 1, 'to:c:', 1);
  const c = await Resp.connect(port!);
  const other = await Resp.connect(port!);
  try {
    assert.equal(await c.cmd('SET', a0!, 'A'), '+OK\r\n');
    assert.equal(await c.cmd('SET', c0!, 'C'), '+OK\r\n');
    await b[0]!.pause();
    const t0 = Date.now();
    // Pipelined: hung, live, hung, local. The live reply must wait behind the first error.
    c.send('GET', a0!);
    c.send('GET', c0!);
    c.send('GET', a1!);
    c.send('PING');
    other.send('GET', a1!); // another client on the same hung connection fails with it
    const first = await c.take(1, 3000);
    const firstAt = Date.now() - t0;
    const rest = await c.take(3, 3000);
    const replies = [...first, ...rest];
    assert.deepEqual(replies, [TIMEDOUT, bulk('C'), TIMEDOUT, '+PONG\r\n']);
    assert.ok(firstAt >= 380 && firstAt < 1500, `first reply after ${firstAt} ms`);
    assert.deepEqual(await other.take(1, 2000), [TIMEDOUT]);
    // Live server still answers while the other one hangs.
    assert.equal(await c.cmd('GET', c0!), bulk('C'));
    const st = await poolStats(px);
    assert.equal(srv(st, 's0').server_timedout, 1, 'one connection closed by timeout');
    assert.equal(srv(st, 's1').server_timedout, 0);
    assert.ok(num(st, 'forward_error') >= 3);
    b[0]!.signal('SIGCONT');
    await sleep(50);
    assert.equal(await c.cmd('GET', a0!), bulk('A'), 'reconnects after SIGCONT');
    assert.equal(await other.cmd('GET', a0!), bulk('A'));
    assert.equal(c.garbage || other.garbage, false);
  } finally {
    b[0]!.signal('SIGCONT');
    c.close();
    other.close();
  }
});

test('a timeout is a failure for auto-eject: ejected after server_failure_limit timeouts, like nutcracker', async () => {
  const b = [await redis(), await redis()];
  const [pn, pm] = await freePorts(2);
  const extra = ['timeout: 300', 'auto_eject_hosts: true', 'server_failure_limit: 1', 'server_retry_timeout: 60000'];
  const nc = await nutcracker(poolYaml(pn!, b, extra), [pn!]);
  const nm = await nutmeg(poolYaml(pm!, b, extra), [pm!]);
  const [k] = keysOn(2, 0, 'tf:', 1);
  await b[0]!.pause();
  try {
    for (const [px, port] of [[nc, pn!], [nm, pm!]] as const) {
      const c = await Resp.connect(port);
      try {
        assert.equal(await c.cmd('GET', k!), TIMEDOUT);
        assert.equal(await c.cmd('GET', k!), NIL, 'the key moved to s1');
        await sleep(300);
        const st = await poolStats(px);
        assert.equal(num(st, 'server_ejects'), 1);
        assert.equal(srv(st, 's0').server_timedout, 1);
        assert.ok(srv(st, 's0').server_ejected_at! > 0);
      } finally {
        c.close();
      }
    }
  } finally {
    b[0]!.signal('SIGCONT');
  }
});

test('timeout also covers the connection handshake (redis_db SELECT on a new connection)', async () => {
  const b = [await redis(), await redis()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 300', 'redis_db: 1']), [port!]);
  const [a0] = keysOn(2, 0, 'hs:', 1);
  const c = await Resp.connect(port!);
  try {
    // Hung before the first request: the connection's head is the internal SELECT.
    await b[0]!.pause();
    const t0 = Date.now();
    c.send('GET', a0!);
    assert.deepEqual(await c.take(1, 3000), [TIMEDOUT]);
    const dt = Date.now() - t0;
    assert.ok(dt >= 280 && dt < 1500, `timed out after ${dt} ms`);
    b[0]!.signal('SIGCONT');
    await sleep(50);
    assert.equal(await c.cmd('SET', a0!, 'x'), '+OK\r\n');
    const d = new Redis({ port: b[0]!.port, db: 1 });
    assert.equal(await d.get(a0!), 'x', 'the SELECT went first');
    d.disconnect();
    assert.equal(srv(await poolStats(px), 's0').server_timedout, 1);
  } finally {
    b[0]!.signal('SIGCONT');
    c.close();
  }
});

test('timeout covers connecting: a backend whose accept queue is full (SYN dropped)', async () => {
  const b = [await redis(undefined), await redis()];
  const [port] = await freePorts(1);
  // Restart s0 with the smallest accept backlog, stop it, and fill the queue with idle connections.
  await b[0]!.stop();
  const slow = track(await startRedis(b[0]!.port, ['--tcp-backlog', '1']));
  b[0] = slow;
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 300']), [port!]);
  const [a0] = keysOn(2, 0, 'cn:', 1);
  const [c0] = keysOn(2, 1, 'cn:c:', 1);
  await slow.pause();
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ port: slow.port, host: '127.0.0.1' });
    s.on('error', () => {});
    fillers.push(s);
  }
  await sleep(100);
  const c = await Resp.connect(port!);
  try {
    const t0 = Date.now();
    c.send('GET', a0!);
    c.send('GET', c0!);
    assert.deepEqual(await c.take(2, 3000), [TIMEDOUT, NIL]);
    const dt = Date.now() - t0;
    assert.ok(dt >= 280 && dt < 1500, `timed out after ${dt} ms`);
    const st = srv(await poolStats(px), 's0');
    assert.equal(st.server_timedout, 1);
    assert.equal(st.server_connections, 0, 'the connection never completed');
  } finally {
    for (const s of fillers) s.destroy();
    slow.signal('SIGCONT');
    c.close();
  }
});

/** Writes `n` keys through the proxy, then asks every live backend directly which of them it holds. */
async function placement(c: Resp, backends: Backend[], live: number[], n: number): Promise<number[]> {
  for (let i = 0; i < n; i++) c.send('SET', `pl:${i}`, 'x');
  const r = await c.take(n);
  assert.equal(r.filter((x) => x === '+OK\r\n').length, n, `all SETs stored: ${r.slice(0, 3).join(' ')}`);
  const where = new Array<number>(n).fill(-1);
  const keys = Array.from({ length: n }, (_, i) => `pl:${i}`);
  for (const i of live) {
    const d = new Redis({ port: backends[i]!.port });
    const got = await d.mget(...keys);
    got.forEach((v, k) => {
      if (v !== null) where[k] = i;
    });
    await d.del(...keys);
    d.disconnect();
  }
  return where;
}

/**
 * The auto-eject scenario, the same for nutcracker and nutmeg: s1 killed, failures until ejected, keys moved,
 * retried after server_retry_timeout (still dead: ejected again), restarted, back on the next retry.
 */
async function ejectScenario(px: ProxyProc, port: number, b: Backend[], retryMs: number): Promise<EjectRun> {
  const dead = keysOn(3, 1, 'ej:', 10);
  const log: string[] = [];
  const stats: PoolStats[] = [];
  const windows: [number, number][] = [];
  const c = await Resp.connect(port);
  /** A GET during which an ejection is expected: its send and reply times bound server_ejected_at. */
  const timed = async (k: string): Promise<void> => {
    const t0 = Date.now();
    log.push(await c.cmd('GET', k));
    windows.push([t0, Date.now()]);
  };
  try {
    await b[1]!.stop();
    // failure 1, failure 2 = server_failure_limit: ejected; then the key lives elsewhere.
    log.push(await c.cmd('GET', dead[0]!));
    await timed(dead[1]!);
    for (let i = 2; i < 5; i++) log.push(await c.cmd('GET', dead[i]!));
    const moved = await placement(c, b, [0, 2], 200);
    await sleep(300); // nutcracker hands its stats over after a loop wakeup (-i 1)
    stats.push(await poolStats(px));
    const [sent, got] = windows[0]!;
    // Before the retry time: still ejected.
    await sleep(Math.max(0, sent + retryMs - 400 - Date.now()));
    log.push(await c.cmd('GET', dead[5]!));
    // After it: tried again (no health check), still dead: two more failures, ejected again.
    await sleep(Math.max(0, got + retryMs + 200 - Date.now()));
    log.push(await c.cmd('GET', dead[6]!));
    await timed(dead[7]!);
    log.push(await c.cmd('GET', dead[8]!));
    b[1] = await redis(b[1]!.port);
    await sleep(Math.max(0, windows[1]![1] + retryMs + 200 - Date.now()));
    // Back: the restarted server answers and keeps its keys.
    log.push(await c.cmd('SET', dead[9]!, 'back'));
    log.push(await c.cmd('GET', dead[9]!));
    const d = new Redis({ port: b[1]!.port });
    log.push(`direct:${await d.get(dead[9]!)}`);
    await d.flushall();
    d.disconnect();
    await sleep(300);
    stats.push(await poolStats(px));
    return { log, moved, stats, windows };
  } finally {
    c.close();
  }
}

test('auto-eject: ejection, key movement, retry and return match nutcracker on the same backends', async () => {
  const b = [await redis(), await redis(), await redis()];
  const [pn, pm] = await freePorts(2);
  const retryMs = 1500;
  const extra = ['timeout: 1000', 'auto_eject_hosts: true', 'server_failure_limit: 2', `server_retry_timeout: ${retryMs}`];
  const nc = await nutcracker(poolYaml(pn!, b, extra), [pn!]);
  const nm = await nutmeg(poolYaml(pm!, b, extra), [pm!]);
  const want = [REFUSED, REFUSED, NIL, NIL, NIL, NIL, REFUSED, REFUSED, NIL, '+OK\r\n', bulk('back'), 'direct:back'];
  const ref = await ejectScenario(nc, pn!, b, retryMs);
  assert.deepEqual(ref.log, want, 'nutcracker behaves as the spec says');
  const got = await ejectScenario(nm, pm!, b, retryMs);
  assert.deepEqual(got.log, want);
  // Keys of the ejected server move exactly where nutcracker moves them; the others stay.
  assert.equal(got.moved.filter((x) => x < 0).length, 0);
  assert.deepEqual(got.moved, ref.moved);
  const s1Keys = new Set(keysOn(3, 1, 'pl:', 200).map((k) => Number(k.slice(3))).filter((i) => i < 200));
  const stay = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers: [0, 1, 2].map((i) => ({ name: `s${i}`, weight: 1 })) });
  for (let i = 0; i < 200; i++) {
    const k = Buffer.from(`pl:${i}`);
    if (!s1Keys.has(i)) assert.equal(got.moved[i], stay.route(k, 0, k.length), `pl:${i} does not move`);
  }
  // Counts and times: one ejection during the 2nd failing request, a second one during the 2nd failure
  // after the retry time; s0/s2 never. The same holds for nutcracker.
  for (const run of [got, ref]) {
    assertTwoEjections(run);
    assert.ok(run.windows[1]![1] - run.windows[0]![0] >= retryMs, 'not retried before server_retry_timeout');
    assert.equal(srv(run.stats[1]!, 's2').server_ejected_at, 0);
  }
  // Failures were counted per connection close (refused connects are server_err).
  assert.equal(srv(got.stats[1]!, 's1').server_err, srv(ref.stats[1]!, 's1').server_err);
});

test('without auto-eject a dead server fails fast with Connection refused and the others are unaffected', async () => {
  const b = [await redis(), await redis(), await redis()];
  const [pn, pm] = await freePorts(2);
  const extra = ['timeout: 2000', 'server_failure_limit: 1'];
  await nutcracker(poolYaml(pn!, b, extra), [pn!]);
  await nutmeg(poolYaml(pm!, b, extra), [pm!]);
  const dead = keysOn(3, 1, 'nd:', 5);
  const live = [...keysOn(3, 0, 'nl:', 3), ...keysOn(3, 2, 'nl:', 3)];
  const n = await Resp.connect(pn!);
  const m = await Resp.connect(pm!);
  try {
    for (const k of live) {
      assert.equal(await m.cmd('SET', k, k), '+OK\r\n');
    }
    await b[1]!.stop();
    for (const k of dead) {
      const t = Date.now();
      const r = await m.cmd('GET', k);
      assert.equal(r, REFUSED);
      assert.ok(Date.now() - t < 200, 'fails fast');
      assert.equal(await n.cmd('GET', k), r, 'same as nutcracker');
    }
    for (const k of live) assert.equal(await m.cmd('GET', k), bulk(k));
    // Pipelined mix: errors stay in their slots.
    m.send('GET', dead[0]!);
    m.send('GET', live[0]!);
    m.send('GET', dead[1]!);
    m.send('GET', live[5]!);
    assert.deepEqual(await m.take(4), [REFUSED, bulk(live[0]!), REFUSED, bulk(live[5]!)]);
    b[1] = await redis(b[1]!.port);
    assert.equal(await m.cmd('SET', dead[0]!, 'v'), '+OK\r\n', 'reconnected on demand');
  } finally {
    n.close();
    m.close();
  }
});

/** Allowed error replies when a backend dies under a request (spec §6.6). */
const DEATH = /^(ERR (unknown|Connection refused|Connection reset by peer|Broken pipe|Connection timed out))$/;

test('SIGKILL under load: every in-flight request gets its own reply or an error, none lost or doubled; restart reconnects', async (t) => {
  const b = [await redis(), await redis(), await redis()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 3000']), [port!]);
  let stop = false;
  const bad: string[] = [];
  let issued = 0;
  let settled = 0;
  let ok = 0;
  let errors = 0;
  // ioredis clients: SET k v=k then GET k (pipelined by concurrency); GET must return v=k, nil or an error.
  const clients = Array.from({ length: 6 }, () => new Redis({ port: port!, maxRetriesPerRequest: 0, commandTimeout: 6000, enableOfflineQueue: false }));
  let unexpectedClose = 0;
  for (const r of clients) r.on('close', () => (stop ? undefined : unexpectedClose++));
  const raws: Resp[] = [];
  try {
    await Promise.all(clients.map((r) => new Promise((resolve) => r.once('ready', resolve))));
    async function worker(r: Redis, id: number): Promise<void> {
      for (let i = 0; !stop && i < 100000; i++) {
        const k = `load:${id}:${i}:${Math.random().toString(36).slice(2, 8)}`;
        issued += 2;
        const [s, g] = await Promise.all([r.set(k, `v=${k}`).then(String, (e: Error) => e), r.get(k).then((v) => v, (e: Error) => e)]);
        settled += 2;
        for (const x of [s, g]) {
          if (x instanceof Error) {
            errors++;
            if (!DEATH.test(x.message)) bad.push(`${k}: ${x.message}`);
          } else ok++;
        }
        if (s !== 'OK' && !(s instanceof Error)) bad.push(`${k}: SET -> ${String(s)}`);
        if (!(g instanceof Error) && g !== null && g !== `v=${k}`) bad.push(`${k}: GET -> ${g}`);
      }
    }
    // Raw pipelining clients: batches of SET/GET pairs; exactly one framed reply per request.
    raws.push(...(await Promise.all([0, 1, 2].map(() => Resp.connect(port!)))));
    let rawReplies = 0;
    let rawRequests = 0;
    async function rawWorker(c: Resp, id: number): Promise<void> {
      for (let round = 0; !stop && round < 10000; round++) {
        const n = 50;
        const keys: string[] = [];
        for (let i = 0; i < n; i++) {
          const k = `raw:${id}:${round}:${i}`;
          keys.push(k);
          c.send('SET', k, `v=${k}`);
          c.send('GET', k);
        }
        c.send('MGET', ...keys.slice(0, 12)); // split over the three servers, merged back
        rawRequests += 2 * n + 1;
        const got = await c.take(2 * n + 1, 8000);
        rawReplies += got.length;
        if (got.length !== 2 * n + 1) bad.push(`raw ${id} round ${round}: ${got.length} replies for ${2 * n + 1}`);
        const m = got[2 * n];
        if (m !== undefined && !/^-ERR /.test(m)) {
          const want = keys.slice(0, 12).map((k) => new RegExp(`^(\\$${`v=${k}`.length}\r\nv=${k}\r\n|\\$-1\r\n)`));
          let rest = m.startsWith('*12\r\n') ? m.slice(5) : (bad.push(`MGET -> ${m.slice(0, 40)}`), '');
          for (const re of want) {
            const x = re.exec(rest);
            if (x === null) {
              bad.push(`MGET element: ${rest.slice(0, 40)}`);
              break;
            }
            rest = rest.slice(x[0].length);
          }
        }
        for (let i = 0; i + 1 < 2 * n && i < got.length; i += 2) {
          const k = `raw:${id}:${round}:${i / 2}`;
          const s = got[i]!;
          const g = got[i + 1] ?? '';
          if (s !== '+OK\r\n' && !/^-ERR /.test(s)) bad.push(`${k}: SET -> ${s}`);
          if (g !== bulk(`v=${k}`) && g !== NIL && !/^-ERR /.test(g)) bad.push(`${k}: GET -> ${g}`);
        }
      }
    }
    const work = [...clients.flatMap((r, i) => [0, 1, 2, 3].map((j) => worker(r, 4 * i + j))), ...raws.map((c, i) => rawWorker(c, i))];
    await sleep(600);
    await b[1]!.stop(); // SIGKILL mid-load
    await sleep(600);
    b[1] = await redis(b[1]!.port); // same port
    await sleep(600);
    stop = true;
    await Promise.all(work);
    await sleep(200);
      t.diagnostic(`ioredis ${issued} requests (${ok} ok, ${errors} errors), raw ${rawRequests} requests`);
    assert.deepEqual(bad.slice(0, 10), []);
      assert.equal(settled, issued, 'every ioredis request settled');
      assert.equal(rawReplies, rawRequests, 'every raw request got exactly one reply');
      for (const c of raws) {
        assert.equal(c.replies.length, 0, 'no extra replies');
        assert.equal(c.garbage, false);
        assert.equal(c.closed, false);
      }
      assert.equal(unexpectedClose, 0, 'the proxy kept every client connection');
      assert.ok(errors > 0, 'the kill was felt');
      assert.ok(ok > 1000, `requests succeeded around the kill (${ok} ok, ${errors} errors)`);
      // After the restart, keys of the restarted server work again (connection re-established on demand).
      const ks = keysOn(3, 1, 'after:', 20);
      for (const k of ks) assert.equal(await clients[0]!.set(k, k), 'OK');
      assert.deepEqual(await clients[1]!.mget(...ks), ks);
      const st = srv(await poolStats(px), 's1');
      assert.ok(st.server_eof! + st.server_err! >= 1, 'the death was counted');
      assert.equal(st.server_connections, 1);
  } finally {
    for (const r of clients) r.disconnect();
    for (const c of raws) c.close();
  }
});

test('preconnect: true connects to every server at start', async () => {
  const b = [await redis(), await redis()];
  const [p1, p2] = await freePorts(2);
  const pre = await nutmeg(poolYaml(p1!, b, ['preconnect: true']), [p1!]);
  const lazy = await nutmeg(poolYaml(p2!, b, []), [p2!]);
  await sleep(200);
  const s = await poolStats(pre);
  assert.equal(srv(s, 's0').server_connections, 1);
  assert.equal(srv(s, 's1').server_connections, 1);
  const l = await poolStats(lazy);
  assert.equal(srv(l, 's0').server_connections, 0);
  // A preconnected server that dies is reconnected on demand once back.
  await b[0]!.stop();
  await sleep(200);
  assert.equal(srv(await poolStats(pre), 's0').server_connections, 0);
  b[0] = await redis(b[0]!.port);
  const c = await Resp.connect(p1!);
  try {
    const [k] = keysOn(2, 0, 'pre:', 1);
    assert.equal(await c.cmd('SET', k!, '1'), '+OK\r\n');
    assert.equal(srv(await poolStats(pre), 's0').server_connections, 1);
  } finally {
    c.close();
  }
});

test('SIGTERM: stops accepting, the slow in-flight request still gets its reply, exit 0', async () => {
  const b = [await redis()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 5000']), [port!]);
  const c = await Resp.connect(port!);
  try {
    const big = 'r'.repeat(8 * 1024 * 1024); // larger than socket buffers: must not be cut by the exit
    assert.equal(await c.cmd('SET', 'slow', big), '+OK\r\n');
    await b[0]!.pause();
    c.send('GET', 'slow');
    c.send('PING');
    await sleep(100);
    px.signal('SIGTERM');
    await sleep(200);
    // No new clients.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: port!, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    assert.equal(refused, true, 'listener closed');
    b[0]!.signal('SIGCONT');
    const r = await c.take(2, 3000);
    assert.equal(r.length, 2, `two replies, got ${r.length}`);
    assert.ok(r[0] === bulk(big), `full value (${r[0]?.length} bytes)`);
    assert.equal(r[1], '+PONG\r\n');
    const code = await Promise.race([px.exited, sleep(3000).then(() => 'hang')]);
    assert.equal(code, 0);
  } finally {
    b[0]!.signal('SIGCONT');
    c.close();
  }
});

test('SIGINT with a request that never completes: bounded drain, error or close for the client, exit 0', async () => {
  const b = [await redis()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, []), [port!]); // no timeout: the request would wait forever
  const c = await Resp.connect(port!);
  try {
    await b[0]!.pause();
    c.send('GET', 'forever');
    await sleep(100);
    const t0 = Date.now();
    px.signal('SIGINT');
    const code = await Promise.race([px.exited, sleep(9000).then(() => 'hang')]);
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 8000);
    const r = await c.take(1, 1000);
    assert.ok(c.closed, 'client closed');
    assert.ok(r.length === 0 || /^-ERR /.test(r[0]!), `error or nothing: ${r.join('')}`);
  } finally {
    b[0]!.signal('SIGCONT');
    c.close();
  }
});
