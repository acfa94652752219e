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
 * scheduler's lock held. Within one boot a pid is reused too (a long-running machine, a busy
 * container): a record also names its process's start time (Linux: `/proc/<pid>/stat` field 22,
 * `started`), and a live pid whose process started at another time is another process, so the
 * record's is gone. Where the start time is unknown (macOS, Windows, a record written before it
 * was kept), the pid and boot alone decide.
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
  /** When the process started, in clock ticks after boot (Linux /proc/<pid>/stat field 22); absent where unknown. */
  started?: number;
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** When process `pid` started (Linux: clock ticks after boot, /proc/<pid>/stat field 22), or undefined where unknown or gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so count from the last ')' (field 3 is the state).
    const n = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

const THIS_START = processStartTime(process.pid);

/** This machine's current boot (Linux boot id), or undefined where the OS does not say. */
export const THIS_BOOT: string | undefined = readBootId();

export const THIS_PROCESS: ProcessIdentity = {
  pid: process.pid,
  host: hostname(),
  token: randomUUID(),
  ...(THIS_BOOT ? { boot: THIS_BOOT } : {}),
  ...(THIS_START !== undefined ? { started: THIS_START } : {}),
};

/** Whether a record made on this host in `boot` dates from an earlier boot (so its process is gone). */
export function fromEarlierBoot(boot: string | undefined): boolean {
  return boot !== undefined && THIS_BOOT !== undefined && boot !== THIS_BOOT;
}

/**
 * Whether the process a record names (`pid`, and its start time when recorded) still runs: a pid
 * now held by a process that started at another time is a reused pid, so the recorded one is gone.
 */
export function recordedProcessRunning(pid: number, started: number | undefined): boolean {
  if (!processRunning(pid)) return false;
  if (started === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === started;
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
  return !recordedProcessRunning(owner.pid, owner.started);
}
