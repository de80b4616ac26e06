// Demo (npm run demo): real redis-server and memcached backends on loopback, nutmeg in front,
// some traffic through it, where the keys went, the stats, then a clean stop.

import * as net from 'node:net';
import Redis from 'ioredis';
import { startRedis, startMemcached, startNutmeg, freePort, readStats, RawClient, type Proc } from '../test/helpers/procs';

async function main(): Promise<void> {
  const redis = await Promise.all([startRedis(), startRedis(), startRedis()]);
  const mc = await Promise.all([startMemcached(), startMemcached()]);
  const rport = await freePort();
  const mport = await freePort();
  const yaml = [
    'demo_redis:',
    `  listen: 127.0.0.1:${rport}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: true',
    '  timeout: 1000',
    '  auto_eject_hosts: true',
    '  servers:',
    ...redis.map((r, i) => `    - 127.0.0.1:${r.port}:1 redis${i + 1}`),
    'demo_memcache:',
    `  listen: 127.0.0.1:${mport}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  timeout: 1000',
    '  servers:',
    ...mc.map((m, i) => `    - 127.0.0.1:${m.port}:1 mc${i + 1}`),
    '',
  ].join('\n');
  console.log(`backends: redis on ${redis.map((r) => r.port).join(', ')}; memcached on ${mc.map((m) => m.port).join(', ')}`);
  console.log(`config:\n${yaml}`);
  const proxy = await startNutmeg(yaml, [rport, mport]);
  console.log(`nutmeg: redis pool on 127.0.0.1:${rport}, memcache pool on 127.0.0.1:${mport}, stats on ${proxy.statsPort}\n`);
  const procs: Proc[] = [proxy, ...redis, ...mc];
  try {
    const r = new Redis({ port: rport });
    const N = 1000;
    const pipe = r.pipeline();
    for (let i = 0; i < N; i++) pipe.set(`user:${i}`, `value-${i}`);
    await pipe.exec();
    await r.mset('{cart}:a', '1', '{cart}:b', '2', 'k1', 'v1', 'k2', 'v2');
    console.log('redis  SET user:0..999 (pipelined), MSET over shards');
    console.log('redis  MGET user:1 user:2 user:999 missing ->', await r.mget('user:1', 'user:2', 'user:999', 'missing'));
    console.log('redis  DEL k1 k2 ->', await r.del('k1', 'k2'));
    for (let i = 0; i < redis.length; i++) {
      const d = new Redis({ port: redis[i]!.port });
      console.log(`  redis${i + 1} holds ${await d.dbsize()} keys`);
      d.disconnect();
    }
    r.disconnect();

    const c = await RawClient.connect(mport);
    let cmds = '';
    for (let i = 0; i < 200; i++) cmds += `set item:${i} 0 0 ${String(i).length} noreply\r\n${i}\r\n`;
    c.write(cmds + 'get item:1 item:2 item:150 nothing\r\n');
    console.log('\nmemcache set item:0..199 (noreply, pipelined), then get item:1 item:2 item:150 nothing ->');
    console.log((await c.readUntil('END\r\n')).trim().split('\r\n').map((l) => `  ${l}`).join('\n'));
    c.destroy();
    for (let i = 0; i < mc.length; i++) {
      const items = await mcStat(mc[i]!.port, 'curr_items');
      console.log(`  mc${i + 1} holds ${items} items`);
    }

    const stats = await readStats(proxy.statsPort);
    console.log('\nstats port JSON (twemproxy layout), per pool:');
    for (const pool of ['demo_redis', 'demo_memcache']) {
      const p = stats[pool] as Record<string, unknown>;
      const servers = Object.entries(p).filter(([, v]) => typeof v === 'object');
      console.log(`  ${pool}: client_connections=${String(p.client_connections)} fragments=${String(p.fragments)} forward_error=${String(p.forward_error)}`);
      for (const [name, v] of servers) {
        const s = v as Record<string, number>;
        console.log(`    ${name}: requests=${s.requests} responses=${s.responses} request_bytes=${s.request_bytes} response_bytes=${s.response_bytes}`);
      }
    }
  } finally {
    proxy.signal('SIGTERM');
    const code = await proxy.exited;
    console.log(`\nnutmeg stopped (exit ${String(code)}); stopping backends`);
    await Promise.all(procs.map((p) => p.stop()));
  }
}

function mcStat(port: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
      if (data.endsWith('END\r\n')) {
        s.destroy();
        const m = new RegExp(`STAT ${name} (\\d+)`).exec(data);
        resolve(m?.[1] ?? '?');
      }
    });
    s.on('error', reject);
    s.write('stats\r\n');
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
