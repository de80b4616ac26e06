// GC flags per V8 major (src/gc-tuning.ts): the mapping, and that the running V8 knows the flags it gets.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gcFlagsFor } from '../../src/gc-tuning';

test('V8 11 and 12 (Node 20, 22) widen the old generation; V8 13+ (Node 24) uses percentage triggers', () => {
  assert.deepEqual(gcFlagsFor('10.2.154.26-node.26'), []);
  assert.deepEqual(gcFlagsFor('11.3.244.8-node.33'), ['--heap-growing-percent=400']);
  assert.deepEqual(gcFlagsFor('12.4.254.21-node.57'), ['--heap-growing-percent=400']);
  assert.deepEqual(gcFlagsFor('13.6.233.17-node.40'), ['--incremental-marking-soft-trigger=80', '--incremental-marking-hard-trigger=90']);
  assert.deepEqual(gcFlagsFor('14.1.1'), gcFlagsFor('13.6.0'));
});

test('every flag chosen for this V8 is one it lists in --v8-options', () => {
  const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  for (const f of gcFlagsFor(process.versions.v8)) {
    const name = f.replace(/=.*$/, '');
    assert.ok(options.includes(`  ${name} `), `${name} is unknown to V8 ${process.versions.v8}`);
  }
});
