// The one clock and the one timer of the data path: request deadlines are checked by a single
// coarse ticker instead of a setTimeout per request.
//
//   ticker (every TICK_MS) -> now = performance.now() -> each registered check(now)
//   (request deadlines are on the performance.now() clock: monotonic, one read per request)
//
// A registration returns its disposer (a pool removed by a reload stops being checked); the
// timer runs only while something is registered.

export const TICK_MS = 10;

type Check = (now: number) => void;
let checks: Check[] = [];
let timer: NodeJS.Timeout | null = null;

/** Register a periodic check (never per request); the returned function removes it. */
export function onTick(fn: Check): () => void {
  checks.push(fn);
  if (timer === null) {
    timer = setInterval(() => {
      const t = performance.now();
      const list = checks; // a check may (un)register others: this turn runs the list as it was
      for (let i = 0; i < list.length; i++) (list[i] as Check)(t);
    }, TICK_MS);
    timer.unref();
  }
  let live = true;
  return () => {
    if (!live) return;
    live = false;
    checks = checks.filter((c) => c !== fn);
    if (checks.length === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

export function stopTicker(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  checks = [];
}
