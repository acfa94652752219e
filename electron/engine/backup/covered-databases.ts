/**
 * Which databases of a MySQL/MariaDB run the stored binary log covers at one destination,
 * decided once per run by the log job (which has just stored the read and holds the log
 * repository open), so the run starts no job — no worker, no repository open, no server
 * connection — for a database whose incremental would store nothing.
 *
 * Contract: a database is covered exactly when its own job would find it covered
 * (log-coverage.ts `coverageIn` on the newest chain of its folder — the readable folder, an
 * earlier encoding's, or the sibling of a changed key — as prepare-destination.ts finds it).
 * Anything else — no repository yet, another key, an unreadable chain, a storage error, a
 * dump of another server than the log's (the task's server setting changed) —
 * is "not covered": the database's job then runs and decides (and reports) as before.
 * Never writes.
 */
import type { Location } from '../destinations/index.ts';
import { isRepository, openRepository, type OpenOptions, type PointSummary, type Repository } from '../repository/index.ts';
import { coverageIn } from './log-coverage.ts';
import type { NewestDumps } from '../retention/prune-log-stream.ts';

/**
 * The newest point of the folder's newest logical chain (the sibling's under a changed key), or
 * null; from `known` (the log prune's look at the same folders this run) when it has the folder.
 */
async function newestDump(folder: Location, key: Buffer | null, repoOptions: OpenOptions, known?: NewestDumps): Promise<PointSummary | null> {
  const newestIn = async (l: Location): Promise<PointSummary | null> => {
    if (known?.has(l.folder)) return known.get(l.folder)!;
    if (!(await isRepository(l.backend()))) return null;
    const repo = await openRepository(l.backend(), { ...repoOptions, key });
    return (await repo.newestChain('logical'))?.newest ?? null;
  };
  return folder.readWithKey(key, newestIn);
}

/** The names in `databases` the log in `logRepo` covers at the destination `root` (`known`: see newestDump). */
export async function coveredDatabases(root: Location, databases: readonly string[], logRepo: Repository, key: Buffer | null, repoOptions: OpenOptions, known?: NewestDumps): Promise<string[]> {
  const covered: string[] = [];
  for (const name of databases) {
    try {
      const folder = await root.database(name);
      const dumped = await folder.use((l) => newestDump(l, key, repoOptions, known));
      if (dumped && (await coverageIn(dumped, logRepo)) === null) covered.push(name);
    } catch {
      // Not covered: the database's own job looks again and reports what it finds.
    }
  }
  return covered;
}
