import { describe, expect, it } from 'vitest';
import type { Run, RunDatabase } from '@shared/domain.ts';
import { databasesOf, dedupRatio, filterRuns, historyQueryFor, mergeNewest, resultsByDatabase, seriesFor, EMPTY_FILTER } from '../../../renderer/src/components/run-stats';
import { cronInWords } from '../../../renderer/src/components/cron-words';
import { formatMs } from '../../../renderer/src/components/format';

function db(database: string, destination: string, over: Partial<RunDatabase> = {}): RunDatabase {
  return {
    database, destination, kind: 'full', kindReason: null, status: 'success', pointId: 'p', bytesRead: 1000, bytesStored: 100,
    startedAt: '2026-03-01T02:00:00.000Z', endedAt: '2026-03-01T02:00:02.000Z', errorCode: null, errorMessage: null, ...over,
  };
}
function run(id: string, startedAt: string, over: Partial<Run> = {}): Run {
  return {
    id, taskId: 't1', taskName: 'T', trigger: 'manual', requestedKind: 'full', status: 'success', startedAt, endedAt: startedAt,
    errorCode: null, errorMessage: null, keyFingerprint: null, databases: [db('a', 'local:/x', { startedAt }), db('b', 'local:/x', { startedAt })], ...over,
  };
}

describe('history helpers', () => {
  const runs = [
    run('1', '2026-03-01T12:00:00.000Z'),
    run('2', '2026-03-05T12:00:00.000Z', { status: 'failed', taskId: 't2', databases: [db('c', 'local:/y', { status: 'failed' })] }),
  ];

  it('filters by task, database, status and day range', () => {
    expect(filterRuns(runs, EMPTY_FILTER).map((r) => r.id)).toEqual(['1', '2']);
    expect(filterRuns(runs, { ...EMPTY_FILTER, taskId: 't2' }).map((r) => r.id)).toEqual(['2']);
    expect(filterRuns(runs, { ...EMPTY_FILTER, database: 'a' }).map((r) => r.id)).toEqual(['1']);
    expect(filterRuns(runs, { ...EMPTY_FILTER, status: 'failed' }).map((r) => r.id)).toEqual(['2']);
    expect(filterRuns(runs, { ...EMPTY_FILTER, from: '2026-03-02' }).map((r) => r.id)).toEqual(['2']);
    expect(filterRuns(runs, { ...EMPTY_FILTER, to: '2026-03-02' }).map((r) => r.id)).toEqual(['1']);
    expect(databasesOf(runs)).toEqual(['a', 'b', 'c']);
  });

  it('groups a run by database with the worst destination status and summed stored bytes', () => {
    const r = run('3', '2026-03-01T00:00:00.000Z', {
      databases: [db('z', 'local:/1'), db('z', 's3://b', { status: 'failed', bytesStored: 0 }), db('y', 'local:/1', { bytesStored: 50 })],
    });
    expect(resultsByDatabase(r).map((x) => [x.database, x.status, x.bytesRead, x.bytesStored, x.destinations.length])).toEqual([
      ['y', 'success', 1000, 50, 1],
      ['z', 'failed', 1000, 100, 2],
    ]);
  });

  it('dedup ratio is read ÷ stored', () => {
    expect(dedupRatio(1000, 100)).toBe('10.0×');
    expect(dedupRatio(1000, 0)).toBe('—');
    expect(dedupRatio(500_000, 1000)).toBe('500×');
  });

  it('chart series: successful backups of one database, oldest first, stored bytes and duration', () => {
    const s = seriesFor([...runs].reverse(), 'a');
    expect(s.stored).toEqual([{ at: '2026-03-01T12:00:00.000Z', value: 100 }]);
    const timed = run('4', '2026-03-02T00:00:00.000Z', {
      databases: [db('a', 'local:/x', { startedAt: '2026-03-02T00:00:00.000Z', endedAt: '2026-03-02T00:00:03.500Z' })],
    });
    expect(seriesFor([timed], 'a').duration).toEqual([{ at: '2026-03-02T00:00:00.000Z', value: 3500 }]);
    expect(seriesFor(runs, 'c')).toEqual({ stored: [], duration: [] });
  });

  it('formats milliseconds', () => {
    expect(formatMs(850)).toBe('850 ms');
    expect(formatMs(12_400)).toBe('12 s');
    expect(formatMs(185_000)).toBe('3m 5s');
    expect(cronInWords('0 2 * * *')).toBe('daily at 02:00');
  });
});

describe('History as an engine query', () => {
  it('turns the filter into the engine query, the "To" day inclusive (local days)', () => {
    expect(historyQueryFor(EMPTY_FILTER)).toEqual({});
    const q = historyQueryFor({ taskId: 't1', kind: 'backup', database: 'Übersicht', status: 'failed', from: '2026-03-01', to: '2026-03-01' });
    expect(q).toEqual({
      taskId: 't1', runKind: 'backup', database: 'Übersicht', status: 'failed',
      since: new Date(2026, 2, 1).toISOString(), before: new Date(2026, 2, 2).toISOString(),
    });
    // A half-typed date is no bound at all (not an error, not a wrong bound).
    expect(historyQueryFor({ ...EMPTY_FILTER, from: '2026-0' })).toEqual({});
  });

  it('merges the newest page fetched again with the older pages already loaded', () => {
    const r = (id: string, day: number) => run(id, `2026-03-${String(day).padStart(2, '0')}T00:00:00.000Z`);
    const loaded = [r('5', 5), r('4', 4), r('3', 3), r('2', 2), r('1', 1)];
    // A new run arrived and run 4 changed: a full page of 3 replaces the top, the older ones stay.
    const head = [r('6', 6), r('5', 5), { ...r('4', 4), status: 'failed' as const }];
    const merged = mergeNewest(head, loaded, 3);
    expect(merged.map((x) => x.id)).toEqual(['6', '5', '4', '3', '2', '1']);
    expect(merged[2]!.status).toBe('failed');
    // A head shorter than a page is everything there is (runs deleted by retention go).
    expect(mergeNewest([r('6', 6)], loaded, 3).map((x) => x.id)).toEqual(['6']);
  });
});
