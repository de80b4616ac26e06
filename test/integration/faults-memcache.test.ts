// Liveness of a memcached pool under real faults: backends hung (SIGSTOP), killed (SIGKILL) and restarted,
// timeouts, auto-ejection compared with the real nutcracker, and raw pipelining clients under a kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMemcached, freePorts, sleep, type Backend, type ProxyProc } from '../helpers/procs';
import { trackProcs, poolYaml as pool, keysOn, connectClient, FramedClient, poolStatsOf, srv, assertTwoEjections, type PoolStats, type EjectRun } from '../helpers/faults';
import { McReplyParser, MODE_RETRIEVAL, MODE_SINGLE } from '../../src/protocol/memcache/reply';

const { track, nutmeg, nutcracker } = trackProcs();

async function memcached(port?: number): Promise<Backend> {
  return track(await startMemcached(port));
}

function poolYaml(listen: number, backends: Backend[], extra: string[]): string {
  return pool('beta', listen, backends, extra);
}

function poolStats(p: ProxyProc): Promise<PoolStats> {
  return poolStatsOf(p, 'beta');
}

/** Raw memcache client: each reply is framed by the reply parser in the mode of its request. */
class Mc extends FramedClient {
  private readonly parser = new McReplyParser();
  private readonly modes: number[] = [];

  static connect(port: number): Promise<Mc> {
    return connectClient(port, (s) => new Mc(s));
  }

  protected override frame(buf: Buffer): number {
    const mode = this.modes[0];
    if (mode === undefined) return -1; // bytes nobody asked for
    this.parser.mode = mode;
    const end = FramedClient.framed(this.parser.parse(buf, 0), this.parser.end);
    if (end > 0) this.modes.shift();
    return end;
  }

  get(...keys: string[]): void {
    this.modes.push(MODE_RETRIEVAL);
    this.sock.write(`get ${keys.join(' ')}\r\n`);
  }

  set(key: string, value: string): void {
    this.modes.push(MODE_SINGLE);
    this.sock.write(`set ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`);
  }

  async one(): Promise<string> {
    const r = await this.take(1);
    assert.equal(r.length, 1, `one reply: ${JSON.stringify(r)}`);
    return r[0]!;
  }
}

const TIMEDOUT = 'SERVER_ERROR Connection timed out\r\n';
const REFUSED = 'SERVER_ERROR Connection refused\r\n';
const STORED = 'STORED\r\n';
const END = 'END\r\n';
const value = (k: string, v: string): string => `VALUE ${k} 0 ${Buffer.byteLength(v)}\r\n${v}\r\n`;

test('timeout: a hung memcached (SIGSTOP) fails its requests in order; split gets fail whole; SIGCONT recovers', async () => {
  const b = [await memcached(), await memcached()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 400']), [port!]);
  const [a0, a1] = keysOn(2, 0, 'to:a:', 2);
  const [c0] = keysOn(2, 1, 'to:c:', 1);
  const c = await Mc.connect(port!);
  try {
    c.set(a0!, 'A');
    c.set(c0!, 'C');
    assert.deepEqual(await c.take(2), [STORED, STORED]);
    await b[0]!.pause();
    const t0 = Date.now();
    c.get(a0!);
    c.get(c0!);
    c.get(a1!, c0!); // split over the hung and the live server
    c.set(a1!, 'x');
    const first = await c.take(1, 3000);
    const dt = Date.now() - t0;
    const replies = [...first, ...(await c.take(3, 3000))];
    assert.deepEqual(replies, [TIMEDOUT, value(c0!, 'C') + END, TIMEDOUT, TIMEDOUT]);
    assert.ok(dt >= 380 && dt < 1500, `first reply after ${dt} ms`);
    c.get(c0!);
    assert.deepEqual(await c.take(1), [value(c0!, 'C') + END], 'the live server is unaffected');
    const st = await poolStats(px);
    assert.equal(srv(st, 's0').server_timedout, 1);
    assert.equal(srv(st, 's1').server_timedout, 0);
    b[0]!.signal('SIGCONT');
    await sleep(50);
    c.get(a0!, c0!);
    assert.deepEqual(await c.take(1), [value(a0!, 'A') + value(c0!, 'C') + END], 'reconnects after SIGCONT');
    assert.equal(c.garbage, false);
  } finally {
    b[0]!.signal('SIGCONT');
    c.close();
  }
});

/** Same scenario for nutcracker and nutmeg: s1 killed, ejected after 2 failures, retried, restarted, back. */
async function ejectScenario(px: ProxyProc, port: number, b: Backend[], retryMs: number): Promise<EjectRun> {
  const dead = keysOn(3, 1, 'ej:', 10);
  const log: string[] = [];
  const stats: PoolStats[] = [];
  const windows: [number, number][] = [];
  const c = await Mc.connect(port);
  const get = async (k: string): Promise<void> => {
    c.get(k);
    log.push(await c.one());
  };
  const timed = async (k: string): Promise<void> => {
    const t0 = Date.now();
    await get(k);
    windows.push([t0, Date.now()]);
  };
  try {
    await b[1]!.stop();
    await get(dead[0]!);
    await timed(dead[1]!);
    for (let i = 2; i < 5; i++) await get(dead[i]!);
    // Where do keys go while s1 is out?
    const n = 200;
    for (let i = 0; i < n; i++) c.set(`pl:${i}`, 'x');
    assert.deepEqual(new Set(await c.take(n)), new Set([STORED]));
    const moved = new Array<number>(n).fill(-1);
    for (const i of [0, 2]) {
      const d = await Mc.connect(b[i]!.port);
      for (let k = 0; k < n; k++) d.get(`pl:${k}`);
      const r = await d.take(n);
      r.forEach((x, k) => {
        if (x !== END) moved[k] = i;
      });
      d.sock.write('flush_all\r\n');
      d.close();
    }
    await sleep(300);
    stats.push(await poolStats(px));
    const [sent, got] = windows[0]!;
    await sleep(Math.max(0, sent + retryMs - 400 - Date.now()));
    await get(dead[5]!);
    await sleep(Math.max(0, got + retryMs + 200 - Date.now()));
    await get(dead[6]!);
    await timed(dead[7]!);
    await get(dead[8]!);
    b[1] = await memcached(b[1]!.port);
    await sleep(Math.max(0, windows[1]![1] + retryMs + 200 - Date.now()));
    c.set(dead[9]!, 'back');
    log.push(await c.one());
    await get(dead[9]!);
    const d = await Mc.connect(b[1]!.port);
    d.get(dead[9]!);
    log.push(`direct:${await d.one()}`);
    d.sock.write('flush_all\r\n');
    d.close();
    await sleep(300);
    stats.push(await poolStats(px));
    return { log, moved, stats, windows };
  } finally {
    c.close();
  }
}

test('auto-eject: ejection, key movement, retry and return match nutcracker on the same memcached backends', async () => {
  const b = [await memcached(), await memcached(), await memcached()];
  const [pn, pm] = await freePorts(2);
  const retryMs = 1500;
  const extra = ['timeout: 1000', 'auto_eject_hosts: true', 'server_failure_limit: 2', `server_retry_timeout: ${retryMs}`];
  const nc = await nutcracker(poolYaml(pn!, b, extra), [pn!]);
  const nm = await nutmeg(poolYaml(pm!, b, extra), [pm!]);
  const back = keysOn(3, 1, 'ej:', 10)[9]!;
  const want = [REFUSED, REFUSED, END, END, END, END, REFUSED, REFUSED, END, STORED, value(back, 'back') + END, `direct:${value(back, 'back') + END}`];
  const ref = await ejectScenario(nc, pn!, b, retryMs);
  assert.deepEqual(ref.log, want, 'nutcracker behaves as the spec says');
  const got = await ejectScenario(nm, pm!, b, retryMs);
  assert.deepEqual(got.log, want);
  assert.equal(got.moved.filter((x) => x < 0).length, 0);
  assert.deepEqual(got.moved, ref.moved, 'keys move exactly where nutcracker moves them');
  for (const run of [got, ref]) assertTwoEjections(run);
  assert.equal(srv(got.stats[1]!, 's1').server_err, srv(ref.stats[1]!, 's1').server_err);
});

test('without auto-eject: Connection refused fast, noreply to a dead server is silent, others unaffected', async () => {
  const b = [await memcached(), await memcached()];
  const [port] = await freePorts(1);
  await nutmeg(poolYaml(port!, b, ['timeout: 2000']), [port!]);
  const [d0] = keysOn(2, 0, 'nd:', 1);
  const [l0] = keysOn(2, 1, 'nl:', 1);
  const c = await Mc.connect(port!);
  try {
    c.set(l0!, 'L');
    assert.equal(await c.one(), STORED);
    await b[0]!.stop();
    const t0 = Date.now();
    c.sock.write(`set ${d0} 0 0 1 noreply\r\nx\r\n`);
    c.get(d0!);
    c.get(l0!);
    c.get(d0!, l0!);
    assert.deepEqual(await c.take(3), [REFUSED, value(l0!, 'L') + END, REFUSED]);
    assert.ok(Date.now() - t0 < 300, 'fails fast');
    b[0] = await memcached(b[0]!.port);
    c.set(d0!, 'D');
    assert.equal(await c.one(), STORED, 'reconnected on demand');
    assert.equal(c.garbage, false);
  } finally {
    c.close();
  }
});

test('SIGKILL under load: raw pipelining clients get exactly one reply per request, each its own or an error', async (t) => {
  const b = [await memcached(), await memcached(), await memcached()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['timeout: 3000']), [port!]);
  const clients = await Promise.all(Array.from({ length: 6 }, () => Mc.connect(port!)));
  let stop = false;
  const bad: string[] = [];
  let requests = 0;
  let replies = 0;
  let errors = 0;
  async function worker(c: Mc, id: number): Promise<void> {
    for (let round = 0; !stop && round < 10000; round++) {
      const n = 40;
      const keys: string[] = [];
      for (let i = 0; i < n; i++) {
        const k = `l:${id}:${round}:${i}`;
        keys.push(k);
        c.set(k, `v=${k}`);
        c.get(k);
      }
      c.get(...keys.slice(0, 10)); // a split get in every batch
      requests += 2 * n + 1;
      const got = await c.take(2 * n + 1, 8000);
      replies += got.length;
      if (got.length !== 2 * n + 1) bad.push(`client ${id} round ${round}: ${got.length} replies for ${2 * n + 1}`);
      for (let i = 0; i < n && 2 * i + 1 < got.length; i++) {
        const k = keys[i]!;
        const s = got[2 * i]!;
        const g = got[2 * i + 1]!;
        if (s.startsWith('SERVER_ERROR ')) errors++;
        else if (s !== STORED) bad.push(`${k}: set -> ${s}`);
        if (g.startsWith('SERVER_ERROR ')) errors++;
        else if (g !== value(k, `v=${k}`) + END && g !== END) bad.push(`${k}: get -> ${g}`);
      }
      const m = got[2 * n];
      if (m !== undefined && !m.startsWith('SERVER_ERROR ')) {
        // Merged: VALUE blocks of the requested keys only, each with its own value, then one END.
        const blocks = m.split('\r\n');
        for (let j = 0; j + 1 < blocks.length - 2; j += 2) {
          const k = blocks[j]!.split(' ')[1]!;
          if (!keys.slice(0, 10).includes(k) || blocks[j + 1] !== `v=${k}`) bad.push(`split get: ${blocks[j]} ${blocks[j + 1]}`);
        }
        if (!m.endsWith(END)) bad.push(`split get ends ${m.slice(-10)}`);
      }
    }
  }
  try {
    const work = clients.map((c, i) => worker(c, i));
    await sleep(600);
    await b[1]!.stop();
    await sleep(600);
    b[1] = await memcached(b[1]!.port);
    await sleep(600);
    stop = true;
    await Promise.all(work);
    await sleep(200);
    t.diagnostic(`${requests} requests, ${errors} error replies`);
    assert.deepEqual(bad.slice(0, 10), []);
    assert.equal(replies, requests);
    for (const c of clients) {
      assert.equal(c.replies.length, 0, 'no extra replies');
      assert.equal(c.garbage, false);
      assert.equal(c.closed, false);
    }
    assert.ok(errors > 0, 'the kill was felt');
    // The restarted server is used again.
    const ks = keysOn(3, 1, 'after:', 10);
    const c = clients[0]!;
    for (const k of ks) c.set(k, k);
    assert.deepEqual(new Set(await c.take(ks.length)), new Set([STORED]));
    c.get(...ks);
    assert.deepEqual(await c.take(1), [ks.map((k) => value(k, k)).join('') + END]);
    assert.equal(srv(await poolStats(px), 's1').server_connections, 1);
  } finally {
    for (const c of clients) c.close();
  }
});

test('preconnect: true connects every memcached server at start', async () => {
  const b = [await memcached(), await memcached()];
  const [port] = await freePorts(1);
  const px = await nutmeg(poolYaml(port!, b, ['preconnect: true']), [port!]);
  await sleep(200);
  const st = await poolStats(px);
  assert.equal(srv(st, 's0').server_connections, 1);
  assert.equal(srv(st, 's1').server_connections, 1);
});
