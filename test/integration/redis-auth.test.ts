// redis_auth and redis_db: client AUTH checked by the proxy, backends authenticated with AUTH
// before SELECT on every server connection (twemproxy sends SELECT first and loses the db).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, startNutmeg, freePorts, RawClient, type Proc, type ProxyProc } from '../helpers/procs';

let backend: Proc & { port: number };
let proxy: ProxyProc;
let pAuth = 0;
let pBad = 0;
let pNone = 0;

before(async () => {
  backend = await startRedis(undefined, ['--requirepass', 'hellopasswd']);
  const ports = await freePorts(3);
  pAuth = ports[0]!;
  pBad = ports[1]!;
  pNone = ports[2]!;
  const pool = (name: string, port: number, extra: string[]): string[] => [
    `${name}:`,
    `  listen: 127.0.0.1:${port}`,
    '  redis: true',
    ...extra,
    '  servers:',
    `    - 127.0.0.1:${backend.port}:1`,
  ];
  const yaml = [
    ...pool('authed', pAuth, ['  redis_auth: hellopasswd', '  redis_db: 3']),
    ...pool('badpass', pBad, ['  redis_auth: badpasswd']),
    ...pool('noauth', pNone, []),
    '',
  ].join('\n');
  proxy = await startNutmeg(yaml, [pAuth, pBad, pNone]);
});

after(async () => {
  await proxy?.stop();
  await backend?.stop();
});

test('commands before AUTH get NOAUTH; wrong password is refused; right one works', async () => {
  const c = await RawClient.connect(pAuth);
  try {
    c.write('*2\r\n$3\r\nGET\r\n$1\r\na\r\n');
    assert.equal(await c.readUntil('\r\n'), '-NOAUTH Authentication required\r\n');
    c.write('*1\r\n$4\r\nPING\r\n');
    assert.equal(await c.readUntil('\r\n'), '-NOAUTH Authentication required\r\n');
    c.write('*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n');
    assert.equal(await c.readUntil('\r\n'), '-ERR invalid password\r\n');
    c.write('*2\r\n$4\r\nAUTH\r\n$11\r\nhellopasswd\r\n');
    assert.equal(await c.readUntil('\r\n'), '+OK\r\n');
    c.write('*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n');
    assert.equal(await c.readUntil('\r\n'), '+OK\r\n');
  } finally {
    c.destroy();
  }
});

test('redis_db is selected after AUTH on the backend connection', async () => {
  const r = new Redis({ port: pAuth, password: 'hellopasswd' });
  const d = new Redis({ port: backend.port, password: 'hellopasswd', db: 3 });
  const d0 = new Redis({ port: backend.port, password: 'hellopasswd', db: 0 });
  try {
    await r.set('in-db3', 'yes');
    assert.equal(await d.get('in-db3'), 'yes');
    assert.equal(await d0.get('in-db3'), null);
  } finally {
    r.disconnect();
    d.disconnect();
    d0.disconnect();
  }
});

test('a wrong proxy password shows up as the backend NOAUTH on forwarded commands', async () => {
  const c = await RawClient.connect(pBad);
  try {
    c.write('*2\r\n$4\r\nAUTH\r\n$9\r\nbadpasswd\r\n');
    assert.equal(await c.readUntil('\r\n'), '+OK\r\n');
    c.write('*2\r\n$3\r\nGET\r\n$1\r\na\r\n');
    assert.match(await c.readUntil('\r\n'), /^-NOAUTH Authentication required/);
  } finally {
    c.destroy();
  }
});

test('AUTH in a pool without redis_auth is refused; backends answer NOAUTH themselves', async () => {
  const c = await RawClient.connect(pNone);
  try {
    c.write('*2\r\n$4\r\nAUTH\r\n$3\r\nabc\r\n');
    assert.equal(await c.readUntil('\r\n'), '-ERR Client sent AUTH, but no password is set\r\n');
    c.write('*1\r\n$4\r\nPING\r\n');
    assert.equal(await c.readUntil('\r\n'), '+PONG\r\n');
    c.write('*2\r\n$3\r\nGET\r\n$1\r\na\r\n');
    assert.match(await c.readUntil('\r\n'), /^-NOAUTH Authentication required/);
  } finally {
    c.destroy();
  }
});

test('client handshakes: HELLO 2, HELLO 3 refused, CLIENT SETNAME/GETNAME, SELECT 0, INFO', async () => {
  const c = await RawClient.connect(pNone);
  try {
    c.write('*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n');
    assert.equal(await c.readUntil('\r\n'), '-NOPROTO sorry, this protocol version is not supported\r\n');
    c.write('*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n');
    const hello = await c.readUntil('nutmeg-0.1.0\r\n');
    assert.match(hello, /^\*16\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
    c.write('*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\napp\r\n*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n');
    assert.equal(await c.readUntil('app\r\n'), '+OK\r\n$3\r\napp\r\n');
    // Redis's rule for names (its own test suite checks it): no spaces or control bytes; an empty name clears it.
    c.write('*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\na b\r\n*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n');
    assert.equal(await c.readUntil('app\r\n'), '-ERR Client names cannot contain spaces, newlines or special characters.\r\n$3\r\napp\r\n');
    c.write('*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$0\r\n\r\n*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n');
    assert.equal(await c.readUntil('$-1\r\n'), '+OK\r\n$-1\r\n');
    c.write('*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$6\r\nSELECT\r\n$1\r\nx\r\n');
    // The pool's one database (redis_db, 0 here) is +OK; Redis's own texts for the rest.
    assert.equal(await c.readUntil('integer or out of range\r\n'), '+OK\r\n-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n');
  } finally {
    c.destroy();
  }
  // node-redis style and ioredis handshakes: ioredis runs INFO as its ready check
  const r = new Redis({ port: pAuth, password: 'hellopasswd', connectionName: 'named' });
  try {
    assert.equal(await r.client('GETNAME'), 'named');
    const info = await r.info();
    assert.match(info, /loading:0/);
  } finally {
    r.disconnect();
  }
});
