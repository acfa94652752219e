/**
 * One database's test restore, in the current thread (the worker entry
 * worker/repository-job.ts runs it off the main thread): restore a point into the scratch
 * target (runRestore: every chunk and the stream's SHA-256 verified on the way), inspect
 * the restored copy through its connector (engine integrity checks, tables, row counts)
 * and compare with the facts the point recorded at backup time. Removing the scratch
 * target is the caller's job (it must happen even when this thread dies).
 *
 * Checks, each {name, ok, detail}:
 *   restore          the point restored completely and its bytes verified
 *   integrity_check  SQLite: PRAGMA integrity_check says ok — of the copy as backed up: one the
 *                    restore had to repair (an index rebuilt, RestoreReport.repaired) fails
 *   CHECK TABLE      MariaDB: no table reports an error
 *   tables present   every table the point recorded exists in the restored copy
 *   row counts       every such table has the number of rows recorded at backup time
 *   large objects    PostgreSQL: as many large objects as the dump held (points recording them)
 *   facts            (instead of the last two) why the point has no facts to compare with
 *
 * A PostgreSQL cluster snapshot (`sourceDatabase` set): the database is recovered out of the
 * point's base backup + WAL in a temporary cluster and restored into the scratch database
 * (pitr.ts restoreDatabaseAt, through runRestore); its base backup records no table list or
 * row counts, so the checks are "restorable and readable":
 *   restore          the database came back out of the cluster snapshot (every chunk verified)
 *   tables readable  the scratch copy's tables are listed and SELECT count(*) runs on each
 *   facts            why tables and row counts are not compared with the backup
 */
import type { RestoreCheck } from '../../shared/domain.ts';
import { BackstopError, toFailure } from '../../shared/result.ts';
import { factsOf } from '../facts/dump-facts.ts';
import { openRepository } from '../repository/index.ts';
import { Location } from '../destinations/index.ts';
import { runRestore, type RestoreJobSpec } from '../restore/run-restore.ts';
import { connectorFor } from '../servers/index.ts';
import { plural } from '../../shared/plural.ts';

export interface TestRestoreJobSpec extends Omit<RestoreJobSpec, 'op' | 'options'> {
  op: 'test-restore';
  /** SQLite: the scratch folder (the copy keeps its file name); null for server databases. */
  folder: string | null;
}

export interface TestRestoreJobResult {
  pointId: string;
  checks: RestoreCheck[];
}


export async function runTestRestoreJob(spec: TestRestoreJobSpec, signal: AbortSignal): Promise<TestRestoreJobResult> {
  const point = await Location.at(spec.location, spec.credentials).use(async (at) => {
    const repo = await openRepository(at.backend(), { key: spec.keyBase64 ? Buffer.from(spec.keyBase64, 'base64') : null, workers: 0 });
    return spec.pointId === 'latest' ? await repo.latestPoint(new Date()) : await repo.getPoint(spec.pointId);
  });
  if (!point) throw new BackstopError('NOT_FOUND', 'This backup folder holds no restore points yet.');
  const outcome = await runRestore(
    { ...spec, pointId: point.id, op: 'restore', options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: spec.folder } },
    signal,
    () => undefined,
  );
  if (spec.sourceDatabase) return { pointId: point.id, checks: await clusterChecks(spec, point.id, outcome.database, signal) };
  const checks: RestoreCheck[] = [{ name: 'restore', ok: true, detail: `point ${point.id} restored; ${point.length} bytes verified chunk by chunk and by SHA-256` }];
  const facts = factsOf(point.meta);
  const expected = 'facts' in facts ? Object.keys(facts.facts.tables) : [];
  const connector = connectorFor(spec.server!, { password: spec.password, toolPaths: spec.toolPaths });
  const seen = await connector.inspectRestored(outcome.database, expected, { signal, ...(spec.folder ? { folder: spec.folder } : {}) });
  checks.push(...seen.checks);
  // The restore repaired damage the backup's copy held (SQLite: an index rebuilt): the copy as backed up fails its integrity check.
  if (outcome.repaired?.length) {
    const detail = outcome.repaired.join('; ');
    const at = checks.findIndex((c) => c.name === 'integrity_check');
    if (at >= 0) checks[at] = { name: 'integrity_check', ok: false, detail };
    else checks.push({ name: 'integrity_check', ok: false, detail });
  }
  if (!('facts' in facts)) {
    checks.push({ name: 'facts', ok: true, detail: `tables and row counts not compared: ${facts.unavailable}` });
    return { pointId: point.id, checks };
  }
  const present = new Set(seen.tables);
  const missing = expected.filter((t) => !present.has(t));
  checks.push(
    missing.length === 0
      ? { name: 'tables present', ok: true, detail: `all ${plural(expected.length, 'table')} recorded at backup time are present` }
      : { name: 'tables present', ok: false, detail: `missing after the restore: ${missing.map((t) => `table ${t}`).join(', ')}` },
  );
  const differ = expected.filter((t) => present.has(t) && seen.counts[t] !== facts.facts.tables[t]);
  const rows = expected.reduce((n, t) => n + (facts.facts.tables[t] ?? 0), 0);
  checks.push(
    differ.length === 0
      ? { name: 'row counts', ok: true, detail: `${plural(rows, 'row')} in ${plural(expected.length - missing.length, 'table')}, as recorded at backup time` }
      : {
          name: 'row counts',
          ok: false,
          detail: differ.map((t) => `table ${t}: ${plural(facts.facts.tables[t]!, 'row')} recorded at backup time, ${plural(seen.counts[t] ?? 0, 'row')} restored`).join('; '),
        },
  );
  const lo = facts.facts.largeObjects;
  if (lo !== undefined && seen.largeObjects !== undefined) {
    checks.push(
      lo === seen.largeObjects
        ? { name: 'large objects', ok: true, detail: `${plural(lo, 'large object')}, as recorded at backup time` }
        : { name: 'large objects', ok: false, detail: `${plural(lo, 'large object')} recorded at backup time, ${plural(seen.largeObjects, 'large object')} restored` },
    );
  }
  return { pointId: point.id, checks };
}

/** The checks of a database recovered out of a cluster snapshot (see the header). */
async function clusterChecks(spec: TestRestoreJobSpec, pointId: string, database: string, signal: AbortSignal): Promise<RestoreCheck[]> {
  const checks: RestoreCheck[] = [
    { name: 'restore', ok: true, detail: `database "${spec.sourceDatabase}" recovered from cluster snapshot point ${pointId} (base backup and WAL verified chunk by chunk and by SHA-256) and restored` },
  ];
  const connector = connectorFor(spec.server!, { password: spec.password, toolPaths: spec.toolPaths });
  try {
    const { tables } = await connector.inspectRestored(database, [], { signal });
    const { counts } = await connector.inspectRestored(database, tables, { signal });
    const unread = tables.filter((t) => counts[t] === undefined);
    const rows = Object.values(counts).reduce((n, c) => n + c, 0);
    checks.push(
      unread.length === 0
        ? { name: 'tables readable', ok: true, detail: `${plural(tables.length, 'table')} listed; SELECT count(*) ran on each (${plural(rows, 'row')})` }
        : { name: 'tables readable', ok: false, detail: `not counted: ${unread.map((t) => `table ${t}`).join(', ')}` },
    );
  } catch (e) {
    if (signal.aborted) throw e;
    const f = toFailure(e);
    checks.push({ name: 'tables readable', ok: false, detail: `${f.code}: ${f.message}` });
  }
  checks.push({ name: 'facts', ok: true, detail: 'tables and row counts not compared: a cluster snapshot records no per-database table list or row counts; checked restorable and readable' });
  return checks;
}
