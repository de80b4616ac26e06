// Start-up, before anything else is loaded: SIGUSR1 and SIGUSR2 get a listener at once. On Node 20 a SIGUSR1
// that finds no JS listener starts the inspector on 127.0.0.1:9229 (a remote debugging hole), and the
// default action of SIGUSR2 ends the process; an operator may send either while nutmeg is still starting.
// They are queued here and replayed once main.ts has its own handlers (takeEarlySignals).

const queued: NodeJS.Signals[] = [];
const hold = (sig: NodeJS.Signals): void => {
  queued.push(sig);
};
process.on('SIGUSR1', hold);
process.on('SIGUSR2', hold);

/** Remove the start-up listeners (call after installing the real ones) and return what arrived meanwhile. */
export function takeEarlySignals(): NodeJS.Signals[] {
  process.off('SIGUSR1', hold);
  process.off('SIGUSR2', hold);
  return queued.splice(0);
}
