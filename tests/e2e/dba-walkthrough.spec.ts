/**
 * The window walked through as a DBA would, by clicks and typing only, against real
 * PostgreSQL 15 and MariaDB servers started by the test (issue: the window walk-through):
 * tools folder set in Settings; both servers added and tested; a PostgreSQL logical task
 * with every editor field filled in, saved, edited and saved again; run; History read at
 * the default and the minimum window size (no table cut off); one database restored into a
 * new database that carries its owner and settings; a cluster snapshot task made, run and
 * restored into a new data directory (notes say how to start it); both tasks deleted, then
 * the server. Every step is screenshotted in light and dark.
 * Separately: an error thrown inside a view keeps the editor's draft.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Page, TestInfo } from '@playwright/test';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { chownTree } from '../fixtures/servers/common.ts';
import { PG_BIN } from '../fixtures/servers/postgres.ts';
import { expect, test } from './fixtures/harness';
import { postgresTask, runToEnd } from './fixtures/engine-setup';
import { attachScreenshot } from './fixtures/screenshots';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { expectHistoryTablesFit, HistoryPage } from './pages/history-page';
import { RestorePage } from './pages/restore-page';
import { ServersPage } from './pages/servers-page';
import { TaskEditorPage } from './pages/task-editor-page';
import { TasksPage } from './pages/tasks-page';

// Two real servers, three real backups and two restores on a 2-core machine.
test.describe.configure({ timeout: 420_000 });
// A click or a choice that cannot happen fails within a minute, not at the end of the whole walk.
test.use({ actionTimeout: 60_000 });

/** The same screen in light and in dark. */
async function shots(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await attachScreenshot(page, testInfo, `${name}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function addServer(servers: ServersPage, kind: 'postgres' | 'mysql', name: string, s: { host: string; port: number; user: string; password: string }): Promise<void> {
  await servers.startAdding(kind);
  const form = servers.form;
  await form.getByTestId('server-name').fill(name);
  await form.getByTestId('server-host').fill(s.host);
  await form.getByTestId('server-port').fill(String(s.port));
  await form.getByTestId('server-user').fill(s.user);
  await form.getByTestId('server-password').fill(s.password);
  await form.getByTestId('server-tls').selectOption('disable');
  await form.getByTestId('server-test').click();
  await expect(form.getByTestId('server-check-ok')).toBeVisible({ timeout: 60_000 });
  await form.getByTestId('server-submit').click();
  await expect(servers.row(name)).toBeVisible();
}

test('a DBA walks through servers, a PostgreSQL task, history, restores and deletion', async ({ page, engine, tempDir, dialogs, postgres, mariadb }, testInfo) => {
  // Source data: a database with its own owner, settings and privileges.
  postgres.psql(`CREATE ROLE web LOGIN; CREATE DATABASE shop OWNER web; ALTER DATABASE shop SET search_path = app, public; REVOKE CONNECT ON DATABASE shop FROM PUBLIC; GRANT CONNECT ON DATABASE shop TO web;`);
  postgres.psql(`CREATE SCHEMA app AUTHORIZATION web; CREATE TABLE app.orders (id int PRIMARY KEY, total numeric); INSERT INTO app.orders SELECT g, g * 1.5 FROM generate_series(1, 500) g; ALTER TABLE app.orders OWNER TO web;`, 'shop');
  postgres.psql(`CREATE DATABASE scratch;`);
  mariadb.sql('CREATE DATABASE inventory CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');

  // Settings: where PostgreSQL 15's tools live.
  const app = new ServersPage(page);
  await app.shell.open('settings');
  await page.getByTestId('tools-postgres').fill(PG_BIN);
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-status')).not.toBeEmpty();
  await shots(page, testInfo, '01-settings');

  // Both servers, each tested before it is saved.
  const servers = new ServersPage(page);
  await servers.open();
  await addServer(servers, 'postgres', 'pg15', postgres);
  await addServer(servers, 'mysql', 'maria', mariadb);
  await expect(servers.row('pg15').getByTestId('server-row-health')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  await expect(servers.row('maria').getByTestId('server-row-health')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  await shots(page, testInfo, '02-servers');

  // A PostgreSQL logical task, every field filled in.
  const tasks = new TasksPage(page);
  await tasks.open();
  await page.getByTestId('task-new').or(page.getByTestId('tasks-create')).first().click();
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await editor.name.fill('Nightly pg15');
  await page.getByTestId('task-server').selectOption({ label: 'pg15 (PostgreSQL)' });
  await page.getByTestId('task-type-logical').check();
  await page.getByTestId('schedule-full-kind').selectOption('daily');
  await page.getByLabel('Full backup: time of day').fill('02:30');
  await page.getByTestId('schedule-incremental-kind').selectOption('hourly');
  await page.getByLabel('at minute').fill('15');
  await page.getByLabel('at minute').press('Tab');
  await page.getByTestId('task-timezone').selectOption('UTC');
  await editor.retentionDays.fill('14');
  await editor.retentionLast.fill('10');
  await page.getByTestId('encryption-generate').check();
  await page.getByTestId('key-generate').click();
  const fingerprint = (await page.getByTestId('key-fingerprint').textContent())!.trim();
  dialogs.saveFile(join(tempDir, 'pg15.key'));
  await page.getByTestId('key-save-file').click();
  await expect(page.getByTestId('key-status')).toContainText('Key saved to');
  await page.getByTestId('key-confirm').check();
  const backups = join(tempDir, 'backups');
  await editor.destinationPath(0).fill(backups);
  await expect(page.getByTestId('db-include-scratch')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('db-include-scratch').uncheck();
  await shots(page, testInfo, '03-task-editor');
  await editor.save.click();
  await editor.answerCreateFolder(true);
  await expect(tasks.root).toBeVisible();

  // Edit every field that a DBA changes, and save again.
  await tasks.row('Nightly pg15').getByTestId('task-edit').click();
  await expect(editor.retentionDays).toHaveValue('14');
  await editor.name.fill('Nightly pg15 (edited)');
  await page.getByLabel('Full backup: time of day').fill('03:45');
  await editor.retentionDays.fill('30');
  await editor.retentionLast.fill('5');
  await page.getByTestId('db-include-postgres').uncheck();
  await editor.save.click();
  await expect(tasks.root).toBeVisible();
  const saved = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(saved.ok && saved.data).toMatchObject([
    {
      name: 'Nightly pg15 (edited)',
      type: 'logical',
      schedule: { full: '45 3 * * *', incremental: '15 * * * *', timezone: 'UTC' },
      retention: { minAgeDays: 30, keepLast: 5 },
      encryption: { mode: 'key', fingerprint },
      destinations: [{ kind: 'local', path: backups }],
    },
  ]);
  expect(saved.ok && [...saved.data[0]!.excludeDatabases].sort()).toEqual(['postgres', 'scratch']);
  const card = tasks.row('Nightly pg15 (edited)');
  await expect(card.getByTestId('task-destinations')).toContainText(backups);
  await expect(card.getByTestId('task-encryption')).toContainText(fingerprint);

  // Run it.
  await tasks.runNow('Nightly pg15 (edited)', 'full');
  await tasks.waitForLastResult('Nightly pg15 (edited)', 'Succeeded', 180_000);
  await shots(page, testInfo, '04-tasks-after-run');

  // History at the default and the minimum window size: nothing cut off.
  const history = new HistoryPage(page);
  for (const size of [
    { width: 1120, height: 760 },
    { width: 820, height: 560 },
  ]) {
    await page.setViewportSize(size);
    await history.open();
    await expect(history.rows.first()).toBeVisible();
    if (!(await history.detail.isVisible())) await history.rows.first().getByTestId('history-row-toggle').click();
    await expect(history.detail).toBeVisible();
    await expect(history.detail).toContainText('shop');
    await expectHistoryTablesFit(page);
    await shots(page, testInfo, `05-history-${size.width}`);
  }
  await page.setViewportSize({ width: 1120, height: 760 });

  // Restore one database into a new one, from the task's destination.
  const restore = new RestorePage(page);
  await restore.open();
  await page.getByTestId('restore-browse-destination').selectOption({ label: `Nightly pg15 (edited) — ${backups}` });
  await page.getByTestId('restore-browse-list').click();
  await restore.choices.filter({ hasText: /^shop$/ }).click();
  await expect(restore.points).toHaveCount(1, { timeout: 60_000 });
  await page.getByTestId('restore-server').selectOption({ label: 'pg15 (PostgreSQL)' });
  await page.getByTestId('restore-name').fill('shop_restored');
  await shots(page, testInfo, '06-restore-database');
  await restore.submit.click();
  await expect(restore.result).toContainText('Restored into', { timeout: 120_000 });
  // The restored database is the whole database: owner, settings, privileges, rows.
  const q = (sql: string, db?: string) => postgres.psql(sql, db).trim();
  expect(q(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop_restored'`)).toBe('web');
  expect(q(`SELECT setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'shop_restored' AND s.setrole = 0`)).toBe('{"search_path=app, public"}');
  expect(q(`SELECT has_database_privilege('public', 'shop_restored', 'CONNECT')`)).toBe('f');
  expect(q('SELECT count(*), sum(total) FROM orders', 'shop_restored')).toBe(q('SELECT count(*), sum(total) FROM app.orders', 'shop'));
  await shots(page, testInfo, '07-restore-database-done');

  // A cluster snapshot task, run, and restored into a new data directory.
  await tasks.open();
  await page.getByTestId('task-new').click();
  await editor.name.fill('Cluster pg15');
  await page.getByTestId('task-server').selectOption({ label: 'pg15 (PostgreSQL)' });
  await page.getByTestId('task-type-snapshot').check();
  await expect(page.getByTestId('snapshot-covers')).toBeVisible();
  const clusterBackups = join(tempDir, 'cluster-backups');
  await editor.destinationPath(0).fill(clusterBackups);
  await shots(page, testInfo, '08-snapshot-editor');
  await editor.save.click();
  await editor.answerCreateFolder(true);
  await tasks.runNow('Cluster pg15', 'full');
  await tasks.waitForLastResult('Cluster pg15', 'Succeeded', 180_000);

  await restore.open();
  await page.getByTestId('restore-browse-destination').selectOption({ label: `Cluster pg15 — ${clusterBackups}` });
  await page.getByTestId('restore-browse-list').click();
  await restore.choices.filter({ hasText: 'Whole cluster' }).click();
  const dataDir = join(tempDir, 'restored-cluster');
  if (postgres.osUser) chownTree(tempDir, postgres.osUser);
  dialogs.chooseFolder(dataDir);
  await page.getByTestId('restore-datadir-choose').click();
  await restore.submit.click();
  await expect(restore.result).toContainText('Restored into the new data directory', { timeout: 180_000 });
  await expect(page.getByTestId('restore-note').filter({ hasText: 'Start it:' })).toBeVisible();
  expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
  await shots(page, testInfo, '09-restore-cluster-done');

  // Delete both tasks (their backups stay), then the server.
  for (const name of ['Nightly pg15 (edited)', 'Cluster pg15']) {
    await tasks.open();
    await tasks.row(name).getByTestId('task-edit').click();
    await editor.deleteTask();
    await expect(tasks.row(name)).toHaveCount(0);
  }
  expect(existsSync(backups)).toBe(true);
  await servers.open();
  await servers.deleteServer('pg15');
  await expect(servers.row('pg15')).toHaveCount(0);
  await expect(servers.row('maria')).toBeVisible();
  await shots(page, testInfo, '10-after-deletion');
});

test('an error thrown inside a view keeps the editor draft, and Continue brings the form back', async ({ page, engine, tempDir, allowedPageErrors }) => {
  allowedPageErrors.push(/A view failed; its form is kept/);
  for (const name of ['one', 'two']) {
    const folder = join(tempDir, name);
    await makeSqliteFolder(folder, [`${name}.db`]);
    expect((await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name, folder })).ok).toBe(true);
  }
  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  const editor = new TaskEditorPage(page);
  await editor.name.fill('Keep me');
  await editor.retentionDays.fill('14');
  await editor.retentionLast.fill('3');

  // A bug in a view: the next server check arrives malformed and the type section throws rendering it.
  await page.evaluate(() => {
    const w = window as unknown as { __backstopInvoke: (name: string, payload: unknown) => Promise<unknown>; __realInvoke?: unknown };
    const real = w.__backstopInvoke;
    w.__realInvoke = real;
    w.__backstopInvoke = async (name, payload) => {
      if (name !== 'servers.test') return real(name, payload);
      w.__backstopInvoke = real;
      return { ok: true, data: { serverVersion: 'SQLite 3', tools: [], warnings: [], support: { logical: null, snapshot: null } } };
    };
  });
  await page.getByTestId('task-server').selectOption({ label: 'two (SQLite folder)' });
  await expect(page.getByTestId('view-error')).toBeVisible();
  await expect(page.getByTestId('view-error-message')).toContainText('available');
  await page.getByTestId('view-error-continue').click();
  await expect(editor.name).toHaveValue('Keep me');
  await expect(editor.retentionDays).toHaveValue('14');
  await expect(editor.retentionLast).toHaveValue('3');
});

test('a role the target lacks: the window names it, offers the choices, and "create" restores with a note', async ({ page, engine, tempDir, postgres }) => {
  // A database owned by a role that is gone by the time of the restore.
  postgres.psql(`CREATE ROLE gone_owner NOLOGIN; CREATE DATABASE ledger OWNER gone_owner;`);
  postgres.psql(`CREATE TABLE entries (id int); ALTER TABLE entries OWNER TO gone_owner; INSERT INTO entries VALUES (1), (2);`, 'ledger');
  const backups = join(tempDir, 'role-backups');
  const { taskId } = await postgresTask(engine, postgres, 'ledger', 'logical', backups);
  await runToEnd(engine, taskId, 'full', 120_000);
  postgres.psql(`DROP DATABASE ledger; DROP ROLE gone_owner;`);

  const restore = new RestorePage(page);
  await restore.open();
  await page.getByTestId('restore-browse-destination').selectOption({ label: `ledger — ${backups}` });
  await page.getByTestId('restore-browse-list').click();
  await restore.choices.filter({ hasText: /^ledger$/ }).click();
  await page.getByTestId('restore-server').selectOption({ label: 'pg15 (PostgreSQL)' });
  await page.getByTestId('restore-name').fill('ledger_back');
  await restore.submit.click();
  const choices = page.getByTestId('role-missing');
  await expect(choices).toContainText('gone_owner', { timeout: 60_000 });
  expect(postgres.psql(`SELECT count(*) FROM pg_database WHERE datname = 'ledger_back'`).trim()).toBe('0');
  await choices.getByTestId('role-choice-create').check();
  await choices.getByTestId('role-retry').click();
  await expect(restore.result).toContainText('Restored into', { timeout: 120_000 });
  await expect(page.getByTestId('restore-note').filter({ hasText: 'Created role "gone_owner"' })).toBeVisible();
  expect(postgres.psql(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'ledger_back'`).trim()).toBe('gone_owner');
  expect(postgres.psql('SELECT count(*) FROM entries', 'ledger_back').trim()).toBe('2');
});
