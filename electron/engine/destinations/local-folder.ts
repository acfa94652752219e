/**
 * A local destination's root folder, checked and created when a task is saved (the editor
 * asks "create it?" before creating a folder that does not exist).
 *
 * Contract:
 * - `checkLocalFolder(path)`: `{ exists: true }` for an existing directory, `{ exists: false }`
 *   when nothing is there; VALIDATION for a relative path or a path that is a file.
 *   Never creates anything.
 * - `createLocalFolder(path)`: creates the folder and its missing parents (mode 0700);
 *   an existing directory is fine (nothing changes). Refused: a relative path or a file in
 *   the way (VALIDATION), no permission (PERMISSION_DENIED), a read-only file system
 *   (READ_ONLY). Nothing is left behind when it fails.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import { errnoCode } from '../storage/errors.ts';

function assertAbsolute(path: string): void {
  if (!isAbsolute(path)) throw new BackstopError('VALIDATION', `"${path}" is not an absolute path; enter the full path of the folder, e.g. /mnt/backups/backstop.`);
}

export async function checkLocalFolder(path: string): Promise<{ path: string; exists: boolean }> {
  assertAbsolute(path);
  try {
    const s = await stat(path);
    if (!s.isDirectory()) throw new BackstopError('VALIDATION', `"${path}" is a file, not a folder; choose a folder for the backups.`);
    return { path, exists: true };
  } catch (e) {
    if (e instanceof BackstopError) throw e;
    const code = errnoCode(e);
    if (code === 'ENOENT') return { path, exists: false };
    if (code === 'ENOTDIR') throw new BackstopError('VALIDATION', `A part of "${path}" is a file, not a folder; choose another folder.`);
    if (code === 'EACCES' || code === 'EPERM') throw new BackstopError('PERMISSION_DENIED', `Backstop may not look into "${path}" (${code}); choose a folder this user can read and write.`);
    throw new BackstopError('STORAGE', `Could not check "${path}" (${code ?? 'unknown error'}).`, { cause: e });
  }
}

export async function createLocalFolder(path: string): Promise<{ path: string; created: boolean }> {
  const before = await checkLocalFolder(path);
  if (before.exists) return { path, created: false };
  let first: string | undefined;
  try {
    first = await mkdir(path, { recursive: true, mode: 0o700 });
    return { path, created: true };
  } catch (e) {
    if (first) await rm(first, { recursive: true, force: true }).catch(() => {});
    const code = errnoCode(e);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new BackstopError('PERMISSION_DENIED', `Could not create "${path}": permission denied (${code}). Create it yourself with the right owner, or choose a folder this user may write to.`);
    }
    if (code === 'EROFS') throw new BackstopError('READ_ONLY', `Could not create "${path}": the file system is read-only. Choose a folder on a writable disk.`);
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new BackstopError('VALIDATION', `Could not create "${path}": a part of the path is a file, not a folder.`);
    if (code === 'ENOSPC') throw new BackstopError('DISK_FULL', `Could not create "${path}": no space left on the disk.`);
    throw new BackstopError('STORAGE', `Could not create "${path}" (${code ?? 'unknown error'}).`, { cause: e });
  }
}
