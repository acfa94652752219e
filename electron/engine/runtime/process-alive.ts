/**
 * Whether a process recorded by another (a lock file, a run in history, a temp folder) still
 * runs, so what it left behind can be told from what it is still doing.
 *
 * Contract: `processRunning(pid)` is true while a process with that pid exists on this host
 * (one of another OS user counts: EPERM). `THIS_PROCESS` is this process's identity as others
 * record it; its `token` is new for every process, so a record naming this pid but another
 * token is a previous incarnation's (pid 1 in a restarted container). `processGone(owner)` is
 * true only for an owner on this host that no longer runs: another host's is never judged.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  pid: number;
  host: string;
  token: string;
}

export const THIS_PROCESS: ProcessIdentity = { pid: process.pid, host: hostname(), token: randomUUID() };

export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function processGone(owner: ProcessIdentity): boolean {
  if (owner.host !== THIS_PROCESS.host) return false;
  if (owner.pid === THIS_PROCESS.pid) return owner.token !== THIS_PROCESS.token;
  return !processRunning(owner.pid);
}
