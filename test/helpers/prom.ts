// A tiny Prometheus text-format parser (exposition format 0.0.4) for the /metrics tests (ops, workers).
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    assert.ok(eq > i, `label name at ${i} in {${text}}`);
    const name = text.slice(i, eq).trim();
    assert.match(name, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
    assert.equal(text[eq + 1], '"', `quoted label value in {${text}}`);
    let j = eq + 2;
    let value = '';
    while (j < text.length && text[j] !== '"') {
      if (text[j] === '\\') {
        const c = text[j + 1];
        value += c === 'n' ? '\n' : (c ?? '');
        j += 2;
      } else {
        value += text[j];
        j++;
      }
    }
    assert.equal(text[j], '"', `closing quote in {${text}}`);
    out[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return out;
}

/** A sample value: a number, +Inf, -Inf or NaN (asserted). */
export function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  assert.ok(!Number.isNaN(n), `numeric sample value: ${s}`);
  return n;
}

/** Parses a /metrics body; asserts that every line is well formed (one TYPE line per family). */
export function parseProm(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      if (m[1] === 'TYPE') {
        assert.match(m[3] ?? '', /^(counter|gauge|histogram|summary|untyped)$/);
        assert.ok(!types.has(m[2] ?? ''), `one TYPE line per family: ${m[2]}`);
        types.set(m[2] ?? '', m[3] ?? '');
      } else {
        help.set(m[2] ?? '', m[3] ?? '');
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(m !== null, `sample line: ${line}`);
    samples.push({ name: m[1] ?? '', labels: m[2] === undefined ? {} : parseLabels(m[2]), value: parseValue(m[3] ?? '') });
  }
  return { samples, types, help };
}

/** The samples of `name` whose labels include `labels`. */
export function pick(s: Scrape, name: string, labels: Record<string, string> = {}): Sample[] {
  return s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
}

/** The value of the one sample of `name` with (at least) `labels`; asserts there is exactly one. */
export function one(s: Scrape, name: string, labels: Record<string, string>): number {
  const m = pick(s, name, labels);
  assert.equal(m.length, 1, `exactly one ${name} ${JSON.stringify(labels)}`);
  return (m[0] as Sample).value;
}
