/**
 * A running backup as the window's progress components receive it (`ActiveRun`), for renderer
 * unit tests: `activeRun(databases)` is run r1 of task "nightly", a full started 2026-12-04
 * 02:00 UTC; `progressRow(database, over)` one database's row, queued with nothing read.
 */
import type { ActiveRun, DatabaseProgress } from '@shared/domain.ts';

export function progressRow(database: string, over: Partial<DatabaseProgress> = {}): DatabaseProgress {
  return { database, phase: 'queued', bytesRead: 0, expectedBytes: null, destinations: [], ...over };
}

export function activeRun(databases: DatabaseProgress[]): ActiveRun {
  return { runId: 'r1', taskId: 't1', taskName: 'nightly', kind: 'full', startedAt: '2026-12-04T02:00:00.000Z', status: 'running', databases };
}
