/**
 * The task editor's sections H (commands before/after), I (upload limit), J (notification
 * channels) and each destination's own upload limit, in happy-dom over a fake bridge: a
 * task's hooks, limits and channels load into the fields and save back unchanged; edits
 * save what was typed (argv one item per line, rates converted to bytes per second);
 * clearing a field removes it from the task; bad values are refused before tasks.update.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { DEFAULT_SETTINGS, type NotificationChannelSetting, type Task, type TaskInput } from '@shared/domain.ts';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { answerEditorQuestions, mountTaskEditor } from './task-editor-mount';

let fake: FakeBridge;
let sent: TaskInput[];
let channels: NotificationChannelSetting[];

const CONFIGURED: Task = {
  id: 't1',
  name: 'Nightly',
  serverId: 's1',
  type: 'logical',
  schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
  retention: { minAgeDays: 30, keepLast: null },
  encryption: { mode: 'none' },
  destinations: [{ kind: 'local', path: '/backups/nightly', limits: { uploadBytesPerSecond: 2_500_000 } }],
  excludeDatabases: [],
  enabled: true,
  hooks: { pre: ['/usr/local/bin/app-pause', '--reason', 'backup of "$NAME"'], post: null, timeoutSeconds: 90, onFailure: 'skip' },
  limits: { uploadBytesPerSecond: 1_048_576 },
  notifications: ['c-mail'],
  createdAt: 'x',
  updatedAt: 'x',
};

beforeEach(() => {
  fake = installFakeBridge();
  sent = [];
  channels = [
    { id: 'c-mail', kind: 'email', name: 'DBA team', to: ['dba@example.com'], on: null },
    { id: 'c-hook', kind: 'webhook', name: 'Ops chat', preset: 'slack', on: ['failure'] },
  ];
  answerEditorQuestions(fake);
  fake.respond('tasks.list', () => ok([CONFIGURED]));
  fake.respond('settings.get', () => ok({ ...DEFAULT_SETTINGS, notificationChannels: channels }));
  fake.respond('retention.preview', () => ok([]));
  const saved = (input: TaskInput) => ok({ ...CONFIGURED, ...input, id: 't1', createdAt: 'x', updatedAt: 'y' } as Task);
  fake.respond('tasks.update', (input) => {
    sent.push((input as { task: TaskInput }).task);
    return saved((input as { task: TaskInput }).task);
  });
  fake.respond('tasks.create', (input) => {
    sent.push(input as TaskInput);
    return saved(input as TaskInput);
  });
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

async function openEditor(path = '/tasks/t1/edit') {
  const { wrapper: w, router } = await mountTaskEditor(path);
  const field = (id: string) => w.get(`[data-testid="${id}"]`).element as HTMLInputElement;
  const submit = async () => {
    await w.get('[data-testid="task-editor"]').trigger('submit');
    await flushPromises();
  };
  return { w, router, field, submit };
}

describe('task editor: hooks, upload limits and notification channels', { timeout: 30_000 }, () => {
  it('loads a task\'s hooks, limits and channels into the fields and saves them back unchanged', async () => {
    const { w, field, submit } = await openEditor();
    expect(field('hooks-pre').value).toBe('/usr/local/bin/app-pause\n--reason\nbackup of "$NAME"');
    expect(field('hooks-post').value).toBe('');
    expect(field('hooks-timeout').value).toBe('90');
    expect(field('hooks-on-failure-skip').checked).toBe(true);
    // 1 MiB/s is not a whole number of MB/s: shown exactly, and converted back to the same bytes.
    expect(field('task-upload-limit').value).toBe('1.048576');
    expect(field('task-upload-limit-unit').value).toBe('MB/s');
    expect(field('dest-0-upload-limit').value).toBe('2.5');
    expect(w.get('[data-testid="dest-0-upload-limit-bytes"]').text()).toContain('2,500,000 bytes/s');
    expect(field('notifications-chosen').checked).toBe(true);
    expect(field('notification-choice-c-mail').checked).toBe(true);
    expect(field('notification-choice-c-hook').checked).toBe(false);

    await submit();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ hooks: CONFIGURED.hooks, limits: CONFIGURED.limits, notifications: ['c-mail'], destinations: CONFIGURED.destinations });
  });

  it('saves edited values: argv one item per line, rates in bytes per second, the ticked channels', async () => {
    const { w, submit } = await openEditor();
    await w.get('[data-testid="hooks-pre"]').setValue('  /usr/bin/systemctl  \nstop\n\n app with spaces \r\n');
    await w.get('[data-testid="hooks-post"]').setValue('/usr/bin/systemctl\nstart');
    await w.get('[data-testid="hooks-timeout"]').setValue('600');
    await w.get('[data-testid="hooks-on-failure-warn"]').setValue(true);
    await w.get('[data-testid="task-upload-limit"]').setValue('40');
    await w.get('[data-testid="task-upload-limit-unit"]').setValue('Mbit/s');
    await w.get('[data-testid="dest-0-upload-limit"]').setValue('750');
    await w.get('[data-testid="dest-0-upload-limit-unit"]').setValue('KB/s');
    await w.get('[data-testid="notification-choice-c-hook"]').setValue(true);
    await submit();
    expect(sent[0]).toMatchObject({
      hooks: { pre: ['/usr/bin/systemctl', 'stop', ' app with spaces '], post: ['/usr/bin/systemctl', 'start'], timeoutSeconds: 600, onFailure: 'warn' },
      limits: { uploadBytesPerSecond: 5_000_000 },
      destinations: [{ kind: 'local', path: '/backups/nightly', limits: { uploadBytesPerSecond: 750_000 } }],
      notifications: ['c-mail', 'c-hook'],
    });
  });

  it('clearing the fields removes hooks, limits and the channel choice from the task', async () => {
    const { w, submit } = await openEditor();
    await w.get('[data-testid="hooks-pre"]').setValue('');
    await w.get('[data-testid="task-upload-limit"]').setValue('');
    await w.get('[data-testid="dest-0-upload-limit"]').setValue('');
    await w.get('[data-testid="notifications-all"]').setValue(true);
    await submit();
    expect(sent).toHaveLength(1);
    for (const key of ['hooks', 'limits', 'notifications'] as const) expect(key in sent[0]!).toBe(false);
    expect(sent[0]!.destinations).toEqual([{ kind: 'local', path: '/backups/nightly' }]);
  });

  it('"only the ticked channels" with none ticked saves an empty list (this task tells no channel)', async () => {
    const { w, submit } = await openEditor();
    await w.get('[data-testid="notification-choice-c-mail"]').setValue(false);
    await submit();
    expect(sent[0]!.notifications).toEqual([]);
  });

  it('refuses a bad timeout and out-of-range limits with their messages, and sends nothing', async () => {
    const { w, submit } = await openEditor();
    await w.get('[data-testid="hooks-timeout"]').setValue('0');
    await w.get('[data-testid="task-upload-limit"]').setValue('1');
    await w.get('[data-testid="task-upload-limit-unit"]').setValue('KB/s');
    await w.get('[data-testid="dest-0-upload-limit"]').setValue('-5');
    await submit();
    expect(sent).toEqual([]);
    expect(fake.commands['tasks.update']).not.toHaveBeenCalled();
    expect(w.get('[data-testid="hooks-timeout-error"]').text()).toBe('Enter the timeout as whole seconds from 1 to 86400 (24 hours).');
    const limitMessage = 'Enter an upload limit from 1.024 KB/s to 1,000,000 MB/s, or leave it empty for no limit.';
    expect(w.get('[data-testid="task-upload-limit-error"]').text()).toBe(limitMessage);
    expect(w.get('[data-testid="dest-0-upload-limit-error"]').text()).toBe(limitMessage);

    await w.get('[data-testid="task-upload-limit"]').setValue('2000000');
    await w.get('[data-testid="task-upload-limit-unit"]').setValue('MB/s');
    expect(w.get('[data-testid="task-upload-limit-error"]').text()).toBe(limitMessage);

    await w.get('[data-testid="hooks-timeout"]').setValue('86400');
    await w.get('[data-testid="task-upload-limit"]').setValue('1.024');
    await w.get('[data-testid="task-upload-limit-unit"]').setValue('KB/s');
    await w.get('[data-testid="dest-0-upload-limit"]').setValue('1000000');
    await w.get('[data-testid="dest-0-upload-limit-unit"]').setValue('MB/s');
    await submit();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ hooks: { timeoutSeconds: 86400 }, limits: { uploadBytesPerSecond: 1024 }, destinations: [{ limits: { uploadBytesPerSecond: 1e12 } }] });
  });

  it('a command with more than 100 lines is refused with its message', async () => {
    const { w, submit } = await openEditor();
    await w.get('[data-testid="hooks-post"]').setValue(['/bin/echo', ...Array.from({ length: 100 }, (_, i) => `a${i}`)].join('\n'));
    await submit();
    expect(sent).toEqual([]);
    expect(w.get('[data-testid="hooks-post-error"]').text()).toBe('A command can have at most 100 lines (the program and 99 arguments).');
  });

  it('with no channels in Settings, links there and a new task notifies every channel (no `notifications`)', async () => {
    channels = [];
    const { w, router, submit } = await openEditor('/tasks/new');
    expect(w.get('[data-testid="notifications-none"]').text()).toContain('No webhooks, heartbeats or e-mail recipients are set up yet');
    await w.get('[data-testid="task-name-input"]').setValue('New');
    await w.get('[data-testid="dest-0-path"]').setValue('/b');
    await submit();
    expect(sent).toHaveLength(1);
    for (const key of ['hooks', 'limits', 'notifications'] as const) expect(key in sent[0]!).toBe(false);
    await router.push('/tasks/new');
    await flushPromises();
    await w.get('[data-testid="notifications-settings-link"]').trigger('click');
    await flushPromises();
    expect(router.currentRoute.value.path).toBe('/settings');
  });
});
