// A backend's failover steps, in process, against real redis-servers: hold() takes back what a connection has not
// written yet and queues new requests without dialling; resume(ep) sends them all to ep. What a connection had
// written stays there and gets its reply. Held requests time out like any, and fail on shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, until, type Backend as RedisProc } from '../helpers/procs';
import { redisCmd } from '../helpers/redis-cmd';
import { parseConfigText } from '../../src/config/load';
import { ServerPool } from '../../src/server/pool';
import { endpointOf, type Backend } from '../../src/server/backend';
import { redisProtocol } from '../../src/forward/redis';
import { allocMsg, type Msg, type MsgOwner } from '../../src/forward/msg';
import { stopTicker } from '../../src/util/clock';

let a: RedisProc;
let b: RedisProc;
const pools: ServerPool[] = [];

before(async () => {
  a = await startRedis();
  b = await startRedis();
});

after(async () => {
  for (const p of pools) p.close();
  stopTicker();
  await Promise.all([a?.stop(), b?.stop()]);
});

/** A pool of one server `s1` at redis a. */
function pool(timeout = 0): { pool: ServerPool; s1: Backend } {
  const yaml = `p:\n  listen: 127.0.0.1:1\n  redis: true\n  timeout: ${timeout}\n  servers:\n    - 127.0.0.1:${a.port}:1 s1\n`;
  const cfg = parseConfigText(yaml, 'test.yml').pools[0];
  assert.ok(cfg !== undefined);
  const p = new ServerPool(cfg, redisProtocol);
  pools.push(p);
  return { pool: p, s1: p.servers[0] as Backend };
}

/** A client that only counts completions. */
const owner: MsgOwner = { onMsgDone: () => {} };

/** A request as the parser leaves it (offsets into the client's buffer), forwarded through the pool. */
function send(p: ServerPool, ...args: string[]): Msg {
  const m = allocMsg();
  m.client = owner;
  m.buf = Buffer.from(`xx*${args.length}\r\n${args.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}yy`);
  m.start = 2;
  m.end = m.buf.length - 2;
  const key = Buffer.from(args[1] ?? 'k');
  p.forward(m, key, 0, key.length);
  return m;
}

function reply(m: Msg): string {
  return m.reply?.toString('latin1') ?? '';
}

const SLOW = "local t=redis.call('TIME') local s=t[1]*1000000+t[2] while true do local n=redis.call('TIME') if n[1]*1000000+n[2]-s>200000 then break end end return redis.call('SET',KEYS[1],'slow')";

test('requests not yet written when the backend is held go to the address it is released to', async () => {
  const { pool: p, s1 } = pool();
  // Same turn: the connection to a is still connecting, so nothing has been written.
  const m1 = send(p, 'SET', 'unsent-1', 'x');
  const m2 = send(p, 'SET', 'unsent-2', 'y');
  s1.hold('failed over');
  const m3 = send(p, 'SET', 'held-3', 'z'); // while held
  assert.equal(s1.holding, true);
  s1.resume(endpointOf('127.0.0.1', b.port, null));
  await until('replies', () => m1.done && m2.done && m3.done, 3000);
  assert.deepEqual([reply(m1), reply(m2), reply(m3)], ['+OK\r\n', '+OK\r\n', '+OK\r\n']);
  assert.deepEqual(await redisCmd(b.port, 'MGET', 'unsent-1', 'unsent-2', 'held-3'), ['x', 'y', 'z']);
  assert.deepEqual(await redisCmd(a.port, 'MGET', 'unsent-1', 'unsent-2', 'held-3'), [null, null, null]);
  assert.equal(s1.endpoint.address, `127.0.0.1:${b.port}`);
  // each request counted once, where it was sent
  assert.deepEqual([s1.stats.requests, s1.stats.responses], [3, 3]);
});

test("a transaction not yet written moves whole: MULTI, its commands and EXEC reach the new address together", async () => {
  const { pool: p, s1 } = pool();
  const exec = allocMsg();
  exec.client = owner;
  exec.buf = Buffer.from('*1\r\n$4\r\nEXEC\r\n');
  exec.end = exec.buf.length;
  const parts = [Buffer.from('*1\r\n$5\r\nMULTI\r\n'), Buffer.from('*3\r\n$3\r\nSET\r\n$4\r\ntx-1\r\n$1\r\nv\r\n')];
  p.sendBatch(s1, parts, exec, exec.buf);
  s1.hold('failed over');
  s1.resume(endpointOf('127.0.0.1', b.port, null));
  await until('the EXEC reply', () => exec.done, 3000);
  assert.equal(reply(exec), '*1\r\n+OK\r\n');
  assert.equal(await redisCmd(b.port, 'GET', 'tx-1'), 'v');
  assert.equal(await redisCmd(a.port, 'GET', 'tx-1'), null);
});

test('a held backend leases held connections too: a WATCH made during the hold goes to the new address', async () => {
  const { pool: p, s1 } = pool();
  const lessee = {};
  s1.hold('failed over');
  const lease = p.lease(s1, lessee);
  assert.ok(lease !== null);
  const w = allocMsg();
  w.client = owner;
  w.buf = Buffer.from('*1\r\n$4\r\nPING\r\n');
  w.end = w.buf.length;
  p.sendOn(lease, w, w.buf, 0);
  s1.resume(endpointOf('127.0.0.1', b.port, null));
  await until('the reply', () => w.done, 3000);
  assert.equal(reply(w), '+PONG\r\n');
  assert.equal((lease as unknown as { endpoint: { port: number } }).endpoint.port, b.port);
});

test('a leased connection closes at the hold: what it waited for fails, and it never dials again', async () => {
  const { pool: p, s1 } = pool();
  const lessee = {};
  const lease = p.lease(s1, lessee);
  assert.ok(lease !== null);
  const m = allocMsg();
  m.client = owner;
  m.buf = Buffer.from('*3\r\n$5\r\nBLPOP\r\n$6\r\nnoitem\r\n$1\r\n0\r\n');
  m.end = m.buf.length;
  p.sendOn(lease, m, m.buf, 0);
  await until('BLPOP blocked', async () => /blocked_clients:1/.test(String(await redisCmd(a.port, 'INFO', 'clients'))), 3000);
  s1.hold("nutmeg: master 's1' failed over while request was in flight");
  await until('the error', () => m.done, 3000);
  assert.equal(reply(m), "-ERR nutmeg: master 's1' failed over while request was in flight\r\n");
  assert.equal(lease.lost, true);
  const again = allocMsg();
  again.client = owner;
  again.buf = Buffer.from('*1\r\n$4\r\nPING\r\n');
  again.end = again.buf.length;
  p.sendOn(lease, again, again.buf, 0);
  assert.equal(again.done, true, 'failed at once, not dialled');
  assert.match(reply(again), /^-ERR nutmeg: master 's1' failed over/);
  s1.resume(s1.endpoint);
});

test('a request already written stays on its connection and gets its reply from there', async () => {
  const { pool: p, s1 } = pool();
  const slow = send(p, 'EVAL', SLOW, '1', 'written-1');
  await until('the slow request to be written', () => {
    s1.refreshQueueGauges();
    return s1.stats.outQueue === 1;
  }, 3000);
  s1.hold('failed over');
  const after = send(p, 'SET', 'after-1', 'new');
  s1.resume(endpointOf('127.0.0.1', b.port, null));
  await until('replies', () => slow.done && after.done, 3000);
  assert.deepEqual([reply(slow), reply(after)], ['+OK\r\n', '+OK\r\n']);
  assert.equal(await redisCmd(a.port, 'GET', 'written-1'), 'slow');
  assert.equal(await redisCmd(b.port, 'GET', 'after-1'), 'new');
  assert.equal(await redisCmd(a.port, 'GET', 'after-1'), null);
});

test('released to the same address (a check that failed): requests go on there', async () => {
  const { pool: p, s1 } = pool();
  const m1 = send(p, 'SET', 'same-1', '1');
  s1.hold('failed over');
  const m2 = send(p, 'SET', 'same-2', '2');
  s1.resume(s1.endpoint);
  await until('replies', () => m1.done && m2.done, 3000);
  assert.deepEqual(await redisCmd(a.port, 'MGET', 'same-1', 'same-2'), ['1', '2']);
});

test('held requests time out like any; a shutdown fails them', async () => {
  const { pool: p, s1 } = pool(100);
  s1.hold('failed over');
  const m1 = send(p, 'GET', 'k');
  await until('the timeout', () => m1.done, 3000);
  assert.equal(reply(m1), '-ERR Connection timed out\r\n');
  const m2 = send(p, 'GET', 'k');
  p.close();
  assert.equal(m2.done, true);
  assert.equal(reply(m2), '-ERR Connection reset by peer\r\n');
});
