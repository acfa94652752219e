/**
 * Backup work yields the CPU to the app's UI: on Linux a thread has its own nice value,
 * so a job worker (or a dump tool child) lowers its own priority. Elsewhere the call
 * would lower the whole app, so it is skipped. Never fails the caller.
 */
import { constants, setPriority } from 'node:os';

/** Lowers the calling thread's priority (Linux only). */
export function lowerThisThreadPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    setPriority(0, constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    /* not permitted or not supported: run at normal priority */
  }
}

/** Lowers a child process's priority (all platforms: it is a separate process). */
export function lowerProcessPriority(pid: number | undefined): void {
  if (!pid) return;
  try {
    setPriority(pid, constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    /* the process may already have exited */
  }
}
