// What the OS says about a process, for the operations tests (daemon mode, workers): liveness and /proc/<pid>/stat.
import * as fs from 'node:fs';

/** The process exists (signal 0 is accepted). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name, which may hold spaces and parentheses:
 * [0] state, [1] ppid, [2] pgrp, [3] session, ... Throws when the process is gone.
 */
export function procStat(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Pids whose parent is `ppid`, ascending. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(procStat(Number(d))[1]) === ppid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out.sort((a, b) => a - b);
}
