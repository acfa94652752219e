import { describe, expect, it } from 'vitest';
import type { ActiveRun, DatabaseProgress, TaskStatus } from '../../../electron/shared/domain.ts';
import { TOOLTIP_MAX, ago, lastResultLines, trayStatus, type TrayTask } from '../../../electron/main/tray-state.ts';

const NOW = new Date('2026-03-10T12:00:00Z');

function db(database: string, phase: DatabaseProgress['phase'], bytesRead = 0, expectedBytes: number | null = null): DatabaseProgress {
  return { database, phase, bytesRead, expectedBytes, destinations: [] };
}
function run(taskName: string, databases: DatabaseProgress[], status: ActiveRun['status'] = 'running'): ActiveRun {
  return { runId: `r-${taskName}`, taskId: `t-${taskName}`, taskName, kind: 'full', startedAt: '2026-03-10T11:00:00Z', status, databases };
}
function status(taskId: string, over: Partial<TaskStatus> = {}, last: Partial<NonNullable<TaskStatus['lastRun']>> | null = null): TaskStatus {
  return {
    taskId,
    nextFull: null,
    nextIncremental: null,
    running: false,
    lastRun: last ? { runId: 'r', status: 'success', startedAt: '2026-03-10T09:00:00Z', endedAt: '2026-03-10T10:00:00Z', databasesOk: 3, databasesFailed: 0, ...last } : null,
    storedBytes: 0,
    staleDatabases: [],
    keyNotExported: false,
    ...over,
  };
}
const tasks: TrayTask[] = [
  { id: 'n', name: 'nightly', enabled: true },
  { id: 'w', name: 'weekly', enabled: true },
  { id: 'off', name: 'old', enabled: false },
];
const base = { activeRuns: [] as ActiveRun[], statuses: [] as TaskStatus[], tasks, paused: false };

describe('trayStatus', () => {
  it('is idle when nothing runs and nothing needs attention', () => {
    expect(trayStatus({ ...base, statuses: [status('n', {}, {}), status('w')] })).toEqual({ state: 'idle', tooltip: 'Backstop — all backups up to date' });
  });

  it('shows running with the databases in progress and the lead database percentage', () => {
    const r = trayStatus({ ...base, activeRuns: [run('nightly', [db('sales', 'dumping', 450, 1000), db('crm', 'preparing'), db('hr', 'done')])] });
    expect(r).toEqual({ state: 'running', tooltip: 'Backing up 2 databases — sales 45%' });
  });

  it('counts databases across runs, mentions queued ones, and falls back to bytes when the size is unknown', () => {
    const r = trayStatus({ ...base, activeRuns: [run('nightly', [db('sales', 'dumping', 2_500_000_000), db('a', 'queued')]), run('weekly', [db('b', 'queued')])] });
    expect(r.tooltip).toBe('Backing up 1 database — sales 2.5 GB read (2 queued)');
  });

  it('never claims 100% while running, and says when a run is only starting or canceling', () => {
    expect(trayStatus({ ...base, activeRuns: [run('nightly', [db('sales', 'dumping', 1200, 1000)])] }).tooltip).toBe('Backing up 1 database — sales 99%');
    expect(trayStatus({ ...base, activeRuns: [run('nightly', [])] }).tooltip).toBe('Starting backup of nightly');
    expect(trayStatus({ ...base, activeRuns: [run('nightly', [db('a', 'dumping')], 'canceling')] }).tooltip).toBe('Canceling nightly…');
  });

  it('a database whose dump was read whole but whose packs still upload (a slow link) is still backing up, said as uploading', () => {
    expect(trayStatus({ ...base, activeRuns: [run('nightly', [db('sales', 'uploading', 1000, 1000), db('hr', 'done')])] }).tooltip).toBe('Backing up 1 database — sales uploading');
  });

  it('running wins over a failure elsewhere', () => {
    const r = trayStatus({ ...base, activeRuns: [run('weekly', [])], statuses: [status('n', {}, { status: 'failed' })] });
    expect(r.state).toBe('running');
  });

  it('is error when the last run of an enabled task failed or partly failed, naming it', () => {
    expect(trayStatus({ ...base, statuses: [status('n', {}, { status: 'partial', databasesFailed: 1 }), status('w', { staleDatabases: ['x'] })] })).toEqual({
      state: 'error',
      tooltip: 'Backstop — last backup of nightly failed (1 database failed)',
    });
    const two = trayStatus({ ...base, statuses: [status('n', {}, { status: 'failed', databasesOk: 0 }), status('w', {}, { status: 'failed' })] });
    expect(two).toEqual({ state: 'error', tooltip: 'Backstop — last backup failed for 2 tasks: nightly, weekly' });
  });

  it('is warning for stale databases, keys never exported and paused schedules', () => {
    const r = trayStatus({ ...base, paused: true, statuses: [status('n', { staleDatabases: ['sales', 'crm'], keyNotExported: true }, {}), status('w', { staleDatabases: ['hr'] })] });
    expect(r).toEqual({ state: 'warning', tooltip: 'Backstop — 3 databases not backed up recently; key of nightly never exported; schedules paused' });
    expect(trayStatus({ ...base, statuses: [status('w', { staleDatabases: ['hr'] })] }).tooltip).toBe('Backstop — hr not backed up recently');
    expect(trayStatus({ ...base, paused: true })).toEqual({ state: 'warning', tooltip: 'Backstop — schedules paused' });
  });

  it('ignores disabled tasks, but counts a status whose task is not known yet', () => {
    expect(trayStatus({ ...base, statuses: [status('off', { staleDatabases: ['a'], keyNotExported: true }, { status: 'failed' })] }).state).toBe('idle');
    expect(trayStatus({ ...base, statuses: [status('new', {}, { status: 'failed' })] }).tooltip).toBe('Backstop — last backup of new failed');
  });

  it('warns about a replication slot holding back WAL, also for a disabled task (the server disk fills all the same)', () => {
    const slot = (warning: string | null) => ({ slot: { name: 'backstop_x', heldBytes: 2 * 1024 ** 3, checkedAt: '2026-03-10T11:00:00Z', warning } });
    expect(trayStatus({ ...base, statuses: [status('off', slot('Replication slot … holds back 2.0 GiB'))] })).toEqual({
      state: 'warning',
      tooltip: 'Backstop — old holds back WAL on its server: run it or delete it',
    });
    expect(trayStatus({ ...base, statuses: [status('n', slot('a')), status('w', slot('b'))] }).tooltip).toBe('Backstop — 2 tasks hold back WAL on their servers: run or delete them');
    // Below the threshold (no warning) the slot is no reason to warn.
    expect(trayStatus({ ...base, statuses: [status('n', slot(null))] }).state).toBe('idle');
    // A failed run still wins over the warning.
    expect(trayStatus({ ...base, statuses: [status('n', slot('a'), { status: 'failed' })] }).state).toBe('error');
  });

  it('keeps tooltips within the Windows limit', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, name: `a-rather-long-task-name-${i}`, enabled: true }));
    const r = trayStatus({ ...base, tasks: many, statuses: many.map((t) => status(t.id, {}, { status: 'failed' })) });
    expect(r.tooltip.length).toBe(TOOLTIP_MAX);
    expect(r.tooltip.endsWith('…')).toBe(true);
  });
});

describe('lastResultLines', () => {
  it('gives one line per task: counts and how long ago', () => {
    const statuses = [status('n', {}, { status: 'partial', databasesOk: 12, databasesFailed: 1, endedAt: '2026-03-10T10:00:00Z' }), status('off', {}, { endedAt: '2026-03-07T11:00:00Z' })];
    expect(lastResultLines(statuses, tasks, NOW)).toEqual(['nightly — ok 12, failed 1 (2 h ago)', 'weekly — never run', 'old — ok 3 (3 d ago)']);
  });

  it('describes failed-before-any-database, canceled and running tasks', () => {
    const lines = lastResultLines(
      [status('n', {}, { status: 'failed', databasesOk: 0, databasesFailed: 0, endedAt: '2026-03-10T11:55:00Z' }), status('w', {}, { status: 'canceled', databasesOk: 2, endedAt: null, startedAt: '2026-03-10T11:59:40Z' }), status('off', { running: true }, {})],
      tasks,
      NOW,
    );
    expect(lines).toEqual(['nightly — failed (5 min ago)', 'weekly — canceled, ok 2 (just now)', 'old — running now']);
  });

  it('ago() rounds down into min, h, d', () => {
    expect(ago('2026-03-10T11:00:01Z', NOW)).toBe('59 min ago');
    expect(ago('2026-03-08T13:00:00Z', NOW)).toBe('47 h ago');
    expect(ago('2026-03-08T12:00:00Z', NOW)).toBe('2 d ago');
    expect(ago('garbage', NOW)).toBe('unknown time');
  });
});
