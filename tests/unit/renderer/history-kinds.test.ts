/**
 * The History view with the run kinds of issue #24 (over a fake bridge): each row says what
 * the run did ("Restore", "Whole-server restore", "Retention: 2 points deleted", or the kind a
 * backup took), the Kind filter narrows the list, a restore's detail names who started it,
 * the source, the point, the target server and each database's new name and bytes, and a
 * retention run's detail lists the points it deleted; a backup row shows its warnings.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { Run, RunDatabase } from '@shared/domain.ts';
import HistoryView from '../../../renderer/src/views/HistoryView.vue';
import { routes } from '../../../renderer/src/router/index.ts';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

function row(database: string, over: Partial<RunDatabase> = {}): RunDatabase {
  return {
    database,
    destination: 'local:/backups',
    kind: 'full',
    kindReason: null,
    status: 'success',
    pointId: '20260302T020000000Z-0a1b2c3d',
    bytesRead: 4096,
    bytesStored: 1024,
    startedAt: '2026-03-02T02:00:00.000Z',
    endedAt: '2026-03-02T02:00:05.000Z',
    errorCode: null,
    errorMessage: null,
    ...over,
  };
}

function run(id: string, over: Partial<Run>): Run {
  return {
    id,
    taskId: 't1',
    taskName: 'nightly',
    trigger: 'schedule',
    requestedKind: 'full',
    status: 'success',
    startedAt: '2026-03-02T02:00:00.000Z',
    endedAt: '2026-03-02T02:01:00.000Z',
    errorCode: null,
    errorMessage: null,
    keyFingerprint: null,
    databases: [row('billing')],
    ...over,
  };
}

const MYISAM = 'Tables without transactions in database "billing" (2 MyISAM tables): a backup reads them as they are when it reaches them.';

const RUNS: Run[] = [
  run('r-restore', {
    runKind: 'restore',
    taskId: 'restores',
    taskName: 'Restores',
    trigger: 'cli',
    startedAt: '2026-03-04T10:00:00.000Z',
    endedAt: '2026-03-04T10:00:30.000Z',
    restore: { origin: 'cli', scope: 'database', source: 's3://backups/nightly/billing', point: '20260302T020000000Z-0a1b2c3d', asOf: null, server: { name: 'staging', kind: 'postgres', host: 'db2.example.com' }, folder: null },
    databases: [row('billing', { restoredAs: 'billing_copy', bytesRead: 5_000_000, bytesStored: 0, destination: 's3://backups/nightly/billing', durationMs: 30_000 })],
  }),
  run('r-server', {
    runKind: 'restore',
    taskId: 'restores',
    taskName: 'Restores',
    trigger: 'manual',
    status: 'partial',
    startedAt: '2026-03-03T10:00:00.000Z',
    restore: { origin: 'app', scope: 'server', source: '/backups', point: 'latest', asOf: null, server: { name: 'files', kind: 'sqlite', host: null }, folder: null },
    databases: [
      row('a.sqlite', { restoredAs: 'old_a.sqlite', bytesStored: 0 }),
      row('b.sqlite', { restoredAs: 'old_b.sqlite', bytesStored: 0, status: 'failed', errorCode: 'DATABASE_EXISTS', errorMessage: 'Database "old_b.sqlite" already exists on the target server.' }),
    ],
  }),
  run('r-retention', {
    runKind: 'retention',
    startedAt: '2026-03-02T02:02:00.000Z',
    endedAt: '2026-03-02T02:02:01.000Z',
    databases: [
      row('billing', {
        bytesRead: 0,
        bytesStored: 0,
        pointId: null,
        bytesFreed: 3_000_000,
        deletedPoints: [
          { id: '20260228T020000000Z-11111111', createdAt: '2026-02-28T02:00:00.000Z', kind: 'full' },
          { id: '20260301T020000000Z-22222222', createdAt: '2026-03-01T02:00:00.000Z', kind: 'incremental' },
        ],
        keptInUse: ['20260227T020000000Z-33333333'],
      }),
    ],
  }),
  run('r-backup', {
    databases: [
      // The warning is the dump's: every destination's row carries it; the detail shows it once.
      row('billing', { warnings: [MYISAM] }),
      row('billing', { destination: 's3://backups/nightly', warnings: [MYISAM] }),
      row('crm'),
    ],
  }),
];

async function mountView() {
  fake.respond('history.list', () => ok(RUNS));
  fake.respond('tasks.list', () => ok([]));
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push('/history');
  await router.isReady();
  const wrapper = mount(HistoryView, { global: { plugins: [createPinia(), router] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

const ids = (w: Awaited<ReturnType<typeof mountView>>) => w.findAll('[data-testid="history-row"]').map((r) => r.attributes('data-run-id'));

describe('History: restores and retention runs', () => {
  it('labels each run with what it did and filters by kind', async () => {
    const w = await mountView();
    expect(ids(w)).toEqual(['r-restore', 'r-server', 'r-retention', 'r-backup']);
    expect(w.findAll('[data-testid="history-row-kind"]').map((k) => k.text())).toEqual(['Restore', 'Whole-server restore', 'Retention: 2 points deleted', 'full']);
    const stored = w.findAll('[data-testid="history-row-stored"]').map((c) => c.text());
    expect(stored[0]).toBe('5.0 MB restored');
    expect(stored[2]).toBe('3.0 MB freed');

    const kind = w.get('[data-testid="filter-kind"]');
    expect(kind.findAll('option').map((o) => o.text())).toEqual(['All kinds', 'Backup', 'Test restore', 'Restore', 'Retention']);
    await kind.setValue('restore');
    expect(ids(w)).toEqual(['r-restore', 'r-server']);
    await kind.setValue('retention');
    expect(ids(w)).toEqual(['r-retention']);
    await kind.setValue('backup');
    expect(ids(w)).toEqual(['r-backup']);
    expect(w.get('[data-testid="history-count"]').text()).toBe('1 matching run');
    // The filter is the engine's query, so it searches the whole history, not the page loaded.
    expect(fake.commands['history.list']).toHaveBeenLastCalledWith({ runKind: 'backup', limit: 200 });
  });

  it("shows a restore's origin, source, point, target server and each database's new name and bytes", async () => {
    const w = await mountView();
    await w.findAll('[data-testid="history-row-toggle"]')[0]!.trigger('click');
    const detail = w.get('[data-testid="run-detail"]');
    expect(detail.get('[data-testid="run-restore-origin"]').text()).toBe('the command line');
    expect(detail.get('[data-testid="run-restore-source"]').text()).toBe('s3://backups/nightly/billing');
    expect(detail.get('[data-testid="run-restore-point"]').text()).toBe('20260302T020000000Z-0a1b2c3d');
    expect(detail.get('[data-testid="run-restore-server"]').text()).toBe('staging (postgres, db2.example.com)');
    expect(detail.get('[data-testid="run-detail-restored-as"]').text()).toBe('billing_copy');
    expect(detail.get('[data-testid="run-detail-restored"]').text()).toBe('5.0 MB');
    expect(detail.text()).not.toContain('asked for');

    // A whole-server restore: one row per database, the failure with its code and message.
    await w.findAll('[data-testid="history-row-toggle"]')[1]!.trigger('click');
    const server = w.get('[data-testid="run-detail"]');
    expect(server.get('[data-testid="run-restore-origin"]').text()).toBe('the window');
    const rows = server.findAll('[data-testid="run-detail-row"]');
    expect(rows.map((r) => r.get('[data-testid="run-detail-restored-as"]').text())).toEqual(['old_a.sqlite', 'old_b.sqlite']);
    expect(rows[1]!.get('[data-testid="run-detail-status"]').text()).toBe('failed');
    expect(rows[1]!.text()).toContain('DATABASE_EXISTS');
    expect(rows[1]!.text()).toContain('already exists on the target server');
  });

  it('lists the points a retention run deleted and the bytes freed', async () => {
    const w = await mountView();
    await w.findAll('[data-testid="history-row-toggle"]')[2]!.trigger('click');
    const detail = w.get('[data-testid="run-detail"]');
    const deleted = detail.get('[data-testid="run-detail-deleted"]').findAll('li').map((li) => li.text());
    expect(deleted).toHaveLength(2);
    expect(deleted[0]).toContain('20260228T020000000Z-11111111');
    expect(deleted[0]).toContain('full');
    expect(deleted[1]).toContain('20260301T020000000Z-22222222');
    expect(deleted[1]).toContain('incremental');
    expect(detail.text()).toContain('3.0 MB');
    // A point retention kept because a restore was reading it is named, not silently skipped.
    expect(detail.get('[data-testid="run-detail-kept-in-use"]').text()).toBe('Kept for the next run, in use by a restore or a backup: 20260227T020000000Z-33333333');
  });

  it("shows a database's warnings (a MariaDB database's tables without transactions) once, whatever its number of destinations, and none for the others", async () => {
    const w = await mountView();
    await w.findAll('[data-testid="history-row-toggle"]')[3]!.trigger('click');
    const rows = w.get('[data-testid="run-detail"]').findAll('[data-testid="run-detail-row"]');
    expect(rows.map((r) => r.attributes('data-database'))).toEqual(['billing', 'billing', 'crm']);
    expect(rows.map((r) => r.findAll('[data-testid="run-detail-warning"]').map((p) => p.text()))).toEqual([[MYISAM], [], []]);
  });
});
