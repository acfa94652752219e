/**
 * The moments a backup folder can be restored to, for the window (`restore.inspect`'s
 * `momentRanges`): a PostgreSQL cluster backup with WAL (pitr.ts `reachableRanges`) or a
 * MySQL/MariaDB database folder with the stored binary log beside it
 * (restore-to-moment.ts `momentCandidates`).
 *
 * Contract: never writes. Returns the ranges (ISO UTC, oldest first, duplicates merged)
 * or null when the folder's backups can only be restored to their restore points (SQLite,
 * logical PostgreSQL, MySQL without a stored log, or a chain with no WAL point yet).
 */
import type { BackupLocation } from '../../shared/domain.ts';
import { Location, type Credentials } from '../destinations/index.ts';
import { isRepository, openRepository, remoteCache, type ManifestCache, type Repository } from '../repository/index.ts';
import { isClusterPoint, reachableRanges } from './pitr.ts';
import { logLocationBeside, momentCandidates, type MomentRange } from './restore-to-moment.ts';

function merged(ranges: MomentRange[]): MomentRange[] | null {
  const seen = new Map(ranges.map((r) => [`${r.from}|${r.to}`, { from: r.from, to: r.to }]));
  const out = [...seen.values()].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  return out.length > 0 ? out : null;
}

/** The reachable moments of the opened repository at `location` (see the header). */
export async function momentRangesOf(location: BackupLocation, repo: Repository, key: Buffer | null, credentials: Credentials | null, manifestCache: ManifestCache | null = null): Promise<MomentRange[] | null> {
  const points = await repo.listPoints({ skipDamaged: true });
  if (points.some(isClusterPoint)) return merged(await reachableRanges(repo));
  if (!points.some((p) => typeof p.meta.binlogFile === 'string')) return null;
  return Location.at(logLocationBeside(location), credentials).use(async (log) => {
    const backend = log.backend();
    if (!(await isRepository(backend))) return null;
    const logRepo = await openRepository(backend, { key, workers: 0, ...remoteCache(location, manifestCache) });
    return merged((await momentCandidates(repo, logRepo)).map((c) => c.range));
  });
}
