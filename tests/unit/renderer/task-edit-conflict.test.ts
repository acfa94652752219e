/**
 * A task changed elsewhere (another window, the command line) while this window
 * edits or pauses it: nothing typed is lost, nothing made elsewhere is silently undone, and
 * no setting the window does not show is dropped. The fake bridge answers tasks.update as
 * the engine does: STALE when `basedOn` is not the stored version (the engine side is
 * tested in tests/unit/engine/handlers.test.ts; the whole flow on a real engine in
 * tests/e2e/task-edit-conflict.spec.ts).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { DEFAULT_SETTINGS, type Task, type TaskInput } from '@shared/domain.ts';
import { useTaskEditorStore } from '../../../renderer/src/stores/task-editor';
import { taskToInput, useTasksStore } from '../../../renderer/src/stores/tasks';
import { fail, installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { answerEditorQuestions as answerServerQuestions, mountTaskEditor } from './task-editor-mount';

let fake: FakeBridge;
let unmount: (() => void) | null = null;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  unmount?.();
  unmount = null;
  removeBridge();
  document.body.innerHTML = '';
});

/** A stored task with the settings the task card does not show: hooks, limits, notifications, test restores. */
const V1: Task = {
  id: 't1',
  name: 'Nightly',
  serverId: 's1',
  type: 'logical',
  schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
  retention: { minAgeDays: 30, keepLast: null },
  encryption: { mode: 'none' },
  destinations: [{ kind: 'local', path: '/backups/nightly' }],
  excludeDatabases: [],
  enabled: true,
  hooks: { pre: ['/usr/local/bin/quiesce'], post: null, timeoutSeconds: 60, onFailure: 'fail' },
  limits: { uploadBytesPerSecond: 1048576 },
  notifications: ['n1'],
  testRestore: { schedule: '0 5 * * 0', afterFull: false, maxMinutes: 30 },
  createdAt: '2026-03-01T10:00:00.000Z',
  updatedAt: '2026-03-01T10:00:00.000Z',
};

/** tasks.list / tasks.update as the engine answers them, over one stored task; `updates` records what was sent. */
function fakeEngine(initial: Task) {
  const state = { stored: initial, updates: [] as { task: TaskInput; basedOn?: string }[] };
  let clock = Date.parse(initial.updatedAt);
  const save = (input: TaskInput): Task => {
    clock += 1000;
    state.stored = { ...(input as Task), id: state.stored.id, createdAt: state.stored.createdAt, updatedAt: new Date(clock).toISOString() };
    return state.stored;
  };
  fake.respond('tasks.list', () => ok([state.stored]));
  fake.respond('tasks.status', () => ok([]));
  fake.respond('runs.active', () => ok([]));
  fake.respond('tasks.update', (input) => {
    const { task, basedOn } = input as { id: string; task: TaskInput; basedOn?: string };
    state.updates.push({ task, basedOn });
    if (basedOn !== undefined && basedOn !== state.stored.updatedAt) return fail('STALE', `Task "${state.stored.name}" was changed elsewhere (…) after this edit began, so nothing was saved.`);
    return ok(save(task));
  });
  return {
    state,
    /** Another window's save: the stored task becomes `change` applied to it, and the engine says so. */
    changeElsewhere(change: Partial<Task>) {
      save({ ...(state.stored as TaskInput), ...change } as TaskInput);
      fake.emit('tasks.changed', { ids: [state.stored.id] });
    },
  };
}

/** The editor's questions (task-editor-mount.ts), and the notification channel V1 names. */
function answerEditorQuestions(): void {
  answerServerQuestions(fake);
  fake.respond('settings.get', () => ok({ ...DEFAULT_SETTINGS, notificationChannels: [{ id: 'n1', kind: 'heartbeat', name: 'Pager', method: 'GET' }] }));
}

async function mountEditor(path: string) {
  const { wrapper, router, pinia } = await mountTaskEditor(path);
  unmount = () => wrapper.unmount();
  // The stores of this window (a store looked up without its pinia may be another mounted app's).
  return { wrapper, router, editor: useTaskEditorStore(pinia), tasks: useTasksStore(pinia) };
}

describe('a task changed elsewhere', { timeout: 30_000 }, () => {
  it('while the editor is open: the typed value stays, saving is refused, "Keep my edits" saves them on top of the other change', async () => {
    answerEditorQuestions();
    const engine = fakeEngine(V1);
    const { wrapper, router, editor } = await mountEditor('/tasks/t1/edit');
    await wrapper.get('[data-testid="retention-days"]').setValue('14');
    expect(wrapper.find('[data-testid="changed-elsewhere"]').exists()).toBe(false);

    // Another window pauses the task meanwhile.
    engine.changeElsewhere({ enabled: false });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="changed-elsewhere"]').exists()).toBe(true));
    const notice = wrapper.get('[data-testid="changed-elsewhere"]');
    expect(notice.text()).toContain('This task was changed elsewhere');
    expect((wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('14');

    // Saving as it is would undo the pause: the engine refuses, the form stays as typed.
    await wrapper.get('[data-testid="task-editor"]').trigger('submit');
    await flushPromises();
    expect(engine.state.updates.at(-1)?.basedOn).toBe(V1.updatedAt);
    expect(wrapper.text()).toContain('The task was not saved');
    expect(wrapper.text()).toContain('was changed elsewhere');
    expect(engine.state.stored.enabled).toBe(false);
    expect(router.currentRoute.value.path).toBe('/tasks/t1/edit');
    expect(editor.draft.minAgeDays).toBe(14);

    await wrapper.get('[data-testid="changed-keep-mine"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="changed-elsewhere"]').exists()).toBe(false);
    await wrapper.get('[data-testid="task-editor"]').trigger('submit');
    await flushPromises();
    // The user's retention and the pause made elsewhere, and every setting the editor holds.
    expect(engine.state.stored).toMatchObject({
      enabled: false,
      retention: { minAgeDays: 14, keepLast: null },
      hooks: V1.hooks,
      limits: V1.limits,
      notifications: V1.notifications,
      testRestore: V1.testRestore,
    });
    expect(router.currentRoute.value.path).toBe('/tasks');
  });

  it('"Discard my edits" loads the stored version into the form', async () => {
    answerEditorQuestions();
    const engine = fakeEngine(V1);
    const { wrapper } = await mountEditor('/tasks/t1/edit');
    await wrapper.get('[data-testid="retention-days"]').setValue('14');
    engine.changeElsewhere({ retention: { minAgeDays: 90, keepLast: 5 } });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="changed-elsewhere"]').exists()).toBe(true));
    await wrapper.get('[data-testid="changed-load-current"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="changed-elsewhere"]').exists()).toBe(false);
    expect((wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('90');
    expect((wrapper.get('[data-testid="retention-last"]').element as HTMLInputElement).value).toBe('5');
    expect(engine.state.updates).toEqual([]);
  });

  it('an untouched editor just shows the new version, with no question', async () => {
    answerEditorQuestions();
    const engine = fakeEngine(V1);
    const { wrapper, editor, tasks } = await mountEditor('/tasks/t1/edit');
    engine.changeElsewhere({ retention: { minAgeDays: 90, keepLast: null } });
    await vi.waitFor(() => expect(tasks.byId.get('t1')?.retention.minAgeDays).toBe(90));
    // The view re-opens the draft (as after a re-mount): nothing was typed, so the stored version is taken.
    editor.open(tasks.byId.get('t1')!);
    await flushPromises();
    expect(editor.changedElsewhere).toBeNull();
    expect((wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('90');
  });
});

describe('pausing and excluding from the task list', () => {
  it('keep every stored setting, and apply to the current version when another window changed it first', async () => {
    const pinia = createPinia();
    setActivePinia(pinia);
    const engine = fakeEngine(V1);
    const tasks = useTasksStore(pinia);
    await tasks.refresh();
    // Another window changes the retention; this window's list has not refreshed yet (its event is late).
    engine.state.stored = { ...engine.state.stored, retention: { minAgeDays: 7, keepLast: null }, updatedAt: '2026-03-01T11:00:00.000Z' };

    expect(await tasks.setEnabled('t1', false)).toBe(true);
    // First try based on the version shown (refused), then on the current one.
    expect(engine.state.updates.map((u) => u.basedOn)).toEqual([V1.updatedAt, '2026-03-01T11:00:00.000Z']);
    expect(engine.state.stored).toMatchObject({ enabled: false, retention: { minAgeDays: 7 }, hooks: V1.hooks, limits: V1.limits, notifications: V1.notifications, testRestore: V1.testRestore });

    const excluded = await tasks.change('t1', (t) => ({ ...taskToInput(t), excludeDatabases: ['tmp.db'] }));
    expect(excluded).toMatchObject({ enabled: false, excludeDatabases: ['tmp.db'], hooks: V1.hooks, testRestore: V1.testRestore });
  });
});

/** A task whose deletion removes destination secrets: an S3 bucket and an SFTP server with a key file (its passphrase in the keychain) beside a local folder, encrypted with a key. */
const KEY_REF = 'key.0a1b-2c3d-4e5f-6a7b';
const V2: Task = {
  ...V1,
  id: 't2',
  name: 'Offsite',
  encryption: { mode: 'key', keyRef: KEY_REF, fingerprint: 'fp-offsite' },
  destinations: [
    { kind: 'local', path: '/backups/offsite' },
    { kind: 's3', bucket: 'offsite-bucket', prefix: 'db', region: 'eu-west-1', endpoint: null, forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef: 'dest.s3-of-t2' },
    { kind: 'sftp', host: 'vault.example.test', port: 22, user: 'backup', path: '/srv/backups', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOffsite', privateKeyFile: '/home/dba/.ssh/id_ed25519', credentialsRef: 'dest.sftp-of-t2' },
  ],
};

/** tasks.list / tasks.update / tasks.create over stored tasks, and the keychain as the engine keeps it; `deleteElsewhere` is another window's delete. */
function fakeEngineWithDelete(initial: Task) {
  const state = { tasks: [initial], created: [] as TaskInput[], savedSecrets: [] as unknown[], keys: [KEY_REF] };
  fake.respond('tasks.list', () => ok(state.tasks));
  fake.respond('tasks.status', () => ok([]));
  fake.respond('runs.active', () => ok([]));
  fake.respond('keys.list', () => ok(state.keys.map((keyRef) => ({ keyRef, fingerprint: 'fp-offsite', origin: 'generated' as const, createdAt: V1.createdAt, exportedAt: V1.createdAt, exportMethod: 'file' }))));
  fake.respond('tasks.update', (input) => {
    const { id } = input as { id: string };
    return state.tasks.some((t) => t.id === id) ? fail('INTERNAL', 'not expected here') : fail('NOT_FOUND', `No task with id ${id}.`);
  });
  fake.respond('tasks.create', (input) => {
    state.created.push(input as TaskInput);
    const task: Task = { ...(input as Task), id: 't3', createdAt: '2026-03-02T10:00:00.000Z', updatedAt: '2026-03-02T10:00:00.000Z' };
    state.tasks = [...state.tasks, task];
    return ok(task);
  });
  fake.respond('destinations.saveCredentials', (input) => {
    state.savedSecrets.push((input as { secret: unknown }).secret);
    return ok({ credentialsRef: `dest.new-${state.savedSecrets.length}` });
  });
  fake.respond('destinations.forgetCredentials', (input) => ok(input as { credentialsRef: string }));
  return {
    state,
    /** Another window (or `backstop tasks delete`) deletes the task: its secrets leave the keychain, and the engine says so. */
    deleteElsewhere(emit = true) {
      state.tasks = state.tasks.filter((t) => t.id !== initial.id);
      if (emit) fake.emit('tasks.changed', { ids: [initial.id] });
    },
  };
}

describe('a task deleted elsewhere while its editor is open', { timeout: 30_000 }, () => {
  it('keeps the typed form, says so, and "Save as a new task" creates it, asking again for the secrets the delete removed', async () => {
    answerEditorQuestions();
    const engine = fakeEngineWithDelete(V2);
    const { wrapper, router } = await mountEditor('/tasks/t2/edit');
    await wrapper.get('[data-testid="retention-days"]').setValue('14');

    engine.deleteElsewhere();
    await vi.waitFor(() => expect(wrapper.find('[data-testid="deleted-elsewhere"]').exists()).toBe(true));
    expect(wrapper.get('[data-testid="deleted-elsewhere"]').text()).toContain('This task was deleted elsewhere');
    expect(wrapper.find('[data-testid="editor-missing"]').exists()).toBe(false);
    expect((wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('14');
    // Saving over the deleted task is not offered: only the two choices.
    expect(wrapper.find('[data-testid="task-save"]').exists()).toBe(false);

    await wrapper.get('[data-testid="deleted-save-new"]').trigger('click');
    await flushPromises();
    // The S3 secret and the SFTP key's passphrase went with the deleted task: nothing is created with their dangling references; the form asks for them.
    expect(engine.state.created).toEqual([]);
    expect(router.currentRoute.value.path).toBe('/tasks/new');
    expect(wrapper.get('[data-testid="from-deleted"]').text()).toContain('removed the saved secrets of 2 destinations from the keychain: enter them again');
    for (const i of [1, 2]) expect(wrapper.get(`[data-testid="destination-${i}"]`).text()).toContain('Deleting the task removed this destination’s secret from the keychain: enter it again.');
    expect((wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('14');

    // A reload of the window here keeps what must still be entered (the secrets themselves are never kept).
    unmount?.();
    const again = await mountEditor('/tasks/new');
    expect(again.wrapper.get('[data-testid="from-deleted"]').text()).toContain('removed the saved secrets of 2 destinations from the keychain');
    expect((again.wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('14');
    await again.wrapper.get('[data-testid="destination-1"] [data-testid$="-access-key"]').setValue('AKIANEW');
    await again.wrapper.get('[data-testid="destination-1"] [data-testid$="-secret"]').setValue('new-secret');
    await flushPromises();
    expect(again.wrapper.get('[data-testid="from-deleted"]').text()).toContain('removed the saved secret of 1 destination from the keychain: enter it again');
    await again.wrapper.get('[data-testid="destination-2"] [data-testid$="-passphrase"]').setValue('key-passphrase');
    await again.wrapper.get('[data-testid="task-editor"]').trigger('submit');
    await flushPromises();
    expect(engine.state.created).toHaveLength(1);
    const created = engine.state.created[0]!;
    expect(created).toMatchObject({ name: 'Offsite', retention: { minAgeDays: 14, keepLast: null }, encryption: { mode: 'key', keyRef: KEY_REF }, hooks: V2.hooks, testRestore: V2.testRestore });
    expect(created.destinations[0]).toMatchObject({ kind: 'local', path: '/backups/offsite' });
    expect(created.destinations[1]).toMatchObject({ kind: 's3', bucket: 'offsite-bucket', credentialsRef: 'dest.new-1' });
    expect(created.destinations[2]).toMatchObject({ kind: 'sftp', host: 'vault.example.test', privateKeyFile: '/home/dba/.ssh/id_ed25519', credentialsRef: 'dest.new-2' });
    expect(engine.state.savedSecrets).toEqual([
      { kind: 's3', accessKeyId: 'AKIANEW', secretAccessKey: 'new-secret' },
      { kind: 'sftp', passphrase: 'key-passphrase' },
    ]);
    expect(again.router.currentRoute.value.path).toBe('/tasks');
    expect(again.editor.target).toBeNull();
  });

  it('a Save the engine refuses (NOT_FOUND) brings up the same choice; "Discard" drops the form and creates nothing', async () => {
    answerEditorQuestions();
    const engine = fakeEngineWithDelete(V1);
    const { wrapper, router, editor } = await mountEditor('/tasks/t1/edit');
    await wrapper.get('[data-testid="retention-days"]').setValue('14');
    // Deleted by `backstop tasks delete`, and this window has not heard of it yet.
    engine.deleteElsewhere(false);
    await wrapper.get('[data-testid="task-editor"]').trigger('submit');
    await flushPromises();
    expect(wrapper.find('[data-testid="deleted-elsewhere"]').exists()).toBe(true);
    expect(editor.draft.minAgeDays).toBe(14);

    await wrapper.get('[data-testid="deleted-discard"]').trigger('click');
    await flushPromises();
    expect(router.currentRoute.value.path).toBe('/tasks');
    expect(editor.target).toBeNull();
    expect(engine.state.created).toEqual([]);
    expect(sessionStorage.getItem('backstop.taskEditor.draft')).toBeNull();
  });

  it('a key no longer in the keychain is asked for, not reused', async () => {
    answerEditorQuestions();
    const engine = fakeEngineWithDelete({ ...V2, destinations: [V2.destinations[0]!] });
    const { wrapper, router } = await mountEditor('/tasks/t2/edit');
    engine.deleteElsewhere();
    engine.state.keys = [];
    await vi.waitFor(() => expect(wrapper.find('[data-testid="deleted-elsewhere"]').exists()).toBe(true));
    await wrapper.get('[data-testid="deleted-save-new"]').trigger('click');
    await flushPromises();
    expect(engine.state.created).toEqual([]);
    expect(router.currentRoute.value.path).toBe('/tasks/new');
    expect(wrapper.get('[data-testid="from-deleted"]').text()).toContain('encryption key is no longer in the keychain');
  });
});

describe('unsaved edits of another task', () => {
  it('are reported before another task or a new form replaces them; an untouched form is not', () => {
    setActivePinia(createPinia());
    const editor = useTaskEditorStore();
    const other: Task = { ...V1, id: 't2', name: 'Weekly' };
    editor.open(V1);
    expect(editor.unsavedOther('t2')).toBeNull();
    editor.draft.minAgeDays = 14;
    expect(editor.unsavedOther('t1')).toBeNull();
    expect(editor.unsavedOther('t2')).toEqual({ target: 't1', name: 'Nightly' });
    expect(editor.unsavedOther('new')).toEqual({ target: 't1', name: 'Nightly' });

    editor.close();
    editor.open(null, 's1');
    expect(editor.unsavedOther('t2')).toBeNull();
    editor.draft.name = 'Hourly';
    expect(editor.unsavedOther('t2')).toEqual({ target: 'new', name: 'Hourly' });
    editor.open(other);
    expect(editor.target).toBe('t2');
  });
});
