/** The six views are reachable from the sidebar, and a fresh install shows what to do first. */
import { expect, test } from './fixtures/harness';
import { AppShell, VIEWS } from './pages/app-shell';
import { TasksPage } from './pages/tasks-page';

test('opens on Tasks and reaches every view from the sidebar', async ({ page }) => {
  const shell = new AppShell(page);
  await expect(shell.view('tasks')).toBeVisible();
  await expect(page).toHaveTitle('Tasks · Backstop');
  await expect(shell.nav.getByRole('link')).toHaveText(['Tasks', 'Servers', 'Databases', 'History', 'Restore', 'Settings']);

  for (const view of VIEWS) {
    const root = await shell.open(view);
    await expect(root.getByRole('heading', { level: 1 })).toHaveText(view[0]!.toUpperCase() + view.slice(1));
    for (const other of VIEWS.filter((v) => v !== view)) {
      await expect(shell.navLink(other)).not.toHaveAttribute('aria-current', 'page');
    }
  }
});

test('a fresh install shows what to do first in every view', async ({ page, engine }) => {
  const shell = new AppShell(page);

  const tasks = await shell.open('tasks');
  await expect(tasks.getByTestId('tasks-empty-no-servers')).toContainText('Add a server first');

  const servers = await shell.open('servers');
  const empty = servers.getByTestId('servers-empty');
  await expect(empty.getByRole('heading')).toHaveText('Add a server');
  await expect(empty.getByRole('button')).toHaveText([/PostgreSQL/, /MySQL \/ MariaDB/, /SQLite folder/]);

  const history = await shell.open('history');
  await expect(history.getByTestId('history-empty').getByRole('heading')).toHaveText('No runs yet');

  const restore = await shell.open('restore');
  await expect(restore.getByTestId('restore-dropzone')).toContainText('Drop a backup folder here or choose one');
  await expect(restore.getByRole('button', { name: 'Choose a backup folder…' })).toBeEnabled();

  const settings = await shell.open('settings');
  await expect(settings.getByTestId('theme-system')).toBeChecked();
  await expect(settings.getByLabel('Backups running at once')).toHaveValue('2');
  // app.info comes from this test's engine.
  await expect(settings.getByTestId('about')).toContainText(engine.dataDir);
});

test('the Tasks empty state leads to the Servers view', async ({ page }) => {
  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.emptyNoServers.getByRole('link', { name: 'Add a server' }).click();
  await expect(new AppShell(page).view('servers')).toBeVisible();
  await expect(page).toHaveURL(/#\/servers$/);
});

test('the sidebar is usable with the keyboard alone', async ({ page }) => {
  const shell = new AppShell(page);
  await expect(shell.view('tasks')).toBeVisible();
  await page.keyboard.press('Tab'); // skip link
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(shell.navLink('tasks')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(shell.navLink('servers')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(shell.view('servers')).toBeVisible();
});

test('a notification click in the shell shows the matching view (app.navigate)', async ({ page, engine }) => {
  const shell = new AppShell(page);
  await expect(shell.view('tasks')).toBeVisible();
  engine.events.emit('app.navigate', { route: '/history' });
  await expect(shell.view('history')).toBeVisible();
  await expect(page).toHaveURL(/#\/history$/);
  engine.events.emit('app.navigate', { route: '/settings' });
  await expect(shell.view('settings')).toBeVisible();
});
