// Operations port, page at `/`: a self-contained live status page (no external assets). It polls
// /status.json every second and computes request, error and latency figures from two successive samples.
//
//   poll /status.json ─► sample (counters, µs latency buckets) ─► diff with previous sample ─► redraw tables
//
// Markup hooks (kept stable for tests and scripts): section[data-pool], tr[data-server="<pool>/<server>"] with
// data-state="live|ejected", and data-value on the rate cells (.req-rate, .err-rate). A memcache pool with routes
// has a div.routes line: failover / mirror / warm-up targets and their counters (data-value on each <b>). A server
// of a pool with sentinels also carries data-role="master|switching|unknown|down", its role and last switch in the
// state cell. TLS: the pool's header names the TLS listener (span.tls-listen), server rows of a server_tls pool
// carry data-tls="1" and a "TLS" mark after the address, and a div.tls line counts refused handshakes on both sides.

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nutmeg status</title>
<style>
  :root { --fg: #1d2327; --muted: #69737d; --line: #dde2e6; --bg: #f6f7f8; --card: #fff;
          --ok: #1a7f37; --bad: #c62828; --warn: #b26a00; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 14px; padding: 14px 22px; background: var(--card); border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 20px; }
  #meta { color: var(--muted); }
  .badge { padding: 2px 9px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; background: var(--muted); }
  .badge.ok { background: var(--ok); }
  .badge.bad { background: var(--bad); }
  main { padding: 16px 22px; display: grid; gap: 16px; }
  section.pool { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  section.pool h2 { margin: 0 0 4px; font-size: 16px; }
  section.pool h2 small { font-weight: 400; color: var(--muted); margin-left: 8px; }
  .summary { display: flex; flex-wrap: wrap; gap: 18px; margin: 6px 0 10px; color: var(--muted); }
  .summary b { color: var(--fg); font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; font-variant-numeric: tabular-nums; }
  th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; }
  tr.ejected td { background: #fdecea; }
  .state { font-weight: 600; }
  .state.live { color: var(--ok); }
  .state.ejected { color: var(--bad); }
  .nonzero { color: var(--warn); font-weight: 600; }
  #error { color: var(--bad); padding: 0 22px; }
  footer { color: var(--muted); padding: 4px 22px 18px; font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>nutmeg</h1>
  <span id="health" class="badge">…</span>
  <span id="meta">connecting…</span>
</header>
<div id="error"></div>
<main id="pools"></main>
<footer>Polls <code>/status.json</code> every second. Rates are per second over the last interval; latency is from
queueing a request on a server connection to its reply. Also: <a href="/metrics">/metrics</a>,
<a href="/healthz">/healthz</a>, <a href="/stats.json">/stats.json</a>.</footer>
<script>
(function () {
  'use strict';
  var prev = null;
  var poolsEl = document.getElementById('pools');
  var healthEl = document.getElementById('health');
  var metaEl = document.getElementById('meta');
  var errorEl = document.getElementById('error');

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtRate(v) {
    if (v === null) return '–';
    return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function fmtUs(us) {
    if (us === null) return '–';
    if (us === Infinity) return '> 10 s';
    if (us < 1000) return us.toFixed(0) + ' µs';
    if (us < 1e6) return (us / 1000).toFixed(us < 10000 ? 2 : 1) + ' ms';
    return (us / 1e6).toFixed(2) + ' s';
  }
  function fmtDuration(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
  }
  function rate(cur, old, dt) {
    if (old === undefined || old === null || dt <= 0) return null;
    return Math.max(0, cur - old) / dt;
  }
  /** Upper bound of the bucket holding quantile q of the replies of the interval. */
  function quantile(bounds, cur, old, q) {
    if (!old) return null;
    var total = 0, i, d = [];
    for (i = 0; i < cur.length; i++) { d.push(Math.max(0, cur[i] - (old[i] || 0))); total += d[i]; }
    if (total === 0) return null;
    var acc = 0, target = q * total;
    for (i = 0; i < d.length; i++) { acc += d[i]; if (acc >= target) return i < bounds.length ? bounds[i] : Infinity; }
    return Infinity;
  }
  function index(sample) {
    var m = {};
    if (!sample) return m;
    sample.pools.forEach(function (p) {
      m[p.name] = p;
      p.servers.forEach(function (s) { m[p.name + '/' + s.name] = s; });
    });
    return m;
  }
  function cell(tr, text, cls, value) {
    var td = el('td', cls, text);
    if (value !== undefined) td.setAttribute('data-value', value === null ? '' : String(value));
    tr.appendChild(td);
    return td;
  }
  function stat(parent, label, value, cls, dataValue) {
    var span = el('span', cls);
    span.appendChild(document.createTextNode(label + ' '));
    var b = el('b', null, value);
    if (dataValue !== undefined) b.setAttribute('data-value', dataValue === null ? '' : String(dataValue));
    span.appendChild(b);
    parent.appendChild(span);
  }

  function render(s) {
    var dt = prev ? (s.time - prev.time) / 1000 : 0;
    var old = index(prev);
    healthEl.textContent = s.healthy ? 'healthy' : 'unhealthy: ' + s.reason;
    healthEl.className = 'badge ' + (s.healthy ? 'ok' : 'bad');
    metaEl.textContent = 'v' + s.version + ' · pid ' + s.pid + ' · up ' + fmtDuration(s.uptime) + ' · ' + new Date(s.time).toLocaleTimeString();
    var frag = document.createDocumentFragment();
    s.pools.forEach(function (p) {
      var op = old[p.name];
      var sec = el('section', 'pool');
      sec.setAttribute('data-pool', p.name);
      var h2 = el('h2', null, p.name);
      var small = el('small', null, (p.listen === 'none' ? '' : p.listen + ' · ') + (p.redis ? 'redis' : 'memcache') + (p.autoEject ? ' · auto-eject' : ''));
      if (p.tlsListen) small.appendChild(el('span', 'tls-listen', ' · TLS ' + p.tlsListen));
      if (p.serverTls) small.appendChild(el('span', 'server-tls', ' · TLS to servers'));
      h2.appendChild(small);
      sec.appendChild(h2);

      var reqRate = null, latSum = 0, latCount = 0, live = 0;
      var table = el('table');
      var head = el('tr');
      ['server', 'address', 'state', 'conns', 'req/s', 'conn err/s', 'avg latency', 'p99', 'in / out queue', 'requests', 'responses']
        .forEach(function (t) { head.appendChild(el('th', null, t)); });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el('tbody');
      p.servers.forEach(function (srv) {
        var os = old[p.name + '/' + srv.name];
        var r = rate(srv.requests, os && os.requests, dt);
        var er = rate(srv.errors, os && os.errors, dt);
        if (r !== null) reqRate = (reqRate || 0) + r;
        var count = 0, oldCount = 0, i;
        for (i = 0; i < srv.latencyBuckets.length; i++) { count += srv.latencyBuckets[i]; if (os) oldCount += os.latencyBuckets[i] || 0; }
        var dCount = os ? count - oldCount : 0;
        var dSum = os ? srv.latencySumUs - os.latencySumUs : 0;
        latSum += dSum; latCount += dCount;
        if (!srv.ejected) live++;
        var tr = el('tr', srv.ejected ? 'ejected' : 'live');
        tr.setAttribute('data-server', p.name + '/' + srv.name);
        tr.setAttribute('data-state', srv.ejected ? 'ejected' : 'live');
        cell(tr, srv.name, 'name');
        cell(tr, srv.address + (p.serverTls ? ' (TLS)' : ''), 'address');
        if (p.serverTls) tr.setAttribute('data-tls', '1');
        var f = srv.follow, stateText = srv.ejected ? 'ejected (retry in ' + Math.ceil(srv.retryInMs / 1000) + ' s)' : 'live';
        if (f) {
          tr.setAttribute('data-role', f.role);
          stateText = f.role + (f.lastSwitch ? ' · switched ' + new Date(f.lastSwitchAt).toLocaleTimeString() + ': ' + f.lastSwitch : '') +
            (f.replicas.length ? ' · reads also on ' + f.replicas.join(', ') : '');
        }
        var cl = srv.cluster;
        if (cl) {
          tr.setAttribute('data-role', cl.role);
          stateText = cl.role + (cl.slots ? ' · slots ' + cl.slots : '');
        }
        cell(tr, stateText, 'state ' + (srv.ejected || (f && f.role !== 'master') ? 'ejected' : 'live'));
        cell(tr, srv.connections, 'conns');
        cell(tr, fmtRate(r), 'req-rate', r);
        cell(tr, fmtRate(er), 'err-rate' + (er ? ' nonzero' : ''), er);
        cell(tr, fmtUs(dCount > 0 ? dSum / dCount : null), 'latency');
        cell(tr, fmtUs(quantile(s.latencyBoundsUs, srv.latencyBuckets, os && os.latencyBuckets, 0.99)), 'p99');
        cell(tr, srv.inQueue + ' / ' + srv.outQueue, 'queues');
        cell(tr, srv.requests, 'requests');
        cell(tr, srv.responses, 'responses');
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);

      var er = rate(p.forwardError, op && op.forwardError, dt);
      var summary = el('div', 'summary');
      stat(summary, 'servers live', live + ' / ' + p.servers.length, live === 0 && p.servers.length > 0 ? 'nonzero' : null);
      if (p.slotsServed >= 0) stat(summary, 'slots served', p.slotsServed + ' / 16384', p.slotsServed < 16384 ? 'nonzero' : null);
      var sf = p.servers.length && p.servers[0].follow;
      if (sf) stat(summary, 'sentinels connected', sf.sentinels, sf.sentinels === 0 ? 'nonzero' : null);
      stat(summary, 'clients', p.clientConnections);
      stat(summary, 'req/s', fmtRate(reqRate), 'req-rate', reqRate);
      stat(summary, 'error replies/s', fmtRate(er), 'err-rate' + (er ? ' nonzero' : ''), er);
      stat(summary, 'avg latency', fmtUs(latCount > 0 ? latSum / latCount : null));
      stat(summary, 'ejections', p.serverEjects);
      stat(summary, 'forward errors', p.forwardError);
      sec.appendChild(summary);
      if (p.tlsListen || p.serverTls) {
        var tlsLine = el('div', 'summary tls');
        if (p.tlsListen) stat(tlsLine, 'client TLS handshakes refused', p.clientTlsFailures, 'tls-failures' + (p.clientTlsFailures ? ' nonzero' : ''), p.clientTlsFailures);
        if (p.serverTls) stat(tlsLine, 'server TLS handshakes failed', p.serverTlsFailures, 'server-tls-failures' + (p.serverTlsFailures ? ' nonzero' : ''), p.serverTlsFailures);
        sec.appendChild(tlsLine);
      }
      var rt = p.routes;
      if (rt && (rt.failover || rt.mirrorTo.length || rt.warmupFrom)) {
        var routes = el('div', 'summary routes');
        if (rt.failover) stat(routes, 'failover to ' + rt.failover + ':', p.failoverRequests, 'failover-requests', p.failoverRequests);
        if (rt.mirrorTo.length) {
          stat(routes, 'mirrored to ' + rt.mirrorTo.join(', ') + ':', p.mirrorRequests, 'mirror-requests', p.mirrorRequests);
          stat(routes, 'mirror errors', p.mirrorErrors, 'mirror-errors' + (p.mirrorErrors ? ' nonzero' : ''), p.mirrorErrors);
          stat(routes, 'dropped', p.mirrorDropped, 'mirror-dropped' + (p.mirrorDropped ? ' nonzero' : ''), p.mirrorDropped);
        }
        if (rt.warmupFrom) stat(routes, 'warmed from ' + rt.warmupFrom + ':', p.warmupHits, 'warmup-hits', p.warmupHits);
        sec.appendChild(routes);
      }
      sec.appendChild(table);
      frag.appendChild(sec);
    });
    poolsEl.replaceChildren(frag);
    document.body.setAttribute('data-samples', String((Number(document.body.getAttribute('data-samples')) || 0) + 1));
    prev = s;
  }

  function poll() {
    fetch('/status.json', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) { errorEl.textContent = ''; render(s); })
      .catch(function (e) {
        errorEl.textContent = 'status unavailable: ' + e.message;
        healthEl.textContent = 'unreachable';
        healthEl.className = 'badge bad';
      })
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>
</body>
</html>
`;
