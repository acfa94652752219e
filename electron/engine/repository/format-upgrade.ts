/**
 * Upgrading a format-1 repository to format 2 (docs/FORMAT.md §2a), so repositories
 * created before delta chunks get them too.
 *
 * Contract: `upgradeToFormat2(ctx)` re-reads `backstop.repo`; if it already says version 2
 * (another writer upgraded it) only `ctx.formatVersion` is updated. Otherwise the same
 * header bytes with the version field set to 2 and the checksum recomputed are put in one
 * atomic put (the body — repository id, key check, algorithms — is byte-for-byte
 * unchanged), then `ctx.formatVersion` becomes 2. Nothing else is written: no existing
 * point, pack or manifest is touched, and format-1 manifests are valid in a format-2
 * repository. So at every moment the repository is either format 1 (readable by every
 * build) or format 2 (readable by format-2 builds; a format-1 build says FORMAT_TOO_NEW).
 *
 * Best effort: a failure leaves `ctx.formatVersion` at 1 and returns the error (the caller
 * — a full backup, the safe point where a new chain starts — goes on in format 1 and a later
 * full tries again). A put that failed after all reached the destination leaves a format-2
 * header over format-1 writes, which is valid too. A header that no longer matches the one
 * the repository was opened with is left alone.
 */
import { createHash } from 'node:crypto';
import { isBackstopError, type BackstopError } from '../../shared/result.ts';
import type { RepoContext } from './context.ts';
import { decodeVersionedHeader } from './header.ts';
import { HEADER_KEY } from './layout.ts';

export const UPGRADED_FORMAT_VERSION = 2;

export async function upgradeToFormat2(ctx: RepoContext): Promise<BackstopError | null> {
  if (ctx.formatVersion >= UPGRADED_FORMAT_VERSION) return null;
  const { backend } = ctx;
  try {
    const bytes = await backend.get(HEADER_KEY);
    const { version, body } = decodeVersionedHeader(bytes, backend.location);
    if (body.repositoryId !== ctx.header.repositoryId) return null;
    if (version < UPGRADED_FORMAT_VERSION) {
      const n = bytes.readUInt32LE(10);
      const next = Buffer.from(bytes);
      next.writeUInt16LE(UPGRADED_FORMAT_VERSION, 8);
      createHash('sha256').update(next.subarray(0, 14 + n)).digest().copy(next, 14 + n);
      await backend.put(HEADER_KEY, next);
    }
    ctx.formatVersion = UPGRADED_FORMAT_VERSION;
    return null;
  } catch (e) {
    if (isBackstopError(e)) return e;
    throw e;
  }
}
