/**
 * History with a realistic past (several databases, long task and database names, terabyte
 * byte counts, two destinations, PostgreSQL server streams) at the window's default size
 * (1120×760) and its minimum (820×560, electron/main/window.ts): every table fits its card
 * — no horizontal scrolling, no cell cut at the card's edge, task names at most two lines —
 * with the run detail open too. Server streams carry names a person understands, in the
 * rows, the detail and the chart selector, and a run shows the kind that actually ran.
 */
import type { Engine } from '../../electron/engine/index.ts';
import { HistoryTable } from '../../electron/engine/store/index.ts';
import type { PointKind, RunDatabase } from '../../electron/shared/domain.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { expectHistoryTablesFit, HistoryPage } from './pages/history-page';

const TB = 1024 ** 4;
const GB = 1024 ** 3;
const LONG_TASK = 'Nightly backup of the production PostgreSQL cluster (eu-west-1 primary, all tenants)';
const DESTS = ['local:/mnt/backup-volume-01/backstop/production/eu-west-1-primary', 's3:company-database-backups-eu-west-1/backstop/production/primary'];
const DATABASES = ['customer_orders_archive_2019_2024_partitioned', 'billing', 'inventory_and_warehouse_management', 'analytics_events_raw'];

interface SeedDb {
  database: string;
  kind: PointKind;
  kindReason?: string | null;
  read: number;
  stored: number;
  serverStream?: boolean;
  status?: RunDatabase['status'];
}

function seedRun(engine: Engine, taskName: string, startedAt: string, requestedKind: PointKind, dbs: SeedDb[], status: 'success' | 'partial' = 'success'): string {
  const history = new HistoryTable(engine.db);
  const runId = history.startRun({ taskId: `task-${taskName.length}`, taskName, trigger: 'schedule', requestedKind, startedAt, keyFingerprint: 'a1b2-c3d4-e5f6-0718' });
  const endedAt = new Date(new Date(startedAt).getTime() + 3 * 3600_000 + 17 * 60_000 + 42_000).toISOString();
  for (const d of dbs) {
    for (const destination of DESTS) {
      const seq = history.startDatabase(runId, { database: d.database, destination, kind: requestedKind, kindReason: null, startedAt, serverStream: d.serverStream ?? false });
      const failed = d.status === 'failed';
      history.finishDatabase(runId, seq, {
        kind: d.kind,
        kindReason: d.kindReason ?? null,
        status: d.status ?? 'success',
        pointId: failed ? null : '20260301T020000000Z-0a1b2c3d',
        bytesRead: failed ? 0 : d.read,
        bytesStored: failed ? 0 : d.stored,
        endedAt,
        errorCode: failed ? 'DUMP_FAILED' : null,
        errorMessage: failed ? 'pg_dump: error: query failed: SSL SYSCALL error: EOF detected while dumping table "events_2024_q4"' : null,
      });
    }
  }
  history.finishRun(runId, status, endedAt);
  return runId;
}

function seedHistory(engine: Engine): void {
  for (let day = 1; day <= 6; day++) {
    const at = `2026-03-0${day}T02:00:00.000Z`;
    const kind: PointKind = day === 1 ? 'full' : 'incremental';
    seedRun(
      engine,
      LONG_TASK,
      at,
      kind,
      [
        ...DATABASES.map((database, i) => ({ database, kind, read: Math.round((1.7 + i) * TB), stored: Math.round((day === 1 ? 0.4 : 0.012) * TB * (i + 1)), status: day === 4 && i === 0 ? ('failed' as const) : undefined })),
        { database: 'globals.sql', kind, read: 48_213, stored: 9_120, serverStream: true },
      ],
      day === 4 ? 'partial' : 'success',
    );
  }
  // A snapshot task's "Run now ▸ Incremental" at a new destination: a full was taken.
  seedRun(engine, 'Cluster snapshot', '2026-03-07T02:00:00.000Z', 'incremental', [
    { database: 'base.tar', kind: 'full', kindReason: 'first backup at this destination', read: 812 * GB, stored: 301 * GB, serverStream: true },
  ]);
}

for (const size of [
  { name: 'default', width: 1120, height: 760 },
  { name: 'minimum', width: 820, height: 560 },
]) {
  test(`History fits its cards at the ${size.name} window size (${size.width}×${size.height})`, async ({ page, engine }, testInfo) => {
    seedHistory(engine);
    await page.setViewportSize({ width: size.width, height: size.height });
    const history = new HistoryPage(page);
    await history.open();
    await expect(history.rows).toHaveCount(7);
    await expectHistoryTablesFit(page);

    // Task names wrap to at most two lines.
    const nameBox = await history.rows.nth(1).locator('.task-name').boundingBox();
    const lineHeight = await history.rows.nth(1).locator('.task-name').evaluate((el) => parseFloat(getComputedStyle(el).lineHeight));
    expect(nameBox!.height).toBeLessThanOrEqual(2 * lineHeight + 1);

    // The run detail of a run with every database, both destinations and the globals.
    await history.rows.nth(1).getByTestId('history-row-toggle').click();
    await expect(history.detail).toBeVisible();
    await expect(history.detail.getByTestId('run-detail-took').first()).toBeVisible();
    await expectHistoryTablesFit(page);
    await attachScreenshot(page, testInfo, `history-${size.name}-detail`);

    // The partly failed run with its long error.
    await history.rows.nth(3).getByTestId('history-row-toggle').click();
    await expectHistoryTablesFit(page);
  });
}

test('History names server streams and shows the kind that actually ran', async ({ page, engine }) => {
  seedHistory(engine);
  const history = new HistoryPage(page);
  await history.open();

  const snapshot = history.rows.first();
  await expect(snapshot.getByTestId('history-row-kind')).toHaveText('full (incremental requested)');
  await expect(snapshot.getByTestId('history-row-databases')).toHaveText('Whole cluster');
  await snapshot.getByTestId('history-row-toggle').click();
  const detailRow = history.detail.getByTestId('run-detail-row').first();
  await expect(detailRow.getByRole('rowheader')).toHaveText('Whole cluster');
  await expect(detailRow).toContainText('full');
  await expect(detailRow).toContainText('first backup at this destination');

  const logical = history.rows.nth(1);
  await expect(logical.getByTestId('history-row-kind')).toHaveText('incremental');
  await expect(logical.getByTestId('history-row-databases')).toHaveText('4 ok + Server globals (roles, tablespaces)');
  await expect(history.rows.nth(3).getByTestId('history-row-databases')).toHaveText('3 ok, 1 failed + Server globals (roles, tablespaces)');

  const options = await page.getByTestId('chart-database').locator('option').allTextContents();
  expect(options).toContain('Server globals (roles, tablespaces)');
  expect(options).toContain('Whole cluster');
  expect(options).not.toContain('globals.sql');
  expect(options).not.toContain('base.tar');
  await page.getByTestId('chart-database').selectOption({ label: 'Whole cluster' });
  await expect(history.charts).toContainText('Stored per backup · Whole cluster');
});
