// Live reconfiguration against real redis-servers: in-place reload (SIGUSR1) under load, rejected configs, removed
// and renamed listeners, socket and memory use after many reloads, stats continuity, placement after a reload
// compared with nutcracker on the same config, coalesced signals; SIGSEGV and an early SIGUSR1 at start-up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startRedis, startNutmeg, startNutcracker, freePorts, until, readStats, sleep, waitPort, RawClient, Proc, NUTMEG_BIN, type Backend, type ProxyProc } from '../helpers/procs';
import { Resp, enc, direct } from '../helpers/resp-client';

const procs: Proc[] = [];
after(async () => {
  for (const p of procs) p.signal('SIGCONT');
  await Promise.all(procs.map((p) => p.stop()));
});
async function track<T extends Proc>(p: Promise<T>): Promise<T> {
  const x = await p;
  procs.push(x);
  return x;
}

interface PoolSpec {
  name: string;
  port: number;
  servers: { b: Backend; name: string; weight?: number }[];
  extra?: string[];
}

function yaml(pools: PoolSpec[]): string {
  return pools
    .map((p) =>
      [
        `${p.name}:`,
        `  listen: 127.0.0.1:${p.port}`,
        '  hash: fnv1a_64',
        '  distribution: ketama',
        '  redis: true',
        ...(p.extra ?? []).map((l) => `  ${l}`),
        '  servers:',
        ...p.servers.map((s) => `    - 127.0.0.1:${s.b.port}:${s.weight ?? 1} ${s.name}`),
        '',
      ].join('\n'),
    )
    .join('');
}

/** Rewrite the config file atomically (a rename, as config tools should) and send SIGUSR1. */
function reloadTo(px: ProxyProc, text: string): void {
  fs.writeFileSync(`${px.conf}.tmp`, text);
  fs.renameSync(`${px.conf}.tmp`, px.conf);
  px.signal('SIGUSR1');
}

function count(hay: string, needle: string): number {
  return hay.split(needle).length - 1;
}

/** Wait until the log shows `n` applied reloads in all (the proxy logs one line per reload). */
async function applied(px: ProxyProc, n: number, ms = 10000): Promise<void> {
  await until(`${n} reloads applied`, () => count(px.stderr, 'reload: configuration ') - count(px.stderr, "' rejected") >= n, ms);
}


function intOf(reply: string): number {
  assert.match(reply, /^:\d+\r\n$/, `an integer reply: ${JSON.stringify(reply)}`);
  return Number(reply.slice(1, -2));
}

function socketsOf(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Pipes and unix-domain sockets among a process's fds above stderr. */
function fdKinds(pid: number): { pipes: number; unixSockets: number } {
  const unix = new Set(
    fs
      .readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[6])
      .filter((x): x is string => x !== undefined),
  );
  let pipes = 0;
  let unixSockets = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`).map(Number)) {
    if (fd <= 2) continue;
    let link = '';
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link.startsWith('pipe:')) pipes++;
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m !== null && unix.has(m[1]!)) unixSockets++;
  }
  return { pipes, unixSockets };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

test('100 reloads under load: pools move between servers, appear and go, weights change; no error, every reply right, counts add up', async (t) => {
  const [a, b, c, d] = await Promise.all([track(startRedis()), track(startRedis()), track(startRedis()), track(startRedis())]);
  const [pSteady, pMove, pExtra] = await freePorts(3);
  const steady: PoolSpec = { name: 'steady', port: pSteady!, servers: [{ b: a!, name: 'a' }], extra: ['timeout: 2000'] };
  const moving = (i: number): PoolSpec => ({
    name: 'moving',
    port: pMove!,
    // the pool's servers change every reload: {b}, {b, c} with weights, {c}, {c, d}
    servers: [
      [{ b: b!, name: 'b' }],
      [{ b: b!, name: 'b', weight: 1 + (i % 3) }, { b: c!, name: 'c', weight: 2 }],
      [{ b: c!, name: 'c' }],
      [{ b: c!, name: 'c' }, { b: d!, name: 'd', weight: 1 + (i % 2) }],
    ][i % 4]!,
    extra: ['timeout: 2000'],
  });
  const extra: PoolSpec = { name: 'extra', port: pExtra!, servers: [{ b: d!, name: 'd' }] };
  const configs = (i: number): string => yaml(i % 3 === 0 ? [steady, moving(i), extra] : [steady, moving(i)]);
  const px = await track(startNutmeg(configs(0), [pSteady!, pMove!, pExtra!]));

  // 4 clients per pool pipeline INCR on their own key, 8 in flight at a time, until the reloads are done.
  let stop = false;
  const errors: string[] = [];
  const counts = new Map<string, number>();
  let worstBatchMs = 0;
  const loop = async (port: number, key: string): Promise<void> => {
    const r = await Resp.connect(port);
    let sent = 0;
    let last = 0;
    const deadline = Date.now() + 60000;
    while (!stop && Date.now() < deadline && sent < 200000) {
      for (let i = 0; i < 8; i++) r.send('INCR', key);
      sent += 8;
      const b0 = performance.now();
      const got = await r.take(8, 10000);
      worstBatchMs = Math.max(worstBatchMs, performance.now() - b0);
      if (got.length !== 8) errors.push(`${key}: ${got.length} of 8 replies (closed ${r.closed})`);
      for (const g of got) {
        if (!/^:\d+\r\n$/.test(g)) errors.push(`${key}: ${JSON.stringify(g)}`);
        else if (port === pSteady) {
          // one server: the counter goes up by exactly one per reply
          const v = Number(g.slice(1, -2));
          if (v !== last + 1) errors.push(`${key}: ${v} after ${last}`);
          last = v;
        }
      }
      if (got.length !== 8) break;
    }
    counts.set(key, sent);
    r.close();
  };
  const loads = [0, 1, 2, 3].flatMap((i) => [loop(pSteady!, `steady:${i}`), loop(pMove!, `moving:${i}`)]);
  const t0 = Date.now();
  for (let i = 1; i <= 100; i++) {
    reloadTo(px, configs(i));
    await applied(px, i);
    // the extra pool listens exactly when configured
    if (i % 10 === 0) {
      const listening = await new Promise<boolean>((resolve) => {
        const s = net.connect({ port: pExtra!, host: '127.0.0.1' });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      assert.equal(listening, i % 3 === 0, `extra pool listening after reload ${i}`);
    }
  }
  const reloadMs = Date.now() - t0;
  stop = true;
  await Promise.all(loads);
  assert.deepEqual(errors.slice(0, 5), [], `${errors.length} errors`);
  assert.equal(count(px.stderr, 'rejected'), 0, px.stderr.slice(-2000));
  // Final counts: every INCR landed exactly once, somewhere among the pool's backends.
  for (let i = 0; i < 4; i++) {
    assert.equal(intOf(await direct(a!, 'GET', `steady:${i}`).then((r) => r.replace(/^\$\d+\r\n(\d+)\r\n$/, ':$1\r\n'))), counts.get(`steady:${i}`));
    let sum = 0;
    for (const be of [b!, c!, d!]) {
      const r = await direct(be, 'GET', `moving:${i}`);
      if (r !== '$-1\r\n') sum += Number(r.split('\r\n')[1]);
    }
    assert.equal(sum, counts.get(`moving:${i}`), `moving:${i} summed over b, c, d`);
  }
  const total = [...counts.values()].reduce((x, y) => x + y, 0);
  const applyMs = [...px.stderr.matchAll(/applied in ([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  t.diagnostic(
    `100 reloads in ${reloadMs} ms under load: ${total} INCR, ${errors.length} errors; signal to applied: median ${applyMs[50]} ms, ` +
      `max ${applyMs.at(-1)} ms; slowest 8-request batch during the reloads ${worstBatchMs.toFixed(1)} ms`,
  );
});

test('a bad config, bad YAML and a port in use are rejected with one log line; the running config stays', async () => {
  const r = await track(startRedis());
  const [p1, p2] = await freePorts(2);
  const good = yaml([{ name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] }]);
  const px = await track(startNutmeg(good, [p1!]));
  const c = await Resp.connect(p1!);
  assert.equal(await c.cmd('SET', 'k', 'v'), '+OK\r\n');

  reloadTo(px, good.replace('hash: fnv1a_64', 'hash: fnv2'));
  await until('rejected', () => count(px.stderr, 'rejected') === 1);
  assert.match(px.stderr, new RegExp(`reload: configuration '${px.conf}' rejected: ${px.conf}: pool 'alpha': key 'hash': 'fnv2' is not a valid hash .*; keeping configuration 1`));

  reloadTo(px, 'alpha:\n  listen: [oops\n');
  await until('rejected twice', () => count(px.stderr, 'rejected') === 2);

  // A port in use: the whole reload is refused, and the other new address is not left bound.
  const blocker = net.createServer().listen(p2!, '127.0.0.1');
  await new Promise((res) => blocker.once('listening', res));
  const [p3] = await freePorts(1);
  reloadTo(px, good + yaml([{ name: 'beta', port: p3!, servers: [{ b: r, name: 's1' }] }, { name: 'gamma', port: p2!, servers: [{ b: r, name: 's1' }] }]));
  await until('rejected three times', () => count(px.stderr, 'rejected') === 3);
  assert.match(px.stderr, new RegExp(`rejected: cannot listen on 127\\.0\\.0\\.1:${p2}: EADDRINUSE; keeping configuration 1`));
  blocker.close();
  const refused = await new Promise<boolean>((res) => {
    const s = net.connect({ port: p3!, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      res(false);
    });
    s.once('error', () => res(true));
  });
  assert.ok(refused, 'the address bound before the failure was closed again');
  // Still serving the first config, on the same connection.
  assert.equal(await c.cmd('GET', 'k'), '$1\r\nv\r\n');
  const st = await readStats(px.statsPort);
  assert.deepEqual(Object.keys(st).filter((k) => typeof st[k] === 'object'), ['alpha']);
  c.close();
});

test('a removed listener: its busy client gets its reply, then a FIN (not a reset); a renamed pool on the same port keeps its clients', async () => {
  const r = await track(startRedis());
  const [p1, p2] = await freePorts(2);
  const alpha: PoolSpec = { name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] };
  const beta: PoolSpec = { name: 'beta', port: p2!, servers: [{ b: r, name: 's1' }] };
  const px = await track(startNutmeg(yaml([alpha, beta]), [p1!, p2!]));
  // A client of beta with a slow request in flight (a 700 ms Lua loop on the server).
  const busy = net.connect({ port: p2!, host: '127.0.0.1' });
  await new Promise((res) => busy.once('connect', res));
  let got = '';
  let how = '';
  busy.on('data', (d: Buffer) => (got += d.toString('latin1')));
  busy.on('end', () => (how ||= 'fin'));
  busy.on('error', (e: NodeJS.ErrnoException) => (how ||= e.code ?? 'error'));
  const slow = 'local i = 0 while i < 30000000 do i = i + 1 end return i';
  busy.write(enc('EVAL', slow, '1', 'k1'));
  // A client of alpha that stays on while alpha is renamed to gamma on the same port.
  const stay = await Resp.connect(p1!);
  assert.equal(await stay.cmd('SET', 'x', '1'), '+OK\r\n');
  await sleep(100); // the EVAL is running on the server
  reloadTo(px, yaml([{ ...alpha, name: 'gamma' }]));
  await applied(px, 1);
  await until('the busy client is closed', () => how !== '', 8000);
  assert.equal(got, ':30000000\r\n', 'the in-flight reply came first');
  assert.equal(how, 'fin');
  // beta's port is closed; alpha's connection now serves gamma
  assert.equal(await stay.cmd('INCR', 'x'), ':2\r\n');
  assert.equal(stay.closed, false);
  const st = await readStats(px.statsPort);
  assert.deepEqual(Object.keys(st).filter((k) => typeof st[k] === 'object'), ['gamma']);
  assert.equal((st.gamma as Record<string, number>).client_connections, 1);
  assert.match(px.stderr, /reload: configuration 2 applied in [\d.]+ ms: \+1 pool, -2 pools, 1 listener moved, 1 server added, 1 client moved, 1 client draining/);
  stay.close();
  busy.destroy();
});

test('stats across reloads: a kept pool keeps its counters, a new one starts at zero, a removed one disappears; uptime goes on', async () => {
  const r = await track(startRedis());
  const [p1, p2, p3] = await freePorts(3);
  const alpha: PoolSpec = { name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] };
  const beta: PoolSpec = { name: 'beta', port: p2!, servers: [{ b: r, name: 's1' }] };
  const px = await track(startNutmeg(yaml([alpha, beta]), [p1!, p2!]));
  const c = await Resp.connect(p1!);
  for (let i = 0; i < 10; i++) assert.equal(await c.cmd('SET', `k${i}`, 'v'), '+OK\r\n');
  await until('uptime ≥ 1', async () => ((await readStats(px.statsPort)).uptime as number) >= 1, 4000);
  const before = await readStats(px.statsPort);
  // alpha kept, but on a new port and with a second server; beta removed; delta new.
  const [r2] = [await track(startRedis())];
  reloadTo(px, yaml([{ ...alpha, port: p3!, servers: [{ b: r, name: 's1' }, { b: r2, name: 's2' }] }, { name: 'delta', port: p2!, servers: [{ b: r, name: 's1' }] }]));
  await applied(px, 1);
  const st = await readStats(px.statsPort);
  assert.deepEqual(Object.keys(st).filter((k) => typeof st[k] === 'object'), ['alpha', 'delta']);
  const a0 = (before.alpha as Record<string, Record<string, number>>).s1!;
  const a1 = (st.alpha as Record<string, Record<string, number>>).s1!;
  assert.equal(a1.requests, a0.requests, 'kept server, kept counters');
  assert.equal((st.alpha as Record<string, Record<string, number>>).s2!.requests, 0);
  assert.equal((st.delta as Record<string, Record<string, number>>).s1!.requests, 0);
  assert.ok((st.uptime as number) >= (before.uptime as number));
  // alpha's old client was on the removed address p1: closed; the pool serves on p3.
  await until('the client of the removed address is closed', () => c.closed, 5000);
  const c3 = await Resp.connect(p3!);
  assert.equal(await c3.cmd('SET', 'after', '1'), '+OK\r\n');
  c3.close();
});

test('after 100 reloads the process holds only the sockets it needs, and its RSS has not grown', async (t) => {
  const [r1, r2] = await Promise.all([track(startRedis()), track(startRedis())]);
  const [p1, p2] = await freePorts(2);
  const cfg = (i: number): string =>
    yaml([
      { name: 'alpha', port: p1!, servers: i % 2 === 0 ? [{ b: r1!, name: 's1' }] : [{ b: r2!, name: 's2' }] },
      ...(i % 2 === 0 ? [{ name: 'beta', port: p2!, servers: [{ b: r1!, name: 's1' }, { b: r2!, name: 's2' }] }] : []),
    ]);
  const px = await track(startNutmeg(cfg(0), [p1!, p2!]));
  const c = await Resp.connect(p1!);
  assert.equal(await c.cmd('SET', 'warm', '1'), '+OK\r\n');
  const pid = px.child.pid!;
  const sockBefore = socketsOf(pid);
  const rssBefore = rssMb(pid);
  for (let i = 1; i <= 100; i++) {
    reloadTo(px, cfg(i));
    await applied(px, i);
    // traffic on every reload so each config opens its server connections
    const got = await c.cmd('SET', 'warm', String(i));
    assert.equal(got, '+OK\r\n');
  }
  // config 100 is the same as config 0: same listeners; one client; server connections to s1 only
  await until('retired connections closed', () => socketsOf(pid) <= sockBefore, 5000);
  const sockAfter = socketsOf(pid);
  const rssAfter = rssMb(pid);
  t.diagnostic(`sockets ${sockBefore} -> ${sockAfter}; RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MB`);
  assert.ok(sockAfter <= sockBefore, `sockets ${sockBefore} -> ${sockAfter}`);
  assert.ok(rssAfter < rssBefore + 20, `RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MB`);
  c.close();
});

test('placement after a reload is nutcracker placement for the new config', async () => {
  const bs = await Promise.all([track(startRedis()), track(startRedis()), track(startRedis())]);
  const [p1, p2] = await freePorts(2);
  const before: PoolSpec = { name: 'alpha', port: p1!, servers: [{ b: bs[0]!, name: 'n0' }, { b: bs[1]!, name: 'n1' }] };
  const afterCfg: PoolSpec = { name: 'alpha', port: p1!, servers: [{ b: bs[0]!, name: 'n0', weight: 2 }, { b: bs[1]!, name: 'n1' }, { b: bs[2]!, name: 'n2', weight: 3 }] };
  const px = await track(startNutmeg(yaml([before]), [p1!]));
  reloadTo(px, yaml([afterCfg]));
  await applied(px, 1);
  const keys = Array.from({ length: 300 }, (_, i) => `place:${i}`);
  const where = async (port: number): Promise<string[]> => {
    const c = await Resp.connect(port);
    for (const k of keys) c.send('SET', k, '1');
    assert.equal((await c.take(keys.length)).length, keys.length);
    c.close();
    const out: string[] = [];
    for (const b of bs) {
      out.push((await direct(b, 'KEYS', 'place:*')).split('\r\n').filter((l) => l.startsWith('place:')).sort().join(','));
      await direct(b, 'FLUSHALL');
    }
    return out;
  };
  const viaNutmeg = await where(p1!);
  const nc = await track(startNutcracker(yaml([{ ...afterCfg, port: p2! }]), [p2!]));
  const viaNutcracker = await where(p2!);
  assert.deepEqual(viaNutmeg, viaNutcracker);
  // n2 exists only in the new config: keys on it show that the reload's table was used.
  assert.ok(viaNutmeg[2]!.length > 0, `keys per server: ${viaNutmeg.map((l) => (l === '' ? 0 : l.split(',').length)).join(' ')}`);
  await nc.stop();
});

test('SIGUSR1 at the very start does not open the inspector; SIGSEGV is logged by name before the process dies of it', async () => {
  const r = await track(startRedis());
  const [p1, sp] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nutmeg-early-'));
  const conf = path.join(dir, 'conf.yml');
  fs.writeFileSync(conf, yaml([{ name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] }]));
  const px = new Proc(process.execPath, [NUTMEG_BIN, '-c', conf, '-s', String(sp), '-a', '127.0.0.1']);
  procs.push(px);
  // Signal once its code runs (the banner) but before it serves: the reload waits until it does. (Before
  // Node's own bootstrap, ~50 ms, no JS can listen; Node 22.14+ has --disable-sigusr1 for that window.)
  await until('started', () => px.stderr.includes('started on pid'), 10000);
  px.signal('SIGUSR1');
  await waitPort(p1!, 10000);
  await until('the early SIGUSR1 reloaded', () => count(px.stderr, 'applied') >= 1, 5000);
  const inspector = await new Promise<boolean>((res) => {
    const s = net.connect({ port: 9229, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
  assert.equal(inspector, false, 'nothing listens on 127.0.0.1:9229');
  assert.doesNotMatch(px.stderr, /Debugger listening/);
  px.signal('SIGSEGV');
  const code = await px.exited;
  assert.equal(px.child.signalCode, 'SIGSEGV');
  assert.equal(code, null);
  assert.match(px.stderr, /signal 11 \(SIGSEGV\) received, core dumping/);
});

test('a reload that changes nothing keeps every server connection', async () => {
  const r = await track(startRedis());
  const [p1] = await freePorts(1);
  const cfg = yaml([{ name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] }]);
  const px = await track(startNutmeg(cfg, [p1!]));
  const c = await RawClient.connect(p1!);
  c.write(enc('CLIENT', 'ID'));
  assert.match(await c.readUntil('\r\n'), /^:\d+\r\n$/);
  c.write(enc('SET', 'k', 'v'));
  assert.equal(await c.readUntil('\r\n'), '+OK\r\n');
  // The proxy's server connections, as the server sees them (not the CLIENT LIST asker itself).
  const ids = async (): Promise<string[]> =>
    (await direct(r, 'CLIENT', 'LIST'))
      .split('\n')
      .filter((l) => l.includes('id=') && !l.includes('cmd=client'))
      .map((l) => /id=(\d+)/.exec(l)?.[1] ?? '')
      .sort();
  const before = await ids();
  assert.equal(before.length, 1);
  reloadTo(px, cfg);
  await applied(px, 1);
  c.write(enc('GET', 'k'));
  assert.equal(await c.readUntil('v\r\n'), '$1\r\nv\r\n');
  assert.deepEqual(await ids(), before);
  assert.match(px.stderr, /configuration 2 applied in [\d.]+ ms: no change/);
  c.destroy();
});

test('binary upgrade (SIGUSR2): new pid, old connections answer then get a FIN, no connection refused, no channel left open', async (t) => {
  const r = await track(startRedis());
  const [p1] = await freePorts(1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nutmeg-upgrade-'));
  const pidFile = path.join(dir, 'nutmeg.pid');
  const px = await track(startNutmeg(yaml([{ name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] }]), [p1!], ['-p', pidFile]));
  const oldPid = px.child.pid!;
  await until('pid file', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() === String(oldPid));
  const pipesBefore = fdKinds(oldPid).pipes;
  const a = await Resp.connect(p1!);
  assert.equal(await a.cmd('SET', 'k', 'v'), '+OK\r\n');
  let aEnded = false;
  a.sock.on('end', () => (aEnded = true));

  // A client connecting in a loop for the whole switch: every connection must be answered.
  let stop = false;
  const failures: string[] = [];
  let connections = 0;
  let slowest = 0;
  const loop = (async () => {
    const deadline = Date.now() + 15000;
    while (!stop && Date.now() < deadline) {
      const t0 = Date.now();
      try {
        const c = await Resp.connect(p1!);
        const got = await c.cmd('GET', 'k');
        if (got !== '$1\r\nv\r\n') failures.push(`reply ${JSON.stringify(got)}`);
        c.close();
      } catch (e) {
        failures.push((e as Error).message);
      }
      slowest = Math.max(slowest, Date.now() - t0);
      connections++;
      await sleep(5);
    }
  })();
  await sleep(200);
  const t0 = Date.now();
  px.signal('SIGUSR2');
  // Just after the signal the old connection still answers.
  assert.equal(await a.cmd('GET', 'k'), '$1\r\nv\r\n');
  await until('the new process accepts', () => /upgrade: accepting on the sockets handed over/.test(px.stderr), 5000);
  const readyMs = Date.now() - t0;
  const newPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  assert.notEqual(newPid, oldPid);
  try {
    await until('the old connection is closed', () => aEnded || a.closed, 4000);
    assert.ok(aEnded, 'closed with a FIN');
    const code = await px.exited;
    assert.equal(code, 0, 'the old process exits 0');
    assert.equal(Date.now() - t0 < 4500, true);
    await sleep(300);
    stop = true;
    await loop;
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${connections} connections failed`);
    assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(newPid), 'the old process left the new pid file alone');
    // The new process: same command line, no pipe or IPC socket kept from the handover.
    // The process title (what ps shows; Node writes it over argv) is the old one's: `nutmeg <same argv>`.
    const title = fs.readFileSync(`/proc/${newPid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    assert.equal(title, `nutmeg -c ${px.conf} -s ${px.statsPort} -a 127.0.0.1 -p ${pidFile}`);
    // Node's own fds are pipes and eventfds, as in the old process; a channel would be an extra pipe or a unix socket.
    const after = fdKinds(newPid);
    assert.equal(after.pipes, pipesBefore, `pipes: ${pipesBefore} in the old process, ${after.pipes} in the new one`);
    assert.equal(after.unixSockets, 0, 'no unix socket (the pools listen on TCP)');
    const c = await Resp.connect(p1!);
    assert.equal(await c.cmd('GET', 'k'), '$1\r\nv\r\n');
    c.close();
    t.diagnostic(`new process accepting ${readyMs} ms after SIGUSR2; ${connections} connections during the switch, slowest ${slowest} ms, ${failures.length} failed`);
  } finally {
    stop = true;
    try {
      process.kill(newPid, 'SIGTERM');
    } catch {
      // gone
    }
  }
});

test('binary upgrade with a config that does not validate: the old process keeps serving', async () => {
  const r = await track(startRedis());
  const [p1] = await freePorts(1);
  const good = yaml([{ name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }] }]);
  const px = await track(startNutmeg(good, [p1!]));
  fs.writeFileSync(px.conf, good.replace('hash: fnv1a_64', 'hash: nope'));
  px.signal('SIGUSR2');
  await until('refused', () => /upgrade: configuration '.*' rejected: .*'nope' is not a valid hash/.test(px.stderr));
  const c = await Resp.connect(p1!);
  assert.equal(await c.cmd('PING'), '+PONG\r\n');
  c.close();
  assert.equal(px.child.exitCode, null);
});

test('--workers 2: the primary validates, every worker reloads, the stats stay one document', async () => {
  const [r1, r2] = await Promise.all([track(startRedis()), track(startRedis())]);
  const [p1, p2] = await freePorts(2);
  const alpha: PoolSpec = { name: 'alpha', port: p1!, servers: [{ b: r1!, name: 's1' }] };
  const px = await track(startNutmeg(yaml([alpha]), [p1!], ['--workers', '2']));
  // Traffic from several connections, so both workers have served some.
  for (let i = 0; i < 8; i++) {
    const c = await Resp.connect(p1!);
    assert.equal(await c.cmd('SET', `w${i}`, 'v'), '+OK\r\n');
    c.close();
  }
  const before = await readStats(px.statsPort);
  reloadTo(px, yaml([{ ...alpha, servers: [{ b: r1!, name: 's1' }, { b: r2!, name: 's2' }] }, { name: 'beta', port: p2!, servers: [{ b: r2!, name: 's2' }] }]));
  await until('reload applied', () => /reload: configuration 2 applied/.test(px.stderr), 10000);
  await waitPort(p2!);
  for (let i = 0; i < 8; i++) {
    const c = await Resp.connect(p2!);
    assert.equal(await c.cmd('SET', `b${i}`, 'v'), '+OK\r\n');
    c.close();
  }
  assert.equal(await direct(r2!, 'GET', 'b7'), '$1\r\nv\r\n');
  await until('beta counted', async () => {
    const st = await readStats(px.statsPort);
    return ((st.beta as Record<string, Record<string, number>> | undefined)?.s2?.requests ?? 0) >= 8;
  });
  const st = await readStats(px.statsPort);
  assert.deepEqual(Object.keys(st).filter((k) => typeof st[k] === 'object'), ['beta', 'alpha']);
  const s1Before = (before.alpha as Record<string, Record<string, number>>).s1!.requests!;
  assert.ok((st.alpha as Record<string, Record<string, number>>).s1!.requests! >= s1Before, 'alpha kept its counters');
  // A bad file is refused by the primary; the workers keep serving.
  reloadTo(px, 'alpha: [');
  await until('rejected', () => /reload: configuration '.*' rejected/.test(px.stderr));
  const c = await Resp.connect(p2!);
  assert.equal(await c.cmd('GET', 'b1'), '$1\r\nv\r\n');
  c.close();
});

test('a server removed by a reload: the request in flight on it gets its reply, then its connection closes', async () => {
  const [r1, r2] = await Promise.all([track(startRedis()), track(startRedis())]);
  const [p1] = await freePorts(1);
  const alpha: PoolSpec = { name: 'alpha', port: p1!, servers: [{ b: r1!, name: 's1' }] };
  const px = await track(startNutmeg(yaml([alpha]), [p1!]));
  const c = await Resp.connect(p1!);
  c.send('EVAL', 'local i = 0 while i < 30000000 do i = i + 1 end return i', '1', 'k');
  await sleep(100);
  reloadTo(px, yaml([{ ...alpha, servers: [{ b: r2!, name: 's2' }] }]));
  await applied(px, 1);
  c.send('SET', 'after', '1');
  assert.deepEqual(await c.take(2), [':30000000\r\n', '+OK\r\n'], 'the in-flight reply first, then the new request');
  assert.equal(await direct(r2!, 'GET', 'after'), '$1\r\n1\r\n', 'new requests go to the new server');
  const proxyConns = async (b: Backend): Promise<number> =>
    (await direct(b, 'CLIENT', 'LIST')).split('\n').filter((l) => l.includes('id=') && !l.includes('cmd=client')).length;
  await until('the removed server connection closed', async () => (await proxyConns(r1!)) === 0, 5000);
  c.close();
});

test('operator log lines: ejection and return, a failed AUTH on a server connection', async () => {
  const r = await track(startRedis(undefined, ['--requirepass', 'right']));
  const good = await track(startRedis());
  const [p1, p2, dead] = await freePorts(3);
  const text =
    yaml([{ name: 'alpha', port: p1!, servers: [{ b: r, name: 's1' }], extra: ['redis_auth: wrong'] }]) +
    [
      'beta:',
      `  listen: 127.0.0.1:${p2}`,
      '  redis: true',
      '  auto_eject_hosts: true',
      '  server_failure_limit: 1',
      '  server_retry_timeout: 300',
      '  servers:',
      `    - 127.0.0.1:${good.port}:1 up`,
      `    - 127.0.0.1:${dead}:1 down`,
      '',
    ].join('\n');
  const px = await track(startNutmeg(text, [p1!, p2!]));
  const a = await Resp.connect(p1!);
  assert.equal(await a.cmd('AUTH', 'wrong'), '+OK\r\n');
  assert.match(await a.cmd('GET', 'k'), /^-NOAUTH/);
  await until('AUTH failure logged', () => /AUTH failed on alpha \| s1: WRONGPASS/.test(px.stderr));
  const b = await Resp.connect(p2!);
  // keys until one lands on the dead server: its connection is refused and it is ejected
  for (let i = 0; i < 50 && !/ejected/.test(px.stderr); i++) await b.cmd('GET', `probe:${i}`);
  await until('ejection logged', () => /pool 'beta': server 'down' \(127\.0\.0\.1:\d+\) ejected for 300 ms after 1 failures; 1 of 2 servers live/.test(px.stderr));
  await sleep(350);
  await b.cmd('GET', 'after-retry');
  await until('return logged', () => /pool 'beta': server 'down' \(127\.0\.0\.1:\d+\) back in the distribution/.test(px.stderr));
  a.close();
  b.close();
});
