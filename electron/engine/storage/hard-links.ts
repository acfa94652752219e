/**
 * Which link() failures mean "this file system has no hard links" (FAT, exFAT, some network
 * shares and FUSE file systems). Backstop names a finished temp file by hard-linking it, so a
 * file that took the final name meanwhile makes the link fail (EEXIST) where a rename would
 * silently replace it; on such a file system each caller falls back to a check just before a
 * rename, or an exclusive copy. One list, so every publisher falls back on the same codes.
 */
import { errnoCode } from './errors.ts';

const NO_HARD_LINKS: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV']);

/** True when `e` (a link() failure) says the file system cannot make hard links. */
export function hardLinksUnsupported(e: unknown): boolean {
  return NO_HARD_LINKS.has(errnoCode(e) ?? '');
}
