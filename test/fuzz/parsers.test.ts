// Direct parser fuzzing: random bytes, protocol-alphabet noise and mutated valid messages, fed whole
// and in random splits to the four parsers (redis/memcache × request/reply). No throw, no loop,
// no OK with an offset outside the message, AGAIN always asks for more, and whole == split.
import { test } from 'node:test';
import fc from 'fast-check';
import { CASES, property } from './harness';

const RUNS = 2000;

for (const c of CASES) {
  test(`${c.target.name} parser: ${RUNS} random/mutated inputs in random splits`, () => {
    fc.assert(property(c), { numRuns: RUNS, includeErrorInReport: true });
  });
}
