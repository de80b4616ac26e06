// ReloadControl: signals that arrive while a reload runs are coalesced into exactly one more; a failed reload
// changes nothing and is logged with the file and the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReloadControl, summaryText } from '../../src/reload';
import type { ReloadSummary } from '../../src/proxy';

const NONE: ReloadSummary = { poolsAdded: 0, poolsRemoved: 0, listenersMoved: 0, serversAdded: 0, serversRemoved: 0, serversMoved: 0, clientsMoved: 0, clientsDrained: 0 };

function confFile(text: string): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nutmeg-rc-')), 'conf.yml');
  fs.writeFileSync(f, text);
  return f;
}

const GOOD = 'alpha:\n  listen: 127.0.0.1:22121\n  servers:\n   - 127.0.0.1:6379:1\n';

test('requests during a reload coalesce into one more run; none are lost', async () => {
  const file = confFile(GOOD);
  let runs = 0;
  let release: (() => void) | null = null;
  const rc = new ReloadControl(file, () => {
    runs++;
    return new Promise((resolve) => (release = () => resolve(NONE)));
  });
  rc.request('USR1');
  for (let i = 0; i < 9; i++) rc.request('USR1');
  assert.equal(runs, 1, 'one reload runs');
  release!();
  await new Promise((r) => setImmediate(r));
  assert.equal(runs, 2, 'the nine requests made exactly one more');
  release!();
  await rc.settled();
  assert.equal(runs, 2);
  assert.equal(rc.generation, 3);
  assert.equal(rc.applied, 2);
  rc.request('USR1');
  release!();
  await rc.settled();
  assert.equal(runs, 3, 'a later request runs again');
});

test('a bad file is rejected before apply; an apply that throws leaves the generation', async () => {
  const file = confFile('alpha:\n  listen: nowhere\n');
  let runs = 0;
  const rc = new ReloadControl(file, () => {
    runs++;
    return Promise.reject(new Error('cannot listen on 127.0.0.1:1: EADDRINUSE'));
  });
  rc.request('USR1');
  await rc.settled();
  assert.equal(runs, 0);
  assert.equal(rc.rejected, 1);
  fs.writeFileSync(file, GOOD);
  rc.request('USR1');
  await rc.settled();
  assert.equal(runs, 1);
  assert.equal(rc.rejected, 2);
  assert.equal(rc.generation, 1);
});

test('summary line names only what changed', () => {
  assert.equal(summaryText(NONE), 'no change to pools, listeners or servers');
  assert.equal(
    summaryText({ ...NONE, poolsAdded: 2, poolsRemoved: 1, listenersMoved: 1, serversAdded: 3, serversRemoved: 1 }),
    '+2 pools, -1 pool, 1 listener moved, 3 servers added, 1 removed',
  );
});
