import { describe, expect, it } from 'vitest';
import type { ActiveRun, DatabaseProgress, Run, RunDatabase } from '@shared/domain.ts';
import { countRun, describeCounts, describeLastRun, describeProgress, progressPercent, runKindLabel } from '../../../renderer/src/components/run-counts';
import { streamDisplayName } from '../../../renderer/src/components/stream-names';
import { formatAge } from '../../../renderer/src/components/format';

function row(database: string, over: Partial<RunDatabase> = {}): RunDatabase {
  return {
    database, destination: 'local:/b', kind: 'full', kindReason: null, status: 'success', pointId: 'p', bytesRead: 10, bytesStored: 5,
    startedAt: '2026-03-01T02:00:00.000Z', endedAt: '2026-03-01T02:00:02.000Z', errorCode: null, errorMessage: null, serverStream: false, ...over,
  };
}
function progress(database: string, over: Partial<DatabaseProgress> = {}): DatabaseProgress {
  return { database, phase: 'queued', bytesRead: 0, expectedBytes: null, destinations: [], serverStream: false, ...over };
}
function active(databases: DatabaseProgress[], over: Partial<ActiveRun> = {}): ActiveRun {
  return { runId: 'r', taskId: 't', taskName: 'T', kind: 'full', startedAt: '2026-03-01T02:00:00.000Z', status: 'running', databases, ...over };
}

describe('stream names', () => {
  it('names the server-level streams and leaves database names alone', () => {
    expect(streamDisplayName('globals.sql')).toBe('Server globals (roles, tablespaces)');
    expect(streamDisplayName('base.tar')).toBe('Whole cluster');
    expect(streamDisplayName('sales')).toBe('sales');
  });
});

describe('counting a run: databases apart from server streams', () => {
  it('counts each database once over its destinations (worst status) and lists streams by name', () => {
    const rows = [
      row('a'), row('a', { destination: 's3://x', status: 'failed' }), row('b'), row('c'),
      row('globals.sql', { serverStream: true }), row('globals.sql', { serverStream: true, destination: 's3://x' }),
    ];
    const c = countRun(rows);
    expect(c.databases).toMatchObject({ success: 2, failed: 1 });
    expect(c.streams).toEqual([{ name: 'globals.sql', status: 'success' }]);
    expect(describeCounts(c)).toBe('2 ok, 1 failed + Server globals (roles, tablespaces)');
  });

  it('a database that happens to be called globals.sql on SQLite is a database', () => {
    expect(describeCounts(countRun([row('globals.sql'), row('x')]))).toBe('2 ok');
  });

  it('a snapshot run is the whole cluster, and says when it failed', () => {
    expect(describeCounts(countRun([row('base.tar', { serverStream: true })]))).toBe('Whole cluster');
    expect(describeCounts(countRun([row('base.tar', { serverStream: true, status: 'failed' })]))).toBe('Whole cluster failed');
    expect(describeCounts(countRun([]))).toBe('no databases');
  });

  it('the task card: started while running, the same counts as History afterwards', () => {
    const base = { runId: 'r', startedAt: 'x', endedAt: null, databasesOk: 0, databasesFailed: 0 };
    expect(describeLastRun({ ...base, status: 'running' }, '9:00')).toBe('started 9:00');
    expect(describeLastRun({ ...base, status: 'success', databasesOk: 3, serverStreams: [{ name: 'globals.sql', status: 'success' }] }, '9:00')).toBe(
      '3 ok + Server globals (roles, tablespaces) · 9:00',
    );
    expect(describeLastRun({ ...base, status: 'partial', databasesOk: 2, databasesFailed: 1 }, '9:00')).toBe('2 ok, 1 failed · 9:00');
  });
});

describe('live progress', () => {
  it('says it is listing databases until it knows them', () => {
    expect(describeProgress(active([]))).toBe('Starting… listing databases');
  });

  it('counts databases done and shows each server stream on its own', () => {
    const run = active([progress('a', { phase: 'done' }), progress('b', { phase: 'dumping' }), progress('globals.sql', { serverStream: true, phase: 'done' })]);
    expect(describeProgress(run)).toBe('1 of 2 databases done + Server globals (roles, tablespaces): done');
    expect(describeProgress(active([progress('base.tar', { serverStream: true, phase: 'dumping' })]))).toBe('Whole cluster: backing up');
  });

  it('a percentage from the expected size, never 100 % before it is done', () => {
    expect(progressPercent(progress('a', { phase: 'dumping', bytesRead: 50, expectedBytes: 200 }))).toBe(25);
    expect(progressPercent(progress('a', { phase: 'dumping', bytesRead: 500, expectedBytes: 200 }))).toBe(99);
    expect(progressPercent(progress('a', { phase: 'dumping', bytesRead: 50 }))).toBeUndefined();
    expect(progressPercent(progress('a', { phase: 'done', bytesRead: 50 }))).toBe(100);
  });
});

describe('the kind a run shows', () => {
  const run = (requestedKind: Run['requestedKind'], databases: RunDatabase[]) => ({ requestedKind, databases });
  it('is the kind that ran, with the request when they differ', () => {
    // A snapshot "Run now ▸ Incremental" at a new destination: the engine took a full.
    expect(runKindLabel(run('incremental', [row('base.tar', { serverStream: true, kind: 'full', kindReason: 'first backup at this destination' })]))).toBe(
      'full (incremental requested)',
    );
    expect(runKindLabel(run('incremental', [row('a', { kind: 'incremental' })]))).toBe('incremental');
    expect(runKindLabel(run('incremental', [row('a', { kind: 'incremental' }), row('b', { kind: 'incremental' }), row('new', { kind: 'full' })]))).toBe('incremental, 1 full');
    expect(runKindLabel(run('full', [row('a')]))).toBe('full');
  });

  it('is the requested kind while nothing ran, or when everything failed', () => {
    expect(runKindLabel(run('incremental', []))).toBe('incremental');
    expect(runKindLabel(run('incremental', [row('a', { kind: 'full', status: 'failed' })]))).toBe('incremental');
  });
});

describe('ages', () => {
  it('says how long ago, in words', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    expect(formatAge('2026-03-01T11:59:40Z', now)).toBe('just now');
    expect(formatAge('2026-03-01T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAge('2026-03-01T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAge('2026-02-28T11:00:00Z', now)).toBe('1 day ago');
  });
});
