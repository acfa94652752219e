/**
 * Maps low-level storage failures to BackstopErrors with a message a database
 * administrator can act on. Used by backends only.
 */
import { BackstopError } from '../../shared/result.ts';

export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

export function storageError(op: string, key: string, location: string, e: unknown): BackstopError {
  if (e instanceof BackstopError) return e;
  const code = errnoCode(e);
  const what = `${op} of "${key}" in ${location}`;
  switch (code) {
    case 'ENOENT':
      return new BackstopError('NOT_FOUND', `${what} failed: the object does not exist.`, { cause: e });
    case 'ENOSPC':
    case 'EDQUOT':
      return new BackstopError('DISK_FULL', `${what} failed: no space left on the destination (${code}). Free space and try again.`, { cause: e });
    case 'EROFS':
      return new BackstopError('READ_ONLY', `${what} failed: the destination is on a read-only file system (EROFS). Remount it read-write or choose another destination; existing backups there are untouched.`, {
        cause: e,
      });
    case 'EACCES':
    case 'EPERM':
      return new BackstopError('PERMISSION_DENIED', `${what} failed: permission denied (${code}). Check that the user Backstop runs as may write to this folder (owner and mode).`, { cause: e });
    default:
      return new BackstopError('STORAGE', `${what} failed${code ? ` (${code})` : ''}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
