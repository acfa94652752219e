/**
 * Where a local path really is, for telling whether two destinations are one folder: the
 * path made absolute, with its deepest existing ancestor resolved through every symbolic
 * link (realpath) and the not-yet-created rest appended. So `/backups` and a link to it, or
 * `/mnt/link/hourly` before `hourly` exists, compare equal. Anything that cannot be read
 * (no permission) falls back to the lexical path: this only ever widens what is detected.
 */
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function canonicalPath(path: string): string {
  const absolute = resolve(path);
  const rest: string[] = [];
  for (let at = absolute; ; ) {
    try {
      return join(realpathSync.native(at), ...rest.reverse());
    } catch {
      const parent = dirname(at);
      if (parent === at) return absolute;
      rest.push(at.slice(parent.length).replace(/^[/\\]+/, ''));
      at = parent;
    }
  }
}
