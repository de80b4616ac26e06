// Idle memory per client connection: open N idle connections to nutmeg (and to nutcracker if
// installed) and read the proxy's RSS before and after. Run: node dist/bench/idle-conns.js [N]

import * as net from 'node:net';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startRedis, startNutmeg, startNutcracker, freePort, sleep, type Proc, type ProxyProc } from '../test/helpers/procs';

const N = Number(process.argv[2] ?? 10000);

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function openIdle(port: number, n: number): Promise<net.Socket[]> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ port, host: '127.0.0.1' });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
      ),
    );
    socks.push(...batch);
  }
  return socks;
}

async function measure(name: string, proxy: ProxyProc, port: number): Promise<void> {
  await sleep(300);
  const before = rssKb(proxy.pid);
  const socks = await openIdle(port, N);
  await sleep(1000);
  const after = rssKb(proxy.pid);
  console.log(`${name.padEnd(11)} RSS idle ${(before / 1024).toFixed(1)} MB, with ${N} idle clients ${(after / 1024).toFixed(1)} MB: ${(((after - before) * 1024) / N).toFixed(0)} bytes per connection`);
  for (const s of socks) s.destroy();
}

async function main(): Promise<void> {
  const procs: Proc[] = [];
  const r = await startRedis();
  procs.push(r);
  try {
    const conf = (port: number): string => `p:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n    - 127.0.0.1:${r.port}:1\n`;
    const p1 = await freePort();
    const nm = await startNutmeg(conf(p1), [p1]);
    procs.push(nm);
    await measure('nutmeg', nm, p1);
    if (spawnSync('sh', ['-c', 'command -v nutcracker']).status === 0) {
      const p2 = await freePort();
      const nc = await startNutcracker(conf(p2), [p2]);
      procs.push(nc);
      await measure('nutcracker', nc, p2);
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
