// Demo (npm run demo:sentinel): a failover, live. Two shards of a redis master and a replica, three real sentinels,
// nutmeg in front following them; SET/GET traffic runs through nutmeg while SENTINEL FAILOVER moves shard1's
// master. Shows nutmeg's log lines as they come, the traffic second by second, the write gap, then stops everything.

import { startNutmeg, freePort, readStats, sleep, type ProxyProc } from '../test/helpers/procs';
import { SentinelLab, SwitchWatch, redisCmd, keysFor } from '../test/helpers/sentinel';
import { SetGetLoad, wallNow } from '../test/helpers/setget-load';
import { Router } from '../src/route/router';

const NAMES = ['shard1', 'shard2'];

async function main(): Promise<void> {
  console.log('starting 2 shards (a master and a replica each) and 3 sentinels on loopback...');
  const lab = await SentinelLab.start(NAMES);
  let nm: ProxyProc | null = null;
  let load: SetGetLoad | null = null;
  let watch: SwitchWatch | null = null;
  try {
    const port = await freePort();
    const http = await freePort();
    const masters = await Promise.all(NAMES.map((n) => lab.masterPort(n)));
    const yaml = [
      'ha:',
      `  listen: 127.0.0.1:${port}`,
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  redis: true',
      '  timeout: 2000',
      '  read_policy: prefer_master',
      ...lab.sentinelLines().map((l) => `  ${l}`),
      '  servers:',
      ...NAMES.map((n, i) => `    - 127.0.0.1:${masters[i]}:1 ${n}`),
      '',
    ].join('\n');
    console.log(`\nconfig:\n${yaml}`);
    nm = await startNutmeg(yaml, [port], ['--http-port', String(http)]);
    const proxy = nm;
    console.log(`nutmeg on 127.0.0.1:${port}, status page http://127.0.0.1:${http}/ (stats port ${proxy.statsPort})\n`);
    // nutmeg's log lines, as they come
    let printed = 0;
    const logs = setInterval(() => {
      const lines = proxy.stderr.split('\n');
      for (; printed < lines.length - 1; printed++) {
        const m = /"msg":"(.*)"}$/.exec(lines[printed] ?? '');
        if (m?.[1]?.startsWith('sentinel:') === true) console.log(`  nutmeg log | ${m[1]}`);
      }
    }, 20);

    watch = await SwitchWatch.start(lab.sentinels.map((s) => s.port));
    load = SetGetLoad.start(port, 4, 'demo:');
    const router = new Router({ hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, servers: NAMES.map((n) => ({ name: n, weight: 1 })) });
    const onShard1 = (key: string): boolean => {
      const b = Buffer.from(key);
      return router.route(b, 0, b.length) === 0;
    };
    let seen = 0;
    const tick = async (): Promise<void> => {
      const st = (await readStats(proxy.statsPort))['ha'] as Record<string, { address: string; role: string }>;
      const ops = load?.ops ?? [];
      const recent = ops.slice(seen);
      seen = ops.length;
      const errs = recent.filter((o) => o.setReply !== 'OK' || o.getError !== null).length;
      console.log(`  traffic    | ${String(recent.length * 2).padStart(6)} requests in 0.5 s, ${errs} errors; shard1 at ${st['shard1']?.address} (${st['shard1']?.role})`);
    };
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      await tick();
    }

    const from = await lab.masterPort('shard1');
    console.log(`\nSENTINEL FAILOVER shard1 (master now 127.0.0.1:${from})...`);
    const failover = lab.failover('shard1');
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      await tick();
    }
    const { to } = await failover;
    await load.stop();
    clearInterval(logs);
    const ev = watch.first('shard1', to);
    const at = ev?.at ?? wallNow();
    // Every write to shard1 acknowledged from 2 s before the announcement on: is it on the new master?
    const around = load.ops.filter((o) => onShard1(o.key) && o.setReply === 'OK' && o.setSent >= at - 2000);
    const there: unknown[] = [];
    for (let i = 0; i < around.length; i += 500) {
      const r = await redisCmd(to, 'MGET', ...around.slice(i, i + 500).map((o) => o.key));
      if (Array.isArray(r)) there.push(...r);
    }
    let gap = Infinity;
    let lost = 0;
    let slowest = 0;
    around.forEach((o, i) => {
      const ok = there[i] === o.value;
      if (!ok) lost++;
      if (ok && o.setSent >= at) gap = Math.min(gap, o.setDone - at);
      slowest = Math.max(slowest, o.setDone - o.setSent);
    });
    const errors = load.ops.filter((o) => o.setReply !== 'OK' || o.getError !== null).length;
    console.log(`\n+switch-master: shard1 127.0.0.1:${from} -> 127.0.0.1:${to}, announced ${(wallNow() - at).toFixed(0)} ms ago`);
    console.log(`write gap: the first write acknowledged by the new master came ${gap.toFixed(1)} ms after +switch-master`);
    console.log(`writes to shard1 acknowledged around the failover: ${around.length}, not on the new master: ${lost}`);
    console.log(`the slowest of them took ${slowest.toFixed(0)} ms (held while Sentinel promoted the replica, instead of lost on the old master)`);
    console.log(`traffic: ${load.ops.length * 2} requests, ${errors} errors, ${load.wrong.length} wrong replies`);
    const k = keysFor(NAMES, 'shard1', 'demo-after:', 1)[0] as string;
    await redisCmd(port, 'SET', k, 'written after the failover');
    console.log(`SET ${k} through nutmeg now lands on 127.0.0.1:${to}: ${JSON.stringify(await redisCmd(to, 'GET', k))}`);
    const st = (await readStats(proxy.statsPort))['ha'] as Record<string, Record<string, unknown>>;
    const s1 = st['shard1'] ?? {};
    console.log(
      `stats port, shard1: address ${String(s1['address'])}, role ${String(s1['role'])}, epoch ${String(s1['epoch'])}, ` +
        `switches ${String(s1['switches'])}, last_switch "${String(s1['last_switch'])}"`,
    );
  } finally {
    await load?.stop();
    watch?.close();
    if (nm !== null) {
      nm.signal('SIGTERM');
      await nm.exited;
    }
    await lab.stop();
    console.log('\nstopped nutmeg, the sentinels and the redis-servers');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
