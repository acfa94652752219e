/**
 * A private temporary folder for a dump or restore (a snapshot copy, a spooled archive).
 *
 * Contract: `makeTempFolder(prefix, purpose)` creates `<work folder>/<prefix><pid>-XXXXXX` (mode 0700;
 * the work folder is TMPDIR when set, else the data dir's `work/`: runtime/work-folder.ts)
 * or throws a BackstopError saying which folder could not be used, why, and the fix
 * (TMPDIR), never an unexplained INTERNAL: the folder may not be writable by a service user,
 * or may be full or missing. Its own folder
 * is removed by its user; a process killed first (kill -9, a crash, power loss) leaves it — a
 * whole copy of a database — so each call first removes the `<prefix><pid>-` folders in that
 * place whose process no longer runs (best effort; a running one's, any user's, is kept).
 * `tempFullError` words a copy into such a folder that ran out of room later (ENOSPC, EDQUOT,
 * SQLite's SQLITE_FULL, a tool's "No space left on device") the same way, with the size the
 * copy needs; null for other failures. `tempRoomError` refuses a copy of a known size up front
 * (or explains a tool's failure after the fact) when the folder's own file system (statfs of
 * the folder, not of /) has less room than it needs: DISK_FULL naming both sizes; else null.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import { freeBytesAt } from '../storage/local-backend.ts';
import { formatBytes } from '../../shared/format-bytes.ts';
import { processRunning } from '../runtime/process-alive.ts';
import { workFolderBase } from '../runtime/work-folder.ts';

const FIX = 'Point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy.';

/** Removes the `<prefix><pid>-` folders in `base` of processes that no longer run; never throws. */
function sweepDead(prefix: string, base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processRunning(pid)) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // Another user's, or in use: left as it is.
    }
  }
}

export function makeTempFolder(prefix: string, purpose: string, base: string = workFolderBase()): string {
  sweepDead(prefix, base);
  try {
    return mkdtempSync(join(base, `${prefix}${process.pid}-`));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    const where = `${purpose} needs a temporary folder in ${base}, but`;
    switch (code) {
      case 'EACCES':
      case 'EPERM':
        throw new BackstopError('PERMISSION_DENIED', `${where} Backstop may not create one there (${code}). ${FIX}`, { cause: e });
      case 'ENOSPC':
      case 'EDQUOT':
        throw new BackstopError('DISK_FULL', `${where} that disk is full (${code}). ${FIX}`, { cause: e });
      case 'EROFS':
        throw new BackstopError('READ_ONLY', `${where} it is on a read-only file system (EROFS). ${FIX}`, { cause: e });
      case 'ENOENT':
        throw new BackstopError('VALIDATION', `${where} that folder does not exist (${code}). ${FIX}`, { cause: e });
      case 'ENOTDIR':
        throw new BackstopError('VALIDATION', `${where} a file is there, not a folder (${code}). Move that file away, or point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy.`, { cause: e });
      default:
        throw new BackstopError('STORAGE', `${where} it could not be created (${code}). ${FIX}`, { cause: e });
    }
  }
}

/** What a full disk (or quota) looks like in an error's code or message. */
export const FULL = /ENOSPC|EDQUOT|SQLITE_FULL|database or disk is full|no space left on device|disk quota exceeded/i;

/** `folder`: the temporary folder makeTempFolder made; `bytes`: what the copy needs. */
export function tempFullError(purpose: string, folder: string, bytes: number, e: unknown): BackstopError | null {
  const text = e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` : String(e);
  if (!FULL.test(text)) return null;
  const detail = e instanceof Error ? e.message : String(e);
  return new BackstopError('DISK_FULL', `${purpose} needs room for a copy of about ${formatBytes(bytes)} in a temporary folder in ${dirname(folder)}, but that disk is full (${detail}). ${FIX}`, { cause: e });
}

/** `folder`: the temporary folder makeTempFolder made; `bytes`: what the copy still needs there. */
export function tempRoomError(purpose: string, folder: string, bytes: number): BackstopError | null {
  const free = freeBytesAt(folder);
  if (free === null || free >= bytes) return null;
  return new BackstopError('DISK_FULL', `${purpose} needs room for a copy of about ${formatBytes(bytes)} in a temporary folder in ${dirname(folder)}, but only ${formatBytes(free)} is free there. ${FIX}`);
}
