// The README's migration recipe, run by in-place reloads (SIGUSR1) against real memcached: 1. mirror to the new
// pool, 2. warm it up from the old one, 3. switch the listener; a client connection stays open throughout. Also
// what operators read (stats JSON, /metrics, /status.json) and what `-t` and a reload refuse (a failover cycle).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startMemcached, startNutmeg, freePorts, until, tmpDir, NUTMEG_BIN, type Backend, type ProxyProc } from '../helpers/procs';
import { trackProcs, poolStatsOf, num } from '../helpers/faults';
import { McConn, valueIn } from '../helpers/mc-conn';
import { httpGet } from '../helpers/http';
import { parseProm, one } from '../helpers/prom';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

const T = trackProcs();
let oldB: Backend[] = [];
let newB: Backend[] = [];
let px: ProxyProc;
let PORT = 0;
let HTTP = 0;

interface Step {
  oldListen: string;
  newListen: string;
  oldExtra?: string[];
  newExtra?: string[];
}

function yaml(s: Step): string {
  const pool = (name: string, listen: string, extra: string[], bs: Backend[]): string[] => [
    `${name}:`,
    `  listen: ${listen}`,
    '  timeout: 1000',
    ...extra.map((l) => `  ${l}`),
    '  servers:',
    ...bs.map((b, i) => `    - 127.0.0.1:${b.port}:1 ${name}${i}`),
  ];
  return [...pool('old', s.oldListen, s.oldExtra ?? [], oldB), ...pool('new', s.newListen, s.newExtra ?? [], newB), ''].join('\n');
}

const ADDR = (): string => `127.0.0.1:${PORT}`;

/** Rewrite the config (a rename, as config tools do), send SIGUSR1 and wait for the reload's log line. */
async function reloadTo(text: string): Promise<void> {
  const applied = (): number => px.stderr.split('reload: configuration ').length - 1;
  const n = applied();
  fs.writeFileSync(`${px.conf}.tmp`, text);
  fs.renameSync(`${px.conf}.tmp`, px.conf);
  px.signal('SIGUSR1');
  await until('the reload is logged', () => applied() > n, 5000);
  assert.doesNotMatch(px.stderr.split('reload: configuration ').at(-1) ?? '', /^'[^']*' rejected/, 'the reload was applied');
}

async function directSet(bs: Backend[], key: string, value: string): Promise<void> {
  // The key on every server of the pool: whichever the pool routes it to has it.
  for (const b of bs) {
    const c = await McConn.connect(b.port);
    try {
      assert.equal(await c.call(`set ${key} 0 0 ${value.length}\r\n${value}\r\n`), 'STORED\r\n');
    } finally {
      c.close();
    }
  }
}

before(async () => {
  const all = await Promise.all([0, 1, 2, 3].map(() => startMemcached()));
  for (const b of all) T.track(b);
  oldB = all.slice(0, 2);
  newB = all.slice(2);
  const ports = await freePorts(2);
  [PORT, HTTP] = [ports[0]!, ports[1]!];
  px = T.track(await startNutmeg(yaml({ oldListen: ADDR(), newListen: 'none' }), [PORT], ['--http-port', String(HTTP), '--http-addr', '127.0.0.1']));
});

test('migration by reload: mirror to the new pool, warm it up from the old one, switch the listener', async () => {
  const c = await McConn.connect(PORT); // one client connection, kept through every step
  try {
    assert.equal(await c.call('set before 0 0 3\r\nold\r\n'), 'STORED\r\n');
    assert.equal(await valueIn(newB, 'before'), null);

    // 1. mirror to the new pool: writes reach both
    await reloadTo(yaml({ oldListen: ADDR(), newListen: 'none', oldExtra: ['mirror_to: [new]'] }));
    assert.equal(await c.call('set during 0 0 4\r\nboth\r\n'), 'STORED\r\n');
    await until('the write is mirrored', async () => (await valueIn(newB, 'during')) === 'both', 3000);
    assert.equal(await valueIn(oldB, 'during'), 'both');

    // 2. warm up from the old pool (no client reaches the new pool yet)
    await reloadTo(yaml({ oldListen: ADDR(), newListen: 'none', oldExtra: ['mirror_to: [new]'], newExtra: ['warmup_from: old'] }));

    // 3. switch the listener: the new pool takes the address, the old one keeps serving warm-up reads only
    await reloadTo(yaml({ oldListen: 'none', newListen: ADDR(), newExtra: ['warmup_from: old'] }));
    assert.equal(await c.call('get before during\r\n'), 'VALUE before 0 3\r\nold\r\nVALUE during 0 4\r\nboth\r\nEND\r\n');
    await until('the old-only value is warmed into the new pool', async () => (await valueIn(newB, 'before')) === 'old', 3000);
    assert.equal(await c.call('set after 0 0 3\r\nnew\r\n'), 'STORED\r\n');
    assert.equal(await valueIn(newB, 'after'), 'new');
    assert.equal(await valueIn(oldB, 'after'), null, 'the old pool gets no more writes');
    // a key deleted in the new pool can come back from the old one while warm-up is on (documented)
    await directSet(oldB, 'deleted', 'stale');
    assert.equal(await c.call('delete deleted\r\n'), 'NOT_FOUND\r\n');
    assert.equal(await c.call('get deleted\r\n'), 'VALUE deleted 0 5\r\nstale\r\nEND\r\n');

    const st = await poolStatsOf(px, 'new');
    assert.equal(num(st, 'warmup_hits'), 2);
    assert.equal(num(st, 'client_connections'), 1, 'the client moved to the new pool');
    assert.equal(num(await poolStatsOf(px, 'old'), 'mirror_requests'), 1);
    assert.equal(num(await poolStatsOf(px, 'old'), 'client_connections'), 0);

    // What operators see: /metrics and /status.json carry the counters and the routes.
    const prom = parseProm((await httpGet(HTTP, '/metrics')).body);
    assert.equal(one(prom, 'nutmeg_pool_warmup_hits_total', { pool: 'new' }), 2);
    assert.equal(one(prom, 'nutmeg_pool_mirror_requests_total', { pool: 'old' }), 1);
    assert.equal(one(prom, 'nutmeg_pool_mirror_dropped_total', { pool: 'old' }), 0);
    assert.equal(one(prom, 'nutmeg_pool_failover_requests_total', { pool: 'new' }), 0);
    const status = JSON.parse((await httpGet(HTTP, '/status.json')).body) as { pools: { name: string; listen: string; routes: unknown; warmupHits: number }[] };
    const n = status.pools.find((p) => p.name === 'new');
    assert.deepEqual(n?.routes, { failover: null, mirrorTo: [], warmupFrom: 'old' });
    assert.equal(n?.warmupHits, 2);
    assert.equal(status.pools.find((p) => p.name === 'old')?.listen, 'none');
    if (fs.existsSync(CHROMIUM)) await checkStatusPage();

    // Last step: warm-up off, the old pool gone.
    await reloadTo(yaml({ oldListen: 'none', newListen: ADDR() }).replace(/^old:[\s\S]*?(?=^new:)/m, ''));
    assert.equal(await c.call('get before nothere\r\n'), 'VALUE before 0 3\r\nold\r\nEND\r\n');
    assert.equal(await c.call('get deleted2\r\n'), 'END\r\n');
  } finally {
    c.close();
  }
});

/** The status page in a real headless Chromium shows the new pool's warm-up route and its counter. */
async function checkStatusPage(): Promise<void> {
  const ctx = await chromium.launchPersistentContext(tmpDir('nutmeg-chromium-profile-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${HTTP}/`);
    const hits = page.locator('section[data-pool="new"] .routes .warmup-hits b');
    await hits.waitFor({ timeout: 5000 });
    assert.equal(await hits.getAttribute('data-value'), '2');
    assert.match((await page.locator('section[data-pool="new"] .routes').textContent()) ?? '', /warmed from old: 2/);
    assert.equal(await page.locator('section[data-pool="old"] .routes').count(), 0, 'no routes line for a pool without routes');
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
}

test('-t and reload refuse a failover cycle and a reference to a missing pool; the running config stays', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'cycle.yml');
  fs.writeFileSync(file, yaml({ oldListen: ADDR(), newListen: 'none', oldExtra: ['failover: new'], newExtra: ['failover: old'] }));
  const r = spawnSync(process.execPath, [NUTMEG_BIN, '-t', '-c', file], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr + r.stdout, /pool 'old': key 'failover': failover pools form a cycle: old -> new -> old at line 4/);
  fs.rmSync(dir, { recursive: true });

  const before = px.stderr.split("' rejected").length;
  fs.writeFileSync(`${px.conf}.tmp`, yaml({ oldListen: 'none', newListen: ADDR(), newExtra: ['warmup_from: older'] }));
  fs.renameSync(`${px.conf}.tmp`, px.conf);
  px.signal('SIGUSR1');
  await until('the reload is rejected', () => px.stderr.split("' rejected").length > before, 5000);
  assert.match(px.stderr, /key 'warmup_from': 'older' is not a pool of this file/);
  const c = await McConn.connect(PORT);
  try {
    assert.equal(await c.call('get before\r\n'), 'VALUE before 0 3\r\nold\r\nEND\r\n');
  } finally {
    c.close();
  }
});
