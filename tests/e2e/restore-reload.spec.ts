/**
 * A restore keeps running when the window is reloaded, and the reloaded window finds it:
 * the Restore view lists it with its progress and a Cancel that stops it (real engine,
 * real PostgreSQL 15). The restore is held deterministically where it creates the new
 * database: a session holding a lock on template0 (COMMENT ON DATABASE takes it) makes
 * CREATE DATABASE … TEMPLATE template0 wait until the test releases it. The same for a
 * whole-server restore: the reloaded window lists it with the database it restores.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PG_BIN, type PgServer } from '../fixtures/servers/postgres.ts';
import { expect, test } from './fixtures/harness';
import { postgresTask, runToEnd } from './fixtures/engine-setup';
import { RestorePage } from './pages/restore-page';

test('a restore survives a reload of the window, which lists it and can cancel it', async ({ page, engine, tempDir, postgres }) => {
  test.setTimeout(120_000);
  postgres.psql('CREATE DATABASE reload_src;');
  postgres.psql('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);', 'reload_src');
  const backups = join(tempDir, 'backups');
  const { taskId } = await postgresTask(engine, postgres, 'Reload test', 'logical', backups);
  await runToEnd(engine, taskId, 'full');

  const q = (sql: string) => postgres.psql(sql).trim();
  const { release, released } = await holdTemplate0(postgres);
  try {

    const restore = new RestorePage(page);
    await restore.open();
    await page.getByTestId('restore-browse-destination').selectOption({ label: `Reload test — ${backups}` });
    await page.getByTestId('restore-browse-list').click();
    await restore.choices.filter({ hasText: /^reload_src$/ }).click();
    await expect(restore.points).toHaveCount(1, { timeout: 60_000 });
    await page.getByTestId('restore-server').selectOption({ label: 'pg15 (PostgreSQL)' });
    await page.getByTestId('restore-name').fill('reload_copy');
    await restore.submit.click();
    await expect.poll(() => q(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%CREATE DATABASE%reload_copy%' AND wait_event_type = 'Lock'`), { timeout: 60_000 }).toBe('1');

    // The window is reloaded while the restore waits on the server.
    await page.reload();
    await restore.open();
    const row = page.getByTestId('restore-running');
    await expect(row).toHaveAttribute('data-database', 'reload_copy');
    await expect(row).toContainText('reload_copy on pg15');
    await row.getByTestId('restore-running-cancel').click();
    // The cancel takes effect once the creating statement ends: release the lock.
    release();
    await expect(row.getByTestId('restore-running-state')).toHaveText('Canceled', { timeout: 60_000 });
    expect(q(`SELECT count(*) FROM pg_database WHERE datname = 'reload_copy'`)).toBe('0');
    await row.getByTestId('restore-running-dismiss').click();
    await expect(page.getByTestId('restores-running')).toHaveCount(0);
  } finally {
    await released();
  }
});

/** A session holding a lock on template0 until `release` (or 90 s): CREATE DATABASE … TEMPLATE template0 waits for it. */
async function holdTemplate0(postgres: PgServer): Promise<{ release: () => void; released: () => Promise<void> }> {
  const q = (sql: string) => postgres.psql(sql).trim();
  const holder = spawn(join(PG_BIN, 'psql'), ['-X', '-h', postgres.host, '-p', String(postgres.port), '-U', postgres.user, '-d', 'postgres', '-c', "BEGIN; COMMENT ON DATABASE template0 IS 'held by the reload test'; SELECT pg_sleep(90); ROLLBACK;"], {
    env: { ...process.env, PGPASSWORD: postgres.password },
    stdio: 'ignore',
  });
  const closed = new Promise<void>((resolve) => holder.on('close', () => resolve()));
  await expect.poll(() => q(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%held by the reload test%' AND state = 'active' AND pid <> pg_backend_pid()`)).toBe('1');
  return {
    release: () => void q(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%held by the reload test%' AND pid <> pg_backend_pid()`),
    released: async () => {
      holder.kill();
      await closed;
    },
  };
}

test('a whole-server restore survives a reload of the window, which lists it with its progress and can cancel it', async ({ page, engine, tempDir, postgres }) => {
  test.setTimeout(120_000);
  postgres.psql('CREATE DATABASE wsreload_src;');
  postgres.psql('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);', 'wsreload_src');
  const backups = join(tempDir, 'backups');
  const { serverId, taskId } = await postgresTask(engine, postgres, 'Whole reload test', 'logical', backups);
  await runToEnd(engine, taskId, 'full');

  const q = (sql: string) => postgres.psql(sql).trim();
  const { release, released } = await holdTemplate0(postgres);
  try {
    const restore = new RestorePage(page);
    await restore.planWholeServer(serverId, 'wsr_');
    await expect(page.locator('[data-testid="ws-plan-row"][data-status="ready"]').filter({ hasText: 'wsreload_src' })).toHaveCount(1, { timeout: 60_000 });
    await page.getByTestId('ws-start').click();
    await expect.poll(() => q(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%CREATE DATABASE%wsr_%' AND wait_event_type = 'Lock'`), { timeout: 60_000 }).not.toBe('0');

    // The window is reloaded while the restore waits on the server.
    await page.reload();
    await restore.open();
    const row = page.getByTestId('server-restore-running');
    await expect(row).toContainText('Whole server onto pg15');
    await expect(row.getByTestId('server-restore-running-state')).toContainText('restoring');
    await row.getByTestId('server-restore-running-cancel').click();
    release();
    await expect(row.getByTestId('server-restore-running-state')).toContainText('Canceled: restored 0', { timeout: 60_000 });
    expect(q(`SELECT count(*) FROM pg_database WHERE datname LIKE 'wsr\\_%'`)).toBe('0');
    await row.getByTestId('server-restore-running-dismiss').click();
    await expect(page.getByTestId('restores-running')).toHaveCount(0);
  } finally {
    await released();
  }
});
