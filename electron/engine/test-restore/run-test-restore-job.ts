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
 *   integrity_check  SQLite: PRAGMA integrity_check says ok
 *   CHECK TABLE      MariaDB: no table reports an error
 *   tables present   every table the point recorded exists in the restored copy
 *   row counts       every such table has the number of rows recorded at backup time
 *   facts            (instead of the last two) why the point has no facts to compare with
 */
import type { RestoreCheck } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { factsOf } from '../facts/dump-facts.ts';
import { openRepository } from '../repository/index.ts';
import { Location } from '../destinations/index.ts';
import { runRestore, type RestoreJobSpec } from '../restore/run-restore.ts';
import { connectorFor } from '../servers/index.ts';

export interface TestRestoreJobSpec extends Omit<RestoreJobSpec, 'op' | 'options'> {
  op: 'test-restore';
  /** SQLite: the scratch folder (the copy keeps its file name); null for server databases. */
  folder: string | null;
}

export interface TestRestoreJobResult {
  pointId: string;
  checks: RestoreCheck[];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export async function runTestRestoreJob(spec: TestRestoreJobSpec, signal: AbortSignal): Promise<TestRestoreJobResult> {
  const point = await Location.at(spec.location, spec.credentials).use(async (at) => {
    const repo = await openRepository(at.backend(), { key: spec.keyBase64 ? Buffer.from(spec.keyBase64, 'base64') : null, workers: 0 });
    return spec.pointId === 'latest' ? (await repo.listPoints()).at(-1) : await repo.getPoint(spec.pointId);
  });
  if (!point) throw new BackstopError('NOT_FOUND', 'This backup folder holds no restore points yet.');
  const outcome = await runRestore(
    { ...spec, pointId: point.id, op: 'restore', options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: spec.folder } },
    signal,
    () => undefined,
  );
  const checks: RestoreCheck[] = [{ name: 'restore', ok: true, detail: `point ${point.id} restored; ${point.length} bytes verified chunk by chunk and by SHA-256` }];
  const facts = factsOf(point.meta);
  const expected = 'facts' in facts ? Object.keys(facts.facts.tables) : [];
  const connector = connectorFor(spec.server!, { password: spec.password, toolPaths: spec.toolPaths });
  const seen = await connector.inspectRestored(outcome.database, expected, { signal, ...(spec.folder ? { folder: spec.folder } : {}) });
  checks.push(...seen.checks);
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
  return { pointId: point.id, checks };
}
