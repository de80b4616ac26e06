// End-to-end benchmark a user can run (npm run bench): direct backend vs nutcracker vs nutmeg,
// in the same run, interleaved, with redis-benchmark (and memaslap/memcaslap if installed).
// Reports requests/s, proxy CPU µs per request (from /proc), RSS, and ratios within each round.
// The mirror rows (memcaslap) compare two nutmeg processes on the same two memcached: a plain pool and the same
// pool with `mirror_to` a third memcached; the ratio column is mirror/plain for latency and CPU per request.
// The large-value rows (GET/SET of 100 KB and 1 MB values) report the payload moved, MB/s (MB = 10^6 bytes
// of values), and the proxy's CPU per byte, µs per MB; their ratio column is nutmeg/nutcracker for both.
// The TLS rows (redis-tls-*) give redis-benchmark --tls three targets: redis-server's own TLS port, nutcracker behind
// haproxy terminating TLS (what twemproxy users run; CPU is haproxy's plus nutcracker's) and nutmeg with tls_listen
// (same four plain backends); the ratio column is nutmeg-tls / (haproxy+nutcracker). Needs haproxy and openssl.
//
// Run: npm run build && node dist/bench/e2e.js [--rounds N] [--scale F] [--workers N] [--workloads a,b]
//   --workloads a,b   only the workloads whose name contains one of the substrings (e.g. 100k,1m or redis-get)
//   --list            print the workload names and exit
// Needs redis-server, redis-benchmark and memcached; nutcracker is optional (Debian package).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRedis, startMemcached, startNutmeg, startNutcracker, freePorts, tmpDir, waitPort, Proc, type Backend, type ProxyProc } from '../test/helpers/procs';
import { makeCerts, startRedisTls } from '../test/helpers/certs';
import { ClusterLab } from '../test/helpers/cluster';

interface Args {
  rounds: number;
  scale: number;
  workers: number;
  /** Substrings; a workload runs if its name contains one of them (all when empty). */
  workloads: string[];
  list: boolean;
}

const USAGE = `usage: node dist/bench/e2e.js [--rounds N] [--scale F] [--workers N] [--workloads a,b] [--list]
  --rounds N        measured rounds per workload (default 3); the median is reported
  --scale F         multiply every request count (default 0.5)
  --workers N       nutmeg --workers N (default 1)
  --workloads a,b   only workloads whose name contains one of the substrings (e.g. 100k,1m)
  --list            print the workload names and exit`;

function parseCli(argv: string[]): Args {
  const a: Args = { rounds: 3, scale: 0.5, workers: 1, workloads: [], list: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--rounds' && v !== undefined) a.rounds = Math.max(1, Number(v));
    if (argv[i] === '--scale' && v !== undefined) a.scale = Math.max(0.01, Number(v));
    if (argv[i] === '--workers' && v !== undefined) a.workers = Math.max(1, Number(v));
    if (argv[i] === '--workloads' && v !== undefined) a.workloads = v.split(',').filter((w) => w.length > 0);
    if (argv[i] === '--list') a.list = true;
    if (argv[i] === '--help' || argv[i] === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
  }
  return a;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** CPU time (µs) of a process and its children (workers), from /proc. */
function cpuUs(pid: number): number {
  let total = 0;
  const pids = [pid, ...childrenOf(pid)];
  for (const p of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) * (1e6 / 100);
    } catch {
      // process gone
    }
  }
  return total;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function rssMb(pid: number): number {
  let kb = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

interface Workload {
  name: string;
  redis: boolean;
  n: number;
  args: (port: number, n: number) => string[];
  /** Large-value rows: the value size in bytes; figures are then MB/s and CPU µs per MB of values. */
  valueBytes?: number;
  /** Run once per target before the warm-up (the GET rows store the value they read). */
  prep?: (port: number) => string[];
  /** Smallest request count after --scale (default 1000). */
  minN?: number;
}

/**
 * GET or SET of one `size`-byte value, `clients` connections (named -cN unless 10), pipeline depth `pipe` (-pN).
 * Without -r every request uses the one key `key:__rand_int__`, which the GET rows first store with a SET of the
 * same size.
 */
function largeValue(op: 'get' | 'set', label: string, size: number, n: number, clients: number, pipe: number): Workload {
  const base = (p: number): string[] => ['-p', String(p), '-d', String(size), '-c', String(clients), '--csv'];
  return {
    name: `redis-${op}-${label}${pipe > 1 ? `-p${pipe}` : ''}${clients !== 10 ? `-c${clients}` : ''}`,
    redis: true,
    n,
    valueBytes: size,
    minN: 100,
    args: (p, k) => [...base(p), '-t', op, '-n', String(k), '-P', String(pipe)],
    prep: op === 'get' ? (p) => [...base(p), '-t', 'set', '-n', String(clients)] : undefined,
  };
}

const WORKLOADS: Workload[] = [
  { name: 'redis-get-p1', redis: true, n: 60000, args: (p, n) => ['-p', String(p), '-t', 'get', '-n', String(n), '-c', '50', '-r', '100000', '-P', '1', '--csv'] },
  { name: 'redis-set-p1', redis: true, n: 60000, args: (p, n) => ['-p', String(p), '-t', 'set', '-n', String(n), '-c', '50', '-r', '100000', '-P', '1', '--csv'] },
  { name: 'redis-get-p16', redis: true, n: 400000, args: (p, n) => ['-p', String(p), '-t', 'get', '-n', String(n), '-c', '50', '-r', '100000', '-P', '16', '--csv'] },
  { name: 'redis-set-p16', redis: true, n: 400000, args: (p, n) => ['-p', String(p), '-t', 'set', '-n', String(n), '-c', '50', '-r', '100000', '-P', '16', '--csv'] },
  {
    name: 'redis-mget10',
    redis: true,
    n: 40000,
    args: (p, n) => ['-p', String(p), '-n', String(n), '-c', '50', '-r', '100000', '--csv', 'mget', ...Array.from({ length: 10 }, (_, i) => `key:__rand_int__${i}`)],
  },
  // large values (issue 11): bytes per second and CPU per byte, few requests, 10 clients
  largeValue('get', '100k', 100_000, 20000, 10, 1),
  largeValue('set', '100k', 100_000, 20000, 10, 1),
  largeValue('get', '100k', 100_000, 40000, 10, 16),
  largeValue('get', '1m', 1_000_000, 4000, 10, 1),
  largeValue('set', '1m', 1_000_000, 4000, 10, 1),
  largeValue('get', '1m', 1_000_000, 4000, 10, 4),
  largeValue('get', '1m', 1_000_000, 2000, 1, 1), // one connection: the copy cost per reply shows as latency
];

/** TLS rows: GET and SET, pipelined and not, 50 connections (as the plain rows). */
const TLS_WORKLOADS: Workload[] = [
  { name: 'redis-tls-get-p1', redis: true, n: 60000, args: (p, n) => ['-p', String(p), '-t', 'get', '-n', String(n), '-c', '50', '-r', '100000', '-P', '1', '--csv'] },
  { name: 'redis-tls-set-p1', redis: true, n: 60000, args: (p, n) => ['-p', String(p), '-t', 'set', '-n', String(n), '-c', '50', '-r', '100000', '-P', '1', '--csv'] },
  { name: 'redis-tls-get-p16', redis: true, n: 400000, args: (p, n) => ['-p', String(p), '-t', 'get', '-n', String(n), '-c', '50', '-r', '100000', '-P', '16', '--csv'] },
  { name: 'redis-tls-set-p16', redis: true, n: 400000, args: (p, n) => ['-p', String(p), '-t', 'set', '-n', String(n), '-c', '50', '-r', '100000', '-P', '16', '--csv'] },
];

/**
 * The TLS rows: direct redis-server TLS, haproxy (TLS termination, one thread) in front of nutcracker, nutmeg with
 * tls_listen; nutcracker and nutmeg in front of the same plain backends. Interleaved rounds, medians.
 */
async function tlsRows(workloads: Workload[], args: Args, procs: Proc[], redis: Backend[]): Promise<void> {
  if (!has('haproxy') || !has('nutcracker')) {
    console.log('\nTLS rows skipped: they need haproxy and nutcracker (apt-get install haproxy nutcracker)');
    return;
  }
  const certs = makeCerts();
  const direct = await startRedisTls(certs);
  procs.push(direct);
  const [ncPort, haPort, nmPort] = (await freePorts(3)) as [number, number, number];
  const pool = (listen: string[]): string =>
    ['bench_tls:', ...listen, '  hash: fnv1a_64', '  distribution: ketama', '  redis: true', '  preconnect: true', '  timeout: 3000', '  servers:', ...redis.map((r, i) => `    - 127.0.0.1:${r.port}:1 redis${i}`), ''].join('\n');
  const nc = await startNutcracker(pool([`  listen: 127.0.0.1:${ncPort}`]), [ncPort]);
  procs.push(nc);
  const pem = path.join(certs.dir, 'haproxy.pem');
  fs.writeFileSync(pem, Buffer.concat([fs.readFileSync(certs.serverCert), fs.readFileSync(certs.serverKey)]));
  const haCfg = path.join(certs.dir, 'haproxy.cfg');
  fs.writeFileSync(
    haCfg,
    ['global', '  nbthread 1', '  maxconn 4000', 'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s',
      'frontend tls', `  bind 127.0.0.1:${haPort} ssl crt ${pem}`, '  default_backend nc', 'backend nc', `  server nc 127.0.0.1:${ncPort}`, ''].join('\n'),
  );
  const ha = new Proc('haproxy', ['-f', haCfg, '-db']);
  procs.push(ha);
  await waitPort(haPort);
  const tlsConf = [`  tls_listen: 127.0.0.1:${nmPort}`, `  tls_cert_file: ${certs.serverCert}`, `  tls_key_file: ${certs.serverKey}`];
  const nm = await startNutmeg(pool(tlsConf), [nmPort], args.workers > 1 ? ['--workers', String(args.workers)] : []);
  procs.push(nm);
  const targets: { name: string; port: number; pids: number[] }[] = [
    { name: 'direct-tls', port: direct.port, pids: [] },
    { name: 'haproxy+nutcracker', port: haPort, pids: [ha.pid, nc.pid] },
    { name: 'nutmeg-tls', port: nmPort, pids: [nm.pid] },
  ];
  const tlsArgs = ['--tls', '--cacert', certs.ca];
  console.log(`\nTLS: redis-benchmark --tls; proxy CPU of haproxy+nutcracker is the sum of both processes`);
  console.log('workload            target                  req/s   cpu µs/req   rss MB   vs direct   nutmeg-tls/(haproxy+nutcracker)');
  const cpu = (pids: number[]): number => pids.reduce((a, p) => a + cpuUs(p), 0);
  for (const w of workloads) {
    const n = Math.max(1000, Math.round(w.n * args.scale));
    for (const t of targets) await run('redis-benchmark', [...tlsArgs, ...w.args(t.port, Math.max(10, Math.round(n / 5)))], 60000); // warm-up
    const per: Record<string, Measured> = {};
    for (let r = 0; r < args.rounds; r++) {
      for (const t of targets.map((_, i) => targets[(i + r) % targets.length]!)) {
        const c0 = cpu(t.pids);
        const rps = parseRps(await run('redis-benchmark', [...tlsArgs, ...w.args(t.port, n)], 120000));
        const c1 = cpu(t.pids);
        const e = (per[t.name] ??= { rps: [], cpu: [], rss: 0 });
        e.rps.push(rps);
        e.cpu.push(t.pids.length > 0 ? (c1 - c0) / n : 0);
        e.rss = t.pids.reduce((a, p) => a + rssMb(p), 0);
      }
    }
    const d = med(per['direct-tls']!.rps);
    const ha2 = per['haproxy+nutcracker']!;
    for (const t of targets) {
      const e = per[t.name]!;
      const ratio = t.name === 'nutmeg-tls' ? `${(med(e.rps) / med(ha2.rps)).toFixed(2)} thr, ${(med(e.cpu) / med(ha2.cpu)).toFixed(2)} cpu` : '';
      const has2 = t.pids.length > 0;
      console.log(
        `${w.name.padEnd(19)} ${t.name.padEnd(19)} ${med(e.rps).toFixed(0).padStart(9)} ${has2 ? med(e.cpu).toFixed(2).padStart(12) : '           -'} ${has2 ? e.rss.toFixed(1).padStart(8) : '       -'} ${(d > 0 ? med(e.rps) / d : 0).toFixed(2).padStart(11)}   ${ratio}`,
      );
    }
  }
  fs.rmSync(certs.dir, { recursive: true, force: true });
}

/** Redis Cluster rows: GET and SET, pipelined and not, 50 connections, 100000 random keys (as the plain rows). */
const CLUSTER_WORKLOADS: Workload[] = [
  { name: 'cluster-get-p1', redis: true, n: 60000, args: (p, n) => ['-p', String(p), '-t', 'get', '-n', String(n), '-c', '50', '-r', '100000', '-P', '1', '--csv'] },
  { name: 'cluster-set-p1', redis: true, n: 60000, args: (p, n) => ['-p', String(p), '-t', 'set', '-n', String(n), '-c', '50', '-r', '100000', '-P', '1', '--csv'] },
  { name: 'cluster-get-p16', redis: true, n: 400000, args: (p, n) => ['-p', String(p), '-t', 'get', '-n', String(n), '-c', '50', '-r', '100000', '-P', '16', '--csv'] },
  { name: 'cluster-set-p16', redis: true, n: 400000, args: (p, n) => ['-p', String(p), '-t', 'set', '-n', String(n), '-c', '50', '-r', '100000', '-P', '16', '--csv'] },
];

/**
 * The Redis Cluster rows: `redis-benchmark --cluster` straight to a 3-master cluster, nutmeg's redis_cluster pool in
 * front of it, and nutmeg's hashed (ketama) pool over 3 standalone redis-servers (the same shape without Cluster).
 * Interleaved rounds, medians; ratios nutmeg-cluster/direct-cluster and nutmeg-cluster/nutmeg-hashed.
 */
async function clusterRows(workloads: Workload[], args: Args, procs: Proc[]): Promise<void> {
  const lab = await ClusterLab.start(3, 0, 5000);
  procs.push(...[...lab.nodes.values()].map((n) => n.proc));
  const masters = await lab.masters();
  const plain = await Promise.all([0, 1, 2].map(() => startRedis()));
  procs.push(...plain);
  const [clPort, hPort] = (await freePorts(2)) as [number, number];
  const cl = await startNutmeg(
    ['bench_cluster:', `  listen: 127.0.0.1:${clPort}`, '  redis: true', '  redis_cluster: true', '  preconnect: true', '  timeout: 3000', '  servers:', ...masters.map((m) => `    - 127.0.0.1:${m}:1`), ''].join('\n'),
    [clPort],
    args.workers > 1 ? ['--workers', String(args.workers)] : [],
  );
  procs.push(cl);
  const hashed = await startNutmeg(
    ['bench_hashed:', `  listen: 127.0.0.1:${hPort}`, '  hash: fnv1a_64', '  distribution: ketama', '  redis: true', '  preconnect: true', '  timeout: 3000', '  servers:', ...plain.map((r, i) => `    - 127.0.0.1:${r.port}:1 redis${i}`), ''].join('\n'),
    [hPort],
    args.workers > 1 ? ['--workers', String(args.workers)] : [],
  );
  procs.push(hashed);
  const targets: { name: string; port: number; pid: number; pre: string[] }[] = [
    { name: 'direct-cluster', port: masters[0] as number, pid: 0, pre: ['--cluster'] },
    { name: 'nutmeg-cluster', port: clPort, pid: cl.pid, pre: [] },
    { name: 'nutmeg-hashed', port: hPort, pid: hashed.pid, pre: [] },
  ];
  console.log(`\nRedis Cluster: 3 masters; direct = redis-benchmark --cluster; nutmeg-hashed = a ketama pool over 3 standalone redis-servers`);
  console.log('workload            target              req/s   cpu µs/req   rss MB   nutmeg-cluster/direct-cluster   nutmeg-cluster/nutmeg-hashed');
  for (const w of workloads) {
    const n = Math.max(1000, Math.round(w.n * args.scale));
    for (const t of targets) await run('redis-benchmark', [...t.pre, ...w.args(t.port, Math.max(10, Math.round(n / 5)))], 60000); // warm-up
    const per: Record<string, Measured> = {};
    for (let r = 0; r < args.rounds; r++) {
      for (const t of targets.map((_, i) => targets[(i + r) % targets.length]!)) {
        const c0 = t.pid > 0 ? cpuUs(t.pid) : 0;
        const rps = parseRps(await run('redis-benchmark', [...t.pre, ...w.args(t.port, n)], 120000));
        const c1 = t.pid > 0 ? cpuUs(t.pid) : 0;
        const e = (per[t.name] ??= { rps: [], cpu: [], rss: 0 });
        e.rps.push(rps);
        e.cpu.push(t.pid > 0 ? (c1 - c0) / n : 0);
        e.rss = t.pid > 0 ? rssMb(t.pid) : 0;
      }
    }
    const d = med(per['direct-cluster']!.rps);
    const h = per['nutmeg-hashed']!;
    for (const t of targets) {
      const e = per[t.name]!;
      const ratios = t.name === 'nutmeg-cluster' ? `${(d > 0 ? med(e.rps) / d : 0).toFixed(2).padStart(29)}   ${(med(e.rps) / med(h.rps)).toFixed(2)} thr, ${(med(e.cpu) / med(h.cpu)).toFixed(2)} cpu` : '';
      console.log(
        `${w.name.padEnd(19)} ${t.name.padEnd(15)} ${med(e.rps).toFixed(0).padStart(9)} ${t.pid > 0 ? med(e.cpu).toFixed(2).padStart(12) : '           -'} ${t.pid > 0 ? e.rss.toFixed(1).padStart(8) : '       -'}   ${ratios}`,
      );
    }
  }
  await lab.stop(); // its nodes and temporary directory (the other processes stop with the run)
}

/** memcaslap rows: 50 connections, 1 KB values, `set` the share of sets (the rest gets). */
interface McWorkload {
  name: string;
  n: number;
  set: number;
}

const MC_WORKLOADS: McWorkload[] = [
  { name: 'mc-mirror-set-1k', n: 200000, set: 1 }, // every request mirrored: the worst case
  { name: 'mc-mirror-getset-1k', n: 200000, set: 0.1 }, // the harness' 9:1 get:set mix
];

/** ops/s and average latency (µs) from memcaslap's output (its Total Statistics block). */
function parseMemaslap(out: string): { tps: number; avgUs: number } {
  const m = /Run time:\s*[\d.]+s\s+Ops:\s*\d+\s+TPS:\s*(\d+)/.exec(out);
  const total = out.split('Total Statistics')[1] ?? '';
  const a = /Avg:\s+([\d.]+)/.exec(total);
  return { tps: m ? Number(m[1]) : 0, avgUs: a ? Number(a[1]) : 0 };
}

/** The mirror rows: plain pool vs the same pool with mirror_to, interleaved rounds, medians. */
async function mirrorRows(workloads: McWorkload[], args: Args, procs: Proc[]): Promise<void> {
  const tool = has('memcaslap') ? 'memcaslap' : 'memaslap';
  const mc: Backend[] = await Promise.all([0, 1, 2].map(() => startMemcached()));
  procs.push(...mc);
  const [plainPort, mirrorPort] = await freePorts(2);
  const pool = (port: number, mirror: boolean): string =>
    [
      'mc:',
      `  listen: 127.0.0.1:${port}`,
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  preconnect: true',
      '  timeout: 3000',
      ...(mirror ? ['  mirror_to: [copy]'] : []),
      '  servers:',
      `    - 127.0.0.1:${mc[0]!.port}:1 mc0`,
      `    - 127.0.0.1:${mc[1]!.port}:1 mc1`,
      ...(mirror ? ['copy:', '  listen: none', '  preconnect: true', '  servers:', `    - 127.0.0.1:${mc[2]!.port}:1 copy0`] : []),
      '',
    ].join('\n');
  const plain = await startNutmeg(pool(plainPort!, false), [plainPort!]);
  const mirrored = await startNutmeg(pool(mirrorPort!, true), [mirrorPort!]);
  procs.push(plain, mirrored);
  const targets = [
    { name: 'plain', port: plainPort!, proc: plain },
    { name: 'mirror_to', port: mirrorPort!, proc: mirrored },
  ];
  const dir = tmpDir('nutmeg-bench-');
  console.log(`\nworkload              target          ops/s   avg µs   cpu µs/op   rss MB   mirror_to/plain`);
  for (const w of workloads) {
    const cfg = path.join(dir, `${w.name}.cfg`);
    fs.writeFileSync(cfg, `key\n64 64 1\nvalue\n1024 1024 1\ncmd\n0 ${w.set}\n1 ${1 - w.set}\n`);
    const n = Math.max(1000, Math.round(w.n * args.scale));
    const argv = (port: number, k: number): string[] => ['-s', `127.0.0.1:${port}`, '-T', '1', '-c', '50', '-x', String(k), '-F', cfg, '-S', '3600s'];
    for (const t of targets) await run(tool, argv(t.port, Math.round(n / 5)), 60000); // warm-up
    const per: Record<string, { tps: number[]; avg: number[]; cpu: number[]; rss: number }> = {};
    for (let r = 0; r < args.rounds; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        const c0 = cpuUs(t.proc.pid);
        const res = parseMemaslap(await run(tool, argv(t.port, n), 120000));
        const c1 = cpuUs(t.proc.pid);
        const e = (per[t.name] ??= { tps: [], avg: [], cpu: [], rss: 0 });
        e.tps.push(res.tps);
        e.avg.push(res.avgUs);
        e.cpu.push((c1 - c0) / n);
        e.rss = rssMb(t.proc.pid);
      }
    }
    const p = per.plain!;
    for (const t of targets) {
      const e = per[t.name]!;
      const ratio = t.name === 'plain' ? '' : `${(med(e.avg) / med(p.avg)).toFixed(2)} latency, ${(med(e.cpu) / med(p.cpu)).toFixed(2)} cpu`;
      console.log(
        `${w.name.padEnd(21)} ${t.name.padEnd(10)} ${med(e.tps).toFixed(0).padStart(10)} ${med(e.avg).toFixed(0).padStart(8)} ${med(e.cpu).toFixed(2).padStart(11)} ${e.rss.toFixed(1).padStart(8)}   ${ratio}`,
      );
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function parseRps(out: string): number {
  let rps = 0;
  for (const line of out.split('\n')) {
    const m = /^"[^"]*","([\d.]+)"/.exec(line);
    if (m) rps = Number(m[1]);
  }
  return rps;
}

const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? 0;

/** What one workload measured for one target: per round requests/s and proxy CPU µs per request; last RSS. */
interface Measured {
  rps: number[];
  cpu: number[];
  rss: number;
}

const SMALL_HEADER = 'workload           target        req/s   cpu µs/req   rss MB   vs direct   nutmeg/nutcracker';
const LARGE_HEADER = 'workload           target         MB/s    cpu µs/MB   rss MB   vs direct   nutmeg/nutcracker      (MB = 10^6 bytes of values)';

/** The rows of one workload: requests/s and µs per request, or for large values MB/s and µs per MB. */
function report(w: Workload, targets: { name: string; proc: ProxyProc | null }[], per: Record<string, Measured>): void {
  const mb = (w.valueBytes ?? 0) / 1e6;
  const rate = (e: Measured): number => (mb > 0 ? med(e.rps) * mb : med(e.rps));
  const cost = (e: Measured): number => (mb > 0 ? med(e.cpu) / mb : med(e.cpu));
  const d = per.direct ? rate(per.direct) : 0;
  const nc = per.nutcracker;
  for (const t of targets) {
    const e = per[t.name]!;
    const ratio = t.name === 'nutmeg' && nc && rate(nc) > 0 ? `${(rate(e) / rate(nc)).toFixed(2)} thr, ${(cost(e) / cost(nc)).toFixed(2)} cpu` : '';
    console.log(
      `${w.name.padEnd(18)} ${t.name.padEnd(11)} ${rate(e).toFixed(0).padStart(9)} ${t.proc ? cost(e).toFixed(2).padStart(12) : '           -'} ${t.proc ? e.rss.toFixed(1).padStart(8) : '       -'} ${(d > 0 ? rate(e) / d : 0).toFixed(2).padStart(11)}   ${ratio}`,
    );
  }
}

async function main(): Promise<void> {
  const args = parseCli(process.argv.slice(2));
  const selected = (name: string): boolean => args.workloads.length === 0 || args.workloads.some((f) => name.includes(f));
  const workloads = WORKLOADS.filter((w) => selected(w.name));
  const tlsWorkloads = TLS_WORKLOADS.filter((w) => selected(w.name));
  const clusterWorkloads = CLUSTER_WORKLOADS.filter((w) => selected(w.name));
  const mcWorkloads = has('memcached') && (has('memcaslap') || has('memaslap')) ? MC_WORKLOADS.filter((w) => selected(w.name)) : [];
  if (args.list) {
    for (const w of [...WORKLOADS, ...TLS_WORKLOADS, ...CLUSTER_WORKLOADS, ...MC_WORKLOADS]) console.log(w.name);
    return;
  }
  if (workloads.length + tlsWorkloads.length + clusterWorkloads.length + mcWorkloads.length === 0) throw new Error(`no workload matches ${args.workloads.join(',')} (--list shows them)`);
  if (workloads.length + tlsWorkloads.length === 0) {
    const procs: Proc[] = [];
    try {
      if (clusterWorkloads.length > 0) await clusterRows(clusterWorkloads, args, procs);
      if (mcWorkloads.length > 0) await mirrorRows(mcWorkloads, args, procs);
    } finally {
      await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    }
    console.log(`\n(figures are from this machine and this run only; compare the ratios, not the absolute numbers)`);
    return;
  }
  for (const c of ['redis-server', 'redis-benchmark']) {
    if (!has(c)) throw new Error(`${c} is not installed (apt-get install redis-server redis-tools)`);
  }
  const withNc = has('nutcracker');
  const redis = await Promise.all([0, 1, 2, 3].map(() => startRedis()));
  const ports = await freePorts(2);
  const conf = (port: number): string =>
    [
      'bench_redis:',
      `  listen: 127.0.0.1:${port}`,
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  redis: true',
      '  preconnect: true',
      '  timeout: 3000',
      '  servers:',
      ...redis.map((r, i) => `    - 127.0.0.1:${r.port}:1 redis${i}`),
      '',
    ].join('\n');
  const procs: Proc[] = [...redis];
  const targets: { name: string; port: number; proc: ProxyProc | null }[] = [{ name: 'direct', port: redis[0]!.port, proc: null }];
  if (withNc) {
    const nc = await startNutcracker(conf(ports[0]!), [ports[0]!]);
    procs.push(nc);
    targets.push({ name: 'nutcracker', port: ports[0]!, proc: nc });
  }
  const nm = await startNutmeg(conf(ports[1]!), [ports[1]!], args.workers > 1 ? ['--workers', String(args.workers)] : []);
  procs.push(nm);
  targets.push({ name: 'nutmeg', port: ports[1]!, proc: nm });
  console.log(`targets: ${targets.map((t) => t.name).join(', ')}; rounds ${args.rounds}; scale ${args.scale}; nutmeg workers ${args.workers}`);
  let header = '';
  try {
    for (const w of workloads) {
      const h = w.valueBytes ? LARGE_HEADER : SMALL_HEADER;
      if (h !== header) console.log(`${header === '' ? '' : '\n'}${(header = h)}`);
      const n = Math.max(w.minN ?? 1000, Math.round(w.n * args.scale));
      const per: Record<string, Measured> = {};
      for (const t of targets) {
        if (w.prep) await run('redis-benchmark', w.prep(t.port), 60000);
        await run('redis-benchmark', w.args(t.port, Math.max(10, Math.round(n / 5))), 60000); // warm-up
      }
      for (let r = 0; r < args.rounds; r++) {
        const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
        for (const t of order) {
          const pid = t.proc?.pid ?? 0;
          const c0 = pid > 0 ? cpuUs(pid) : 0;
          const rps = parseRps(await run('redis-benchmark', w.args(t.port, n), 120000));
          const c1 = pid > 0 ? cpuUs(pid) : 0;
          const e = (per[t.name] ??= { rps: [], cpu: [], rss: 0 });
          e.rps.push(rps);
          e.cpu.push(pid > 0 ? (c1 - c0) / n : 0);
          e.rss = pid > 0 ? rssMb(pid) : 0;
        }
      }
      report(w, targets, per);
    }
    if (tlsWorkloads.length > 0) await tlsRows(tlsWorkloads, args, procs, redis);
    if (clusterWorkloads.length > 0) await clusterRows(clusterWorkloads, args, procs);
    if (mcWorkloads.length > 0) await mirrorRows(mcWorkloads, args, procs);
  } finally {
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  }
  console.log(`\n(figures are from this machine and this run only; compare the ratios, not the absolute numbers)`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
