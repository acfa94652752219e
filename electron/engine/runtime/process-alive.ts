/**
 * Whether a process recorded by another (a lock file, a run in history, a temp folder) still
 * runs, so what it left behind can be told from what it is still doing.
 *
 * Contract: `processRunning(pid)` is true while a process with that pid exists on this host
 * (one of another OS user counts: EPERM). `THIS_PROCESS` is this process's identity as others
 * record it; its `token` is new for every process, so a record naming this pid but another
 * token is a previous incarnation's (pid 1 in a restarted container). `processGone(owner)` is
 * true only for an owner on this host that no longer runs: another host's is never judged.
 * A record from before the machine last started (Linux: another `boot`, the kernel's boot id)
 * is gone whatever its pid: after a power loss the pid may well belong to another process
 * now, which would otherwise keep a dead run "running" (and its task blocked) or a dead
 * scheduler's lock held. Where the boot id is unknown (macOS, Windows), the pid alone decides.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  pid: number;
  host: string;
  token: string;
  /** The boot it ran in (Linux boot id); absent where unknown. */
  boot?: string;
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** This machine's current boot (Linux boot id), or undefined where the OS does not say. */
export const THIS_BOOT: string | undefined = readBootId();

export const THIS_PROCESS: ProcessIdentity = { pid: process.pid, host: hostname(), token: randomUUID(), ...(THIS_BOOT ? { boot: THIS_BOOT } : {}) };

/** Whether a record made on this host in `boot` dates from an earlier boot (so its process is gone). */
export function fromEarlierBoot(boot: string | undefined): boolean {
  return boot !== undefined && THIS_BOOT !== undefined && boot !== THIS_BOOT;
}

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
  if (fromEarlierBoot(owner.boot)) return true;
  if (owner.pid === THIS_PROCESS.pid) return owner.token !== THIS_PROCESS.token;
  return !processRunning(owner.pid);
}
