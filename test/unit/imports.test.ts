// The source tree has no import circle (wave2 §0 item 6): every `import` and `import type` of src/ is read
// and the module graph is checked for cycles. The data-path seams are narrow interfaces (forward/protocol.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.join(__dirname, '..', '..', '..', 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Module (path without .ts, relative to src) to the src modules it imports, type-only imports included. */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  const re = /^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'|require\('(\.[^']+)'\)/gm;
  for (const file of sources(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    const from = path.relative(SRC, file).replace(/\.ts$/, '');
    const deps: string[] = [];
    for (const m of text.matchAll(re)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? '';
      let target = path.relative(SRC, path.resolve(path.dirname(file), spec));
      if (fs.existsSync(path.join(SRC, target, 'index.ts'))) target = path.join(target, 'index');
      deps.push(target);
    }
    g.set(from, deps);
  }
  return g;
}

/** Strongly connected components with more than one module (or a self-import): the import circles. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

test('src/ has no import circle (type-only imports count)', () => {
  const g = graph();
  assert.ok(g.size > 40, `read ${g.size} modules`);
  assert.ok((g.get('server/pool') ?? []).includes('route/table'), 'the graph is read (server/pool imports route/table)');
  assert.deepEqual(cycles(g), []);
});

test('the data-path layers talk through the seams: protocol code imports no connection or pool class', () => {
  const g = graph();
  for (const m of ['forward/redis', 'forward/memcache', 'forward/protocol', 'route/table', 'server/conn', 'client/conn']) {
    const deps = g.get(m) ?? [];
    for (const bad of ['client/conn', 'server/pool', 'server/backend', 'client/listener', 'proxy', 'main']) {
      if (m === bad) continue;
      assert.ok(!deps.includes(bad), `${m} imports ${bad}`);
    }
  }
});

test('the cycle finder finds a circle when there is one', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(cycles(g), [['a', 'b', 'c']]);
});
