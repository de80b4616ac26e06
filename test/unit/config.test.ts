// Config stage: nutcracker.yml parsing, defaults, server naming/sorting, and every rejection with its exact message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compareNames, loadConfig, parseConfigText } from '../../src/config/load';
import { ConfigError, type ConfigErrorCode } from '../../src/config/errors';
import type { PoolConfig } from '../../src/config/types';

const ROOT = path.join(__dirname, '..', '..', '..');
const F = 'conf/x.yml';

function pool(text: string): PoolConfig {
  const c = parseConfigText(text, F);
  assert.equal(c.pools.length, 1);
  const p = c.pools[0];
  assert.ok(p !== undefined);
  return p;
}

/** A pool body with the required keys; `extra` lines go between listen and servers. */
function one(extra: string, servers = '   - 127.0.0.1:6379:1\n'): string {
  return `p:\n  listen: 127.0.0.1:22121\n${extra}  servers:\n${servers}`;
}

interface Expect {
  code: ConfigErrorCode;
  pool: string | null;
  key: string | null;
  line: number | null;
  message: string;
}

function fails(text: string, e: Expect): void {
  let caught: unknown = null;
  try {
    parseConfigText(text, F);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.deepEqual(
    { code: caught.code, pool: caught.pool, key: caught.key, line: caught.line, message: caught.message, file: caught.file },
    { ...e, file: F },
  );
}

test('shipped conf/nutcracker.yml parses (pools sorted by length then bytes)', () => {
  const file = path.join(ROOT, 'conf', 'nutcracker.yml');
  const c = loadConfig(file);
  assert.equal(c.file, file);
  assert.deepEqual(c.pools.map((p) => p.name), ['beta', 'alpha', 'delta', 'gamma', 'omega']);
  const [beta, alpha, delta, gamma, omega] = c.pools;
  assert.ok(beta && alpha && delta && gamma && omega);

  assert.deepEqual(alpha.listen, { kind: 'tcp', host: '127.0.0.1', port: 22121, text: '127.0.0.1:22121' });
  assert.equal(alpha.redis, true);
  assert.equal(alpha.autoEjectHosts, true);
  assert.equal(alpha.serverRetryTimeout, 2000);
  assert.equal(alpha.serverFailureLimit, 1);
  assert.deepEqual(alpha.servers, [{ name: '127.0.0.1:6379', host: '127.0.0.1', port: 6379, unixPath: null, weight: 1, text: '127.0.0.1:6379:1' }]);

  assert.deepEqual(beta.hashTag, Buffer.from('{}'));
  assert.equal(beta.timeout, 400);
  assert.equal(beta.redis, true);
  assert.equal(beta.autoEjectHosts, false);
  assert.deepEqual(beta.servers.map((s) => [s.name, s.port]), [['server1', 6380], ['server2', 6381], ['server3', 6382], ['server4', 6383]]);

  assert.equal(gamma.redis, false);
  assert.equal(gamma.timeout, 400);
  assert.equal(gamma.backlog, 1024);
  assert.equal(gamma.preconnect, true);
  assert.equal(gamma.serverFailureLimit, 3);
  assert.deepEqual(gamma.servers.map((s) => s.name), ['127.0.0.1:11212', '127.0.0.1:11213']);

  assert.equal(delta.timeout, 100);
  assert.equal(delta.servers.length, 10);
  assert.equal(delta.servers[0]?.name, '127.0.0.1:11214');
  assert.equal(delta.servers[9]?.name, '127.0.0.1:11223');

  assert.deepEqual(omega.listen, { kind: 'unix', path: '/tmp/gamma', perm: 0o666, text: '/tmp/gamma 0666' });
  assert.equal(omega.hash, 'hsieh');
  assert.deepEqual(omega.servers.map((s) => [s.name, s.weight]), [['127.0.0.1:11214', 100000], ['127.0.0.1:11215', 1]]);
});

test('defaults of every directive', () => {
  const p = pool(one(''));
  assert.deepEqual(p, {
    name: 'p',
    listen: { kind: 'tcp', host: '127.0.0.1', port: 22121, text: '127.0.0.1:22121' },
    hash: 'fnv1a_64',
    hashTag: null,
    distribution: 'ketama',
    timeout: 0,
    backlog: 512,
    clientConnections: 0,
    redis: false,
    redisAuth: null,
    redisDb: 0,
    tcpkeepalive: false,
    reuseport: false,
    preconnect: false,
    autoEjectHosts: false,
    serverConnections: 1,
    serverRetryTimeout: 30000,
    serverFailureLimit: 2,
    clientBufferLimit: 256 * 1024 * 1024,
    transactionMaxCommands: 1000,
    serverPrivateConnections: 64,
    redisDatabases: 1,
    redisAdminCommands: false,
    pubsubClientBuffer: 32 * 1024 * 1024,
    failover: null,
    failoverExptime: 60,
    mirrorTo: [],
    warmupFrom: null,
    warmupExptime: 3600,
    sentinel: null,
    readPolicy: 'master',
    redisCluster: false,
    clusterRefreshInterval: 10000,
    clusterMaxRedirects: 5,
    tlsListen: null,
    tlsCertFile: null,
    tlsKeyFile: null,
    tlsCaCertFile: null,
    tlsAuthClients: 'no',
    tlsProtocols: ['TLSv1.2', 'TLSv1.3'],
    tlsCiphers: null,
    tlsCiphersuites: null,
    serverTls: false,
    serverTlsCaCertFile: null,
    serverTlsCertFile: null,
    serverTlsKeyFile: null,
    serverTlsServername: null,
    serverTlsVerify: true,
    redisAuthUser: null,
    clientUsers: null,
    servers: [{ name: '127.0.0.1:6379', host: '127.0.0.1', port: 6379, unixPath: null, weight: 1, text: '127.0.0.1:6379:1' }],
  });
});

test('every directive set, quoted values decoded', () => {
  const p = pool(
    one(
      '  hash: "murmur"\n  hash_tag: \'::\'\n  distribution: modula\n  timeout: 0\n  backlog: 128\n  client_connections: 100\n' +
        '  redis: true\n  redis_auth: "s3 cr#t"\n  redis_db: 3\n  tcpkeepalive: true\n  reuseport: true\n  preconnect: false\n' +
        '  auto_eject_hosts: true\n  server_connections: 4\n  server_retry_timeout: 0\n  server_failure_limit: 0\n',
    ),
  );
  assert.equal(p.hash, 'murmur');
  assert.deepEqual(p.hashTag, Buffer.from('::'));
  assert.equal(p.distribution, 'modula');
  assert.equal(p.timeout, 0);
  assert.equal(p.backlog, 128);
  assert.equal(p.clientConnections, 100);
  assert.equal(p.redis, true);
  assert.equal(p.redisAuth, 's3 cr#t');
  assert.equal(p.redisDb, 3);
  assert.equal(p.tcpkeepalive, true);
  assert.equal(p.reuseport, true);
  assert.equal(p.preconnect, false);
  assert.equal(p.autoEjectHosts, true);
  assert.equal(p.serverConnections, 4);
  assert.equal(p.serverRetryTimeout, 0);
  assert.equal(p.serverFailureLimit, 0);
});

test('test-harness config with a CRLF in the middle (auth variant), comments and blank lines', () => {
  const text =
    '# generated\nntest:\n  listen: 0.0.0.0:4100\n  hash: fnv1a_64\n  distribution: modula\n  preconnect: true\n' +
    '  auto_eject_hosts: false\n  redis: true\r\n  redis_auth: hellopasswd\n\n  backlog: 512   # trailing comment\n  timeout: 400\n' +
    '  client_connections: 0\n  server_connections: 1\n  server_retry_timeout: 2000\n  server_failure_limit: 2\n' +
    '  servers:\n    - 127.0.0.1:2100:1 redis-2100\n    - 127.0.0.1:2101:1 redis-2101\n';
  const p = pool(text);
  assert.equal(p.name, 'ntest');
  assert.deepEqual(p.listen, { kind: 'tcp', host: '0.0.0.0', port: 4100, text: '0.0.0.0:4100' });
  assert.equal(p.redis, true);
  assert.equal(p.redisAuth, 'hellopasswd');
  assert.equal(p.distribution, 'modula');
  assert.equal(p.timeout, 400);
  assert.deepEqual(p.servers.map((s) => s.name), ['redis-2100', 'redis-2101']);
});

test('whole file with CRLF line ends', () => {
  const p = pool('a:\r\n  listen: 127.0.0.1:1\r\n  redis: true\r\n  servers:\r\n   - 127.0.0.1:6379:1 x\r\n');
  assert.equal(p.redis, true);
  assert.equal(p.servers[0]?.name, 'x');
});

test('servers are sorted by name: shorter first, then byte order', () => {
  const p = pool(one('', '   - 127.0.0.1:7801:1 zeta\n   - 127.0.0.1:7802:1 b\n   - 127.0.0.1:7803:2 server10\n   - 127.0.0.1:7804:1 server9\n'));
  assert.deepEqual(p.servers.map((s) => [s.name, s.port, s.weight]), [
    ['b', 7802, 1],
    ['zeta', 7801, 1],
    ['server9', 7804, 1],
    ['server10', 7803, 2],
  ]);
  assert.equal(compareNames('b', 'zeta') < 0, true);
  assert.equal(compareNames('server9', 'server10') < 0, true);
  assert.equal(compareNames('B', 'a') < 0, true);
  assert.equal(compareNames('x', 'x'), 0);
});

test('server naming rules', () => {
  const p = pool(
    one('', '   - 10.0.0.1:6379:1\n   - 10.0.0.2:11211:1\n   - /tmp/redis.sock:2\n   - /tmp/other.sock:1 sock\n   - ::1:6380:3\n   - "[::1]:6381:1"\n   - h:06379:1\n'),
  );
  assert.deepEqual(p.servers, [
    { name: 'sock', host: '', port: 0, unixPath: '/tmp/other.sock', weight: 1, text: '/tmp/other.sock:1 sock' },
    { name: 'h:06379', host: 'h', port: 6379, unixPath: null, weight: 1, text: 'h:06379:1' },
    { name: '10.0.0.2', host: '10.0.0.2', port: 11211, unixPath: null, weight: 1, text: '10.0.0.2:11211:1' },
    { name: '::1:6380', host: '::1', port: 6380, unixPath: null, weight: 3, text: '::1:6380:3' },
    { name: '[::1]:6381', host: '::1', port: 6381, unixPath: null, weight: 1, text: '[::1]:6381:1' },
    { name: '10.0.0.1:6379', host: '10.0.0.1', port: 6379, unixPath: null, weight: 1, text: '10.0.0.1:6379:1' },
    { name: '/tmp/redis.sock:', host: '', port: 0, unixPath: '/tmp/redis.sock', weight: 2, text: '/tmp/redis.sock:2' },
  ]);
});

test('listen formats', () => {
  assert.deepEqual(pool('a:\n  listen: ::1:22121\n  servers:\n   - h:1:1\n').listen, { kind: 'tcp', host: '::1', port: 22121, text: '::1:22121' });
  assert.deepEqual(pool('a:\n  listen: "[::1]:22121"\n  servers:\n   - h:1:1\n').listen, { kind: 'tcp', host: '::1', port: 22121, text: '[::1]:22121' });
  assert.deepEqual(pool('a:\n  listen: localhost:65535\n  servers:\n   - h:1:1\n').listen, { kind: 'tcp', host: 'localhost', port: 65535, text: 'localhost:65535' });
  assert.deepEqual(pool('a:\n  listen: /tmp/n.sock\n  servers:\n   - h:1:1\n').listen, { kind: 'unix', path: '/tmp/n.sock', perm: 0, text: '/tmp/n.sock' });
  assert.deepEqual(pool('a:\n  listen: /tmp/n.sock 777\n  servers:\n   - h:1:1\n').listen, { kind: 'unix', path: '/tmp/n.sock', perm: 0o777, text: '/tmp/n.sock 777' });
  assert.deepEqual(pool('a:\n  listen: /tmp/my dir/n.sock 0600\n  servers:\n   - h:1:1\n').listen, {
    kind: 'unix', path: '/tmp/my dir/n.sock', perm: 0o600, text: '/tmp/my dir/n.sock 0600',
  });
});

test('multiple pools keep their own settings', () => {
  const c = parseConfigText('zz:\n  listen: 127.0.0.1:2\n  servers:\n   - h:1:1\nz:\n  listen: 127.0.0.1:3\n  redis: true\n  servers:\n   - h:1:1\n', F);
  assert.deepEqual(c.pools.map((p) => [p.name, p.listen.text, p.redis]), [['z', '127.0.0.1:3', true], ['zz', '127.0.0.1:2', false]]);
});

// ---- rejections ------------------------------------------------------------------------------------------------

test('file cannot be read', () => {
  const missing = path.join(os.tmpdir(), `nutmeg-missing-${process.pid}.yml`);
  assert.throws(() => loadConfig(missing), {
    name: 'ConfigError', code: 'EOPEN', file: missing, pool: null, key: null, line: null,
    message: `${missing}: cannot read the configuration file: No such file or directory`,
  });
});

test('file that is not UTF-8', () => {
  const f = path.join(os.tmpdir(), `nutmeg-bad-utf8-${process.pid}.yml`);
  fs.writeFileSync(f, Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
  try {
    assert.throws(() => loadConfig(f), { code: 'EYAML', message: `${f}: the file is not valid UTF-8 text` });
  } finally {
    fs.unlinkSync(f);
  }
});

test('empty file and comment-only file have no pools', () => {
  fails('', { code: 'ENOPOOLS', pool: null, key: null, line: null, message: `${F}: no pools defined (the file is empty)` });
  fails('# nothing\n\n', { code: 'ENOPOOLS', pool: null, key: null, line: null, message: `${F}: no pools defined (the file is empty)` });
});

test('rejected YAML features', () => {
  fails('%YAML 1.1\n' + one(''), {
    code: 'EYAMLFEATURE', pool: null, key: null, line: 1, message: `${F}: YAML directive '%YAML 1.1' is not allowed at line 1`,
  });
  fails('---\n' + one(''), {
    code: 'EYAMLFEATURE', pool: null, key: null, line: 1,
    message: `${F}: document start marker '---' is not allowed (the file is a single document without markers) at line 1`,
  });
  fails(one('') + '...\n', {
    code: 'EYAMLFEATURE', pool: 'p', key: 'servers', line: 5,
    message: `${F}: pool 'p': key 'servers': document end marker '...' is not allowed (the file is a single document without markers) at line 5`,
  });
  fails(one('  hash_tag: {}\n'), {
    code: 'EYAMLFEATURE', pool: 'p', key: 'hash_tag', line: 3,
    message: `${F}: pool 'p': key 'hash_tag': flow mapping '{...}' is not allowed; quote values that start with '{', e.g. hash_tag: "{}" at line 3`,
  });
  fails(one('', '    [127.0.0.1:6379:1]\n'), {
    code: 'EYAMLFEATURE', pool: 'p', key: 'servers', line: 4,
    message: `${F}: pool 'p': key 'servers': flow sequence '[...]' is not allowed; write lists as '- item' lines and quote values that start with '[' at line 4`,
  });
  fails('p:\n  listen: &l 127.0.0.1:1\n  hash: *l\n  servers:\n   - h:1:1\n', {
    code: 'EYAMLFEATURE', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': anchor '&l' is not allowed (twemproxy accepts no anchors, aliases or tags) at line 2`,
  });
  fails(one('  hash: *x\n'), {
    code: 'EYAMLFEATURE', pool: 'p', key: 'hash', line: 3,
    message: `${F}: pool 'p': key 'hash': alias '*x' is not allowed (twemproxy accepts no anchors, aliases or tags) at line 3`,
  });
  fails(one('  timeout: !!int 4\n'), {
    code: 'EYAMLFEATURE', pool: 'p', key: 'timeout', line: 3,
    message: `${F}: pool 'p': key 'timeout': tag '!!int' is not allowed (twemproxy accepts no anchors, aliases or tags) at line 3`,
  });
});

test('quoted "{}" and other flow characters inside scalars are fine', () => {
  assert.deepEqual(pool(one('  hash_tag: "{}"\n')).hashTag, Buffer.from('{}'));
  assert.deepEqual(pool(one("  hash_tag: '[]'\n")).hashTag, Buffer.from('[]'));
  assert.equal(pool(one('  redis: true\n  redis_auth: a{b}[c],*&!\n')).redisAuth, 'a{b}[c],*&!');
});

test('YAML syntax errors', () => {
  fails('p:\n\tlisten: 127.0.0.1:1\n', {
    code: 'EYAML', pool: null, key: null, line: 2, message: `${F}: YAML syntax error: Tabs are not allowed as indentation at line 2`,
  });
});

test('structural errors', () => {
  fails('just a string\n', {
    code: 'ESTRUCTURE', pool: null, key: null, line: 1,
    message: `${F}: the top level must be a mapping of pool names to pool settings, got the value 'just a string' at line 1`,
  });
  fails('- a\n- b\n', {
    code: 'ESTRUCTURE', pool: null, key: null, line: 1,
    message: `${F}: the top level must be a mapping of pool names to pool settings, got a list at line 1`,
  });
  fails('a: b\n', {
    code: 'ESTRUCTURE', pool: 'a', key: null, line: 1,
    message: `${F}: pool 'a': expected the pool settings as indented 'key: value' lines, got the value 'b' at line 1`,
  });
  fails('a:\n', {
    code: 'ESTRUCTURE', pool: 'a', key: null, line: 1,
    message: `${F}: pool 'a': has no settings (expected indented 'key: value' lines such as 'listen: 127.0.0.1:22121') at line 1`,
  });
  fails('a:\n  - x\n', {
    code: 'ESTRUCTURE', pool: 'a', key: null, line: 2,
    message: `${F}: pool 'a': expected the pool settings as indented 'key: value' lines, got a list at line 2`,
  });
  fails('a:\n  listen:\n    host: x\n', {
    code: 'ESTRUCTURE', pool: 'a', key: 'listen', line: 3,
    message: `${F}: pool 'a': key 'listen': expected a single value ("host:port", e.g. 127.0.0.1:22121, or "/path/to/socket [octal permissions]"), got a mapping at line 3`,
  });
  fails('a:\n  hash:\n   - md5\n', {
    code: 'ESTRUCTURE', pool: 'a', key: 'hash', line: 3,
    message: `${F}: pool 'a': key 'hash': expected a single value (one of: one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins), got a list at line 3`,
  });
  fails('a:\n  listen: 127.0.0.1:1\n  servers: 127.0.0.1:6379:1\n', {
    code: 'ESTRUCTURE', pool: 'a', key: 'servers', line: 3,
    message: `${F}: pool 'a': key 'servers': expected a list of "host:port:weight [name]" or "/path/to/socket:weight [name]" entries, got the value '127.0.0.1:6379:1' at line 3`,
  });
  fails(one('', '   - 127.0.0.1:6379: 1\n'), {
    code: 'ESTRUCTURE', pool: 'p', key: 'servers', line: 4,
    message: `${F}: pool 'p': key 'servers': expected a server entry ("host:port:weight [name]"), got a mapping; a ': ' inside an entry makes it a mapping, write host:port:weight without spaces around ':' at line 4`,
  });
  fails(one('', '   - - 127.0.0.1:6379:1\n'), {
    code: 'ESTRUCTURE', pool: 'p', key: 'servers', line: 4,
    message: `${F}: pool 'p': key 'servers': expected a server entry ("host:port:weight [name]"), got a list at line 4`,
  });
});

test('duplicate pools and duplicate keys', () => {
  fails(one('') + one(''), {
    code: 'EDUPPOOL', pool: 'p', key: null, line: 5,
    message: `${F}: pool 'p': defined again (pool names must be unique; first definition at line 1) at line 5`,
  });
  fails(one('  hash: md5\n  hash: md5\n'), {
    code: 'EDUPKEY', pool: 'p', key: 'hash', line: 4, message: `${F}: pool 'p': key 'hash': set twice (first at line 3) at line 4`,
  });
  fails(one('', '   - h:1:1\n  servers:\n   - h:2:1\n'), {
    code: 'EDUPKEY', pool: 'p', key: 'servers', line: 5, message: `${F}: pool 'p': key 'servers': set twice (first at line 3) at line 5`,
  });
});

test('client_buffer_limit: bytes or a redis.conf-style size, at least 1mb', () => {
  const lim = (v: string): number => parseConfigText(one(`  client_buffer_limit: ${v}\n`), F).pools[0]!.clientBufferLimit;
  assert.equal(lim('64mb'), 64 * 1024 * 1024);
  assert.equal(lim('1GB'), 1024 * 1024 * 1024);
  assert.equal(lim('2097152'), 2 * 1024 * 1024);
  assert.equal(lim('4096k'), 4 * 1024 * 1024);
  fails(one('  client_buffer_limit: 512kb\n'), {
    code: 'EBADNUMBER', pool: 'p', key: 'client_buffer_limit', line: 3,
    message: `${F}: pool 'p': key 'client_buffer_limit': '512kb' is too small (expected at least 1mb) at line 3`,
  });
  fails(one('  client_buffer_limit: lots\n'), {
    code: 'EBADNUMBER', pool: 'p', key: 'client_buffer_limit', line: 3,
    message: `${F}: pool 'p': key 'client_buffer_limit': 'lots' is not a size (expected a size in bytes, with an optional unit kb, mb or gb (e.g. 256mb), at least 1mb) at line 3`,
  });
});

test('unknown keys, with a suggestion when close', () => {
  fails(one('  hsah: md5\n'), {
    code: 'EUNKNOWNKEY', pool: 'p', key: 'hsah', line: 3, message: `${F}: pool 'p': key 'hsah': unknown directive (did you mean 'hash'?) at line 3`,
  });
  fails(one('  server_connection: 2\n'), {
    code: 'EUNKNOWNKEY', pool: 'p', key: 'server_connection', line: 3,
    message: `${F}: pool 'p': key 'server_connection': unknown directive (did you mean 'server_connections'?) at line 3`,
  });
  fails(one('  Hash: md5\n'), {
    code: 'EUNKNOWNKEY', pool: 'p', key: 'Hash', line: 3, message: `${F}: pool 'p': key 'Hash': unknown directive (did you mean 'hash'?) at line 3`,
  });
  fails(one('  sentinel_rewrite_config: true\n'), {
    code: 'EUNKNOWNKEY', pool: 'p', key: 'sentinel_rewrite_config', line: 3,
    message: `${F}: pool 'p': key 'sentinel_rewrite_config': unknown directive (nutmeg follows Sentinel at run time and never rewrites its configuration file) at line 3`,
  });
  fails(one('  constructor: 1\n'), {
    code: 'EUNKNOWNKEY', pool: 'p', key: 'constructor', line: 3,
    message: `${F}: pool 'p': key 'constructor': unknown directive (expected one of: listen, hash, hash_tag, distribution, timeout, backlog, client_connections, redis, redis_auth, redis_db, tcpkeepalive, reuseport, preconnect, auto_eject_hosts, server_connections, server_retry_timeout, server_failure_limit, servers, client_buffer_limit, transaction_max_commands, redis_admin_commands, pubsub_client_buffer, redis_databases, server_private_connections, failover, failover_exptime, mirror_to, warmup_from, warmup_exptime, sentinels, sentinel_auth, sentinel_user, sentinel_refresh_interval, read_policy, redis_cluster, cluster_refresh_interval, cluster_max_redirects, tls_listen, tls_cert_file, tls_key_file, tls_ca_cert_file, tls_auth_clients, tls_protocols, tls_ciphers, tls_ciphersuites, server_tls, server_tls_ca_cert_file, server_tls_cert_file, server_tls_key_file, server_tls_servername, server_tls_verify, redis_auth_user, client_users) at line 3`,
  });
});

test('empty values', () => {
  fails(one('  hash:\n'), {
    code: 'EEMPTY', pool: 'p', key: 'hash', line: 3,
    message: `${F}: pool 'p': key 'hash': empty value (expected one of: one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins) at line 3`,
  });
  fails(one('  redis: ""\n'), {
    code: 'EEMPTY', pool: 'p', key: 'redis', line: 3, message: `${F}: pool 'p': key 'redis': empty value (expected true or false) at line 3`,
  });
  fails('p:\n  listen:\n  servers:\n   - h:1:1\n', {
    code: 'EEMPTY', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': empty value (expected "host:port", e.g. 127.0.0.1:22121, or "/path/to/socket [octal permissions]") at line 2`,
  });
  fails(one('', '   - h:1:1\n   -\n'), {
    code: 'EEMPTY', pool: 'p', key: 'servers', line: 5,
    message: `${F}: pool 'p': key 'servers': empty server entry (expected "host:port:weight [name]" or "/path/to/socket:weight [name]") at line 5`,
  });
});

test('missing listen, missing or empty servers', () => {
  fails('p:\n  hash: md5\n  servers:\n   - h:1:1\n', {
    code: 'EMISSING', pool: 'p', key: 'listen', line: 1,
    message: `${F}: pool 'p': key 'listen': missing (every pool needs one, e.g. listen: 127.0.0.1:22121) at line 1`,
  });
  fails('p:\n  listen: 127.0.0.1:1\n', {
    code: 'ENOSERVERS', pool: 'p', key: 'servers', line: 1,
    message: `${F}: pool 'p': key 'servers': missing (every pool needs a list of servers, e.g. '- 127.0.0.1:6379:1') at line 1`,
  });
  fails('p:\n  listen: 127.0.0.1:1\n  servers:\n', {
    code: 'ENOSERVERS', pool: 'p', key: 'servers', line: 3,
    message: `${F}: pool 'p': key 'servers': no servers listed (expected indented '- 127.0.0.1:6379:1' lines) at line 3`,
  });
});

test('numbers: digits only, no sign, not too large', () => {
  fails(one('  timeout: -1\n'), {
    code: 'EBADNUMBER', pool: 'p', key: 'timeout', line: 3,
    message: `${F}: pool 'p': key 'timeout': '-1' is not a number (expected milliseconds as decimal digits, e.g. 400; 0 or no timeout key means no timeout) at line 3`,
  });
  fails(one('  backlog: 0x10\n'), {
    code: 'EBADNUMBER', pool: 'p', key: 'backlog', line: 3,
    message: `${F}: pool 'p': key 'backlog': '0x10' is not a number (expected a number (decimal digits only)) at line 3`,
  });
  fails(one('  redis_db: 1.5\n'), {
    code: 'EBADNUMBER', pool: 'p', key: 'redis_db', line: 3,
    message: `${F}: pool 'p': key 'redis_db': '1.5' is not a number (expected a number (decimal digits only)) at line 3`,
  });
  fails(one('  server_retry_timeout: 2147483648\n'), {
    code: 'EBADNUMBER', pool: 'p', key: 'server_retry_timeout', line: 3,
    message: `${F}: pool 'p': key 'server_retry_timeout': '2147483648' is too large (maximum 2147483647) at line 3`,
  });
  assert.equal(pool(one('  server_retry_timeout: 2147483647\n')).serverRetryTimeout, 2147483647);
  assert.equal(pool(one('  timeout: "400"\n')).timeout, 400);
});

test('server_connections cannot be 0', () => {
  fails(one('  server_connections: 0\n'), {
    code: 'EZEROCONNS', pool: 'p', key: 'server_connections', line: 3,
    message: `${F}: pool 'p': key 'server_connections': cannot be 0 (expected at least 1 connection per server) at line 3`,
  });
});

test('booleans are exactly true or false', () => {
  for (const v of ['yes', 'True', 'TRUE', '1', 'on']) {
    fails(one(`  preconnect: ${v}\n`), {
      code: 'EBADBOOL', pool: 'p', key: 'preconnect', line: 3,
      message: `${F}: pool 'p': key 'preconnect': '${v}' is not a boolean (expected true or false) at line 3`,
    });
  }
});

test('hash, distribution and hash_tag values', () => {
  fails(one('  hash: fnv\n'), {
    code: 'EBADHASH', pool: 'p', key: 'hash', line: 3,
    message: `${F}: pool 'p': key 'hash': 'fnv' is not a valid hash (expected one of: one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins) at line 3`,
  });
  fails(one('  hash: MD5\n'), {
    code: 'EBADHASH', pool: 'p', key: 'hash', line: 3,
    message: `${F}: pool 'p': key 'hash': 'MD5' is not a valid hash (expected one of: one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins) at line 3`,
  });
  fails(one('  distribution: consistent\n'), {
    code: 'EBADDIST', pool: 'p', key: 'distribution', line: 3,
    message: `${F}: pool 'p': key 'distribution': 'consistent' is not a valid distribution (expected one of: ketama, modula, random) at line 3`,
  });
  fails(one('  hash_tag: "{"\n'), {
    code: 'EBADHASHTAG', pool: 'p', key: 'hash_tag', line: 3,
    message: `${F}: pool 'p': key 'hash_tag': '{' is not a valid hash tag (expected exactly two characters, e.g. "{}") at line 3`,
  });
  fails(one('  hash_tag: "{{}"\n'), {
    code: 'EBADHASHTAG', pool: 'p', key: 'hash_tag', line: 3,
    message: `${F}: pool 'p': key 'hash_tag': '{{}' is not a valid hash tag (expected exactly two characters, e.g. "{}") at line 3`,
  });
  // two bytes, one character: accepted like twemproxy (byte semantics)
  assert.deepEqual(pool(one('  hash_tag: "é"\n')).hashTag, Buffer.from([0xc3, 0xa9]));
  for (const h of ['one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64', 'fnv1a_64', 'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins']) {
    assert.equal(pool(one(`  hash: ${h}\n`)).hash, h);
  }
  for (const d of ['ketama', 'modula', 'random']) assert.equal(pool(one(`  distribution: ${d}\n`)).distribution, d);
});

test('redis_auth only on redis pools', () => {
  fails(one('  redis_auth: pw\n'), {
    code: 'EAUTHNOTREDIS', pool: 'p', key: 'redis_auth', line: 3,
    message: `${F}: pool 'p': key 'redis_auth': only valid in a redis pool (this pool has no 'redis: true') at line 3`,
  });
  fails(one('  redis_auth: pw\n  redis: false\n'), {
    code: 'EAUTHNOTREDIS', pool: 'p', key: 'redis_auth', line: 3,
    message: `${F}: pool 'p': key 'redis_auth': only valid in a redis pool (this pool has no 'redis: true') at line 3`,
  });
  assert.equal(pool(one('  redis_auth: pw\n  redis: true\n')).redisAuth, 'pw'); // order does not matter
});

test('bad listen values', () => {
  const l = (v: string): string => `p:\n  listen: ${v}\n  servers:\n   - h:1:1\n`;
  fails(l('localhost'), {
    code: 'EBADLISTEN', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': 'localhost' is not a valid listen address (expected "host:port", e.g. 127.0.0.1:22121, or "/path/to/socket [octal permissions]") at line 2`,
  });
  fails(l('127.0.0.1:0'), {
    code: 'EBADPORT', pool: 'p', key: 'listen', line: 2, message: `${F}: pool 'p': key 'listen': '127.0.0.1:0' has an invalid port '0' (expected 1..65535) at line 2`,
  });
  fails(l('127.0.0.1:65536'), {
    code: 'EBADPORT', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': '127.0.0.1:65536' has an invalid port '65536' (expected 1..65535) at line 2`,
  });
  fails(l('127.0.0.1:http'), {
    code: 'EBADPORT', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': '127.0.0.1:http' has an invalid port 'http' (expected 1..65535) at line 2`,
  });
  fails(l('"127.0.0.1:"'), {
    code: 'EBADPORT', pool: 'p', key: 'listen', line: 2, message: `${F}: pool 'p': key 'listen': '127.0.0.1:' has an invalid port '' (expected 1..65535) at line 2`,
  });
  fails(l('":22121"'), {
    code: 'EBADLISTEN', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': ':22121' has no host before the ':' (use e.g. 0.0.0.0:22121 for all interfaces) at line 2`,
  });
  fails(l('my host:22121'), {
    code: 'EBADLISTEN', pool: 'p', key: 'listen', line: 2, message: `${F}: pool 'p': key 'listen': 'my host:22121' has a space inside the host at line 2`,
  });
  fails(l('/tmp/s 0999'), {
    code: 'EBADPERM', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': '/tmp/s 0999' has an invalid permission '0999' (expected octal digits up to 0777, e.g. 0666) at line 2`,
  });
  fails(l('/tmp/s 1000'), {
    code: 'EBADPERM', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': '/tmp/s 1000' has an invalid permission '1000' (expected octal digits up to 0777, e.g. 0666) at line 2`,
  });
  fails(l('/tmp/s rw'), {
    code: 'EBADPERM', pool: 'p', key: 'listen', line: 2,
    message: `${F}: pool 'p': key 'listen': '/tmp/s rw' has an invalid permission 'rw' (expected octal digits up to 0777, e.g. 0666) at line 2`,
  });
});

test('bad server entries', () => {
  const s = (entry: string): string => one('', `   - ${entry}\n`);
  const at = (code: ConfigErrorCode, entry: string, reason: string): void =>
    fails(s(entry), { code, pool: 'p', key: 'servers', line: 4, message: `${F}: pool 'p': key 'servers': ${reason} at line 4` });
  const FORMAT = '(expected "host:port:weight [name]" or "/path/to/socket:weight [name]")';
  at('EBADSERVER', 'localhost', `'localhost' is not a valid server ${FORMAT}`);
  at('EBADSERVER', '127.0.0.1:6379', `'127.0.0.1:6379' is not a valid server: it needs host, port and weight ${FORMAT}`);
  at('EBADSERVER', '/tmp/a:b:1', `'/tmp/a:b:1' is not a valid server: a unix socket path cannot contain ':' (expected "/path/to/socket:weight [name]")`);
  at('EBADSERVER', '"127.0.0.1:6379:1 "', `'127.0.0.1:6379:1 ' ends with a space but has no name after it ${FORMAT}`);
  at('EBADSERVER', '":6379:1"', `':6379:1' has no host before the port ${FORMAT}`);
  at('EBADSERVER', 'a b:6379:1 name', `'a b:6379:1 name' has a space inside the host; only one space is allowed, before the name`);
  at('EBADWEIGHT', '127.0.0.1:6379:x', `'127.0.0.1:6379:x' has an invalid weight 'x' (expected a positive integer)`);
  at('EBADWEIGHT', '127.0.0.1:6379:1  name', `'127.0.0.1:6379:1  name' has an invalid weight '1 ' (expected a positive integer; only one space is allowed, before the name)`);
  at('EBADWEIGHT', '127.0.0.1:6379:-1', `'127.0.0.1:6379:-1' has an invalid weight '-1' (expected a positive integer)`);
  at('EZEROWEIGHT', '127.0.0.1:6379:0', `'127.0.0.1:6379:0' has a zero weight (expected a positive integer)`);
  at('EZEROWEIGHT', '/tmp/r.sock:0', `'/tmp/r.sock:0' has a zero weight (expected a positive integer)`);
  at('EBADPORT', '127.0.0.1:0:1', `'127.0.0.1:0:1' has an invalid port '0' (expected 1..65535)`);
  at('EBADPORT', '127.0.0.1:70000:1', `'127.0.0.1:70000:1' has an invalid port '70000' (expected 1..65535)`);
  at('EBADPORT', '127.0.0.1:redis:1', `'127.0.0.1:redis:1' has an invalid port 'redis' (expected 1..65535)`);
  // weight is checked before the port, like twemproxy
  at('EZEROWEIGHT', '127.0.0.1:0:0', `'127.0.0.1:0:0' has a zero weight (expected a positive integer)`);
});

test('duplicate server names (the weight is not part of the name)', () => {
  fails(one('', '   - 127.0.0.1:6379:1\n   - 127.0.0.1:6379:2\n'), {
    code: 'EDUPSERVER', pool: 'p', key: 'servers', line: 5,
    message: `${F}: pool 'p': key 'servers': '127.0.0.1:6379:2' has the same name '127.0.0.1:6379' as '127.0.0.1:6379:1' (server names must be unique; give each an explicit name after a space) at line 5`,
  });
  fails(one('', '   - 127.0.0.1:6379:1 a\n   - 127.0.0.2:6379:1 a\n'), {
    code: 'EDUPSERVER', pool: 'p', key: 'servers', line: 5,
    message: `${F}: pool 'p': key 'servers': '127.0.0.2:6379:1 a' has the same name 'a' as '127.0.0.1:6379:1 a' (server names must be unique; give each an explicit name after a space) at line 5`,
  });
  fails(one('', '   - 10.0.0.1:11211:1\n   - 10.0.0.1:6379:1 10.0.0.1\n'), {
    code: 'EDUPSERVER', pool: 'p', key: 'servers', line: 5,
    message: `${F}: pool 'p': key 'servers': '10.0.0.1:6379:1 10.0.0.1' has the same name '10.0.0.1' as '10.0.0.1:11211:1' (server names must be unique; give each an explicit name after a space) at line 5`,
  });
  // same host:port under different explicit names is allowed
  assert.equal(pool(one('', '   - 127.0.0.1:6379:1 a\n   - 127.0.0.1:6379:1 b\n')).servers.length, 2);
});

test('two pools with the same listen address', () => {
  const two = (l1: string, l2: string): string =>
    `first:\n  listen: ${l1}\n  servers:\n   - h:1:1\nsecond:\n  listen: ${l2}\n  servers:\n   - h:1:1\n`;
  fails(two('127.0.0.1:22121', '127.0.0.1:22121'), {
    code: 'EDUPLISTEN', pool: 'second', key: 'listen', line: null,
    message: `${F}: pool 'second': key 'listen': '127.0.0.1:22121' is already the listen address of pool 'first'`,
  });
  fails(two('0.0.0.0:22121', '0.0.0.0:022121'), {
    code: 'EDUPLISTEN', pool: 'second', key: 'listen', line: null,
    message: `${F}: pool 'second': key 'listen': '0.0.0.0:022121' is already the listen address of pool 'first' ('0.0.0.0:22121')`,
  });
  fails(two('/tmp/s 0666', '/tmp/s'), {
    code: 'EDUPLISTEN', pool: 'second', key: 'listen', line: null,
    message: `${F}: pool 'second': key 'listen': '/tmp/s' is already the listen address of pool 'first' ('/tmp/s 0666')`,
  });
  assert.equal(parseConfigText(two('127.0.0.1:22121', '127.0.0.2:22121'), F).pools.length, 2);
});

/** Memcache pools `main` (with `extra`), `gutter`, `fresh` and a redis pool `r`, on their own ports. */
function routed(extra: string, gutterExtra = '', freshListen = '127.0.0.1:3'): string {
  return (
    `main:\n  listen: 127.0.0.1:1\n${extra}  servers:\n   - 127.0.0.1:11211:1 m1\n` +
    `gutter:\n  listen: none\n${gutterExtra}  servers:\n   - 127.0.0.1:11212:1 g1\n` +
    `fresh:\n  listen: ${freshListen}\n  servers:\n   - 127.0.0.1:11213:1 f1\n` +
    'r:\n  listen: 127.0.0.1:4\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n'
  );
}

function named(text: string, name: string): PoolConfig {
  const p = parseConfigText(text, F).pools.find((x) => x.name === name);
  assert.ok(p !== undefined, name);
  return p;
}

test('memcache routes: failover, mirror_to (three spellings), warmup_from, listen: none', () => {
  const text = routed('  failover: gutter\n  failover_exptime: 2\n  mirror_to: [fresh, gutter]\n  warmup_from: fresh\n  warmup_exptime: 0\n');
  const main = named(text, 'main');
  assert.equal(main.failover, 'gutter');
  assert.equal(main.failoverExptime, 2);
  assert.deepEqual(main.mirrorTo, ['fresh', 'gutter']);
  assert.equal(main.warmupFrom, 'fresh');
  assert.equal(main.warmupExptime, 0);
  assert.deepEqual(named(text, 'gutter').listen, { kind: 'none', text: 'none' });
  assert.deepEqual(named(routed('  mirror_to:\n   - fresh\n   - gutter\n'), 'main').mirrorTo, ['fresh', 'gutter']);
  assert.deepEqual(named(routed('  mirror_to: fresh\n'), 'main').mirrorTo, ['fresh']);
  assert.deepEqual(named(routed('  mirror_to: []\n'), 'main').mirrorTo, []);
  // two pools may both have no listener; a chain of failovers is fine
  const chain = routed('  failover: gutter\n', '  failover: fresh\n', 'none');
  assert.equal(named(chain, 'gutter').failover, 'fresh');
  assert.equal(named(chain, 'fresh').listen.kind, 'none');
});

test('memcache routes: bad references, cycles, redis pools, flow lists elsewhere', () => {
  fails(routed('  failover: nope\n'), {
    code: 'EBADPOOLREF', pool: 'main', key: 'failover', line: 3,
    message: `${F}: pool 'main': key 'failover': 'nope' is not a pool of this file (pools: main, gutter, fresh, r) at line 3`,
  });
  fails(routed('  failover: main\n'), {
    code: 'EBADPOOLREF', pool: 'main', key: 'failover', line: 3,
    message: `${F}: pool 'main': key 'failover': 'main' is this pool itself (expected another memcache pool) at line 3`,
  });
  fails(routed('  warmup_from: r\n'), {
    code: 'EBADPOOLREF', pool: 'main', key: 'warmup_from', line: 3,
    message: `${F}: pool 'main': key 'warmup_from': 'r' is a redis pool (expected a memcache pool) at line 3`,
  });
  fails(routed('  mirror_to: [fresh, fresh]\n'), {
    code: 'EBADPOOLREF', pool: 'main', key: 'mirror_to', line: 3,
    message: `${F}: pool 'main': key 'mirror_to': 'fresh' is listed twice at line 3`,
  });
  fails(routed('  failover: gutter\n', '  failover: main\n'), {
    code: 'EFAILOVERCYCLE', pool: 'main', key: 'failover', line: 3,
    message: `${F}: pool 'main': key 'failover': failover pools form a cycle: main -> gutter -> main at line 3`,
  });
  // a cycle that does not pass through the first pool is reported from one of its own
  fails(routed('', '  failover: x\n') + 'x:\n  listen: none\n  failover: gutter\n  servers:\n   - h:1:1\n', {
    code: 'EFAILOVERCYCLE', pool: 'gutter', key: 'failover', line: 7,
    message: `${F}: pool 'gutter': key 'failover': failover pools form a cycle: gutter -> x -> gutter at line 7`,
  });
  fails('r:\n  listen: 127.0.0.1:4\n  redis: true\n  mirror_to: m\n  servers:\n   - h:1:1\nm:\n  listen: none\n  servers:\n   - h:2:1\n', {
    code: 'EMEMCACHEONLY', pool: 'r', key: 'mirror_to', line: 4,
    message: `${F}: pool 'r': key 'mirror_to': only valid in a memcache pool (this pool has 'redis: true') at line 4`,
  });
  fails(routed('  failover_exptime: 0\n'), {
    code: 'EBADNUMBER', pool: 'main', key: 'failover_exptime', line: 3,
    message: `${F}: pool 'main': key 'failover_exptime': cannot be 0 (memcached reads exptime 0 as 'never expires'; expected at least 1 second) at line 3`,
  });
  fails(routed('  failover: a b\n'), {
    code: 'EBADPOOLREF', pool: 'main', key: 'failover', line: 3,
    message: `${F}: pool 'main': key 'failover': 'a b' is not a pool name (it has a space) (expected the name of another memcache pool of this file) at line 3`,
  });
  fails(routed('  mirror_to: [fresh, [gutter]]\n'), {
    code: 'EYAMLFEATURE', pool: 'main', key: 'mirror_to', line: 3,
    message: `${F}: pool 'main': key 'mirror_to': flow sequence '[...]' is not allowed; write lists as '- item' lines and quote values that start with '[' at line 3`,
  });
  fails(routed('  failover: [gutter]\n'), {
    code: 'EYAMLFEATURE', pool: 'main', key: 'failover', line: 3,
    message: `${F}: pool 'main': key 'failover': flow sequence '[...]' is not allowed; write lists as '- item' lines and quote values that start with '[' at line 3`,
  });
  fails(routed('  mirror_to:\n   a: b\n'), {
    code: 'ESTRUCTURE', pool: 'main', key: 'mirror_to', line: 4,
    message: `${F}: pool 'main': key 'mirror_to': expected names of other memcache pools of this file, as '- name' lines, [a, b] or one name, got a mapping at line 4`,
  });
});

test('listen: none is not an address two pools share', () => {
  const c = parseConfigText(routed('', '', 'none'), F);
  assert.deepEqual(c.pools.filter((p) => p.listen.kind === 'none').map((p) => p.name), ['fresh', 'gutter']);
});
/** A redis pool with sentinels; `extra` lines go after `sentinels:`. */
function sentinelPool(extra: string, servers = '   - 127.0.0.1:6379:1 shard1\n   - 127.0.0.1:6380:1 shard2\n', head = '  redis: true\n'): string {
  return `p:\n  listen: 127.0.0.1:22121\n${head}  sentinels:\n   - 127.0.0.1:26379:1\n   - 127.0.0.1:26380:1\n${extra}  servers:\n${servers}`;
}

test('sentinels: PR #324 syntax, nutmeg keys and their defaults', () => {
  const p = pool(sentinelPool(''));
  assert.deepEqual(p.sentinel, {
    addrs: [
      { host: '127.0.0.1', port: 26379, unixPath: null, text: '127.0.0.1:26379:1' },
      { host: '127.0.0.1', port: 26380, unixPath: null, text: '127.0.0.1:26380:1' },
    ],
    auth: null,
    user: null,
    refreshInterval: 10000,
  });
  assert.equal(p.readPolicy, 'master');
  assert.equal(p.autoEjectHosts, false);
  assert.deepEqual(p.servers.map((s) => s.name), ['shard1', 'shard2']);
  const q = pool(sentinelPool('  sentinel_auth: "s3cret"\n  sentinel_user: watcher\n  sentinel_refresh_interval: 0\n  read_policy: prefer_replica\n'));
  assert.deepEqual([q.sentinel?.auth, q.sentinel?.user, q.sentinel?.refreshInterval, q.readPolicy], ['s3cret', 'watcher', 0, 'prefer_replica']);
  for (const policy of ['master', 'prefer_master', 'replica', 'prefer_replica', 'any']) {
    assert.equal(pool(sentinelPool(`  read_policy: ${policy}\n`)).readPolicy, policy);
  }
  // weight and name of a sentinel entry are accepted and ignored
  assert.equal(pool(sentinelPool('').replace('26380:1', '26380:1 s2')).sentinel?.addrs[1]?.port, 26380);
});

test('sentinels: -t names each mistake', () => {
  fails(sentinelPool('', undefined, ''), {
    code: 'ESENTINELNOTREDIS', pool: 'p', key: 'sentinels', line: 3,
    message: `${F}: pool 'p': key 'sentinels': only valid in a redis pool (this pool has no 'redis: true'; Sentinel manages Redis masters) at line 3`,
  });
  fails(sentinelPool('', '   - 127.0.0.1:6379:1 shard1\n   - 127.0.0.1:6380:1\n'), {
    code: 'ESENTINELNAME', pool: 'p', key: 'servers', line: 9,
    message: `${F}: pool 'p': key 'servers': '127.0.0.1:6380:1' has no name: with 'sentinels:' each server's name is its Sentinel master name (e.g. '127.0.0.1:6380:1 shard1') at line 9`,
  });
  fails(sentinelPool('', '   - 127.0.0.1:6379:1 shard1\n   - 127.0.0.1:6380:1 shard1\n'), {
    code: 'EDUPSERVER', pool: 'p', key: 'servers', line: 9,
    message: `${F}: pool 'p': key 'servers': '127.0.0.1:6380:1 shard1' has the same name 'shard1' as '127.0.0.1:6379:1 shard1' (server names must be unique; give each an explicit name after a space) at line 9`,
  });
  fails(sentinelPool('').replace('26380:1', '26379:2'), {
    code: 'EDUPSERVER', pool: 'p', key: 'sentinels', line: 6,
    message: `${F}: pool 'p': key 'sentinels': '127.0.0.1:26379:2' is the same sentinel as '127.0.0.1:26379:1' (each sentinel once) at line 6`,
  });
  fails(sentinelPool('').replace('26380:1', '26380'), {
    code: 'EBADSERVER', pool: 'p', key: 'sentinels', line: 6,
    message: `${F}: pool 'p': key 'sentinels': '127.0.0.1:26380' is not a valid server: it needs host, port and weight (expected "host:port:weight [name]" or "/path/to/socket:weight [name]") at line 6`,
  });
  fails(sentinelPool('  read_policy: replicas\n'), {
    code: 'EBADPOLICY', pool: 'p', key: 'read_policy', line: 7,
    message: `${F}: pool 'p': key 'read_policy': 'replicas' is not a valid read policy (expected one of: master, prefer_master, replica, prefer_replica, any) at line 7`,
  });
  fails(sentinelPool('  sentinel_user: watcher\n'), {
    code: 'EMISSING', pool: 'p', key: 'sentinel_user', line: 7,
    message: `${F}: pool 'p': key 'sentinel_user': needs sentinel_auth (the password of that user) at line 7`,
  });
  fails(one('  redis: true\n  read_policy: replica\n'), {
    code: 'ENOSENTINELS', pool: 'p', key: 'read_policy', line: 4,
    message: `${F}: pool 'p': key 'read_policy': only valid in a pool with 'sentinels:' (replicas come from Sentinel) at line 4`,
  });
  fails(one('  redis: true\n  sentinel_auth: x\n'), {
    code: 'ENOSENTINELS', pool: 'p', key: 'sentinel_auth', line: 4,
    message: `${F}: pool 'p': key 'sentinel_auth': only valid in a pool with 'sentinels:' (it configures how nutmeg talks to the sentinels) at line 4`,
  });
  fails(one('  redis: true\n  sentinels:\n'), {
    code: 'ENOSERVERS', pool: 'p', key: 'sentinels', line: 4,
    message: `${F}: pool 'p': key 'sentinels': no sentinels listed (expected indented '- 127.0.0.1:26379:1' lines) at line 4`,
  });
  fails(one('  redis: true\n  sentinels: 127.0.0.1:26379:1\n'), {
    code: 'ESTRUCTURE', pool: 'p', key: 'sentinels', line: 4,
    message: `${F}: pool 'p': key 'sentinels': expected a list of "host:port:weight" sentinel addresses (weight and name are ignored), got the value '127.0.0.1:26379:1' at line 4`,
  });
});
