/**
 * Opens (or creates) the repository of one database at one destination and decides
 * whether this backup is a full or an incremental, and why.
 *
 * Contract:
 * - An empty or missing folder gets a new repository; a folder with files that is not a
 *   Backstop repository is never written to (NOT_A_BACKUP) — nothing there is touched.
 * - A repository encrypted with another key, or encrypted while the task is not (or the
 *   reverse), is refused with KEY_MISMATCH/KEY_REQUIRED naming the fingerprints: one
 *   folder never mixes keys.
 * - A requested incremental becomes a full, with the reason, when the destination has no
 *   chain of this backup type (first backup there, or the backup type changed) or its
 *   newest chain cannot be read.
 */
import type { BackupType, PointKind } from '../../shared/domain.ts';
import { BackstopError, isBackstopError } from '../../shared/result.ts';
import { initRepository, isRepository, openRepository, type OpenOptions, type Repository } from '../repository/index.ts';
import type { Backend } from '../storage/index.ts';

export interface PreparedDestination {
  repo: Repository;
  kind: PointKind;
  kindReason: string | null;
}

export async function prepareDestination(
  backend: Backend,
  opts: { key: Buffer | null; backupType: BackupType; requestedKind: PointKind; repoOptions?: OpenOptions },
): Promise<PreparedDestination> {
  const repoOptions = { ...opts.repoOptions, key: opts.key };
  if (!(await isRepository(backend))) {
    const existing = await backend.list('');
    if (existing.length > 0) {
      throw new BackstopError(
        'NOT_A_BACKUP',
        `${backend.location} already contains files that Backstop did not write; it will not write a backup there. Move those files or choose another destination.`,
      );
    }
    const repo = await initRepository(backend, repoOptions);
    return { repo, kind: 'full', kindReason: opts.requestedKind === 'incremental' ? 'first backup at this destination' : null };
  }
  let repo: Repository;
  try {
    repo = await openRepository(backend, repoOptions);
  } catch (e) {
    if (isBackstopError(e) && (e.code === 'KEY_MISMATCH' || e.code === 'KEY_REQUIRED')) {
      throw new BackstopError(
        e.code,
        `${e.message} Backstop never mixes keys in one folder: give the task its previous key again, or choose a new destination folder for the new key.`,
      );
    }
    throw e;
  }
  if (opts.requestedKind === 'full') return { repo, kind: 'full', kindReason: null };
  try {
    const chain = await repo.newestChain(opts.backupType);
    if (chain) return { repo, kind: 'incremental', kindReason: null };
    const chains = await repo.chains();
    const reason = chains.length > 0 ? `the backup type changed to ${opts.backupType}` : 'no chain at this destination yet';
    return { repo, kind: 'full', kindReason: reason };
  } catch (e) {
    if (isBackstopError(e) && e.code === 'INTEGRITY') return { repo, kind: 'full', kindReason: 'the newest chain could not be read' };
    throw e;
  }
}
