// Client sessions across a Sentinel failover (real sentinels, one shard of a master and a replica): what a client
// holds on the old master's connections cannot move with it, so it ends clearly, and pub/sub follows the switch.
//   a blocked BLPOP gets the failover error (it would otherwise wait for pushes that now go to the new master);
//   a WATCH made on the old master makes EXEC answer null (a watched key may have changed unseen);
//   a subscriber is subscribed again at the new master: a PUBLISH after the switch reaches it;
//   new blocking commands and transactions after the switch run on the new master.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNutmeg, freePort, until, type ProxyProc } from '../helpers/procs';
import { SentinelLab, redisCmd } from '../helpers/sentinel';
import { Resp } from '../helpers/resp-client';

let lab: SentinelLab;
let nm: ProxyProc;
let port = 0;

before(async () => {
  lab = await SentinelLab.start(['shard1']);
  port = await freePort();
  const master = await lab.masterPort('shard1');
  const yaml = [
    'alpha:',
    `  listen: 127.0.0.1:${port}`,
    '  redis: true',
    '  timeout: 2000',
    '  sentinel_refresh_interval: 1000',
    ...lab.sentinelLines().map((l) => `  ${l}`),
    '  servers:',
    `    - 127.0.0.1:${master}:1 shard1`,
    '',
  ].join('\n');
  nm = await startNutmeg(yaml, [port], ['-v', '6']);
});

after(async () => {
  await nm?.stop();
  await lab?.stop();
});

test('a failover ends what clients held on the old master clearly, and subscribers follow the switch', async () => {
  const blocked = await Resp.connect(port);
  const watcher = await Resp.connect(port);
  const sub = await Resp.connect(port);
  const other = await Resp.connect(port);
  try {
    assert.equal(await watcher.cmd('WATCH', 'acct'), '+OK\r\n');
    assert.equal(await sub.cmd('SUBSCRIBE', 'news'), '*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n');
    // The subscription is live upstream: a message published now arrives.
    assert.equal(await other.cmd('PUBLISH', 'news', 'before'), ':1\r\n');
    assert.deepEqual(await sub.take(1), ['*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$6\r\nbefore\r\n']);
    blocked.send('BLPOP', 'jobs', '0');
    // BLPOP is blocked on its own leased connection to the old master.
    await until('BLPOP blocked on the master', async () => /blocked_clients:1/.test(String(await redisCmd(await lab.masterPort('shard1'), 'INFO', 'clients'))), 5000);

    const { from, to } = await lab.failover('shard1');
    await until('nutmeg to switch', () => nm.stderr.includes(`switched 127.0.0.1:${from} -> 127.0.0.1:${to}`), 15000);

    const [err] = await blocked.take(1);
    assert.match(err ?? '', /^-ERR nutmeg: master 'shard1' failed over while request was in flight\r\n$/);
    // The WATCH was on the old master: the transaction does not run.
    assert.equal(await watcher.cmd('MULTI'), '+OK\r\n');
    assert.equal(await watcher.cmd('SET', 'acct', '1'), '+QUEUED\r\n');
    assert.equal(await watcher.cmd('EXEC'), '*-1\r\n');
    assert.equal(await redisCmd(to, 'EXISTS', 'acct'), 0, 'nothing of the transaction ran');

    // The subscriber connection moved to the new master: a PUBLISH there reaches the client.
    await until('the subscriber at the new master', async () => String(await redisCmd(to, 'PUBSUB', 'NUMSUB', 'news')) === 'news,1', 10000);
    assert.equal(await other.cmd('PUBLISH', 'news', 'after'), ':1\r\n');
    assert.deepEqual(await sub.take(1), ['*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nafter\r\n']);

    // New sessions run on the new master.
    blocked.send('BLPOP', 'jobs', '5');
    await until('BLPOP blocked on the new master', async () => /blocked_clients:1/.test(String(await redisCmd(to, 'INFO', 'clients'))), 5000);
    assert.equal(await other.cmd('RPUSH', 'jobs', 'j1'), ':1\r\n');
    assert.deepEqual(await blocked.take(1), ['*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n']);
    assert.equal(await watcher.cmd('WATCH', 'acct'), '+OK\r\n');
    assert.equal(await watcher.cmd('MULTI'), '+OK\r\n');
    assert.equal(await watcher.cmd('SET', 'acct', '2'), '+QUEUED\r\n');
    assert.equal(await watcher.cmd('EXEC'), '*1\r\n+OK\r\n');
    assert.equal(await redisCmd(to, 'GET', 'acct'), '2');
  } finally {
    for (const c of [blocked, watcher, sub, other]) c.close();
  }
});
