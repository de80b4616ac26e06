// The one clock and the one timer of the data path: request deadlines are checked by a single
// coarse ticker instead of a setTimeout per request.
//
//   ticker (every TICK_MS) -> now = performance.now() -> each registered check(now)
//   (request deadlines are on the performance.now() clock: monotonic, one read per request)

export const TICK_MS = 10;

type Check = (now: number) => void;
const checks: Check[] = [];
let timer: NodeJS.Timeout | null = null;

/** Register a periodic check (start-up time only; never per request). */
export function onTick(fn: Check): void {
  checks.push(fn);
  if (timer === null) {
    timer = setInterval(() => {
      const t = performance.now();
      for (let i = 0; i < checks.length; i++) (checks[i] as Check)(t);
    }, TICK_MS);
    timer.unref();
  }
}

export function stopTicker(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  checks.length = 0;
}
