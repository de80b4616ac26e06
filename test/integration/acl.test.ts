// Redis 6 ACL on both sides (issue 16): nutmeg logs in to `redis-server --user app on '>pw' '~app:*' '+@all'
// --user default off` with redis_auth_user, and clients log in with AUTH pass, AUTH user pass or HELLO 2 AUTH; the
// proxy-side client_users have a read or write mode and key prefixes, refused with Redis 7.0's own texts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startRedis, startNutmeg, freePorts, RawClient, until, type Backend, type ProxyProc } from '../helpers/procs';

let backend: Backend;
let px: ProxyProc;
let pAcl = 0;
let pUsers = 0;
let pNoUser = 0;

const WRONGPASS = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
const NOPERM_KEYS = '-NOPERM this user has no permissions to access one of the keys used as arguments\r\n';
const noperm = (cmd: string): string => `-NOPERM this user has no permissions to run the '${cmd}' command\r\n`;

function req(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

before(async () => {
  backend = await startRedis(undefined, ['--user', 'app', 'on', '>pw', '~app:*', '+@all', '--user', 'default', 'off']);
  [pAcl, pUsers, pNoUser] = (await freePorts(3)) as [number, number, number];
  const pool = (name: string, port: number, lines: string[]): string =>
    [`${name}:`, `  listen: 127.0.0.1:${port}`, '  redis: true', ...lines.map((l) => `  ${l}`), '  servers:', `    - 127.0.0.1:${backend.port}:1 s0`, ''].join('\n');
  const yaml = [
    pool('acl', pAcl, ['redis_auth: pw', 'redis_auth_user: app']),
    pool('users', pUsers, [
      'redis_auth: pw',
      'redis_auth_user: app',
      'client_users:',
      '  - {name: reader, password: r, mode: read}',
      '  - {name: writer, password: w, mode: write, key_prefixes: ["app:w:", "app:shared:"]}',
      '  - name: default',
      '    password: d',
      '    mode: write',
    ]),
    pool('nouser', pNoUser, ['redis_auth: pw']), // AUTH pw without the user: the server's default user is off
  ].join('');
  px = await startNutmeg(yaml, [pAcl, pUsers, pNoUser]);
});

after(async () => {
  await px?.stop();
  await backend?.stop();
});

async function session(port: number, exchanges: [string, string][]): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    for (const [send, expect] of exchanges) {
      c.write(send);
      // '...' in front: only the end of the reply is given (HELLO's map)
      const tail = expect.startsWith('...') ? expect.slice(3) : expect;
      const got = await c.readUntil(tail);
      if (tail === expect) assert.equal(got, expect, `reply to ${JSON.stringify(send)}`);
      else assert.ok(got.endsWith(tail), `reply to ${JSON.stringify(send)}: ${JSON.stringify(got)}`);
    }
  } finally {
    c.destroy();
  }
}

test('redis_auth_user: server connections log in as the ACL user; AUTH pass, AUTH user pass, HELLO 2 AUTH', async () => {
  await session(pAcl, [
    [req('GET', 'app:x'), '-NOAUTH Authentication required\r\n'],
    [req('AUTH', 'wrong'), '-ERR invalid password\r\n'],
    [req('AUTH', 'app', 'wrong'), WRONGPASS],
    [req('AUTH', 'nobody', 'pw'), WRONGPASS],
    [req('AUTH', 'pw'), '+OK\r\n'],
    [req('SET', 'app:x', '1'), '+OK\r\n'],
    [req('AUTH', 'app', 'pw'), '+OK\r\n'],
    [req('AUTH', 'default', 'pw'), '+OK\r\n'],
    // the server's own ACL still applies: app may only touch app:*
    [req('SET', 'other', '1'), NOPERM_KEYS],
  ]);
  await session(pAcl, [
    [req('HELLO', '2', 'AUTH', 'app', 'bad'), WRONGPASS],
    [req('HELLO', '2', 'AUTH', 'app', 'pw'), '...nutmeg-0.1.0\r\n'],
    [req('INCR', 'app:n'), ':1\r\n'],
  ]);
  // twemproxy's AUTH pass without the user fails on this server: its default user is off
  await session(pNoUser, [
    [req('AUTH', 'pw'), '+OK\r\n'],
    [req('GET', 'app:x'), '-NOAUTH Authentication required.\r\n'], // the server's reply: its connection is not logged in
  ]);
  await until('the failed AUTH logged', () => /AUTH failed on nouser \| s0: WRONGPASS/.test(px.stderr));
});

test('client_users: read mode, key prefixes, WRONGPASS, NOPERM texts, MULTI doomed by a refused command', async () => {
  await session(pUsers, [
    [req('AUTH', 'pw'), WRONGPASS], // client_users replace redis_auth for clients
    [req('AUTH', 'app', 'pw'), WRONGPASS],
    [req('AUTH', 'reader', 'w'), WRONGPASS],
    [req('GET', 'app:k'), '-NOAUTH Authentication required\r\n'],
    [req('AUTH', 'writer', 'w'), '+OK\r\n'],
    [req('SET', 'app:w:1', 'one'), '+OK\r\n'],
    [req('MSET', 'app:w:2', 'two', 'app:shared:1', 's'), '+OK\r\n'],
    [req('SET', 'app:other', 'x'), NOPERM_KEYS],
    [req('MGET', 'app:w:1', 'app:other'), NOPERM_KEYS],
    [req('DEL', 'app:w:9', 'nope'), NOPERM_KEYS],
    [req('EVAL', 'return 1', '1', 'app:nope'), NOPERM_KEYS],
    [req('EVAL', 'return redis.call("get", KEYS[1])', '1', 'app:w:1'), '$3\r\none\r\n'],
    // channels are not keys to nutmeg: the server's own channel ACL answers (app has no channels)
    [req('PUBLISH', 'anychannel', 'm'), '-NOPERM this user has no permissions to access one of the channels used as arguments\r\n'],
    [req('MULTI'), '+OK\r\n'],
    [req('SET', 'app:w:3', 'x'), '+QUEUED\r\n'],
    [req('GET', 'app:elsewhere'), NOPERM_KEYS],
    [req('EXEC'), '-EXECABORT Transaction discarded because of previous errors.\r\n'],
    [req('EXISTS', 'app:w:3'), ':0\r\n'],
    [req('AUTH', 'reader', 'r'), '+OK\r\n'],
    [req('GET', 'app:w:1'), '$3\r\none\r\n'],
    [req('MGET', 'app:w:1', 'app:w:2', 'app:none'), '*3\r\n$3\r\none\r\n$3\r\ntwo\r\n$-1\r\n'],
    [req('SET', 'app:w:1', 'x'), noperm('set')],
    [req('INCR', 'app:w:n'), noperm('incr')],
    [req('EVAL', 'return 1', '0'), noperm('eval')],
    [req('XGROUP', 'CREATE', 'app:w:s', 'g', '$'), noperm('xgroup|create')],
    [req('OBJECT', 'ENCODING', 'app:w:1'), '$6\r\nembstr\r\n'],
    [req('FLUSHDB'), noperm('flushdb')],
    [req('PING'), '+PONG\r\n'],
    [req('AUTH', 'default', 'd'), '+OK\r\n'],
    [req('SET', 'app:any', '1'), '+OK\r\n'],
  ]);
  // the one-argument AUTH is the user `default`
  await session(pUsers, [[req('AUTH', 'd'), '+OK\r\n'], [req('GET', 'app:any'), '$1\r\n1\r\n']]);
});

test('client_users through ioredis and node-redis (username + password)', async () => {
  const io = new Redis({ port: pUsers, username: 'writer', password: 'w', lazyConnect: true });
  const nr = createClient({ socket: { port: pUsers, host: '127.0.0.1', reconnectStrategy: false }, username: 'reader', password: 'r', RESP: 2 });
  nr.on('error', () => {});
  try {
    await io.connect();
    await nr.connect();
    assert.equal(await io.set('app:w:io', 'v'), 'OK');
    await assert.rejects(io.set('app:x', 'v'), /NOPERM this user has no permissions to access one of the keys used as arguments/);
    assert.equal(await nr.get('app:w:io'), 'v');
    await assert.rejects(nr.set('app:w:io', 'v2'), /NOPERM this user has no permissions to run the 'set' command/);
  } finally {
    io.disconnect();
    await nr.disconnect().catch(() => {});
  }
});
