/**
 * A private temporary folder for a dump or restore (a snapshot copy, a spooled archive).
 *
 * Contract: `makeTempFolder(prefix, purpose)` creates `<TMPDIR>/<prefix>XXXXXX` (mode 0700)
 * or throws a BackstopError saying which folder could not be used, why, and the fix
 * (TMPDIR), never an unexplained INTERNAL: the temp folder is the OS's (TMPDIR), which a
 * service user may not be allowed to write, or which may be full or missing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackstopError } from '../../shared/result.ts';

export function makeTempFolder(prefix: string, purpose: string, base: string = tmpdir()): string {
  try {
    return mkdtempSync(join(base, prefix));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    const fix = 'Point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy.';
    const where = `${purpose} needs a temporary folder in ${base}, but`;
    switch (code) {
      case 'EACCES':
      case 'EPERM':
        throw new BackstopError('PERMISSION_DENIED', `${where} Backstop may not create one there (${code}). ${fix}`, { cause: e });
      case 'ENOSPC':
      case 'EDQUOT':
        throw new BackstopError('DISK_FULL', `${where} that disk is full (${code}). ${fix}`, { cause: e });
      case 'EROFS':
        throw new BackstopError('READ_ONLY', `${where} it is on a read-only file system (EROFS). ${fix}`, { cause: e });
      case 'ENOENT':
      case 'ENOTDIR':
        throw new BackstopError('VALIDATION', `${where} that folder does not exist (${code}). ${fix}`, { cause: e });
      default:
        throw new BackstopError('STORAGE', `${where} it could not be created (${code}). ${fix}`, { cause: e });
    }
  }
}
