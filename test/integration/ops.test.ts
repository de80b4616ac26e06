// Operations: the HTTP port (/metrics parsed as Prometheus text, /healthz, /status.json, /), logging levels and
// signals (SIGHUP reopen, SIGTTIN/SIGTTOU), pid file, -d daemon mode, graceful SIGTERM/SIGINT, and `npm pack`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  startRedis,
  startNutmeg,
  freePorts,
  RawClient,
  readStats,
  tmpDir,
  sleep,
  until,
  waitPort,
  ROOT,
  NUTMEG_BIN,
  type Proc,
  type ProxyProc,
} from '../helpers/procs';
import { httpGet as get } from '../helpers/http';
import { parseProm, parseValue, pick, one, type Sample } from '../helpers/prom';
import { resp } from '../helpers/resp';
import { alive, procStat } from '../helpers/pids';

// ---- helpers -----------------------------------------------------------------------------------------------------

function readText(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

interface LogLine {
  level: number;
  msg: string;
}

function logLines(p: string): LogLine[] {
  return readText(p)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

// ---- the proxy under test ----------------------------------------------------------------------------------------

let backends: (Proc & { port: number })[] = [];
let proxy: ProxyProc;
let alphaPort = 0;
let betaPort = 0;
let httpPort = 0;
let deadPort = 0;
let dir = '';
let logFile = '';
let pidFile = '';

function yaml(): string {
  return [
    'alpha:',
    `  listen: 127.0.0.1:${alphaPort}`,
    '  redis: true',
    '  hash: fnv1a_64',
    '  timeout: 2000',
    '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 server${i}`),
    'beta:',
    `  listen: 127.0.0.1:${betaPort}`,
    '  redis: true',
    '  auto_eject_hosts: true',
    '  server_failure_limit: 1',
    '  server_retry_timeout: 60000',
    '  servers:',
    `    - 127.0.0.1:${deadPort}:1 dead`,
    '',
  ].join('\n');
}

before(async () => {
  backends = await Promise.all([startRedis(), startRedis()]);
  [alphaPort, betaPort, httpPort, deadPort] = (await freePorts(4)) as [number, number, number, number];
  dir = tmpDir('nutmeg-ops-');
  logFile = path.join(dir, 'nutmeg.log');
  pidFile = path.join(dir, 'nutmeg.pid');
  proxy = await startNutmeg(yaml(), [alphaPort, betaPort], ['--http-port', String(httpPort), '-v', '6', '-o', logFile, '-p', pidFile]);
  await waitPort(httpPort);
});

after(async () => {
  await proxy?.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

test('pid file holds the pid without a trailing newline', () => {
  assert.equal(fs.readFileSync(pidFile, 'utf8'), String(proxy.pid));
});

test('/metrics parses as Prometheus text; counters match known traffic', async () => {
  const c = await RawClient.connect(alphaPort);
  try {
    for (let i = 0; i < 10; i++) {
      c.write(resp('SET', `ops:${i}`, `v${i}`));
      assert.equal((await c.readUntil('\r\n')).toString(), '+OK\r\n');
    }
    for (let i = 0; i < 10; i++) {
      c.write(resp('GET', `ops:${i}`));
      const v = `v${i}`;
      assert.equal(await c.readUntil(`${v}\r\n`), `$${v.length}\r\n${v}\r\n`);
    }
    const res = await get(httpPort, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const m = parseProm(res.body);

    assert.equal(m.types.get('nutmeg_server_requests_total'), 'counter');
    assert.equal(m.types.get('nutmeg_server_in_queue'), 'gauge');
    assert.equal(m.types.get('nutmeg_request_duration_seconds'), 'histogram');
    assert.equal(m.types.get('nutmeg_pool_client_connections'), 'gauge');
    for (const name of m.types.keys()) assert.ok(m.help.has(name), `HELP for ${name}`);

    const reqs = pick(m, 'nutmeg_server_requests_total', { pool: 'alpha' });
    assert.equal(reqs.length, backends.length);
    assert.equal(reqs.reduce((a, s) => a + s.value, 0), 20);
    assert.equal(pick(m, 'nutmeg_server_responses_total', { pool: 'alpha' }).reduce((a, s) => a + s.value, 0), 20);
    assert.equal(one(m, 'nutmeg_pool_client_connections', { pool: 'alpha' }), 1);
    assert.equal(one(m, 'nutmeg_server_requests_total', { pool: 'beta', server: 'dead' }), 0);
    assert.equal(one(m, 'nutmeg_info', {}), 1);

    // Every server counter equals the stats port's value for the same server.
    const stats = (await readStats(proxy.statsPort)) as Record<string, Record<string, Record<string, number>>>;
    for (let i = 0; i < backends.length; i++) {
      const js = stats['alpha']?.[`server${i}`];
      assert.ok(js !== undefined);
      const labels = { pool: 'alpha', server: `server${i}` };
      assert.equal(one(m, 'nutmeg_server_requests_total', labels), js['requests']);
      assert.equal(one(m, 'nutmeg_server_request_bytes_total', labels), js['request_bytes']);
      assert.equal(one(m, 'nutmeg_server_responses_total', labels), js['responses']);
      assert.equal(one(m, 'nutmeg_server_response_bytes_total', labels), js['response_bytes']);
      assert.equal(one(m, 'nutmeg_server_connections', labels), js['server_connections']);
    }

    // Latency histograms: cumulative buckets, +Inf = _count = responses, a positive _sum.
    for (let i = 0; i < backends.length; i++) {
      const labels = { pool: 'alpha', server: `server${i}` };
      const buckets = pick(m, 'nutmeg_request_duration_seconds_bucket', labels);
      assert.ok(buckets.length >= 10, 'fixed buckets exported');
      const les = buckets.map((b) => parseValue(b.labels['le'] ?? ''));
      assert.deepEqual(les, [...les].sort((a, b) => a - b), 'le ascending');
      assert.equal(les[les.length - 1], Infinity);
      for (let j = 1; j < buckets.length; j++) assert.ok((buckets[j] as Sample).value >= (buckets[j - 1] as Sample).value, 'cumulative');
      const count = one(m, 'nutmeg_request_duration_seconds_count', labels);
      assert.equal((buckets[buckets.length - 1] as Sample).value, count);
      assert.equal(count, one(m, 'nutmeg_server_responses_total', labels));
      const sum = one(m, 'nutmeg_request_duration_seconds_sum', labels);
      if (count > 0) assert.ok(sum > 0 && sum < count * 2, `sum ${sum} s for ${count} replies`);
    }
    const total = pick(m, 'nutmeg_request_duration_seconds_count', { pool: 'alpha' }).reduce((a, s) => a + s.value, 0);
    assert.equal(total, 20);
  } finally {
    c.destroy();
  }
});

test('nothing is logged per request at the default-ish levels', async () => {
  const before = logLines(logFile).length;
  const c = await RawClient.connect(alphaPort);
  try {
    for (let i = 0; i < 50; i++) c.write(resp('GET', `quiet:${i}`));
    let got = '';
    const deadline = Date.now() + 5000;
    while (got.split('$-1\r\n').length - 1 < 50 && Date.now() < deadline) got += await c.readUntil('$-1\r\n', 1000);
    assert.equal(got, '$-1\r\n'.repeat(50));
  } finally {
    c.destroy();
  }
  await sleep(50);
  assert.equal(logLines(logFile).length, before);
});

test('/healthz is 200 ok, then 503 once every server of a pool is ejected', async () => {
  const ok = await get(httpPort, '/healthz');
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ok\n');

  const c = await RawClient.connect(betaPort);
  try {
    c.write(resp('GET', 'x'));
    assert.match(await c.readUntil('\r\n'), /^-ERR /);
  } finally {
    c.destroy();
  }
  const bad = await get(httpPort, '/healthz');
  assert.equal(bad.status, 503);
  assert.match(bad.body, /beta/);
  assert.match(bad.body, /ejected/);

  const m = parseProm((await get(httpPort, '/metrics')).body);
  assert.equal(one(m, 'nutmeg_server_ejected', { pool: 'beta', server: 'dead' }), 1);
  assert.equal(one(m, 'nutmeg_server_ejected', { pool: 'alpha', server: 'server0' }), 0);
  assert.equal(one(m, 'nutmeg_pool_server_ejects_total', { pool: 'beta' }), 1);
  assert.equal(one(m, 'nutmeg_pool_forward_error_total', { pool: 'beta' }), 1);
  assert.ok(one(m, 'nutmeg_server_ejected_at_seconds', { pool: 'beta', server: 'dead' }) > Date.now() / 1000 - 60);
});

test('/status.json, / (status page), /stats.json and 404', async () => {
  const st = await get(httpPort, '/status.json');
  assert.equal(st.status, 200);
  const doc = JSON.parse(st.body) as { healthy: boolean; pools: { name: string; servers: { name: string; ejected: boolean; requests: number }[] }[] };
  assert.equal(doc.healthy, false);
  const beta = doc.pools.find((p) => p.name === 'beta');
  assert.equal(beta?.servers[0]?.ejected, true);
  const alpha = doc.pools.find((p) => p.name === 'alpha');
  assert.deepEqual(alpha?.servers.map((s) => s.ejected), [false, false]);

  const page = await get(httpPort, '/');
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.match(page.body, /<title>nutmeg status<\/title>/);
  assert.doesNotMatch(page.body, /<(script|link|img)[^>]+(src|href)="https?:/, 'no external assets');

  const js = await get(httpPort, '/stats.json');
  assert.equal((JSON.parse(js.body) as { service: string }).service, 'nutcracker');
  assert.equal((await get(httpPort, '/nope')).status, 404);
});

test('SIGTTIN at -v 6 enables debug lines, SIGTTOU lowers the level again', async () => {
  proxy.signal('SIGTTIN');
  // The logger writes asynchronously: wait for the debug line itself, not only for the line before it.
  await until('SIGTTIN lines', () => logLines(logFile).some((l) => l.msg === 'up log level to 7'));
  await until('a debug-level (pino 20) line after the level went to 7', () => logLines(logFile).some((l) => l.level === 20));
  assert.ok(logLines(logFile).some((l) => l.msg.includes('SIGTTIN') && l.msg.includes('up logging level')));

  proxy.signal('SIGTTOU');
  await until('SIGTTOU lines', () => logLines(logFile).some((l) => l.msg === 'down log level to 6'));
  assert.ok(logLines(logFile).some((l) => l.msg.includes('SIGTTOU') && l.msg.includes('down logging level')));
});

test('SIGHUP reopens the log file (logrotate: rename, HUP, new file at the same path)', async () => {
  const rotated = `${logFile}.1`;
  fs.renameSync(logFile, rotated);
  proxy.signal('SIGHUP');
  await until('a fresh log file', () => logLines(logFile).some((l) => l.msg === 'log file reopened'));
  assert.ok(logLines(rotated).some((l) => l.msg.includes('SIGHUP') && l.msg.includes('reopening log file')), 'HUP line goes to the old file first');
  assert.ok(!readText(logFile).includes('started on pid'), 'the new file is fresh');
  assert.equal(fs.statSync(logFile).mode & 0o777, 0o644);
  proxy.signal('SIGUSR1');
  await until('SIGUSR1 line in the new file', () => logLines(logFile).some((l) => l.msg.includes('SIGUSR1')));
});

test('SIGTERM: graceful exit 0, pid file removed, shutdown logged', async () => {
  const done = proxy.exited;
  proxy.signal('SIGTERM');
  assert.equal(await done, 0);
  assert.equal(fs.existsSync(pidFile), false);
  const lines = logLines(logFile);
  assert.ok(lines.some((l) => l.msg.includes('SIGTERM')));
  assert.ok(lines.some((l) => l.msg.startsWith('done')));
});

test('SIGINT: graceful exit 0 and pid file removed', async () => {
  const [port] = (await freePorts(1)) as [number];
  const d = tmpDir('nutmeg-ops-int-');
  const pid = path.join(d, 'p.pid');
  const conf = ['one:', `  listen: 127.0.0.1:${port}`, '  redis: true', '  servers:', `    - 127.0.0.1:${backends[0]?.port}:1`, ''].join('\n');
  const p = await startNutmeg(conf, [port], ['-p', pid]);
  try {
    assert.equal(fs.readFileSync(pid, 'utf8'), String(p.pid));
    p.signal('SIGINT');
    assert.equal(await p.exited, 0);
    assert.equal(fs.existsSync(pid), false);
    assert.match(p.stderr, /SIGINT/);
  } finally {
    await p.stop();
  }
});

test('-dv 6: the parent returns 0 at once with stdio released; the daemon runs detached and stops on SIGTERM', async () => {
  const [port, statsPort] = (await freePorts(2)) as [number, number];
  const d = tmpDir('nutmeg-ops-daemon-');
  const conf = path.join(d, 'conf.yml');
  const log = path.join(d, 'daemon.log');
  const pid = path.join(d, 'daemon.pid');
  fs.writeFileSync(conf, ['one:', `  listen: 127.0.0.1:${port}`, '  redis: true', '  servers:', `    - 127.0.0.1:${backends[0]?.port}:1`, ''].join('\n'));
  const t0 = Date.now();
  // spawnSync with pipes returns only once every holder of the pipes closed them: a daemon keeping stdio would hang here.
  const r = spawnSync(process.execPath, [NUTMEG_BIN, '-dv', '6', '-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-o', log, '-p', pid], {
    cwd: d,
    encoding: 'utf8',
    timeout: 10000,
  });
  assert.equal(r.error, undefined, 'no timeout');
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
  assert.ok(Date.now() - t0 < 5000);

  await until('daemon pid file', () => readText(pid) !== '');
  const dpid = Number(readText(pid));
  assert.ok(dpid > 0 && dpid !== r.pid);
  try {
    await waitPort(port);
    await waitPort(statsPort);
    assert.ok(alive(dpid));
    // New session, stdio on /dev/null, cwd kept.
    const fields = procStat(dpid);
    assert.equal(Number(fields[3]), dpid, 'session leader (setsid)');
    for (const fd of [0, 1, 2]) assert.equal(fs.readlinkSync(`/proc/${dpid}/fd/${fd}`), '/dev/null');
    assert.equal(fs.readlinkSync(`/proc/${dpid}/cwd`), fs.realpathSync(d));
    await until('banner in the daemon log', () => logLines(log).some((l) => l.msg.includes(`started on pid ${dpid}`)));

    const c = await RawClient.connect(port);
    c.write(resp('SET', 'daemon', 'yes'));
    assert.equal(await c.readUntil('\r\n'), '+OK\r\n');
    c.destroy();

    process.kill(dpid, 'SIGTERM');
    await until('daemon exit', () => !alive(dpid), 8000);
    assert.equal(fs.existsSync(pid), false, 'pid file removed on orderly exit');
    assert.ok(logLines(log).some((l) => l.msg.startsWith('done')));
  } finally {
    if (alive(dpid)) process.kill(dpid, 'SIGKILL');
  }
});

test('-d with a log file that cannot be opened fails in the foreground with exit 1', () => {
  const r = spawnSync(process.execPath, [NUTMEG_BIN, '-d', '-c', '/nonexistent.yml', '-o', '/nonexistent-dir/x.log'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /opening log file '\/nonexistent-dir\/x\.log' failed: No such file or directory/);
});

test('-V and -D go to stderr; a bad -v is an option error', () => {
  const v = spawnSync(process.execPath, [NUTMEG_BIN, '-V'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(v.status, 0);
  assert.match(v.stderr, /^This is nutmeg-/);
  const d = spawnSync(process.execPath, [NUTMEG_BIN, '-D'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(d.status, 0);
  assert.match(d.stderr, /pool stats:\n {2}client_eof {10}"# eof on client connections"/);
  const bad = spawnSync(process.execPath, [NUTMEG_BIN, '-v', 'x'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /option -v requires a number/);
});

test('npm pack: the tarball installs into a clean folder and node_modules/.bin/nutmeg -V runs', { timeout: 60000 }, (t) => {
  const t0 = Date.now();
  const work = tmpDir('nutmeg-pack-');
  // dist/ is already built by the test run; --ignore-scripts skips prepack's rebuild (other tests use dist/ meanwhile).
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  assert.equal(pack.status, 0, pack.stderr);
  const info = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0];
  assert.ok(info !== undefined);
  const files = info.files.map((f) => f.path);
  for (const f of ['package.json', 'bin/nutmeg', 'dist/src/cli.js', 'dist/src/main.js', 'dist/src/stats/status-page.js', 'conf/nutcracker.yml', 'contrib/nutmeg.service', 'contrib/logrotate.nutmeg']) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/') || f.startsWith('src/') || f.endsWith('.map')), 'no tests, sources or maps');
  const tgz = path.join(work, info.filename);

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'nutmeg-install-check', version: '1.0.0', private: true }));
  const npmArgs = ['install', tgz, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
  let inst = spawnSync('npm', [...npmArgs, '--offline'], { cwd: app, encoding: 'utf8', timeout: 25000 });
  if (inst.status !== 0) inst = spawnSync('npm', [...npmArgs, '--prefer-offline'], { cwd: app, encoding: 'utf8', timeout: Math.max(5000, 55000 - (Date.now() - t0)) });
  if (inst.status !== 0 && /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network/i.test(`${inst.stderr}${inst.stdout}`)) {
    t.skip(`npm registry unreachable and the dependencies are not in the npm cache: ${inst.stderr.split('\n')[0] ?? ''}`);
    return;
  }
  assert.equal(inst.status, 0, `npm install failed: ${inst.stderr}`);
  const bin = path.join(app, 'node_modules', '.bin', 'nutmeg');
  const v = spawnSync(bin, ['-V'], { cwd: app, encoding: 'utf8', timeout: 10000 });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stderr, /^This is nutmeg-\d+\.\d+\.\d+\n/);
  assert.ok(Date.now() - t0 < 60000);
});
