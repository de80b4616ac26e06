// Binary upgrade (SIGUSR2, or SIGUSR1 with --reload-mode exec), nginx's USR2 model made safe: the running
// process starts the same command line with the full environment and hands over its listening sockets
// (pools and stats) as inherited fds; once the new process says it is accepting, the old one stops
// accepting, serves its own clients for reload_drain, closes them with a FIN and exits 0.
//
//   old: validate ─► spawn(argv, stdio: [null, out, err, ready pipe, fd, fd, ...], NUTMEG_UPGRADE={ready, fds})
//        ◄── "ready" on the pipe (or exit / timeout: kill it, log why, keep serving)
//        ─► stop accepting ─► serve existing clients ≤ reload_drain ─► FIN ─► exit 0 (pid file left to the new one)
//   new: listen({fd}) on the inherited sockets ─► write pid file ─► "ready" ─► close the pipe (no channel stays open)

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export const UPGRADE_ENV = 'NUTMEG_UPGRADE';
/** How long the old process waits for the new one to accept before giving up on the upgrade. */
export const UPGRADE_READY_MS = 10000;

interface UpgradeEnv {
  ready: number;
  fds: Record<string, number>;
}

/** In the new process: the inherited sockets and the readiness pipe, or null when not started by an upgrade. */
export function inheritedFromEnv(): { fds: Map<string, number>; ready: number } | null {
  const raw = process.env[UPGRADE_ENV];
  if (raw === undefined) return null;
  delete process.env[UPGRADE_ENV];
  try {
    const v = JSON.parse(raw) as UpgradeEnv;
    return { fds: new Map(Object.entries(v.fds)), ready: v.ready };
  } catch {
    return null;
  }
}

/** In the new process, once accepting: tell the old one, and close the pipe (no channel stays open). */
export function signalReady(readyFd: number): void {
  try {
    fs.writeSync(readyFd, `ready ${process.pid}\n`);
  } catch {
    // the old process is gone: nothing to tell
  }
  try {
    fs.closeSync(readyFd);
  } catch {
    // already closed
  }
}

/**
 * In the old process: start the new one with `fds` (listen key ─► fd) and wait until it accepts. Resolves with
 * the child; rejects with the reason (the child is killed) when it exits or stays silent for UPGRADE_READY_MS.
 */
export function spawnUpgrade(script: string, argv: readonly string[], fds: ReadonlyMap<string, number>): Promise<ChildProcess> {
  const keys = [...fds.keys()];
  const stdio: ('ignore' | 'inherit' | 'pipe' | number)[] = ['ignore', 'inherit', 'inherit', 'pipe'];
  const map: Record<string, number> = {};
  for (const k of keys) {
    map[k] = stdio.length;
    stdio.push(fds.get(k) as number);
  }
  const env = { ...process.env, [UPGRADE_ENV]: JSON.stringify({ ready: 3, fds: map } satisfies UpgradeEnv) };
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], { detached: true, stdio, env, cwd: process.cwd() });
  return new Promise((resolve, reject) => {
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        child.kill('SIGKILL');
      } catch {
        // gone
      }
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`the new process (pid ${child.pid ?? -1}) was not accepting within ${UPGRADE_READY_MS} ms`), UPGRADE_READY_MS);
    child.once('error', (e) => fail(`cannot start the new process: ${e.message}`));
    child.once('exit', (code, sig) => fail(`the new process (pid ${child.pid ?? -1}) exited with ${sig !== null ? `signal ${sig}` : `code ${code ?? -1}`} before accepting`));
    let got = '';
    pipe?.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!got.includes('\n') || settled) return;
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.unref();
      (pipe as unknown as { destroy(): void }).destroy();
      resolve(child);
    });
    pipe?.on('error', () => {});
  });
}
