// Operations, status page at `/` in a real headless Chromium (playwright-core + the system chromium): pools and
// servers listed, an ejected server shown as ejected, a request rate above zero under traffic, a screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startRedis, startNutmeg, freePorts, RawClient, tmpDir, sleep, waitPort, ROOT, type Proc, type ProxyProc } from '../helpers/procs';
import { resp } from '../helpers/resp';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);

let backends: (Proc & { port: number })[] = [];
let proxy: ProxyProc | undefined;
let ctx: BrowserContext | undefined;
let alphaPort = 0;
let betaPort = 0;
let httpPort = 0;
let deadPort = 0;

before(async () => {
  if (!haveChromium) return;
  backends = await Promise.all([startRedis(), startRedis()]);
  [alphaPort, betaPort, httpPort, deadPort] = (await freePorts(4)) as [number, number, number, number];
  const yaml = [
    'alpha:',
    `  listen: 127.0.0.1:${alphaPort}`,
    '  redis: true',
    '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 cache${i}`),
    'beta:',
    `  listen: 127.0.0.1:${betaPort}`,
    '  redis: true',
    '  auto_eject_hosts: true',
    '  server_failure_limit: 1',
    '  server_retry_timeout: 60000',
    '  servers:',
    `    - 127.0.0.1:${backends[0]?.port}:1 live`,
    `    - 127.0.0.1:${deadPort}:1 dead`,
    '',
  ].join('\n');
  proxy = await startNutmeg(yaml, [alphaPort, betaPort], ['--http-port', String(httpPort)]);
  await waitPort(httpPort);
  ctx = await chromium.launchPersistentContext(tmpDir('nutmeg-chromium-profile-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 760 },
  });
});

after(async () => {
  await ctx?.close();
  await proxy?.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

/** Send requests to beta under different keys until one lands on the dead server and gets it ejected (bounded). */
async function ejectDeadServer(): Promise<void> {
  const c = await RawClient.connect(betaPort);
  try {
    for (let i = 0; i < 100; i++) {
      c.write(resp('GET', `eject:${i}`));
      const r = await c.readUntil('\r\n');
      if (r.startsWith('-ERR')) return;
    }
    throw new Error('no key routed to the dead server');
  } finally {
    c.destroy();
  }
}

/** Pipelined GETs on alpha until `stop()` is called (bounded by count and time). */
function traffic(): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async (): Promise<void> => {
    const c = await RawClient.connect(alphaPort);
    const deadline = Date.now() + 20000;
    try {
      for (let round = 0; running && round < 5000 && Date.now() < deadline; round++) {
        let batch = '';
        for (let i = 0; i < 20; i++) batch += resp('GET', `page:${i}`);
        c.write(batch);
        let got = '';
        while (got.split('$-1\r\n').length - 1 < 20 && !c.closed) got += await c.readUntil('$-1\r\n', 2000);
        await sleep(5);
      }
    } finally {
      c.destroy();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

test('status page: pools and servers, the ejected server, a live request rate, a screenshot', { skip: haveChromium ? false : `${CHROMIUM} is not installed (apt-get install chromium)` }, async () => {
  assert.ok(ctx !== undefined);
  await ejectDeadServer();
  const load = traffic();
  let page: Page | undefined;
  try {
    page = await ctx.newPage();
    const res = await page.goto(`http://127.0.0.1:${httpPort}/`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'nutmeg status');

    await page.waitForSelector('section[data-pool="alpha"]', { timeout: 5000 });
    for (const id of ['alpha/cache0', 'alpha/cache1', 'beta/live', 'beta/dead']) {
      assert.equal(await page.locator(`tr[data-server="${id}"]`).count(), 1, `${id} listed`);
    }
    const dead = page.locator('tr[data-server="beta/dead"]');
    assert.equal(await dead.getAttribute('data-state'), 'ejected');
    assert.match((await dead.locator('td.state').textContent()) ?? '', /^ejected/);
    assert.equal(await page.locator('tr[data-server="beta/live"]').getAttribute('data-state'), 'live');
    assert.match((await page.locator('#health').textContent()) ?? '', /^healthy/);

    // Rates need two samples (one second apart) with traffic in between.
    await page.waitForFunction(
      () => {
        const b = document.querySelector('section[data-pool="alpha"] .summary .req-rate b');
        return b !== null && Number(b.getAttribute('data-value')) > 0;
      },
      undefined,
      { timeout: 10000, polling: 100 },
    );
    const poolRate = Number(await page.locator('section[data-pool="alpha"] .summary .req-rate b').getAttribute('data-value'));
    assert.ok(poolRate > 0, `alpha req/s ${poolRate}`);
    const serverRates = await page.locator('section[data-pool="alpha"] tbody td.req-rate').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
    assert.ok(serverRates.some((r) => r > 0), `per-server req/s ${serverRates.join(',')}`);

    const shots = tmpDir('nutmeg-status-shot-');
    const png = path.join(shots, 'status-page.png');
    await page.screenshot({ path: png, fullPage: true });
    const size = fs.statSync(png).size;
    assert.ok(size > 1000, `screenshot has ${size} bytes`);
    assert.deepEqual([...fs.readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    // Tests never write tracked files: the README's screenshot is refreshed only on request.
    if (process.env.NUTMEG_UPDATE_DOCS === '1') fs.copyFileSync(png, path.join(ROOT, 'docs', 'status-page.png'));
  } finally {
    await page?.close();
    await load.stop();
  }
});
