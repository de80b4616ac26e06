// Redis 7.0's own test suite as nutmeg's conformance yardstick (issue 13), on demand, never in CI.
// For each unit of tests/unit/ and tests/unit/type/ it starts a fresh redis-server (tests/assets/default.conf,
// as the suite's own servers use) on a free loopback port, puts the target in front of it with ONE server in
// the pool, and runs `./runtest --host 127.0.0.1 --port <target> --singledb --durable --clients 1 --single <unit>`
// under a wall-clock limit; then it stops everything it started and parses the per-test lines.
//
//   target      what the suite talks to
//   nutmeg      bin/nutmeg, redis: true, redis_databases: 16, redis_admin_commands: true
//   direct      the redis-server itself (the baseline: what the suite passes in external mode)
//   nutcracker  /usr/sbin/nutcracker, the same pool (twemproxy's own keys only)
//
// The Redis sources are not part of this repository: extract them once, outside it, e.g.
//   git --git-dir=<mirror of github.com/redis/redis> archive 7.0.15 tests runtest | tar -x -C /tmp/redis-tests
// and install Debian's `tcl`.
//
// Harness shim (on by default, --no-shim turns it off). In external mode the suite's start_server runs
// `r flushall`, `r function flush` and `r config set <override>` through the target before every block of tests;
// a proxy that refuses those (CONFIG is server administration; nutcracker refuses all three) aborts the whole
// unit before its first test. The shim makes exactly those set-up calls of tests/support/server.tcl go to the
// backend directly (an added proc, `suite_admin`, used only when SUITE_ADMIN_PORT is set), so what is measured
// is the tests' own commands through the target. It is written into the scratch copy once (idempotent);
// without the variable the suite behaves as shipped. Everything a test itself sends still goes through the target.
//
// --admin-direct (needs the shim) goes one step further: every CONFIG and DEBUG call the tests themselves make on a
// client of the target goes to the backend too (a wrapper around the Tcl client's dispatch; on a deferring client
// the reply is handed to its next read). Tests that merely set an encoding threshold or freeze active expiry then
// run, so what is left failing is the data path. Results are labelled `<target>+admin`.
//
// Output: per-unit lines while running, a summary table (passed/failed per target, `E` when the unit errored:
// exception, TIMEOUT, wall-clock kill, or the proxy died), tests that pass through one target and fail or are not
// run through another, the most frequent first failure lines, and one JSON file per target
// (<out-dir>/redis-suite-<target>.json). --compare reads such files back and prints the table without running.
//
// Usage: npx tsc -p tsconfig.json && node dist/scripts/redis-suite.js [--nutmeg] [--direct] [--nutcracker]
//          [--tests-dir /tmp/redis-tests] [--units unit/expire,unit/type/list] [--skip-units unit/x,...]
//          [--unit-timeout 900] [--test-timeout 120] [--tags "-needs:debug ..."] [--skiptest NAME|/REGEXP ...]
//          [--multidb] [--no-shim | --admin-direct] [--out-dir /tmp]
//          [--nutmeg-bin bin/nutmeg] [--nutcracker-bin /usr/sbin/nutcracker] [--redis-server redis-server]
//          [--keep-logs] [--compare a.json b.json ...]

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, waitPort, sleep, NUTMEG_BIN } from '../test/helpers/procs';

type Target = 'nutmeg' | 'direct' | 'nutcracker';
const TARGETS: Target[] = ['nutmeg', 'direct', 'nutcracker'];

interface Failure {
  name: string;
  /** The first line of what the suite reported (the assertion, or the error reply). */
  reason: string;
  /** The suite's command that raised it (the line after `while executing`), when the report has one. */
  command: string;
  /** Up to 7 more lines of the report. */
  detail: string[];
}

interface UnitResult {
  unit: string;
  passed: string[];
  failed: Failure[];
  /** Tests skipped by tags (external:skip, singledb:skip, needs:..., --tags): `name: why`. */
  ignored: string[];
  /** Why the unit did not run to its end: exception, TIMEOUT (with the test in progress), wall clock, proxy died. */
  error: string | null;
  /** start_server blocks that failed outside any test (their remaining tests did not run). */
  blockErrors: string[];
  seconds: number;
  exitCode: number | null;
  /** The proxy's exit while the unit ran (code or signal), and the end of its log. */
  proxyDied: string | null;
}

interface TargetResult {
  target: Target;
  redisVersion: string;
  suiteTag: string;
  skipTests: string[];
  multiDb: boolean;
  shim: boolean;
  /** --admin-direct: the tests' own CONFIG and DEBUG calls went to the backend, not through the target. */
  adminDirect: boolean;
  /** The name in tables: the target, `+admin` with --admin-direct. */
  label: string;
  tags: string;
  startedAt: string;
  seconds: number;
  units: UnitResult[];
}

// ---------------------------------------------------------------- arguments

interface Options {
  targets: Target[];
  testsDir: string;
  units: string[] | null;
  skipUnits: string[];
  unitTimeout: number;
  testTimeout: number;
  tags: string;
  /** runtest --skiptest patterns (a name, or /regexp). */
  skipTests: string[];
  /** Without --singledb: the suite SELECTs 9 on every client (nutmeg gets redis_databases: 16). */
  multiDb: boolean;
  shim: boolean;
  adminDirect: boolean;
  outDir: string;
  nutmegBin: string;
  nutcrackerBin: string;
  redisServer: string;
  keepLogs: boolean;
  compare: string[];
}

const USAGE =
  'usage: node dist/scripts/redis-suite.js [--nutmeg] [--direct] [--nutcracker] [--tests-dir /tmp/redis-tests]\n' +
  '         [--units unit/a,unit/type/b] [--skip-units unit/x,...] [--unit-timeout 900] [--test-timeout 120]\n' +
  '         [--tags "<runtest --tags>"] [--skiptest NAME|/REGEXP (repeatable)] [--multidb] [--no-shim | --admin-direct] [--out-dir /tmp] [--nutmeg-bin bin/nutmeg]\n' +
  '         [--nutcracker-bin /usr/sbin/nutcracker] [--redis-server redis-server] [--keep-logs]\n' +
  '         [--compare a.json b.json ...]\n';

function parseArgs(argv: string[]): Options | null {
  const o: Options = {
    targets: [],
    testsDir: '/tmp/redis-tests',
    units: null,
    skipUnits: [],
    unitTimeout: 900,
    testTimeout: 120,
    tags: '',
    skipTests: [],
    multiDb: false,
    shim: true,
    adminDirect: false,
    outDir: os.tmpdir(),
    nutmegBin: NUTMEG_BIN,
    nutcrackerBin: '/usr/sbin/nutcracker',
    redisServer: 'redis-server',
    keepLogs: false,
    compare: [],
  };
  const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string | undefined => argv[++i];
    switch (a) {
      case '--nutmeg':
      case '--direct':
      case '--nutcracker':
        o.targets.push(a.slice(2) as Target);
        break;
      case '--all':
        o.targets.push(...TARGETS);
        break;
      case '--no-shim':
        o.shim = false;
        break;
      case '--admin-direct':
        o.adminDirect = true;
        break;
      case '--multidb':
        o.multiDb = true;
        break;
      case '--keep-logs':
        o.keepLogs = true;
        break;
      case '--compare':
        while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) o.compare.push(argv[++i]!);
        if (o.compare.length === 0) return null;
        break;
      default: {
        const v = val();
        if (v === undefined) return null;
        if (a === '--tests-dir') o.testsDir = path.resolve(v);
        else if (a === '--units') o.units = list(v);
        else if (a === '--skip-units') o.skipUnits = list(v);
        else if (a === '--unit-timeout') o.unitTimeout = Number(v);
        else if (a === '--test-timeout') o.testTimeout = Number(v);
        else if (a === '--tags') o.tags = v;
        else if (a === '--skiptest') o.skipTests.push(v);
        else if (a === '--out-dir') o.outDir = path.resolve(v);
        else if (a === '--nutmeg-bin') o.nutmegBin = path.resolve(v);
        else if (a === '--nutcracker-bin') o.nutcrackerBin = v;
        else if (a === '--redis-server') o.redisServer = v;
        else return null;
        if (!(o.unitTimeout > 0 && o.testTimeout > 0)) return null;
      }
    }
  }
  if (o.targets.length === 0 && o.compare.length === 0) o.targets.push('nutmeg');
  if (o.adminDirect && !o.shim) return null;
  o.targets = [...new Set(o.targets)];
  return o;
}

// ---------------------------------------------------------------- processes

/** Every process this script started and has not yet seen exit; killed on the way out, whatever happens. */
const live = new Set<ChildProcess>();
/** Those of them that lead a process group (runtest), killed as a group. */
const groups = new Set<ChildProcess>();

function start(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string; group?: boolean }): ChildProcess {
  const fd = fs.openSync(opts.log, 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: opts.group === true });
  fs.closeSync(fd);
  live.add(child);
  if (opts.group === true) groups.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Stop one child (its whole process group when it leads one: runtest's tclsh starts its test client in it). */
async function stop(child: ChildProcess, group = false): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || exited(child)) {
    live.delete(child);
    return;
  }
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = (sig: NodeJS.Signals): void => {
    try {
      if (group) process.kill(-pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const t = setTimeout(() => kill('SIGKILL'), 3000);
  await done;
  clearTimeout(t);
  if (group) kill('SIGKILL'); // stragglers of the group (the test client) once its leader is gone
  live.delete(child);
  groups.delete(child);
}

function killAllNow(): void {
  for (const c of live) {
    try {
      if (c.pid !== undefined) process.kill(groups.has(c) ? -c.pid : c.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nredis-suite: ${sig}, stopping every process it started\n`);
    killAllNow();
    process.exit(130);
  });
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------- the target for one unit

interface Running {
  port: number;
  backendPort: number;
  stopAll: () => Promise<void>;
  proxy: ChildProcess | null;
  proxyLog: string | null;
}

async function startTarget(target: Target, o: Options, dir: string): Promise<Running> {
  const backendPort = await freePort();
  const rdir = path.join(dir, 'redis');
  fs.mkdirSync(rdir, { recursive: true });
  const redis = start(
    o.redisServer,
    [path.join(o.testsDir, 'tests', 'assets', 'default.conf'), '--port', String(backendPort), '--bind', '127.0.0.1', '--dir', rdir, '--pidfile', path.join(rdir, 'redis.pid'), '--save', ''],
    { log: path.join(dir, 'redis.log') },
  );
  const stopRedis = (): Promise<void> => stop(redis);
  try {
    await waitPort(backendPort, 10000);
  } catch (e) {
    await stopRedis();
    throw new Error(`redis-server did not start: ${(e as Error).message}\n${tail(path.join(dir, 'redis.log'))}`);
  }
  if (target === 'direct') return { port: backendPort, backendPort, stopAll: stopRedis, proxy: null, proxyLog: null };

  const port = await freePort();
  const statsPort = await freePort();
  const pool = [
    'suite:',
    `  listen: 127.0.0.1:${port}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: true',
    '  auto_eject_hosts: false',
    '  server_connections: 1',
    // transaction_max_commands: the suite queues 10,000 XADDs in one MULTI (stream.tcl insert_into_stream_key);
    // at the default 1000 the 1001st gets an error and the client is left in MULTI for the rest of the unit.
    ...(target === 'nutmeg' ? ['  redis_databases: 16', '  redis_admin_commands: true', '  transaction_max_commands: 1000000'] : []),
    '  servers:',
    `    - 127.0.0.1:${backendPort}:1 backend`,
    '',
  ].join('\n');
  const conf = path.join(dir, 'conf.yml');
  fs.writeFileSync(conf, pool);
  const log = path.join(dir, `${target}.log`);
  const common = ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1'];
  const proxy =
    target === 'nutmeg'
      ? start(process.execPath, ['--max-semi-space-size=2', o.nutmegBin, ...common, '-o', log], { log: `${log}.stderr` })
      : start(o.nutcrackerBin, [...common, '-o', log], { log: `${log}.stderr` });
  const stopAll = async (): Promise<void> => {
    await stop(proxy);
    await stopRedis();
  };
  try {
    await waitPort(port, 10000);
  } catch (e) {
    await stopAll();
    throw new Error(`${target} did not start: ${(e as Error).message}\n${tail(log)}\n${tail(`${log}.stderr`)}`);
  }
  return { port, backendPort, stopAll, proxy, proxyLog: log };
}

// ---------------------------------------------------------------- the suite

const SHIM_MARK = '# redis-suite shim v3 (nutmeg scripts/redis-suite.ts)';
const SHIM_PROC = `${SHIM_MARK}
# 1. The external-mode set-up of start_server (flushall, function flush, config overrides) goes to the backend
#    directly when SUITE_ADMIN_PORT is set, so that a proxy refusing them does not abort whole units.
proc suite_admin {args} {
    if {[info exists ::env(SUITE_ADMIN_PORT)]} {
        set c [redis $::host $::env(SUITE_ADMIN_PORT) 0 $::tls]
        if {!$::singledb} { $c select 9 }
        set code [catch {$c {*}$args} res]
        $c close
        return -code $code $res
    }
    r {*}$args
}
# 2. With SUITE_ADMIN_DIRECT=1 as well, every CONFIG and DEBUG call a test makes on a client of the target
#    (the port given with --port) goes to the backend instead; on a deferring client the reply is handed
#    to its next read.
if {[info command ::redis::__suite_dispatch_orig__] eq {}} {
    rename ::redis::__dispatch__ ::redis::__suite_dispatch_orig__
    proc ::redis::__dispatch__ {id method args} {
        if {[info exists ::env(SUITE_ADMIN_DIRECT)] && [info exists ::env(SUITE_ADMIN_PORT)] &&
            [lindex $::redis::addr($id) 1] == $::port && $::redis::blocking($id)} {
            set m [string tolower $method]
            if {$m eq {config} || $m eq {debug}} {
                set code [catch {suite_admin $method {*}$args} res]
                if {$::redis::deferred($id)} {
                    lappend ::suite_stash($id) [list $code $res]
                    return
                }
                return -code $code $res
            }
            if {$m eq {read} && [info exists ::suite_stash($id)] && [llength $::suite_stash($id)] > 0} {
                lassign [lindex $::suite_stash($id) 0] code res
                set ::suite_stash($id) [lrange $::suite_stash($id) 1 end]
                return -code $code $res
            }
        }
        ::redis::__suite_dispatch_orig__ $id $method {*}$args
    }
}
`;

/**
 * Write the shim into the scratch copy of tests/support/server.tcl once (the file as shipped is kept next to it as
 * server.tcl.orig, and an older shim is replaced); throws when the file is not as 7.0 ships it.
 */
function installShim(testsDir: string): void {
  const file = path.join(testsDir, 'tests', 'support', 'server.tcl');
  const orig = `${file}.orig`;
  let text = fs.readFileSync(file, 'utf8');
  if (text.includes(SHIM_MARK)) return;
  if (text.includes('# redis-suite shim')) {
    if (!fs.existsSync(orig)) throw new Error(`${file} holds an older redis-suite shim and ${orig} is missing: extract tests/ again`);
    text = fs.readFileSync(orig, 'utf8');
  } else {
    fs.writeFileSync(orig, text);
  }
  const start = text.indexOf('proc run_external_server_test {code overrides} {');
  const end = text.indexOf('\nproc ', start + 10);
  if (start < 0 || end < 0) throw new Error(`${file}: run_external_server_test not found; run with --no-shim`);
  let body = text.slice(start, end);
  const edits: [string, string][] = [
    ['    r flushall\n', '    suite_admin flushall\n'],
    ['    r function flush\n', '    suite_admin function flush\n'],
    ['[lindex [r config get $param] 1]', '[lindex [suite_admin config get $param] 1]'],
    ['        r config set $param $val\n', '        suite_admin config set $param $val\n'],
  ];
  for (const [from, to] of edits) {
    if (!body.includes(from)) throw new Error(`${file}: '${from.trim()}' not found in run_external_server_test; run with --no-shim`);
    body = body.split(from).join(to);
  }
  text = text.slice(0, start) + SHIM_PROC + '\n' + body + text.slice(end);
  fs.writeFileSync(file, text);
}

function listUnits(o: Options): string[] {
  const text = fs.readFileSync(path.join(o.testsDir, 'tests', 'test_helper.tcl'), 'utf8');
  const m = /set ::all_tests \{([^}]*)\}/.exec(text);
  if (m === null) throw new Error('tests/test_helper.tcl: ::all_tests not found');
  const all = m[1]!.split(/\s+/).filter((u) => u.startsWith('unit/') && !u.startsWith('unit/cluster/'));
  const chosen = o.units ?? all;
  return chosen.filter((u) => !o.skipUnits.includes(u));
}

const STATUS = /^\[(ok|err|skip|ignore|exception|TIMEOUT|ready|\d+\/\d+ done)\]: ?(.*)$/;
const END_OF_DETAIL = /^(\*\*\* |!!! WARNING|\s+The End\s*$|Cleanup:|Killing still|Execution time|Starting test server|Testing |\s+\d+ seconds - )/;

/** Quoted errorInfo lines that are the suite's plumbing (proc r, the shim, re-raises), not a test's command. */
const INTERNAL = /^"(\[srv \$level "client"\] \{\*\}\$args|::redis::__suite_dispatch_orig__|error \$|::redis::__dispatch__raw__|uplevel 1 \$code)/;

/** The first line worth reading: for a non-assertion error the suite cuts 10 characters off, the errorInfo after it has them. */
function firstLine(lines: string[]): string {
  const a = lines[0] ?? '';
  const b = lines[1];
  if (b !== undefined && b.length === a.length + 10 && b.endsWith(a)) return b;
  if (a === '' && b !== undefined) return b;
  return a;
}

function parseOutput(unit: string, text: string): Omit<UnitResult, 'seconds' | 'exitCode' | 'proxyDied'> {
  const clean = text.replace(/\x1b\[[0-9;]*m/g, '');
  const lines = clean.split('\n');
  const r: Omit<UnitResult, 'seconds' | 'exitCode' | 'proxyDied'> = { unit, passed: [], failed: [], ignored: [], error: null, blockErrors: [] };
  const file = `tests/${unit}.tcl`;
  for (let i = 0; i < lines.length; i++) {
    const m = STATUS.exec(lines[i]!);
    if (m === null) continue;
    const [, status, data] = m as unknown as [string, string, string];
    const detail: string[] = [];
    for (let j = i + 1; j < lines.length && !STATUS.test(lines[j]!) && !END_OF_DETAIL.test(lines[j]!); j++) detail.push(lines[j]!);
    if (status === 'ok') {
      r.passed.push(data.replace(/ \(\d+ ms\)$/, ''));
    } else if (status === 'ignore') {
      r.ignored.push(data);
    } else if (status === 'err') {
      const suffix = ` in ${file}`;
      if (data.endsWith(suffix)) {
        const reason = firstLine(detail);
        const rest = detail[1] === reason ? detail.slice(2) : detail.slice(1);
        // the innermost line of the test that raised it: skip the suite's and the shim's own wrappers
        const command = detail.map((l) => l.trim()).find((l) => l.startsWith('"') && !INTERNAL.test(l)) ?? '';
        r.failed.push({ name: data.slice(0, -suffix.length), reason, command, detail: rest.slice(0, 7) });
      } else {
        // a start_server block failed outside any test (--durable): data is the error with 10 characters cut off
        r.blockErrors.push(firstLine([data, ...detail]));
      }
    } else if (status === 'exception') {
      r.error = `exception: ${[data, ...detail].filter((l) => l.trim() !== '').slice(0, 4).join(' | ')}`;
    } else if (status === 'TIMEOUT') {
      const inProgress = detail.map((l) => /\(IN PROGRESS\) (.*)$/.exec(l)?.[1]).find((x) => x !== undefined);
      r.error = `TIMEOUT (no progress for --test-timeout)${inProgress ? ` in: ${inProgress}` : ''}`;
    }
  }
  return r;
}

async function runUnit(target: Target, unit: string, o: Options, workDir: string): Promise<UnitResult> {
  const dir = path.join(workDir, unit.replace(/\//g, '_'));
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  let running: Running;
  try {
    running = await startTarget(target, o, dir);
  } catch (e) {
    return { unit, passed: [], failed: [], ignored: [], error: `set-up: ${(e as Error).message.split('\n')[0]}`, blockErrors: [], seconds: 0, exitCode: null, proxyDied: null };
  }
  let proxyDied: string | null = null;
  const proxy = running.proxy;
  const onProxyExit = (code: number | null, sig: NodeJS.Signals | null): void => {
    proxyDied = `${target} exited (${sig ?? `code ${code}`}) during the unit: ${tail(running.proxyLog ?? '', 5).replace(/\n/g, ' | ')} ${tail(`${running.proxyLog}.stderr`, 5).replace(/\n/g, ' | ')}`.trim();
  };
  proxy?.once('exit', onProxyExit);

  const args = ['--host', '127.0.0.1', '--port', String(running.port), ...(o.multiDb ? [] : ['--singledb']), '--durable', '--clients', '1', '--timeout', String(o.testTimeout), '--single', unit];
  if (o.tags !== '') args.push('--tags', o.tags);
  for (const t of o.skipTests) args.push('--skiptest', t);
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'dumb' };
  if (o.shim && target !== 'direct') env.SUITE_ADMIN_PORT = String(running.backendPort);
  if (o.adminDirect && target !== 'direct') env.SUITE_ADMIN_DIRECT = '1';
  const outFile = path.join(dir, 'runtest.out');
  const rt = start('./runtest', args, { cwd: o.testsDir, env, log: outFile, group: true });
  let wallClock = false;
  const exitCode = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      wallClock = true;
      void stop(rt, true);
    }, o.unitTimeout * 1000);
    rt.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    rt.once('error', (e) => {
      clearTimeout(timer);
      fs.appendFileSync(outFile, `\n[exception]: cannot run ./runtest: ${e.message}\n`);
      resolve(null);
    });
  });
  await stop(rt, true); // the test client, should it outlive the server
  proxy?.off('exit', onProxyExit);
  await running.stopAll();
  const parsed = parseOutput(unit, fs.readFileSync(outFile, 'utf8'));
  if (wallClock) parsed.error = `killed after --unit-timeout ${o.unitTimeout} s${parsed.error ? `; ${parsed.error}` : ''}`;
  if (parsed.error === null && exitCode !== 0 && parsed.failed.length === 0 && parsed.blockErrors.length === 0) {
    parsed.error = `runtest exited with ${exitCode}: ${tail(outFile, 3).replace(/\n/g, ' | ')}`;
  }
  if (proxyDied !== null) parsed.error = parsed.error ? `${parsed.error}; ${proxyDied}` : proxyDied;
  if (!o.keepLogs) fs.rmSync(dir, { recursive: true, force: true });
  return { ...parsed, seconds: Math.round((Date.now() - t0) / 100) / 10, exitCode, proxyDied };
}

async function runTarget(target: Target, o: Options, units: string[]): Promise<TargetResult> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `redis-suite-${target}-`));
  const t0 = Date.now();
  const res: TargetResult = {
    target,
    redisVersion: '',
    suiteTag: suiteTag(o),
    shim: o.shim && target !== 'direct',
    adminDirect: o.adminDirect && target !== 'direct',
    label: `${target}${o.adminDirect && target !== 'direct' ? '+admin' : ''}${o.multiDb ? '+multidb' : ''}${o.tags !== '' ? `[${o.tags}]` : ''}`,
    tags: o.tags,
    skipTests: o.skipTests,
    multiDb: o.multiDb,
    startedAt: new Date().toISOString(),
    seconds: 0,
    units: [],
  };
  res.redisVersion = await redisVersion(o.redisServer);
  process.stdout.write(`== ${target}: ${units.length} units, suite ${res.suiteTag}, redis-server ${res.redisVersion}${res.shim ? ', harness shim on' : ''}${res.adminDirect ? ', CONFIG/DEBUG to the backend' : ''}\n`);
  for (const unit of units) {
    const u = await runUnit(target, unit, o, workDir);
    res.units.push(u);
    const err = u.error ? `  ERROR ${u.error.slice(0, 160)}` : '';
    const blk = u.blockErrors.length ? `  (${u.blockErrors.length} block error${u.blockErrors.length > 1 ? 's' : ''})` : '';
    process.stdout.write(`${target.padEnd(10)} ${unit.padEnd(26)} ${String(u.passed.length).padStart(4)} passed ${String(u.failed.length).padStart(4)} failed ${String(u.ignored.length).padStart(4)} ignored  ${String(u.seconds).padStart(6)} s${blk}${err}\n`);
  }
  res.seconds = Math.round((Date.now() - t0) / 1000);
  if (!o.keepLogs) fs.rmSync(workDir, { recursive: true, force: true });
  else process.stdout.write(`logs kept in ${workDir}\n`);
  fs.mkdirSync(o.outDir, { recursive: true });
  const out = path.join(o.outDir, `redis-suite-${res.label.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, '')}.json`);
  fs.writeFileSync(out, JSON.stringify(res, null, 1));
  process.stdout.write(`== ${target}: ${totals(res).passed} passed, ${totals(res).failed} failed, ${totals(res).errored} units errored in ${res.seconds} s; written to ${out}\n\n`);
  return res;
}

/** `<tests-dir>/VERSION` when present (write the tag there when extracting), else the directory. */
function suiteTag(o: Options): string {
  const marker = path.join(o.testsDir, 'VERSION');
  return fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : path.basename(o.testsDir);
}

function redisVersion(bin: string): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', () => resolve(/v=(\S+)/.exec(out)?.[1] ?? 'unknown'));
    c.once('error', () => resolve('not found'));
  });
}

// ---------------------------------------------------------------- report

function totals(r: TargetResult): { passed: number; failed: number; errored: number; blockErrors: number } {
  let passed = 0;
  let failed = 0;
  let errored = 0;
  let blockErrors = 0;
  for (const u of r.units) {
    passed += u.passed.length;
    failed += u.failed.length;
    blockErrors += u.blockErrors.length;
    if (u.error !== null) errored++;
  }
  return { passed, failed, errored, blockErrors };
}

function report(results: TargetResult[]): string {
  const out: string[] = [];
  const name = (r: TargetResult): string => r.label ?? r.target;
  const units = [...new Set(results.flatMap((r) => r.units.map((u) => u.unit)))];
  const cell = (r: TargetResult, unit: string): string => {
    const u = r.units.find((x) => x.unit === unit);
    if (u === undefined) return '-';
    return `${u.passed.length}/${u.failed.length}${u.error !== null ? ' E' : ''}${u.blockErrors.length > 0 ? ` B${u.blockErrors.length}` : ''}`;
  };
  out.push(`| unit | ${results.map((r) => `${name(r)} passed/failed`).join(' | ')} |`);
  out.push(`|---|${results.map(() => '---').join('|')}|`);
  for (const unit of units) out.push(`| ${unit} | ${results.map((r) => cell(r, unit)).join(' | ')} |`);
  out.push(`| **total** | ${results.map((r) => `${totals(r).passed}/${totals(r).failed}`).join(' | ')} |`);
  out.push(`| units errored | ${results.map((r) => String(totals(r).errored)).join(' | ')} |`);
  out.push(`| start_server blocks failed | ${results.map((r) => String(totals(r).blockErrors)).join(' | ')} |`);
  out.push('');
  out.push('E: the unit did not run to its end (exception, TIMEOUT, wall-clock limit or the proxy died); B<n>: n start_server blocks failed outside a test.');

  for (const r of results) {
    const errs = r.units.filter((u) => u.error !== null);
    if (errs.length > 0) {
      out.push('', `${name(r)}: units that errored`);
      for (const u of errs) out.push(`  ${u.unit}: ${u.error}`);
    }
  }

  // tests that pass through one target and do not pass through another (multiset by unit and name)
  const passedSet = (r: TargetResult): Map<string, number> => {
    const m = new Map<string, number>();
    for (const u of r.units) for (const n of u.passed) m.set(`${u.unit} :: ${n}`, (m.get(`${u.unit} :: ${n}`) ?? 0) + 1);
    return m;
  };
  for (const a of results) {
    for (const b of results) {
      if (a === b || b.target !== 'nutmeg') continue;
      const pa = passedSet(a);
      const pb = passedSet(b);
      const lost: string[] = [];
      for (const [k, n] of pa) if ((pb.get(k) ?? 0) < n) lost.push(k);
      out.push('', `pass through ${name(a)} but not through ${name(b)}: ${lost.length}`);
      if (a.target !== 'direct') for (const k of lost) out.push(`  ${k}`);
    }
  }

  for (const r of results) {
    const reasons = new Map<string, number>();
    for (const u of r.units) for (const f of u.failed) reasons.set(f.reason.slice(0, 140), (reasons.get(f.reason.slice(0, 140)) ?? 0) + 1);
    const top = [...reasons].sort((x, y) => y[1] - x[1]).slice(0, 25);
    if (top.length === 0) continue;
    out.push('', `${name(r)}: most frequent first failure lines`);
    for (const [why, n] of top) out.push(`  ${String(n).padStart(4)}  ${why}`);
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (o === null) {
    process.stderr.write(USAGE);
    return 2;
  }
  const results: TargetResult[] = [];
  for (const f of o.compare) results.push(JSON.parse(fs.readFileSync(f, 'utf8')) as TargetResult);
  if (o.targets.length > 0) {
    if (!fs.existsSync(path.join(o.testsDir, 'runtest'))) {
      process.stderr.write(`redis-suite: no ${o.testsDir}/runtest; extract Redis 7.0's tests/ and runtest there first (see the head of scripts/redis-suite.ts)\n`);
      return 2;
    }
    if (o.shim && o.targets.some((t) => t !== 'direct')) installShim(o.testsDir);
    const units = listUnits(o);
    for (const t of o.targets) results.push(await runTarget(t, o, units));
  }
  process.stdout.write(`${report(results)}\n`);
  return 0;
}

main().then(
  (code) => {
    killAllNow();
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`redis-suite: ${(e as Error).stack ?? String(e)}\n`);
    killAllNow();
    process.exit(1);
  },
);
