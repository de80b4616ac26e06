#!/usr/bin/env node
// Test runner: finds compiled test files under dist/test and runs them with node:test.
// Usage: node scripts/test.js [substring filter...]
// NUTMEG_TEST_SUITES=unit,fuzz limits the run to those folders of test/ (.ci/run on the other Node majors).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const root = path.join(__dirname, '..', 'dist', 'test');
const filters = process.argv.slice(2);
const suites = (process.env.NUTMEG_TEST_SUITES || '').split(',').filter(Boolean);
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'helpers' && (dir !== root || suites.length === 0 || suites.includes(e.name))) walk(p); }
    else if (e.name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(p);
  }
})(root);
files.sort();
process.stderr.write(`node ${process.version}: ${files.length} test files${suites.length ? ` (${suites.join(', ')})` : ''}\n`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=120000', ...files], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
