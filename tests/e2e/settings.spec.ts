/** Settings are saved through settings.set into the engine, and the theme applies at once. */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { AppShell } from './pages/app-shell';
import { CLI_BIN, REPO_ROOT } from '../fixtures/cli.ts';

test('theme and concurrency are saved in the engine and survive a reload', async ({ page, engine }) => {
  const shell = new AppShell(page);
  const view = await shell.open('settings');
  const html = page.locator('html');
  await expect(html).not.toHaveAttribute('data-theme');

  await view.getByText('Dark', { exact: true }).click();
  // The theme applies, and is saved, the moment it is chosen — before Save.
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await expect.poll(async () => {
    const s = await dispatch(engine.handlers, 'settings.get', undefined);
    return s.ok && s.data.theme;
  }).toBe('dark');
  await view.getByLabel('Backups running at once').fill('5');
  await view.getByTestId('settings-save').click();

  await expect(view.getByTestId('settings-status')).toHaveText('Settings saved.');
  await expect(html).toHaveAttribute('data-theme', 'dark');
  const stored = await dispatch(engine.handlers, 'settings.get', undefined);
  expect(stored.ok && { theme: stored.data.theme, max: stored.data.maxConcurrentBackups }).toEqual({ theme: 'dark', max: 5 });

  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  const again = await shell.open('settings');
  await expect(again.getByTestId('theme-dark')).toBeChecked();
  await expect(again.getByLabel('Backups running at once')).toHaveValue('5');

  // Back to "system": the attribute goes at once, so the OS preference decides again.
  await again.getByText('System', { exact: true }).click();
  await expect(html).not.toHaveAttribute('data-theme');
});

test('the tools folder placeholder says where the tools were found, not a version guessed in advance', async ({ page, engine }) => {
  const detected = await dispatch(engine.handlers, 'tools.detect', undefined);
  if (!detected.ok) throw new Error(detected.message);
  const pgDump = detected.data.find((t) => t.name === 'pg_dump');
  const view = await new AppShell(page).open('settings');
  await expect(view.getByTestId('tool-row').first()).toBeVisible();
  await expect(view.getByTestId('tools-postgres')).toHaveAttribute(
    'placeholder',
    pgDump ? `found: ${dirname(pgDump.path)}` : 'not found yet: PATH and the usual places',
  );
});

test('an out-of-range concurrency is refused before it reaches the engine', async ({ page, engine }) => {
  const view = await new AppShell(page).open('settings');
  await view.getByLabel('Backups running at once').fill('40');
  await view.getByTestId('settings-save').click();
  await expect(view.getByText('Enter a whole number from 1 to 16.')).toBeVisible();
  const stored = await dispatch(engine.handlers, 'settings.get', undefined);
  expect(stored.ok && stored.data.maxConcurrentBackups).toBe(2);
});

test('tool folders, staleness and background options are saved; detected tools are listed', async ({ page, engine }) => {
  const detected = await dispatch(engine.handlers, 'tools.detect', undefined);
  expect(detected.ok).toBe(true);
  if (!detected.ok) return;
  const view = await new AppShell(page).open('settings');
  await expect(view.getByTestId('tool-row')).toHaveCount(detected.data.length);

  await expect(view.getByTestId('slot-warn')).toHaveValue('1');
  await view.getByTestId('stale-after').fill('36');
  await view.getByTestId('slot-warn').fill('2.5');
  await view.getByTestId('notifications').uncheck();
  await view.getByTestId('tools-postgres').fill('/usr/lib/postgresql/15/bin');
  await view.getByTestId('settings-save').click();
  await expect(view.getByTestId('settings-status')).toHaveText('Settings saved.');
  const saved = await dispatch(engine.handlers, 'settings.get', undefined);
  expect(saved.ok && { stale: saved.data.staleAfterHours, slot: saved.data.slotWarnGiB, n: saved.data.notifications, pg: saved.data.toolPaths.postgres }).toEqual({
    stale: 36,
    slot: 2.5,
    n: false,
    pg: '/usr/lib/postgresql/15/bin',
  });

  await view.getByTestId('stale-after').fill('0');
  await view.getByTestId('settings-save').click();
  await expect(view.getByText('Enter a whole number of hours from 1 to 8760, or leave it empty.')).toBeVisible();
  await view.getByTestId('stale-after').fill('36');
  await view.getByTestId('slot-warn').fill('0');
  await view.getByTestId('settings-save').click();
  await expect(view.getByText('Enter a size in GiB from 0.01 to 100000.')).toBeVisible();
  const kept = await dispatch(engine.handlers, 'settings.get', undefined);
  expect(kept.ok && kept.data.slotWarnGiB).toBe(2.5);
});

test('Settings says which process schedules: nobody, then a running "backstop agent" (a real child process)', async ({ page, engine }) => {
  test.setTimeout(120_000); // the agent is a whole CLI process starting its engine
  const shell = new AppShell(page);
  const view = await shell.open('settings');
  // The test harness's engine never calls start(): nothing schedules this data dir.
  await expect(view.getByTestId('scheduler-owner')).toHaveText('Nobody: scheduled backups do not run until the app or "backstop agent" starts');

  const agent = spawn(process.execPath, [CLI_BIN, 'agent', '--data-dir', engine.dataDir, '--json'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      agent.stdout.once('data', () => resolve());
      agent.once('exit', (code) => reject(new Error(`backstop agent exited ${code}`)));
    });
    await page.reload();
    const again = await shell.open('settings');
    await expect(again.getByTestId('scheduler-owner')).toContainText(`"backstop agent" (pid ${agent.pid}, since `);
    await expect(again.getByTestId('scheduler-owner')).toContainText('this window does not schedule while it runs');
  } finally {
    agent.kill('SIGKILL');
  }
});
