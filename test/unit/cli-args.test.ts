// Flags: nutcracker-compatible getopt_long parsing, validation messages and the -h/-V/-D texts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { defaultOptions, describeStatsText, parseArgs, usageText, versionBanner, type CliOptions } from '../../src/cli-args';
import { POOL_STATS, OWN_POOL_STATS, SERVER_STATS } from '../../src/stats/descriptions';

const DEFAULTS: CliOptions = {
  help: false,
  version: false,
  testConf: false,
  daemonize: false,
  describeStats: false,
  verbose: 5,
  output: null,
  confFile: 'conf/nutcracker.yml',
  statsPort: 22222,
  statsAddr: '0.0.0.0',
  statsInterval: 30000,
  pidFile: null,
  mbufSize: 16384,
  workers: 1,
  httpPort: 0,
  httpAddr: '127.0.0.1',
  reloadMode: 'inplace',
  reloadDrain: 3000,
};

function ok(argv: string[], changes: Partial<CliOptions>): void {
  assert.deepEqual(parseArgs(argv), { ...DEFAULTS, ...changes }, JSON.stringify(argv));
}

function bad(argv: string[], error: string, code: string): void {
  assert.deepEqual(parseArgs(argv), { error, code }, JSON.stringify(argv));
}

test('defaults', () => {
  ok([], {});
  assert.deepEqual(defaultOptions(), DEFAULTS);
});

test('flags, short and long', () => {
  ok(['-h'], { help: true });
  ok(['--help'], { help: true });
  ok(['-V'], { version: true });
  ok(['--version'], { version: true });
  ok(['-t'], { testConf: true });
  ok(['--test-conf'], { testConf: true });
  ok(['-d'], { daemonize: true });
  ok(['--daemonize'], { daemonize: true });
  ok(['-D'], { describeStats: true });
  ok(['--describe-stats'], { describeStats: true });
});

test('values: attached, separate, --long=value and --long value', () => {
  for (const argv of [['-v6'], ['-v', '6'], ['--verbose=6'], ['--verbose', '6']]) ok(argv, { verbose: 6 });
  for (const argv of [['-ofile.log'], ['-o', 'file.log'], ['--output=file.log'], ['--output', 'file.log']]) ok(argv, { output: 'file.log' });
  for (const argv of [['-cx.yml'], ['-c', 'x.yml'], ['--conf-file=x.yml'], ['--conf-file', 'x.yml']]) ok(argv, { confFile: 'x.yml' });
  for (const argv of [['-s5000'], ['-s', '5000'], ['--stats-port=5000'], ['--stats-port', '5000']]) ok(argv, { statsPort: 5000 });
  for (const argv of [['-a::1'], ['-a', '::1'], ['--stats-addr=::1'], ['--stats-addr', '::1']]) ok(argv, { statsAddr: '::1' });
  for (const argv of [['-i1'], ['-i', '1'], ['--stats-interval=1'], ['--stats-interval', '1']]) ok(argv, { statsInterval: 1 });
  for (const argv of [['-px.pid'], ['-p', 'x.pid'], ['--pid-file=x.pid'], ['--pid-file', 'x.pid']]) ok(argv, { pidFile: 'x.pid' });
  for (const argv of [['-m65536'], ['-m', '65536'], ['--mbuf-size=65536'], ['--mbuf-size', '65536']]) ok(argv, { mbufSize: 65536 });
});

test('bundled short options', () => {
  ok(['-dt'], { daemonize: true, testConf: true });
  ok(['-dtv6'], { daemonize: true, testConf: true, verbose: 6 });
  ok(['-dv', '7'], { daemonize: true, verbose: 7 });
  ok(['-hVD'], { help: true, version: true, describeStats: true });
  ok(['-dcx.yml'], { daemonize: true, confFile: 'x.yml' });
});

test('the test harness command line', () => {
  const argv = ['-d', '-c', '/tmp/r/n/conf/nutcracker.conf', '-o', '/tmp/r/n/log/nutcracker.log', '-p', '/tmp/r/n/log/nutcracker.pid', '-s', '5100', '-v', '5', '-m', '512', '-i', '1'];
  ok(argv, {
    daemonize: true,
    confFile: '/tmp/r/n/conf/nutcracker.conf',
    output: '/tmp/r/n/log/nutcracker.log',
    pidFile: '/tmp/r/n/log/nutcracker.pid',
    statsPort: 5100,
    verbose: 5,
    mbufSize: 512,
    statsInterval: 1,
  });
});

test('non-option arguments are ignored anywhere; -- ends options', () => {
  ok(['junk', '-d', 'more', '-', '-v', '3', 'tail'], { daemonize: true, verbose: 3 });
  ok(['--', '-d'], {});
  ok(['-t', '--', '--nonsense'], { testConf: true });
});

test('a separate value is taken even when it starts with -', () => {
  ok(['-c', '-d'], { confFile: '-d' });
  ok(['--output', '--help'], { output: '--help' });
});

test('later options override earlier ones', () => {
  ok(['-v', '3', '-v', '9'], { verbose: 9 });
  ok(['-c', 'a.yml', '--conf-file=b.yml'], { confFile: 'b.yml' });
});

test('verbose range: 0 accepted, above 11 clamped to 11', () => {
  ok(['-v0'], { verbose: 0 });
  ok(['-v11'], { verbose: 11 });
  ok(['-v12'], { verbose: 11 });
  ok(['-v', '999'], { verbose: 11 });
});

test('edge values accepted', () => {
  ok(['-s1'], { statsPort: 1 });
  ok(['-s65535'], { statsPort: 65535 });
  ok(['-i0'], { statsInterval: 0 });
  ok(['-m512'], { mbufSize: 512 });
  ok(['-m16777216'], { mbufSize: 16777216 });
  ok(['-o', ''], { output: null });
  ok(['--output='], { output: null });
});

test('long option prefixes like getopt_long', () => {
  ok(['--verb=6'], { verbose: 6 });
  ok(['--conf', 'x.yml'], { confFile: 'x.yml' });
  ok(['--h'], { help: true }); // nutcracker's --help wins over nutmeg's --http-*
  ok(['--da'], { daemonize: true });
  ok(['--de'], { describeStats: true });
  bad(['--d'], "nutmeg: option '--d' is ambiguous; possibilities: '--daemonize' '--describe-stats'", 'EAMBIGUOUS');
});

test('missing arguments', () => {
  for (const c of ['o', 'c', 'p']) bad([`-${c}`], `nutmeg: option -${c} requires a file name`, 'EMISSINGARG');
  for (const c of ['m', 'v', 's', 'i']) bad([`-${c}`], `nutmeg: option -${c} requires a number`, 'EMISSINGARG');
  bad(['-a'], 'nutmeg: option -a requires a string', 'EMISSINGARG');
  bad(['-d', '-v'], 'nutmeg: option -v requires a number', 'EMISSINGARG');
  bad(['-dc'], 'nutmeg: option -c requires a file name', 'EMISSINGARG');
  bad(['--verbose'], 'nutmeg: option -v requires a number', 'EMISSINGARG');
  bad(['--conf-file'], 'nutmeg: option -c requires a file name', 'EMISSINGARG');
  bad(['--stats-addr'], 'nutmeg: option -a requires a string', 'EMISSINGARG');
  bad(['--workers'], 'nutmeg: option --workers requires a number', 'EMISSINGARG');
  bad(['--http-port'], 'nutmeg: option --http-port requires a number', 'EMISSINGARG');
  bad(['--http-addr'], 'nutmeg: option --http-addr requires a string', 'EMISSINGARG');
});

test('numbers are decimal digits only', () => {
  for (const v of ['x', '-1', '+1', ' 5', '5 ', '0x10', '1.5', '', '99999999999']) {
    bad(['-v', v], 'nutmeg: option -v requires a number', 'ENOTNUMBER');
    bad(['-s', v], 'nutmeg: option -s requires a number', 'ENOTNUMBER');
    bad(['-i', v], 'nutmeg: option -i requires a number', 'ENOTNUMBER');
    bad(['-m', v], 'nutmeg: option -m requires a non-zero number', 'ENOTNUMBER');
  }
  bad(['-vd'], 'nutmeg: option -v requires a number', 'ENOTNUMBER');
  bad(['--verbose='], 'nutmeg: option -v requires a number', 'ENOTNUMBER');
  bad(['--stats-port=abc'], 'nutmeg: option -s requires a number', 'ENOTNUMBER');
});

test('stats port range', () => {
  bad(['-s', '0'], 'nutmeg: option -s value 0 is not a valid port', 'EBADPORT');
  bad(['-s', '65536'], 'nutmeg: option -s value 65536 is not a valid port', 'EBADPORT');
  bad(['--stats-port=070000'], 'nutmeg: option -s value 70000 is not a valid port', 'EBADPORT');
});

test('mbuf size', () => {
  bad(['-m', '0'], 'nutmeg: option -m requires a non-zero number', 'ENOTNUMBER');
  bad(['-m', '511'], 'nutmeg: mbuf chunk size must be between 512 and 16777216 bytes', 'EBADMBUF');
  bad(['-m', '16777217'], 'nutmeg: mbuf chunk size must be between 512 and 16777216 bytes', 'EBADMBUF');
});

test('unknown and malformed options', () => {
  bad(['-?'], "nutmeg: invalid option -- '?'", 'EUNKNOWNOPT');
  bad(['-x'], "nutmeg: invalid option -- 'x'", 'EUNKNOWNOPT');
  bad(['-dx'], "nutmeg: invalid option -- 'x'", 'EUNKNOWNOPT');
  bad(['-W'], "nutmeg: invalid option -- 'W'", 'EUNKNOWNOPT');
  bad(['--foo'], "nutmeg: unrecognized option '--foo'", 'EUNKNOWNOPT');
  bad(['--foo=1'], "nutmeg: unrecognized option '--foo'", 'EUNKNOWNOPT');
  bad(['--=1'], "nutmeg: unrecognized option '--'", 'EUNKNOWNOPT');
  bad(['--stats'], "nutmeg: option '--stats' is ambiguous; possibilities: '--stats-port' '--stats-interval' '--stats-addr'", 'EAMBIGUOUS');
  bad(['--http'], "nutmeg: option '--http' is ambiguous; possibilities: '--http-port' '--http-addr'", 'EAMBIGUOUS');
  bad(['--help=1'], "nutmeg: option '--help' doesn't allow an argument", 'ENOARGALLOWED');
  bad(['--daemonize=yes'], "nutmeg: option '--daemonize' doesn't allow an argument", 'ENOARGALLOWED');
});

test('the first error wins, later ones are not looked at', () => {
  bad(['-s', '0', '-m', '1'], 'nutmeg: option -s value 0 is not a valid port', 'EBADPORT');
  bad(['-x', '-s', '0'], "nutmeg: invalid option -- 'x'", 'EUNKNOWNOPT');
  bad(['-h', '-q'], "nutmeg: invalid option -- 'q'", 'EUNKNOWNOPT');
});

test('nutmeg extensions', () => {
  ok(['--workers=4'], { workers: 4 });
  ok(['--workers', '1024'], { workers: 1024 });
  ok(['--work=2'], { workers: 2 });
  ok(['--http-port=9121'], { httpPort: 9121 });
  ok(['--http-port', '0'], { httpPort: 0 });
  ok(['--http-addr=0.0.0.0'], { httpAddr: '0.0.0.0' });
  ok(['--http-a', '::'], { httpAddr: '::' });
  ok(['--reload-mode=exec'], { reloadMode: 'exec' });
  ok(['--reload-mode', 'inplace', '--reload-drain=500'], { reloadDrain: 500 });
  bad(['--reload-mode=hot'], "nutmeg: option --reload-mode value 'hot' must be inplace or exec", 'EBADMODE');
  bad(['--reload-drain=soon'], 'nutmeg: option --reload-drain requires a number', 'ENOTNUMBER');
  bad(['--workers=0'], 'nutmeg: option --workers value 0 must be between 1 and 1024', 'EBADWORKERS');
  bad(['--workers=1025'], 'nutmeg: option --workers value 1025 must be between 1 and 1024', 'EBADWORKERS');
  bad(['--workers=two'], 'nutmeg: option --workers requires a number', 'ENOTNUMBER');
  bad(['--http-port=65536'], 'nutmeg: option --http-port value 65536 is not a valid port', 'EBADPORT');
  bad(['--http-port=-1'], 'nutmeg: option --http-port requires a number', 'ENOTNUMBER');
  bad(['--http-addr='], 'nutmeg: option --http-addr requires a string', 'EMISSINGARG');
});

test('usage text (CRLF inside blocks, LF after each block, -D line LF only)', () => {
  assert.equal(
    usageText(),
    'Usage: nutmeg [-?hVdDt] [-v verbosity level] [-o output file]\r\n' +
      '              [-c conf file] [-s stats port] [-a stats addr]\r\n' +
      '              [-i stats interval] [-p pid file] [-m mbuf size]\r\n' +
      '              [--workers=N] [--http-port=N] [--http-addr=S]\r\n' +
      '              [--reload-mode=inplace|exec] [--reload-drain=N]\r\n' +
      '\n' +
      'Options:\r\n' +
      '  -h, --help             : this help\r\n' +
      '  -V, --version          : show version and exit\r\n' +
      '  -t, --test-conf        : test configuration for syntax errors and exit\r\n' +
      '  -d, --daemonize        : run as a daemon\r\n' +
      '  -D, --describe-stats   : print stats description and exit\n' +
      '  -v, --verbose=N        : set logging level (default: 5, min: 0, max: 11)\r\n' +
      '  -o, --output=S         : set logging file (default: stderr)\r\n' +
      '  -c, --conf-file=S      : set configuration file (default: conf/nutcracker.yml)\r\n' +
      '  -s, --stats-port=N     : set stats monitoring port (default: 22222)\r\n' +
      '  -a, --stats-addr=S     : set stats monitoring ip (default: 0.0.0.0)\r\n' +
      '  -i, --stats-interval=N : set stats aggregation interval in msec (default: 30000 msec)\r\n' +
      '  -p, --pid-file=S       : set pid file (default: off)\r\n' +
      '  -m, --mbuf-size=N      : set size of mbuf chunk in bytes (default: 16384 bytes)\r\n' +
      '      --workers=N        : set number of worker processes (default: 1)\r\n' +
      '      --http-port=N      : set metrics/health/status http port (default: 0 = off)\r\n' +
      '      --http-addr=S      : set metrics/health/status http ip (default: 127.0.0.1)\r\n' +
      '      --reload-mode=S    : what SIGUSR1 does: inplace or exec (default: inplace)\r\n' +
      '      --reload-drain=N   : set msec removed clients may finish on reload (default: 3000)\r\n' +
      '\n',
  );
});

test('version banner: two lines and an empty line, version from package.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  assert.equal(versionBanner(), `This is nutmeg-${pkg.version}\ncompatible with nutcracker-0.5.0\n\n`);
});

test("-D text is exactly nutcracker 0.5.0 binary output, with nutmeg's own pool metrics after twemproxy's", () => {
  assert.equal(
    describeStatsText(),
    'pool stats:\n' +
      '  client_eof          "# eof on client connections"\n' +
      '  client_err          "# errors on client connections"\n' +
      '  client_connections  "# active client connections"\n' +
      '  server_ejects       "# times backend server was ejected"\n' +
      '  forward_error       "# times we encountered a forwarding error"\n' +
      '  fragments           "# fragments created from a multi-vector request"\n' +
      '  client_overflow     "# client connections closed past client_buffer_limit"\n' +
      '  failover_requests   "# requests sent to the failover pool"\n' +
      '  mirror_requests     "# writes copied to mirror pools"\n' +
      '  mirror_errors       "# mirror copies answered with an error or failed"\n' +
      '  mirror_dropped      "# mirror copies dropped: the mirror had too many waiting"\n' +
      '  warmup_hits         "# misses found in the warm-up pool and copied here"\n' +
      '  client_tls_failures "# client TLS handshakes refused at tls_listen"\n' +
      '  server_tls_failures "# TLS handshakes with servers that failed"\n' +
      '  cluster_moved       "# MOVED redirections followed (redis_cluster)"\n' +
      '  cluster_ask         "# ASK redirections followed (redis_cluster)"\n' +
      '  cluster_tryagain    "# TRYAGAIN replies retried (redis_cluster)"\n' +
      '  cluster_down        "# CLUSTERDOWN replies (redis_cluster)"\n' +
      '  cluster_redir_err   "# requests failed past cluster_max_redirects or redirected on a pinned connection (redis_cluster)"\n' +
      '  cluster_refreshes   "# CLUSTER SLOTS refreshes (redis_cluster)"\n' +
      '  cluster_refresh_err "# refreshes no node answered (redis_cluster)"\n' +
      '\n' +
      'server stats:\n' +
      '  server_eof          "# eof on server connections"\n' +
      '  server_err          "# errors on server connections"\n' +
      '  server_timedout     "# timeouts on server connections"\n' +
      '  server_connections  "# active server connections"\n' +
      '  server_ejected_at   "timestamp when server was ejected in usec since epoch"\n' +
      '  requests            "# requests"\n' +
      '  request_bytes       "total request bytes"\n' +
      '  responses           "# responses"\n' +
      '  response_bytes      "total response bytes"\n' +
      '  in_queue            "# requests in incoming queue"\n' +
      '  in_queue_bytes      "current request bytes in incoming queue"\n' +
      '  out_queue           "# requests in outgoing queue"\n' +
      '  out_queue_bytes     "current request bytes in outgoing queue"\n',
  );
});

test('stat table types', () => {
  assert.deepEqual(POOL_STATS.map((s) => s.type), ['counter', 'counter', 'gauge', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter', 'counter']);
  assert.deepEqual(OWN_POOL_STATS.map((s) => s.name), [
    'client_overflow', 'failover_requests', 'mirror_requests', 'mirror_errors', 'mirror_dropped', 'warmup_hits', 'client_tls_failures', 'server_tls_failures',
    'cluster_moved', 'cluster_ask', 'cluster_tryagain', 'cluster_down', 'cluster_redir_err', 'cluster_refreshes', 'cluster_refresh_err',
  ]);
  assert.deepEqual(SERVER_STATS.map((s) => `${s.name}:${s.type}`), [
    'server_eof:counter', 'server_err:counter', 'server_timedout:counter', 'server_connections:gauge', 'server_ejected_at:timestamp',
    'requests:counter', 'request_bytes:counter', 'responses:counter', 'response_bytes:counter',
    'in_queue:gauge', 'in_queue_bytes:gauge', 'out_queue:gauge', 'out_queue_bytes:gauge',
  ]);
});
