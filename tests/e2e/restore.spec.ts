/**
 * Restore against a real engine: a demo database is restored from its backup folder into a
 * new SQLite file with the same rows; a destination root is answered with its databases as
 * choices and a foreign folder with the engine's NOT_A_BACKUP message; a taken name shows
 * DATABASE_EXISTS next to the field; a task's destination is browsed task → database, with
 * each point's time to the second and what it added; a real PostgreSQL cluster snapshot
 * is restored into a new data directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'libsql';
import type { Engine } from '../../electron/engine/index.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { formatBytes } from '../../electron/shared/format-bytes.ts';
import { SAMPLE_DATABASES } from '../../electron/engine/demo/sample-databases.ts';
import { chownTree } from '../fixtures/servers/common.ts';
import { expect, test } from './fixtures/harness';
import { postgresTask, runToEnd } from './fixtures/engine-setup';
import { attachScreenshot } from './fixtures/screenshots';
import { RestorePage } from './pages/restore-page';

// A real backup of the sample databases takes several seconds on the build machines.
test.describe.configure({ timeout: 120_000 });

/** Runs a task now and waits until nothing runs any more. */
/** demo.setup, one full run to completion; the backup folder of one database. */
async function backedUpDemo(engine: Engine) {
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  if (!demo.ok) throw new Error(`demo.setup: ${demo.code} ${demo.message}`);
  await runToEnd(engine, demo.data.taskId, 'full');
  const folders = (await readdir(demo.data.backups, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  expect(folders.length).toBeGreaterThan(0);
  return { ...demo.data, folder: join(demo.data.backups, folders[0]!), sourceFolder: demo.data.folder };
}

test('restores a demo database from its backup folder into a new SQLite file, and verifies it', async ({ page, engine, tempDir, dialogs }, testInfo) => {
  const demo = await backedUpDemo(engine);
  const inspected = await dispatch(engine.handlers, 'restore.inspect', { location: { kind: 'local', path: demo.folder } });
  expect(inspected.ok).toBe(true);
  if (!inspected.ok) return;
  const database = inspected.data.database!;

  const restore = new RestorePage(page);
  await restore.open();
  await attachScreenshot(page, testInfo, 'restore-empty');
  dialogs.chooseFolder(demo.folder);
  await restore.choose.click();

  await expect(restore.info).toBeVisible();
  await expect(page.getByTestId('restore-database')).toHaveText(database);
  await expect(restore.points).toHaveCount(inspected.data.points.length);
  await expect(restore.points.first()).toContainText('full');

  await page.getByTestId('restore-verify').click();
  await expect(page.getByTestId('restore-verify-result')).toContainText('OK', { timeout: 30_000 });

  const target = join(tempDir, 'restored');
  await mkdir(target);
  await page.getByTestId('restore-server').selectOption(demo.serverId);
  await page.getByTestId('restore-name').fill('restored-copy.db');
  await page.getByTestId('restore-folder').fill(target);
  await restore.submit.click();

  await expect(restore.result).toBeVisible({ timeout: 60_000 });
  await expect(restore.result).toContainText('Restored into');
  const restoredPath = (await page.getByTestId('restore-result-path').textContent())!.trim();
  expect(restoredPath.startsWith(target)).toBe(true);
  expect(existsSync(restoredPath)).toBe(true);
  await attachScreenshot(page, testInfo, 'restore-done');

  // Same rows as the source file (the demo's sample databases are SQLite files with tables).
  const source = join(demo.sourceFolder, database);
  if (existsSync(source)) {
    const Database = (await import('libsql')).default;
    const tables = (db: InstanceType<typeof Database>) =>
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const a = new Database(source, { readonly: true });
    const b = new Database(restoredPath, { readonly: true });
    try {
      expect(tables(b)).toEqual(tables(a));
      for (const t of tables(a)) {
        const count = (db: InstanceType<typeof Database>) => (db.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n;
        expect(count(b)).toBe(count(a));
      }
    } finally {
      a.close();
      b.close();
    }
  }

  // The same name again: the engine says DATABASE_EXISTS, shown next to the name field.
  await restore.submit.click();
  await expect(page.getByTestId('restore-name-exists')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('restore-name')).toHaveAttribute('aria-invalid', 'true');
});

test('a destination root offers its databases as choices; a foreign folder is refused with NOT_A_BACKUP', async ({ page, engine, tempDir, dialogs }, testInfo) => {
  const demo = await backedUpDemo(engine);
  const restore = new RestorePage(page);
  await restore.open();

  // The common root (the destination itself), typed: its databases are offered, not an error.
  const listed = await dispatch(engine.handlers, 'restore.folders', { destination: { kind: 'local', path: demo.backups } });
  expect(listed.ok).toBe(true);
  if (!listed.ok) return;
  expect(listed.data.length).toBeGreaterThan(1);
  await restore.readPath(demo.backups);
  await expect(restore.choices).toHaveText(listed.data.map((c) => c.database!));
  await expect(page.getByTestId('restore-choices')).toContainText(`${demo.backups} holds these backups`);
  await expect(restore.inspectError).toBeHidden();
  await expect(restore.info).toBeHidden();
  await attachScreenshot(page, testInfo, 'restore-root-choices');
  // Choosing one reads that database's folder.
  await restore.choices.nth(1).click();
  await expect(page.getByTestId('restore-database')).toHaveText(listed.data[1]!.database!);

  // A foreign folder, from the picker.
  const foreign = await dispatch(engine.handlers, 'restore.inspect', { location: { kind: 'local', path: tempDir } });
  expect(foreign.ok).toBe(false);
  if (foreign.ok) return;
  dialogs.chooseFolder(tempDir);
  await restore.choose.click();
  await expect(restore.inspectError.getByTestId('error-message')).toHaveText(foreign.message);
  await expect(restore.inspectError.getByTestId('error-code')).toHaveText(foreign.code);
  await expect(restore.info).toBeHidden();

  // Canceling the picker changes nothing.
  await restore.choose.click();
  await expect(restore.inspectError.getByTestId('error-message')).toHaveText(foreign.message);
});

test('restores from a task: pick the task, then a database; points show seconds and what each added', async ({ page, engine, tempDir }) => {
  const demo = await backedUpDemo(engine);
  // The incremental's point must fall in a later second than the full's (the list shows seconds):
  // the full's was stamped before now, so the incremental starts after the next second begins.
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  // A change in every sample database, so the incremental makes a point (an unchanged one makes none).
  for (const name of SAMPLE_DATABASES) {
    const db = new Database(join(demo.sourceFolder, name));
    db.exec('PRAGMA user_version = 7');
    db.close();
  }
  await runToEnd(engine, demo.taskId, 'incremental');
  const listed = await dispatch(engine.handlers, 'restore.folders', { destination: { kind: 'local', path: demo.backups } });
  if (!listed.ok) throw new Error(listed.message);
  const chosen = listed.data[0]!;
  const inspected = await dispatch(engine.handlers, 'restore.inspect', { location: chosen.location });
  if (!inspected.ok) throw new Error(inspected.message);
  const points = [...inspected.data.points].reverse();
  expect(points.map((p) => p.kind)).toEqual(['incremental', 'full']);

  const restore = new RestorePage(page);
  await restore.open();
  await page.getByTestId('restore-browse-destination').selectOption({ label: `Sample databases — nightly — ${demo.backups}` });
  await page.getByTestId('restore-browse-list').click();
  await expect(restore.choices).toHaveText(listed.data.map((c) => c.database!));
  await restore.choices.first().click();
  await expect(page.getByTestId('restore-database')).toHaveText(chosen.database!);

  // Time to the second (the locale's medium time style) and the bytes each point stored.
  const expectedTimes = await page.evaluate(
    (isos) => isos.map((iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' })),
    points.map((p) => p.createdAt),
  );
  await expect(page.getByTestId('restore-point-time')).toHaveText(expectedTimes);
  expect(expectedTimes[0]).not.toBe(expectedTimes[1]);
  await expect(page.getByTestId('restore-point-added')).toHaveText(points.map((p) => formatBytes(p.bytesAdded)));
  expect(points[1]!.bytesAdded).toBeGreaterThan(0);

  // Restore the full (older) point from there.
  await page.locator(`#point-${points[1]!.id}`).check();
  const target = join(tempDir, 'from-task');
  await mkdir(target);
  await page.getByTestId('restore-name').fill('from-task.db');
  await page.getByTestId('restore-folder').fill(target);
  await restore.submit.click();
  await expect(restore.result).toContainText('Restored into', { timeout: 30_000 });
  expect(existsSync(join(target, 'from-task.db'))).toBe(true);
});

test('restores a PostgreSQL cluster snapshot into a new data directory, chosen from its task', async ({ page, engine, tempDir, dialogs, postgres }, testInfo) => {
  const backups = join(tempDir, 'backups');
  const { taskId } = await postgresTask(engine, postgres, 'cluster', 'snapshot', backups);
  await runToEnd(engine, taskId, 'full');

  const restore = new RestorePage(page);
  await restore.open();
  await page.getByTestId('restore-browse-destination').selectOption({ label: `cluster — ${backups}` });
  await page.getByTestId('restore-browse-list').click();
  await expect(restore.choices).toHaveText(['Whole cluster']);
  await restore.choices.first().click();
  await expect(page.getByTestId('restore-database')).toHaveText('Whole cluster');

  // No database name and no pg_restore options for a cluster: a new data directory instead.
  await expect(page.getByTestId('restore-cluster-hint')).toBeVisible();
  await expect(page.getByTestId('restore-name')).toHaveCount(0);
  await expect(page.getByTestId('restore-jobs')).toHaveCount(0);
  await expect(page.getByTestId('restore-no-owner')).toHaveCount(0);
  await restore.submit.click();
  await expect(page.getByTestId('restore-datadir')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#restore-datadir-error')).toHaveText('Choose a new, empty folder for the restored data directory.');
  await expect(page.getByTestId('restore-outcome')).toHaveCount(0);

  const target = join(tempDir, 'restored-cluster');
  if (postgres.osUser) chownTree(tempDir, postgres.osUser);
  dialogs.chooseFolder(target);
  await page.getByTestId('restore-datadir-choose').click();
  await expect(page.getByTestId('restore-datadir')).toHaveValue(target);
  await restore.submit.click();
  await expect(restore.result).toContainText('Restored into the new data directory', { timeout: 60_000 });
  await expect(page.getByTestId('restore-result-path')).toHaveText(target);
  expect(existsSync(join(target, 'PG_VERSION'))).toBe(true);
  await attachScreenshot(page, testInfo, 'restore-cluster-done');
});

test('a dropped folder without a path from the bridge asks for the picker instead', async ({ page }) => {
  const restore = new RestorePage(page);
  await restore.open();
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['x'], 'sales.db'));
    return dt;
  });
  await page.getByTestId('restore-dropzone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('restore-drop-result')).toContainText('cannot see where “sales.db” is on disk');
});
