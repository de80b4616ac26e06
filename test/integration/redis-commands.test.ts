// Every key-bearing Redis 7.0 command routed by its key specs: the keys nutmeg finds are the keys Redis finds
// (COMMAND GETKEYS on a real server is the oracle), a command whose keys span servers gets Redis's CROSSSLOT,
// the same command with hash-tagged keys works, and the conformance fixes (EXPIRE NX, EVAL numkeys 0, XREAD
// without BLOCK, OBJECT, TIME, *INTERCARD, *MPOP, inline commands, `*-10`, close after a protocol error).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import Redis from 'ioredis';
import { exchange } from '../helpers/procs';
import { keysOn } from '../helpers/faults';
import { COMMANDS, lookupCommand, lookupSubcommand, CmdKind } from '../../src/protocol/redis/commands';
import { findKeys, sortKeys } from '../../src/protocol/redis/keys';
import { enc, Resp } from '../helpers/resp-client';
import { useShardedPool } from '../helpers/sharded';

const pool = useShardedPool(['redis: true', 'hash_tag: "{}"']);

/** nutmeg's keys for a request, as argument strings. */
function ourKeys(args: string[]): string[] {
  const b = enc(...args);
  let pos = 0;
  const offs: number[] = [];
  let nameStart = 0;
  let nameEnd = 0;
  // offsets of each bulk argument in the encoded request
  pos = b.indexOf('\r\n') + 2;
  for (let i = 0; i < args.length; i++) {
    const nl = b.indexOf('\r\n', pos);
    const len = Number(b.toString('latin1', pos + 1, nl));
    const s = nl + 2;
    if (i === 0) {
      nameStart = s;
      nameEnd = s + len;
    } else offs.push(s, s + len);
    pos = s + len + 2;
  }
  let cmd = lookupCommand(b, nameStart, nameEnd);
  assert.ok(cmd >= 0, args[0]);
  if (COMMANDS[cmd]!.kind === CmdKind.CONTAINER) cmd = lookupSubcommand(cmd, b, offs[0]!, offs[1]!);
  const row = COMMANDS[cmd]!;
  const out = new Int32Array(args.length);
  const n = row.name === 'sort' || row.name === 'sort_ro' ? sortKeys(b, offs, args.length, out) : row.kind === CmdKind.SINGLE || row.kind === CmdKind.MULTI_KEY || row.kind === CmdKind.MSET ? -2 : findKeys(row.specs, b, offs, args.length, out);
  if (n === -2) {
    // split and single-key rows: the first key, every key, or every other argument
    if (row.kind === CmdKind.SINGLE) return [args[row.firstKey]!];
    const step = row.kind === CmdKind.MSET ? 2 : 1;
    return args.slice(1).filter((_, i) => i % step === 0);
  }
  return Array.from(out.subarray(0, Math.max(0, n))).map((i) => args[i]!);
}

const SAMPLES: string[][] = [
  ['GET', 'k'],
  ['SET', 'k', 'v', 'EX', '10'],
  ['MSET', 'a', '1', 'b', '2'],
  ['MGET', 'a', 'b', 'c'],
  ['EVAL', 'return 1', '2', 'k1', 'k2', 'arg'],
  ['EVAL', 'return 1', '0'],
  ['FCALL', 'f', '1', 'k1', 'x'],
  ['ZUNION', '2', 'z1', 'z2', 'WEIGHTS', '1', '2'],
  ['ZUNIONSTORE', 'dst', '2', 'z1', 'z2'],
  ['ZINTERCARD', '2', 'z1', 'z2', 'LIMIT', '3'],
  ['SINTERCARD', '3', 's1', 's2', 's3'],
  ['LMPOP', '2', 'l1', 'l2', 'LEFT', 'COUNT', '2'],
  ['ZMPOP', '1', 'z1', 'MIN'],
  ['XREAD', 'COUNT', '2', 'STREAMS', 'x1', 'x2', '0', '0'],
  ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 'x1', '>'],
  ['LMOVE', 'src', 'dst', 'LEFT', 'RIGHT'],
  ['RENAME', 'a', 'b'],
  ['SMOVE', 's1', 's2', 'm'],
  ['BITOP', 'AND', 'dst', 'k1', 'k2'],
  ['PFMERGE', 'dst', 'h1', 'h2'],
  ['SINTERSTORE', 'dst', 's1', 's2'],
  ['COPY', 'a', 'b', 'REPLACE'],
  ['GEORADIUS', 'g', '0', '0', '10', 'km', 'STORE', 'dst'],
  ['GEORADIUS', 'g', '0', '0', '10', 'km'],
  ['GEOSEARCHSTORE', 'dst', 'src', 'FROMLONLAT', '0', '0', 'BYRADIUS', '1', 'km'],
  ['SORT', 'k', 'BY', 'w_*', 'LIMIT', '0', '5', 'GET', 'o_*', 'STORE', 'dst'],
  ['SORT', 'k'],
  ['MSETNX', 'a', '1', 'b', '2'],
  ['OBJECT', 'ENCODING', 'k'],
  ['XINFO', 'STREAM', 'x1'],
  ['MEMORY', 'USAGE', 'k'],
  ['EXPIRE', 'k', '10', 'NX'],
  ['ZRANGESTORE', 'dst', 'src', '0', '-1'],
  ['BLMPOP', '0', '2', 'l1', 'l2', 'LEFT'],
  ['BZMPOP', '1', '2', 'z1', 'z2', 'MIN'],
];

test('the keys nutmeg routes by are the keys Redis 7.0 reports (COMMAND GETKEYS)', async () => {
  const r = new Redis({ port: pool.backends[0]!.port });
  try {
    for (const args of SAMPLES) {
      let want: string[];
      try {
        want = ((await r.call('COMMAND', 'GETKEYS', ...args)) as string[]).map(String);
      } catch (e) {
        // Redis: "The command has no key arguments" (EVAL with numkeys 0)
        assert.match((e as Error).message, /no key arguments/, args.join(' '));
        want = [];
      }
      assert.deepEqual(ourKeys(args), want, args.join(' '));
    }
  } finally {
    r.disconnect();
  }
});

test('keys on different servers: -CROSSSLOT, as Redis Cluster says it; the same command with a shared hash tag works', async () => {
  const [a, b] = [keysOn(3, 0, 'cs:a:', 1)[0]!, keysOn(3, 1, 'cs:b:', 1)[0]!];
  const c = await Resp.connect(pool.port);
  try {
    const CROSS = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    for (const args of [
      ['RENAME', a, b],
      ['SMOVE', a, b, 'm'],
      ['LMOVE', a, b, 'LEFT', 'LEFT'],
      ['MSETNX', a, '1', b, '2'],
      ['SINTERCARD', '2', a, b],
      ['ZUNIONSTORE', a, '2', a, b],
      ['PFMERGE', a, b],
      ['BITOP', 'OR', a, a, b],
      ['EVAL', "return redis.call('get', KEYS[1])", '2', a, b],
    ]) {
      assert.equal(await c.cmd(...args), CROSS, args.join(' '));
    }
    assert.equal(await c.cmd('SADD', '{t}s1', 'x', 'y'), ':2\r\n');
    assert.equal(await c.cmd('SADD', '{t}s2', 'y', 'z'), ':2\r\n');
    assert.equal(await c.cmd('SINTERCARD', '2', '{t}s1', '{t}s2'), ':1\r\n');
    assert.equal(await c.cmd('SMOVE', '{t}s1', '{t}s2', 'x'), ':1\r\n');
    assert.equal(await c.cmd('ZADD', '{t}z1', '1', 'a'), ':1\r\n');
    assert.equal(await c.cmd('ZADD', '{t}z2', '2', 'b'), ':1\r\n');
    // Routed by its keys, not by the count in front of them (it used to route by "2").
    assert.equal(await c.cmd('ZUNION', '2', '{t}z1', '{t}z2'), '*2\r\n$1\r\na\r\n$1\r\nb\r\n');
    assert.equal(await c.cmd('MSETNX', '{t}n1', '1', '{t}n2', '2'), ':1\r\n');
    assert.equal(await c.cmd('RENAME', '{t}n1', '{t}n3'), '+OK\r\n');
    assert.equal(await c.cmd('RPUSH', '{t}l1', 'a', 'b'), ':2\r\n');
    assert.equal(await c.cmd('LMPOP', '2', '{t}l0', '{t}l1', 'LEFT'), '*2\r\n$5\r\n{t}l1\r\n*1\r\n$1\r\na\r\n');
    assert.equal(await c.cmd('ZINTERCARD', '2', '{t}z1', '{t}z2'), ':0\r\n');
    assert.equal(await c.cmd('ZMPOP', '1', '{t}z1', 'MIN'), '*2\r\n$5\r\n{t}z1\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n');
  } finally {
    c.close();
  }
});

test('Redis 7.0 conformance: EXPIRE NX, EVAL numkeys 0, XREAD without BLOCK, OBJECT, TIME, subcommand errors', async () => {
  const c = await Resp.connect(pool.port);
  try {
    assert.equal(await c.cmd('SET', 'cf:k', 'v'), '+OK\r\n');
    assert.equal(await c.cmd('EXPIRE', 'cf:k', '100', 'NX'), ':1\r\n');
    assert.equal(await c.cmd('EXPIRE', 'cf:k', '100', 'NX'), ':0\r\n');
    assert.equal(await c.cmd('EVAL', 'return 7', '0'), ':7\r\n');
    assert.match(await c.cmd('EVAL', 'return 1', '3', 'cf:k'), /^-ERR Number of keys can't be greater than number of args/);
    assert.equal(await c.cmd('XADD', '{x}s', '1-1', 'f', 'v'), '$3\r\n1-1\r\n');
    assert.equal(await c.cmd('XREAD', 'COUNT', '1', 'STREAMS', '{x}s', '0'), '*1\r\n*2\r\n$4\r\n{x}s\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n');
    assert.equal(await c.cmd('XREAD', 'BLOCK', '10', 'STREAMS', '{x}s', '$'), '*-1\r\n', 'XREAD BLOCK on a leased connection: nothing came in 10 ms');
    assert.equal(await c.cmd('OBJECT', 'ENCODING', 'cf:k'), '$6\r\nembstr\r\n');
    assert.match(await c.cmd('TIME'), /^\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n$/);
    assert.equal(await c.cmd('XINFO', 'NOPE'), "-ERR unknown subcommand 'NOPE'. Try XINFO HELP.\r\n");
    assert.match(await c.cmd('XINFO', 'HELP'), /^\*\d+\r\n/);
    assert.equal(await c.cmd('GET'), "-ERR wrong number of arguments for 'get' command\r\n");
    assert.equal(await c.cmd('XINFO', 'STREAM'), "-ERR wrong number of arguments for 'xinfo|stream' command\r\n");
    assert.equal(await c.cmd('PUBLISH', 'ch', 'm'), ':0\r\n');
  } finally {
    c.close();
  }
});

test('inline commands as typed into telnet, and `*-10` skipped without a reply', async () => {
  const got = await exchange(pool.port, 'PING\r\nSET inl:k "hello world"\r\nGET inl:k\r\n*-10\r\n*0\r\n\r\nECHO \'a b\'\r\n', (d) => d.toString().endsWith('$3\r\na b\r\n'));
  assert.equal(got.data.toString(), '+PONG\r\n+OK\r\n$11\r\nhello world\r\n$3\r\na b\r\n');
});

test('a protocol error: the error reply, then the connection is closed (nothing more is read)', async () => {
  const sock = net.connect({ port: pool.port, host: '127.0.0.1' });
  await new Promise((r) => sock.once('connect', r));
  let data = '';
  let closed = false;
  sock.on('data', (d: Buffer) => (data += d.toString('latin1')));
  sock.on('close', () => (closed = true));
  sock.on('error', () => {});
  sock.write('*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n');
  const deadline = Date.now() + 3000;
  while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(data, '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n');
  assert.equal(closed, true, 'closed by the proxy without waiting for the client');
  sock.destroy();
});
