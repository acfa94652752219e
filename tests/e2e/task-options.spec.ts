/**
 * Issue #24 in the window: hooks, upload limits (the task's and a destination's) and the
 * task's notification channels set in the task editor are saved in the engine and shown
 * again on reopening; and Settings › E-mail server configured against a real SMTP server
 * (smtp-server, STARTTLS with a login) delivers "Send test" to the address typed — checked
 * on the receiving side — without the password ever reaching the page or an event.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { startSmtpReceiver } from '../fixtures/smtp-receiver.ts';
import { expect, test } from './fixtures/harness';
import { AppShell } from './pages/app-shell';
import { makeSqliteFolder } from './fixtures/sqlite-files';

test('hooks, an upload limit and a notification channel are saved from the editor and shown again', async ({ page, engine, tempDir }) => {
  test.setTimeout(90_000); // the whole editor, twice, on a busy machine
  const folder = join(tempDir, 'dbs');
  const backups = join(tempDir, 'backups');
  await makeSqliteFolder(folder, ['a.db']);
  await mkdir(backups);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  const created = await dispatch(engine.handlers, 'tasks.create', { name: 'Nightly', serverId: server.data.id, type: 'logical', schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] });
  if (!created.ok) throw new Error(created.message);
  const mail = await dispatch(engine.handlers, 'notifications.saveChannel', { channel: { kind: 'email', name: 'DBA team', to: ['dba@example.test'] } });
  const chat = await dispatch(engine.handlers, 'notifications.saveChannel', { channel: { kind: 'webhook', name: 'Ops chat', preset: 'slack' }, url: 'https://hooks.example.test/T0KEN' });
  if (!mail.ok || !chat.ok) throw new Error('channels not saved');

  const edit = page.url().replace(/#.*$/, `#/tasks/${created.data.id}/edit`);
  await page.goto(edit);
  await expect(page.getByTestId('task-editor')).toBeVisible();
  await page.getByTestId('hooks-pre').fill('/usr/bin/env\nBACKUP_NOTE=weekly run\n/bin/true');
  await page.getByTestId('hooks-post').fill('/bin/echo\ndone');
  await page.getByTestId('hooks-timeout').fill('120');
  await page.getByTestId('hooks-on-failure-skip').check();
  await page.getByTestId('task-upload-limit').fill('40');
  await page.getByTestId('task-upload-limit-unit').selectOption('Mbit/s');
  await expect(page.getByTestId('task-upload-limit-bytes')).toHaveText('= 5,000,000 bytes/s (5.0 MB/s)');
  await page.getByTestId('dest-0-upload-limit').fill('2.5');
  await page.getByTestId('notifications-chosen').check();
  await page.getByTestId(`notification-choice-${mail.data.id}`).check();
  await page.getByTestId('task-save').click();
  await expect(page.getByTestId('view-tasks')).toBeVisible();

  const listed = await dispatch(engine.handlers, 'tasks.list', undefined);
  const saved = listed.ok ? listed.data.find((t) => t.id === created.data.id) : undefined;
  expect(saved).toMatchObject({
    hooks: { pre: ['/usr/bin/env', 'BACKUP_NOTE=weekly run', '/bin/true'], post: ['/bin/echo', 'done'], timeoutSeconds: 120, onFailure: 'skip' },
    limits: { uploadBytesPerSecond: 5_000_000 },
    notifications: [mail.data.id],
    destinations: [{ kind: 'local', path: backups, limits: { uploadBytesPerSecond: 2_500_000 } }],
  });

  // Reopened in a fresh page: what it shows comes from the engine.
  await page.goto(edit);
  await page.reload();
  await expect(page.getByTestId('hooks-pre')).toHaveValue('/usr/bin/env\nBACKUP_NOTE=weekly run\n/bin/true');
  await expect(page.getByTestId('hooks-post')).toHaveValue('/bin/echo\ndone');
  await expect(page.getByTestId('hooks-timeout')).toHaveValue('120');
  await expect(page.getByTestId('hooks-on-failure-skip')).toBeChecked();
  await expect(page.getByTestId('task-upload-limit')).toHaveValue('5');
  await expect(page.getByTestId('task-upload-limit-unit')).toHaveValue('MB/s');
  await expect(page.getByTestId('dest-0-upload-limit')).toHaveValue('2.5');
  await expect(page.getByTestId('notifications-chosen')).toBeChecked();
  await expect(page.getByTestId(`notification-choice-${mail.data.id}`)).toBeChecked();
  await expect(page.getByTestId(`notification-choice-${chat.data.id}`)).not.toBeChecked();
});

test('Settings › E-mail server: saved with the password in the keychain, and "Send test" arrives at a real SMTP server over STARTTLS', async ({ page, engine }) => {
  test.setTimeout(90_000);
  const smtp = await startSmtpReceiver();
  // The receiver's self-signed certificate is trusted as a company CA would be: in the default store of the process the engine runs in.
  const before = getCACertificates('default');
  setDefaultCACertificates([...before, readFileSync(smtp.caFile, 'utf8')]);
  const events: string[] = [];
  const off = engine.events.onAny((name, payload) => events.push(`${name} ${JSON.stringify(payload)}`));
  try {
    const view = await new AppShell(page).open('settings');
    const form = view.getByTestId('smtp-settings');
    await form.getByTestId('smtp-host').fill('localhost');
    await form.getByTestId('smtp-port').fill(String(smtp.port));
    await expect(form.getByTestId('smtp-security')).toHaveValue('starttls');
    await form.getByTestId('smtp-user').fill(smtp.user);
    await form.getByTestId('smtp-password').fill(smtp.password);
    await form.getByTestId('smtp-from').fill('backstop@example.test');
    await form.getByTestId('smtp-save').click();
    await expect(form.getByTestId('smtp-status')).toHaveText('E-mail server saved.');
    await expect(form.getByTestId('smtp-password')).toHaveValue('');
    await expect(form.getByTestId('smtp-password')).toHaveAttribute('placeholder', 'saved in the keychain');
    await expect(form.getByTestId('smtp-password-saved')).toBeVisible();
    expect(await page.content()).not.toContain(smtp.password);

    await form.getByTestId('smtp-test-to').fill('oncall@example.test');
    await form.getByTestId('smtp-test').click();
    await expect(form.getByTestId('smtp-test-result')).toHaveText('Delivered to the server.', { timeout: 30_000 });
    const [received] = await smtp.waitFor(1);
    expect(received).toMatchObject({ from: 'backstop@example.test', to: ['oncall@example.test'], user: smtp.user, secure: true });
    expect(received!.subject).toContain('Test message from Backstop to oncall@example.test');

    await page.reload();
    const again = await new AppShell(page).open('settings');
    await expect(again.getByTestId('smtp-host')).toHaveValue('localhost');
    await expect(again.getByTestId('smtp-password-saved')).toBeVisible();
    expect(await page.content()).not.toContain(smtp.password);
    const stored = await dispatch(engine.handlers, 'settings.get', undefined);
    expect(stored.ok && stored.data.smtp).toEqual({ host: 'localhost', port: smtp.port, security: 'starttls', user: smtp.user, from: 'backstop@example.test' });
    expect(JSON.stringify(stored)).not.toContain(smtp.password);
    expect(events.length).toBeGreaterThan(0);
    expect(events.join('\n')).not.toContain(smtp.password);
  } finally {
    off();
    setDefaultCACertificates(before);
    await smtp.close();
  }
});
