/**
 * One scheduler per data dir (issue #25): the app and `backstop agent` never both run the
 * schedules of the same tasks. The process that schedules holds `<dataDir>/scheduler.lock`.
 *
 * Contract:
 * - The lock file holds `{pid, who, startedAt, host}` and is created atomically (written to
 *   a private temporary file, then hard-linked into place: the link fails when a lock
 *   exists, so two starters never both win).
 * - A lock whose process is gone (no such pid on this host, taken before the machine last
 *   started, or its pid now another process's, started at another time — process-alive.ts —
 *   or unreadable) is stale: the
 *   next starter removes it and takes over. A crash (kill -9) therefore releases the lock
 *   without any clean-up. A lock held by another host (a data dir on shared storage) is
 *   never taken over.
 * - `release()` removes the file only while it is still this process's lock.
 */
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fromEarlierBoot, recordedProcessRunning, THIS_BOOT, THIS_PROCESS } from '../runtime/process-alive.ts';

export type SchedulerWho = 'app' | 'agent';

export interface SchedulerOwner {
  pid: number;
  who: SchedulerWho;
  /** ISO time the owner took the lock. */
  startedAt: string;
  host: string;
  /** The boot it was taken in (Linux boot id); absent where unknown. */
  boot?: string;
  /** When its process started (process-alive.ts): a live pid of a process started at another time is a reused pid; absent where unknown. */
  started?: number;
}

export interface SchedulerLock {
  owner: SchedulerOwner;
  release(): void;
}

export const SCHEDULER_LOCK_FILE = 'scheduler.lock';

const lockPath = (dataDir: string) => join(dataDir, SCHEDULER_LOCK_FILE);
/** The lock files this process holds (a lock naming this pid but not listed here is a previous incarnation's, e.g. pid 1 in a restarted container). */
const heldHere = new Set<string>();

function readLock(path: string): SchedulerOwner | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<SchedulerOwner>;
    if (typeof v.pid === 'number' && (v.who === 'app' || v.who === 'agent') && typeof v.startedAt === 'string' && typeof v.host === 'string') return v as SchedulerOwner;
  } catch {
    // missing or unreadable
  }
  return null;
}

function isStale(path: string, o: SchedulerOwner | null): boolean {
  if (!o) return true;
  if (o.host !== hostname()) return false;
  if (fromEarlierBoot(o.boot)) return true;
  return o.pid === process.pid ? !heldHere.has(path) : !recordedProcessRunning(o.pid, typeof o.started === 'number' ? o.started : undefined);
}

/** Who holds the lock now (null: nobody, or a stale lock of a process that is gone). */
export function schedulerOwner(dataDir: string): SchedulerOwner | null {
  const path = lockPath(dataDir);
  const o = readLock(path);
  return o && !isStale(path, o) ? o : null;
}

/** Takes the lock, or returns who holds it. */
export function acquireSchedulerLock(dataDir: string, who: SchedulerWho, now: () => Date = () => new Date()): { lock: SchedulerLock } | { heldBy: SchedulerOwner } {
  const path = lockPath(dataDir);
  const owner: SchedulerOwner = {
    pid: process.pid,
    who,
    startedAt: now().toISOString(),
    host: hostname(),
    ...(THIS_BOOT ? { boot: THIS_BOOT } : {}),
    ...(THIS_PROCESS.started !== undefined ? { started: THIS_PROCESS.started } : {}),
  };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(owner) + '\n', { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, path);
        heldHere.add(path);
        return {
          lock: {
            owner,
            release() {
              const current = readLock(path);
              if (current && current.pid === owner.pid && current.startedAt === owner.startedAt) rmSync(path, { force: true });
              heldHere.delete(path);
            },
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const held = readLock(path);
      if (held && !isStale(path, held)) return { heldBy: held };
      rmSync(path, { force: true }); // stale: its process is gone
    }
    const held = readLock(path);
    return held ? { heldBy: held } : acquireSchedulerLock(dataDir, who, now);
  } finally {
    rmSync(tmp, { force: true });
  }
}
