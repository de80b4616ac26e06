// TLS on both sides (issue 16), against real servers: redis-server --tls-port and memcached -Z, certificates made by
// openssl at test time. Every combination of a plain or TLS client side with a plain or TLS server side, through
// redis-cli --tls, ioredis and node-redis; refusals (wrong CA, expired certificate, plaintext on the TLS port, no
// client certificate) each counted and logged while other clients go on; and a recording relay on each side shows
// that no plaintext leaves a TLS connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startRedis, startMemcached, startNutmeg, freePorts, readStats, until, type Backend, type ProxyProc } from '../helpers/procs';
import { makeCerts, startRedisTls, startMemcachedTls, type Certs } from '../helpers/certs';
import { Relay } from '../helpers/relay';
import { httpGet } from '../helpers/http';

let c: Certs;
let px: ProxyProc;
const backends: Backend[] = [];
const relays: Relay[] = [];
/** Pool name to [plain port, TLS port] (0 where the pool has none). */
const P: Record<string, [number, number]> = {};
let httpPort = 0;
let serverRelay: Relay;
let clientRelay: Relay;
let plainRelay: Relay;

function pool(name: string, plain: number, tlsPort: number, lines: string[], servers: string[]): string {
  P[name] = [plain, tlsPort];
  return [
    `${name}:`,
    ...(plain > 0 ? [`  listen: 127.0.0.1:${plain}`] : []),
    ...(tlsPort > 0 ? [`  tls_listen: 127.0.0.1:${tlsPort}`, `  tls_cert_file: ${c.serverCert}`, `  tls_key_file: ${c.serverKey}`] : []),
    '  timeout: 3000',
    ...lines.map((l) => `  ${l}`),
    '  servers:',
    ...servers.map((s, i) => `    - ${s}:1 s${i}`),
    '',
  ].join('\n');
}

const ca = (): Buffer => fs.readFileSync(c.ca);
const serverTls = (): string[] => ['server_tls: true', `server_tls_ca_cert_file: ${c.ca}`];

before(async () => {
  c = makeCerts();
  const rTls = await startRedisTls(c);
  const rMtls = await startRedisTls(c, { authClients: 'yes' });
  const rExpired = await startRedisTls(c, { cert: c.expiredCert, key: c.expiredKey });
  const rOther = await startRedisTls(c, { cert: c.otherServerCert, key: c.otherServerKey });
  const rPlain = await startRedis();
  const mcTls = await startMemcachedTls(c);
  const mcPlain = await startMemcached();
  backends.push(rTls, rMtls, rExpired, rOther, rPlain, mcTls, mcPlain);
  serverRelay = await Relay.start(rTls.port);
  relays.push(serverRelay);
  const ports = await freePorts(24);
  let i = 0;
  const next = (): number => ports[i++] as number;
  const at = (b: Backend | Relay): string => `127.0.0.1:${b.port}`;
  httpPort = next();
  const yaml = [
    pool('pp', next(), 0, ['redis: true'], [at(rPlain)]),
    pool('pt', next(), 0, ['redis: true', ...serverTls()], [at(rTls)]),
    pool('tp', 0, next(), ['redis: true'], [at(rPlain)]),
    pool('tt', next(), next(), ['redis: true', ...serverTls()], [at(rTls)]),
    pool('mtls', 0, next(), ['redis: true', 'tls_auth_clients: yes', `tls_ca_cert_file: ${c.ca}`, ...serverTls(), `server_tls_cert_file: ${c.clientCert}`, `server_tls_key_file: ${c.clientKey}`], [at(rMtls)]),
    pool('opt', 0, next(), ['redis: true', 'tls_auth_clients: optional', `tls_ca_cert_file: ${c.ca}`], [at(rPlain)]),
    pool('nocert', next(), 0, ['redis: true', ...serverTls()], [at(rMtls)]),
    pool('wrongca', next(), 0, ['redis: true', ...serverTls()], [at(rOther)]),
    pool('expired', next(), 0, ['redis: true', ...serverTls()], [at(rExpired)]),
    pool('badname', next(), 0, ['redis: true', ...serverTls(), 'server_tls_servername: redis.example.com'], [at(rTls)]),
    pool('goodname', next(), 0, ['redis: true', ...serverTls(), 'server_tls_servername: localhost'], [at(rTls)]),
    pool('noverify', next(), 0, ['redis: true', 'server_tls: true', 'server_tls_verify: false'], [at(rOther)]),
    pool('relay', 0, next(), ['redis: true', ...serverTls()], [at(serverRelay)]),
    pool('mp', next(), 0, [...serverTls()], [at(mcTls)]),
    pool('mt', next(), next(), [], [at(mcPlain)]),
    pool('mtt', 0, next(), [...serverTls()], [at(mcTls)]),
  ].join('');
  const listen = Object.values(P).flat().filter((p) => p > 0);
  px = await startNutmeg(yaml, listen, ['--http-port', String(httpPort)]);
  clientRelay = await Relay.start(P.relay![1]);
  plainRelay = await Relay.start(P.pp![0]);
  relays.push(clientRelay, plainRelay);
});

after(async () => {
  for (const r of relays) r.close();
  await px?.stop();
  await Promise.all(backends.map((b) => b.stop()));
  if (c !== undefined) fs.rmSync(c.dir, { recursive: true, force: true });
});

/** One redis-cli command (synchronous: not through a relay of this process); `tls` adds --tls with our CA (and a client certificate when given). */
function cli(port: number, tlsOn: boolean, args: string[], cert: [string, string] | null = null): string {
  const t = tlsOn ? ['--tls', '--cacert', c.ca, ...(cert === null ? [] : ['--cert', cert[0], '--key', cert[1]])] : [];
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...t, ...args], { encoding: 'utf8', timeout: 10000 });
  return `${r.stdout}${r.stderr}`.trim();
}

/** A raw TLS connection: write `data`, read until `done` or close; resolves with what came back. */
function tlsExchange(port: number, opts: tls.ConnectionOptions, data: string, done: (s: string) => boolean): Promise<{ text: string; error: string | null }> {
  return new Promise((resolve) => {
    let text = '';
    let error: string | null = null;
    const s = tls.connect({ host: '127.0.0.1', port, ...opts });
    const finish = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve({ text, error });
    };
    const t = setTimeout(finish, 10000);
    s.on('secureConnect', () => s.write(data));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (done(text)) finish();
    });
    s.on('error', (e: Error) => {
      error = (e as { code?: string }).code ?? e.message;
      finish();
    });
    s.on('close', finish);
  });
}

test('redis-cli: plain and TLS clients in front of plain and TLS servers, each combination', () => {
  const combos: [string, number, boolean][] = [
    ['pp', P.pp![0], false],
    ['pt', P.pt![0], false], // plaintext clients, TLS server (the managed-service case)
    ['tp', P.tp![1], true], // TLS clients, plain server
    ['tt', P.tt![1], true], // TLS on both sides
    ['tt', P.tt![0], false], // the same pool's plain listener beside its TLS one
  ];
  for (const [name, port, tlsOn] of combos) {
    const key = `combo:${name}:${port}`;
    assert.equal(cli(port, tlsOn, ['set', key, 'v1']), 'OK', `${name} set`);
    assert.equal(cli(port, tlsOn, ['incr', `${key}:n`]), '1', `${name} incr`);
    assert.equal(cli(port, tlsOn, ['get', key]), 'v1', `${name} get`);
  }
  // a plain client on a TLS listener is refused; TLS to a plain listener gets no handshake
  assert.doesNotMatch(cli(P.tp![1], false, ['ping']), /PONG/);
  assert.doesNotMatch(cli(P.pp![0], true, ['ping']), /PONG/);
});

test('ioredis and node-redis, each combination: pipelines, MGET, INCR from many requests, a 1 MB value', async () => {
  const combos: [string, number, boolean][] = [
    ['tt', P.tt![1], true], // TLS on both sides
    ['tp', P.tp![1], true], // TLS clients, plain server
    ['pt', P.pt![0], false], // plaintext clients, TLS server
  ];
  for (const [name, port, tlsOn] of combos) {
    const io = new Redis({ host: '127.0.0.1', port, ...(tlsOn ? { tls: { ca: ca() } } : {}), lazyConnect: true, maxRetriesPerRequest: 1 });
    const nr = createClient({ socket: tlsOn ? { host: '127.0.0.1', port, tls: true, ca: ca(), reconnectStrategy: false } : { host: '127.0.0.1', port, reconnectStrategy: false }, RESP: 2 });
    nr.on('error', () => {});
    try {
      await io.connect();
      await nr.connect();
      const big = Buffer.alloc(1024 * 1024, 'x').toString();
      const pipe = io.pipeline();
      for (let i = 0; i < 500; i++) pipe.set(`io:${name}:${i}`, `val${i}`);
      pipe.set(`io:${name}:big`, big);
      const res = await pipe.exec();
      assert.equal(res?.filter(([e, r]) => e === null && r === 'OK').length, 501, name);
      assert.deepEqual(await io.mget(`io:${name}:1`, `io:${name}:2`, `io:${name}:499`), ['val1', 'val2', 'val499'], name);
      assert.equal((await nr.get(`io:${name}:big`))?.length, big.length, name);
      assert.equal(await nr.get(`io:${name}:7`), 'val7', name);
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => nr.incr(`nr:${name}:ctr:${i % 5}`)));
      assert.equal(many.length, 200, name);
      assert.equal(await io.get(`nr:${name}:ctr:0`), '40', name);
    } finally {
      io.disconnect();
      await nr.disconnect().catch(() => {});
    }
  }
});

test('mTLS: tls_auth_clients yes, and a client certificate presented to the server', async () => {
  assert.equal(cli(P.mtls![1], true, ['set', 'mtls:k', 'ok'], [c.clientCert, c.clientKey]), 'OK');
  assert.equal(cli(P.mtls![1], true, ['get', 'mtls:k'], [c.clientCert, c.clientKey]), 'ok');
  const io = new Redis({ host: '127.0.0.1', port: P.mtls![1], tls: { ca: ca(), cert: fs.readFileSync(c.clientCert), key: fs.readFileSync(c.clientKey) }, lazyConnect: true });
  try {
    await io.connect();
    assert.equal(await io.get('mtls:k'), 'ok');
  } finally {
    io.disconnect();
  }
  // optional: no certificate is fine, a good one is fine
  assert.equal(cli(P.opt![1], true, ['ping']), 'PONG');
  assert.equal(cli(P.opt![1], true, ['ping'], [c.clientCert, c.clientKey]), 'PONG');
});

test('memcached -Z behind nutmeg, and a TLS listener in front of memcached', async () => {
  const set = 'set mc:k 0 0 5\r\nhello\r\nget mc:k\r\n';
  const done = (s: string): boolean => s.endsWith('END\r\n');
  // plain client -> TLS memcached
  const plain = await new Promise<string>((resolve) => {
    let out = '';
    const s = net.connect({ host: '127.0.0.1', port: P.mp![0] });
    s.on('connect', () => s.write(set));
    s.on('data', (d: Buffer) => {
      out += d.toString();
      if (done(out)) {
        s.destroy();
        resolve(out);
      }
    });
  });
  assert.equal(plain, 'STORED\r\nVALUE mc:k 0 5\r\nhello\r\nEND\r\n');
  for (const port of [P.mt![1], P.mtt![1]]) {
    const r = await tlsExchange(port, { ca: ca() }, set, done);
    assert.equal(r.error, null);
    assert.equal(r.text, 'STORED\r\nVALUE mc:k 0 5\r\nhello\r\nEND\r\n');
  }
});

test('server side: wrong CA, expired certificate, wrong name, server wants a client certificate: refused and logged', async () => {
  const cases: [string, RegExp][] = [
    ['wrongca', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT/],
    ['expired', /CERT_HAS_EXPIRED/],
    ['badname', /ERR_TLS_CERT_ALTNAME_INVALID/],
    ['nocert', /certificate required|alert|closed|ECONNRESET|EOF/i],
  ];
  for (const [name, why] of cases) {
    assert.equal(cli(P[name]![0], false, ['get', 'x']), 'ERR TLS handshake failed', name);
    await until(`${name} logged`, () => px.stderr.split('\n').some((l) => l.includes(`pool '${name}': TLS handshake with server 's0'`) && why.test(l)));
  }
  const st = await readStats(px.statsPort);
  for (const [name] of cases) assert.ok(((st[name] as Record<string, number>).server_tls_failures ?? 0) >= 1, name);
  // the others are unaffected, and so are pools whose check passes or is off
  assert.equal(cli(P.goodname![0], false, ['set', 'name:k', '1']), 'OK');
  assert.equal(cli(P.noverify![0], false, ['set', 'nv:k', '1']), 'OK');
  assert.equal(cli(P.pt![0], false, ['get', 'name:k']), '1');
});

test('client side: plaintext on the TLS port, no certificate, wrong CA, expired certificate: refused, logged, counted; others go on', async () => {
  const good = new Redis({ host: '127.0.0.1', port: P.mtls![1], tls: { ca: ca(), cert: fs.readFileSync(c.clientCert), key: fs.readFileSync(c.clientKey) }, lazyConnect: true });
  await good.connect();
  try {
    const before = ((await readStats(px.statsPort)).mtls as Record<string, number>).client_tls_failures ?? 0;
    assert.doesNotMatch(cli(P.mtls![1], false, ['ping']), /PONG/); // plaintext
    assert.doesNotMatch(cli(P.mtls![1], true, ['ping']), /PONG/); // no client certificate
    assert.doesNotMatch(cli(P.mtls![1], true, ['ping'], [c.otherClientCert, c.otherClientKey]), /PONG/); // wrong CA
    assert.doesNotMatch(cli(P.mtls![1], true, ['ping'], [c.expiredClientCert, c.expiredClientKey]), /PONG/); // expired
    assert.doesNotMatch(cli(P.opt![1], true, ['ping'], [c.otherClientCert, c.otherClientKey]), /PONG/); // optional: a bad one is still refused
    // a client that does not trust nutmeg's CA refuses it (Node checks after the handshake: nutmeg sees a close)
    const client = await tlsExchange(P.tt![1], { ca: fs.readFileSync(c.otherCa) }, 'PING\r\n', () => true);
    assert.match(client.error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/);
    for (const why of [/WRONG_VERSION_NUMBER|http request|wrong version/i, /sent no certificate/, /client certificate refused: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/, /client certificate refused: CERT_HAS_EXPIRED/]) {
      await until(`log ${why}`, () => px.stderr.split('\n').some((l) => l.includes("pool 'mtls': TLS handshake with client 127.0.0.1:") && why.test(l)));
    }
    await until('counted', async () => (((await readStats(px.statsPort)).mtls as Record<string, number>).client_tls_failures ?? 0) >= before + 4);
    assert.equal(await good.ping(), 'PONG');
    assert.equal(await good.get('mtls:k'), 'ok');
  } finally {
    good.disconnect();
  }
});

test('stats JSON, /metrics and the status page show TLS', async () => {
  const st = await readStats(px.statsPort);
  const tt = st.tt as Record<string, unknown>;
  assert.equal(typeof tt.client_tls_failures, 'number');
  assert.equal(typeof tt.server_tls_failures, 'number');
  const m = await httpGet(httpPort, '/metrics');
  assert.match(m.body, /nutmeg_pool_client_tls_failures_total\{pool="mtls"\} [1-9]/);
  assert.match(m.body, /nutmeg_pool_server_tls_failures_total\{pool="wrongca"\} [1-9]/);
  const s = JSON.parse((await httpGet(httpPort, '/status.json')).body) as { pools: { name: string; tlsListen: string | null; serverTls: boolean; listen: string }[] };
  const byName = new Map(s.pools.map((p) => [p.name, p]));
  assert.equal(byName.get('tt')?.tlsListen, `127.0.0.1:${P.tt![1]}`);
  assert.equal(byName.get('tt')?.serverTls, true);
  assert.equal(byName.get('tp')?.serverTls, false);
  assert.equal(byName.get('pp')?.tlsListen, null);
  const page = (await httpGet(httpPort, '/')).body;
  assert.match(page, /tls-listen/);
  assert.match(page, /data-tls/);
});

test('no plaintext leaves a TLS connection: relays record both sides of nutmeg', async () => {
  const key = `secret-key-${process.pid}-${Date.now()}`;
  const value = `secret-value-${Math.random().toString(36).slice(2)}`;
  const big = `BIGSECRET${'z'.repeat(200_000)}`;
  const io = new Redis({ host: '127.0.0.1', port: clientRelay.port, tls: { ca: ca(), servername: 'localhost' }, lazyConnect: true });
  try {
    await io.connect();
    const pipe = io.pipeline();
    for (let i = 0; i < 50; i++) pipe.set(`${key}:${i}`, `${value}:${i}`);
    pipe.set(`${key}:big`, big);
    await pipe.exec();
    assert.equal(await io.get(`${key}:7`), `${value}:7`);
    assert.equal((await io.get(`${key}:big`))?.length, big.length);
  } finally {
    io.disconnect();
  }
  for (const [side, r] of [['client side', clientRelay], ['server side', serverRelay]] as const) {
    const wire = r.bytes();
    assert.ok(wire.length > big.length, `${side}: the relay saw the traffic (${wire.length} bytes)`);
    assert.equal(r.up[0]?.[0], 0x16, `${side}: starts with a TLS handshake record`);
    for (const needle of [key, value, 'BIGSECRET', 'zzzzzzzzzzzzzzzz', '$3\r\nSET']) assert.equal(wire.indexOf(needle), -1, `${side}: '${needle}' in the clear`);
  }
  // the same check on a plaintext path finds the bytes: the relay does record what crosses it
  const plain = new Redis({ host: '127.0.0.1', port: plainRelay.port, lazyConnect: true });
  try {
    await plain.connect();
    assert.equal(await plain.set(key, value), 'OK');
  } finally {
    plain.disconnect();
  }
  assert.notEqual(plainRelay.bytes().indexOf(value), -1);
});

test('pub/sub through a TLS server connection, and --workers 2 serving a TLS listener', async () => {
  // subscriptions ride their own server connection (server/subscriber.ts): it dials TLS too
  const sub = new Redis({ host: '127.0.0.1', port: P.tt![1], tls: { ca: ca() }, lazyConnect: true });
  const pub = new Redis({ host: '127.0.0.1', port: P.pt![0], lazyConnect: true });
  try {
    await sub.connect();
    await pub.connect();
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe('tls-news');
    await until('a message', async () => {
      await pub.publish('tls-news', 'hello');
      return got.length > 0;
    });
    assert.equal(got[0], 'hello');
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
  const [tlsPort] = await freePorts(1);
  const w = await startNutmeg(pool('wk', 0, tlsPort!, ['redis: true', ...serverTls()], [`127.0.0.1:${backends[0]!.port}`]), [tlsPort!], ['--workers', '2']);
  try {
    const clients = Array.from({ length: 8 }, () => new Redis({ host: '127.0.0.1', port: tlsPort!, tls: { ca: ca() }, lazyConnect: true }));
    await Promise.all(clients.map((r) => r.connect()));
    await Promise.all(clients.map((r, i) => r.set(`wk:${i}`, String(i))));
    for (let i = 0; i < clients.length; i++) assert.equal(await clients[(i + 3) % clients.length]!.get(`wk:${i}`), String(i));
    for (const r of clients) r.disconnect();
    assert.equal(cli(tlsPort!, false, ['ping']).includes('PONG'), false);
    await until('refusal counted across workers', async () => (((await readStats(w.statsPort)).wk as Record<string, number>).client_tls_failures ?? 0) >= 1);
  } finally {
    await w.stop('SIGTERM');
  }
});
