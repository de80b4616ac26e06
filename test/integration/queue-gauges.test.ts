// Queue gauges of the stats port: out_queue/out_queue_bytes count requests written and awaiting a
// reply, derived from the server connections when the stats are read, and fall back to 0 after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startNutmeg, freePort, RawClient, readStats, sleep, type Proc, type ProxyProc } from '../helpers/procs';

const procs: Proc[] = [];
after(async () => {
  for (const p of procs) p.signal('SIGCONT');
  await Promise.all(procs.map((p) => p.stop()));
});

function server(stats: Record<string, unknown>, pool: string, name: string): Record<string, number> {
  return (stats[pool] as Record<string, unknown>)[name] as Record<string, number>;
}

test('out_queue and out_queue_bytes while a backend is stopped, 0 once it answers', async () => {
  const backend = await startRedis();
  procs.push(backend);
  const port = await freePort();
  const proxy: ProxyProc = await startNutmeg(`q:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n    - 127.0.0.1:${backend.port}:1 only\n`, [port]);
  procs.push(proxy);
  const c = await RawClient.connect(port);
  try {
    const get = '*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n';
    c.write(get);
    assert.equal(await c.readUntil('\r\n'), '$-1\r\n');
    await backend.pause();
    c.write(get + get + get);
    await sleep(200);
    const during = server(await readStats(proxy.statsPort), 'q', 'only');
    assert.equal(during.out_queue, 3);
    assert.equal(during.out_queue_bytes, 3 * get.length);
    assert.equal(during.in_queue, 0);
    assert.equal(during.in_queue_bytes, 0);
    backend.signal('SIGCONT');
    assert.equal(await c.readUntil('$-1\r\n$-1\r\n$-1\r\n'), '$-1\r\n$-1\r\n$-1\r\n');
    const afterwards = server(await readStats(proxy.statsPort), 'q', 'only');
    assert.equal(afterwards.out_queue, 0);
    assert.equal(afterwards.out_queue_bytes, 0);
    assert.equal(afterwards.requests, 4);
    assert.equal(afterwards.responses, 4);
  } finally {
    c.destroy();
  }
});
