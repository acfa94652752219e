/**
 * Restore from anywhere: on a fresh data dir (no task, no history), the restore view opens
 * an S3 destination (a real s3rver) by its settings and credentials, lists its databases,
 * reads one and restores it into a new SQLite file with the source's rows. A wrong secret is
 * answered with the engine's error for that listing; the secret typed in the window goes to
 * the keychain only (the form keeps the reference; the app database never holds it), and
 * leaves the keychain when the user leaves the Restore view (no task uses it); every other
 * keychain entry stays.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findCredentialsAsync } from '@napi-rs/keyring';
import { createEngine } from '../../electron/engine/index.ts';
import { keychainService } from '../../electron/engine/secrets/secret-store.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../fixtures/s3rver.ts';
import { expect, test } from './fixtures/harness';
import { runToEnd } from './fixtures/engine-setup';
import { attachScreenshot } from './fixtures/screenshots';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { RestorePage } from './pages/restore-page';
import { AppShell } from './pages/app-shell';

/** The S3 secrets' keychain references (accounts `s3.<id>`) in the test keychain. */
async function s3Refs(): Promise<Set<string>> {
  return new Set((await findCredentialsAsync(keychainService())).map((c) => c.account).filter((a) => a.startsWith('s3.')));
}

test.describe.configure({ timeout: 120_000 });

let s3: S3rverHandle;
test.beforeAll(async () => {
  s3 = await startS3rver(['backstop']);
});
test.afterAll(async () => {
  await s3?.stop();
});

/** The bucket's root as a destination, with the keychain reference of its credentials. */
function bucket(credentialsRef: string) {
  return { kind: 's3' as const, bucket: 'backstop', prefix: 'nightly', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED' as const, credentialsRef };
}

/** Another workstation's Backstop (its own data dir) backs `folder` up to the bucket; only the bucket is shared. */
async function backupElsewhere(dataDir: string, folder: string): Promise<void> {
  const other = await createEngine({ dataDir });
  try {
    const saved = await dispatch(other.handlers, 'destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } });
    if (!saved.ok) throw new Error(saved.message);
    const server = await dispatch(other.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
    if (!server.ok) throw new Error(server.message);
    const task = await dispatch(other.handlers, 'tasks.create', { name: 'nightly', serverId: server.data.id, type: 'logical', schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' }, destinations: [bucket(saved.data.credentialsRef)] });
    if (!task.ok) throw new Error(task.message);
    await runToEnd(other, task.data.id, 'full');
    const history = await dispatch(other.handlers, 'history.list', { limit: 1 });
    if (!history.ok || history.data[0]?.status !== 'success') throw new Error(`the backup elsewhere did not succeed: ${JSON.stringify(history)}`);
  } finally {
    await other.close();
  }
}

test('restores from an S3 destination opened without any task, on a fresh data dir', async ({ page, engine, tempDir }, testInfo) => {
  const source = join(tempDir, 'source');
  await makeSqliteFolder(source, ['sales.db']);
  await backupElsewhere(join(tempDir, 'other-workstation'), source);

  // This workstation knows nothing: no tasks. It has a server to restore onto (a SQLite folder).
  const tasks = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(tasks.ok && tasks.data).toEqual([]);
  const target = join(tempDir, 'restored');
  await mkdir(target);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Here', folder: target });
  if (!server.ok) throw new Error(server.message);

  // What the engine answers for a wrong secret (asked directly, to compare with the window).
  const wrongRef = await dispatch(engine.handlers, 'destinations.saveCredentials', { secret: { kind: 's3', accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' } });
  if (!wrongRef.ok) throw new Error(wrongRef.message);
  const refused = await dispatch(engine.handlers, 'restore.folders', { destination: bucket(wrongRef.data.credentialsRef) });
  if (refused.ok) throw new Error('s3rver accepted a wrong secret');

  const before = await s3Refs();
  expect(before.has(wrongRef.data.credentialsRef)).toBe(true);

  const restore = new RestorePage(page);
  await restore.open();
  await expect(page.getByTestId('restore-browse')).toBeHidden(); // no task to browse
  await page.getByTestId('restore-remote').locator('summary').click();
  await page.getByTestId('dest-0-provider').selectOption('minio');
  await page.getByTestId('dest-0-endpoint').fill(s3.endpoint);
  await page.getByTestId('dest-0-bucket').fill('backstop');
  await page.getByRole('textbox', { name: 'Prefix (common root)' }).fill('nightly');

  // Incomplete: the field error, nothing listed.
  await page.getByTestId('restore-remote-list').click();
  await expect(page.getByTestId('destination-0')).toContainText('Enter the access key id and secret.');
  await expect(restore.choices).toHaveCount(0);

  // A wrong secret: the engine's answer for that listing, shown as it gave it.
  await page.getByTestId('dest-0-access-key').fill(S3RVER_CREDENTIALS.accessKeyId);
  await page.getByTestId('dest-0-secret').fill('not-the-secret');
  await page.getByTestId('restore-remote-list').click();
  const error = page.getByTestId('restore-browse-error');
  await expect(error).toBeVisible({ timeout: 30_000 });
  await expect(error.getByTestId('error-code')).toHaveText(refused.code);
  await expect(error.getByTestId('error-message')).toHaveText(refused.message);
  await expect(restore.choices).toHaveCount(0);
  // The typed secret went to the keychain; the form keeps only the reference.
  await expect(page.getByTestId('dest-0-secret')).toHaveValue('');
  await expect(page.getByTestId('dest-0-secret')).toHaveAttribute('placeholder', 'saved in the keychain');

  // The right secret replaces it: the databases of the destination are offered.
  await page.getByTestId('dest-0-access-key').fill(S3RVER_CREDENTIALS.accessKeyId);
  await page.getByTestId('dest-0-secret').fill(S3RVER_CREDENTIALS.secretAccessKey);
  await page.getByTestId('dest-0-test').click();
  await expect(page.getByTestId('dest-0-test-result')).toHaveText('All steps passed', { timeout: 30_000 });
  await page.getByTestId('restore-remote-list').click();
  await expect(error).toBeHidden({ timeout: 30_000 });
  await expect(restore.choices).toHaveText(['sales.db']);
  await expect(page.getByTestId('restore-choices')).toContainText('s3://backstop/nightly holds these backups');
  await attachScreenshot(page, testInfo, 'restore-anywhere-choices');

  await restore.choices.first().click();
  await expect(restore.info).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('restore-database')).toHaveText('sales.db');
  await expect(restore.points).toHaveCount(1);
  await page.getByTestId('restore-server').selectOption(server.data.id);
  await page.getByTestId('restore-name').fill('sales-copy.db');
  await restore.submit.click();
  await expect(restore.result).toBeVisible({ timeout: 60_000 });
  await expect(restore.result).toContainText('Restored into');
  await attachScreenshot(page, testInfo, 'restore-anywhere-done');

  // Same rows as the source file.
  const Database = (await import('libsql')).default;
  const count = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
      return tables.map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n]);
    } finally {
      db.close();
    }
  };
  expect(count(join(target, 'sales-copy.db'))).toEqual(count(join(source, 'sales.db')));

  // The window's secret is in the keychain (one new entry) while the user is in the Restore view…
  const during = await s3Refs();
  const windowRefs = [...during].filter((r) => !before.has(r));
  expect(windowRefs).toHaveLength(1);
  // …and leaves it with the view; every entry it did not save stays (the engine's own, the other workstation's).
  await new AppShell(page).open('history');
  await expect.poll(async () => (await s3Refs()).has(windowRefs[0]!), { timeout: 10_000 }).toBe(false);
  expect([...(await s3Refs())].sort()).toEqual([...before].sort());
  // Coming back asks for it again: the reference the form kept no longer opens the bucket.
  const gone = await dispatch(engine.handlers, 'restore.folders', { destination: bucket(windowRefs[0]!) });
  expect(gone.ok).toBe(false);
  if (!gone.ok) expect([gone.code, gone.message]).toEqual(['AUTH_FAILED', expect.stringContaining('missing from the keychain; enter it again')]);

  // The typed secret is not in this workstation's app database, nor anywhere in its data dir.
  const files = readdirSync(engine.dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    const bytes = readFileSync(join(f.parentPath, f.name)).toString('latin1');
    expect(bytes.includes('not-the-secret'), f.name).toBe(false);
  }
});
