/**
 * Restore against a real engine: a demo database is restored from its backup folder into a
 * new SQLite file with the same rows; the common root and a foreign folder are refused with
 * the engine's NOT_A_BACKUP message; a taken name shows DATABASE_EXISTS next to the field.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../../electron/engine/index.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { RestorePage } from './pages/restore-page';

// A real backup of the sample databases takes several seconds on the build machines.
test.describe.configure({ timeout: 120_000 });

/** demo.setup, one full run to completion; the backup folder of one database. */
async function backedUpDemo(engine: Engine) {
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  if (!demo.ok) throw new Error(`demo.setup: ${demo.code} ${demo.message}`);
  const run = await dispatch(engine.handlers, 'tasks.runNow', { id: demo.data.taskId, kind: 'full' });
  if (!run.ok) throw new Error(`tasks.runNow: ${run.code} ${run.message}`);
  await expect
    .poll(async () => {
      const active = await dispatch(engine.handlers, 'runs.active', undefined);
      return active.ok ? active.data.length : -1;
    }, { timeout: 30_000 })
    .toBe(0);
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

  await expect(restore.result).toBeVisible({ timeout: 30_000 });
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

test('the common root of a destination and a foreign folder are refused with NOT_A_BACKUP', async ({ page, engine, tempDir, dialogs }, testInfo) => {
  const demo = await backedUpDemo(engine);
  const restore = new RestorePage(page);
  await restore.open();

  // The common root (the destination itself), typed.
  const root = await dispatch(engine.handlers, 'restore.inspect', { location: { kind: 'local', path: demo.backups } });
  expect(root.ok).toBe(false);
  if (root.ok) return;
  expect(root.code).toBe('NOT_A_BACKUP');
  await restore.readPath(demo.backups);
  await expect(restore.inspectError.getByTestId('error-code')).toHaveText('NOT_A_BACKUP');
  await expect(restore.inspectError.getByTestId('error-message')).toHaveText(root.message);
  await expect(restore.info).toBeHidden();
  await attachScreenshot(page, testInfo, 'restore-not-a-backup');

  // A foreign folder, from the picker.
  const foreign = await dispatch(engine.handlers, 'restore.inspect', { location: { kind: 'local', path: tempDir } });
  expect(foreign.ok).toBe(false);
  if (foreign.ok) return;
  dialogs.chooseFolder(tempDir);
  await restore.choose.click();
  await expect(restore.inspectError.getByTestId('error-message')).toHaveText(foreign.message);
  await expect(restore.inspectError.getByTestId('error-code')).toHaveText(foreign.code);

  // Canceling the picker changes nothing.
  await restore.choose.click();
  await expect(restore.inspectError.getByTestId('error-message')).toHaveText(foreign.message);
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
