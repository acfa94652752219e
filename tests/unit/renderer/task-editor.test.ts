/* eslint-disable vue/one-component-per-file -- small stand-ins: the app shell around the router view, and a view that fails */
/**
 * The task editor in happy-dom over a fake bridge: numbers typed into both retention
 * fields save as numbers (the blank-page bug); an error thrown inside a view is caught by
 * the boundary around the router view, which says so and keeps the draft — including a
 * key already generated — so "Continue" brings the form back as it was.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineComponent, h } from 'vue';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { createMemoryHistory, createRouter, RouterView } from 'vue-router';
import type { KeyInfo, ServerCheck, Task, TaskInput } from '@shared/domain.ts';
import type { Result } from '@shared/result.ts';
import ViewBoundary from '../../../renderer/src/components/ViewBoundary.vue';
import { useTaskEditorStore } from '../../../renderer/src/stores/task-editor';
import { deferred, fail, installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { answerEditorQuestions as answerServerQuestions, mountTaskEditor, SQLITE_CHECK as GOOD_CHECK } from './task-editor-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const KEY: KeyInfo = { keyRef: 'key.0000-1111-2222-3333', fingerprint: 'ab12-cd34', origin: 'generated', createdAt: '2026-01-01T00:00:00Z', exportedAt: null, exportMethod: null };

/** A stored task as tasks.list answers it: "Nightly", logical, on the SQLite server s1. */
function savedTask(over: Partial<Task> = {}): Task {
  return {
    id: 't1',
    name: 'Nightly',
    serverId: 's1',
    type: 'logical',
    schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
    retention: { minAgeDays: 30, keepLast: null },
    encryption: { mode: 'key', keyRef: KEY.keyRef, fingerprint: KEY.fingerprint },
    destinations: [{ kind: 'local', path: '/backups/nightly' }],
    excludeDatabases: [],
    enabled: true,
    createdAt: 'x',
    updatedAt: 'x',
    ...over,
  };
}

const answerEditorQuestions = (): void => answerServerQuestions(fake);

/** The app's router view inside the boundary, as App.vue has it. */
const Shell = defineComponent({
  setup() {
    return () =>
      h(ViewBoundary, { resetKey: 'x' }, { default: ({ generation }: { generation: number }) => h(RouterView, { key: `v${generation}` }) });
  },
});

async function mountEditor(path = '/tasks/new') {
  const { wrapper, router } = await mountTaskEditor(path, Shell);
  return { wrapper, router };
}

// Mounting the whole editor takes seconds on a busy machine.
describe('the task editor', { timeout: 30_000 }, () => {
  it('saves numbers typed into both retention fields as numbers, and does not blank the page', async () => {
    answerEditorQuestions();
    let sent: TaskInput | null = null;
    fake.respond('tasks.create', (input) => {
      sent = input as TaskInput;
      return ok({ ...(input as TaskInput), id: 't1', createdAt: 'x', updatedAt: 'x' } as Task);
    });
    const { wrapper, router } = await mountEditor();

    await wrapper.get('[data-testid="task-name-input"]').setValue('Nightly');
    await wrapper.get('[data-testid="retention-days"]').setValue('14');
    await wrapper.get('[data-testid="retention-last"]').setValue('10');
    await wrapper.get('[data-testid="dest-0-path"]').setValue('/backups');
    // What the number inputs hand over: numbers.
    expect(useTaskEditorStore().draft).toMatchObject({ minAgeDays: 14, keepLast: 10 });
    await wrapper.get('[data-testid="task-editor"]').trigger('submit');
    await flushPromises();

    expect(wrapper.find('[data-testid="view-error"]').exists()).toBe(false);
    expect(sent).toMatchObject({ name: 'Nightly', retention: { minAgeDays: 14, keepLast: 10 }, destinations: [{ kind: 'local', path: '/backups' }] });
    expect(fake.commands['destinations.checkFolder']).toHaveBeenCalledWith({ path: '/backups' });
    expect(router.currentRoute.value.path).toBe('/tasks');
  });

  it('an error thrown inside a view is shown by the boundary; the draft and a generated key survive, and Continue brings the form back', async () => {
    answerEditorQuestions();
    fake.respond('keys.generate', () => ok(KEY));
    const slowCheck = deferred<Result<ServerCheck>>();
    const checks = [slowCheck.promise];
    fake.respond('servers.test', () => checks.shift() ?? ok(GOOD_CHECK));
    const { wrapper } = await mountEditor();

    await wrapper.get('[data-testid="task-name-input"]').setValue('Keep me');
    await wrapper.get('[data-testid="retention-days"]').setValue('14');
    await wrapper.get('[data-testid="encryption-generate"]').setValue(true);
    await wrapper.get('[data-testid="key-generate"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="key-panel"]').exists()).toBe(true);

    // A bug in a view: the server's answer arrives malformed and section B throws while rendering it.
    slowCheck.resolve(ok({ serverVersion: 'SQLite 3', tools: [], warnings: [], support: { logical: null, snapshot: null } } as never));
    await flushPromises();
    const editor = useTaskEditorStore();

    const notice = wrapper.get('[data-testid="view-error"]');
    expect(notice.attributes('role')).toBe('alert');
    expect(notice.get('[data-testid="view-error-message"]').text()).toContain("Cannot read properties of null (reading 'available')");
    expect(editor.draft).toMatchObject({ name: 'Keep me', minAgeDays: 14, encryption: 'generate', keyRef: KEY.keyRef, fingerprint: KEY.fingerprint });
    expect(editor.keyIsNew).toBe(true);

    await notice.get('[data-testid="view-error-continue"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="view-error"]').exists()).toBe(false);
    expect((wrapper.get('[data-testid="task-name-input"]').element as HTMLInputElement).value).toBe('Keep me');
    expect((wrapper.get('[data-testid="retention-days"]').element as HTMLInputElement).value).toBe('14');
    expect(wrapper.get('[data-testid="key-fingerprint"]').text()).toContain(KEY.fingerprint);
    // The key is still waiting to be confirmed as saved: Save stays blocked.
    expect(wrapper.find('[data-testid="save-blocked"]').exists()).toBe(true);
  });

  it('an error while a view renders is caught too, and the view comes back on Continue', async () => {
    let fail = true;
    const Fragile = defineComponent({
      name: 'Fragile',
      setup() {
        return () => {
          if (fail) throw new Error('render failed');
          return h('p', { 'data-testid': 'fragile' }, 'fine');
        };
      },
    });
    const pinia = createPinia();
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/', component: Fragile }] });
    await router.push('/');
    const wrapper = mount(Shell, { global: { plugins: [pinia, router] }, attachTo: document.body });
    await flushPromises();
    expect(wrapper.get('[data-testid="view-error-message"]').text()).toBe('render failed');
    fail = false;
    await wrapper.get('[data-testid="view-error-continue"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="fragile"]').text()).toBe('fine');
  });

  it('a PostgreSQL snapshot hides the per-database choices and says what the snapshot covers', async () => {
    answerEditorQuestions();
    fake.respond('servers.list', () =>
      ok([{ id: 'p1', name: 'Prod', kind: 'postgres', host: 'db', port: 5432, user: 'backstop', database: 'postgres', ssl: 'prefer', passwordRef: null, createdAt: 'x', updatedAt: 'x' } as never]),
    );
    fake.respond('servers.test', () =>
      ok({ ...GOOD_CHECK, support: { logical: { available: true, scope: 'database' }, snapshot: { available: true, scope: 'server' } } }),
    );
    fake.respond('servers.databases', () => ok(['sales', 'hr']));
    const { wrapper } = await mountEditor();

    // The plain difference between the two types on PostgreSQL (issue #19 item 5).
    const logical = wrapper.get('[data-testid="task-type-logical-hint"]').text();
    expect(logical).toContain('Portable: restores into newer PostgreSQL versions, one database at a time');
    expect(logical).toContain('Restores to its restore points only');
    const snapshot = wrapper.get('[data-testid="task-type-snapshot-hint"]').text();
    expect(snapshot).toContain('The whole cluster');
    expect(snapshot).toContain('an incremental costs what changed on the server');
    expect(snapshot).toContain('Restores to any moment the backups reach');
    expect(wrapper.find('[data-testid="database-list"]').exists()).toBe(true);
    expect(wrapper.get('[data-testid="dest-0-hint"]').text()).toBe('Each database gets its own folder inside it.');
    await wrapper.get('[data-testid="task-type-snapshot"]').setValue(true);
    await flushPromises();

    expect(wrapper.find('[data-testid="database-list"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="databases-all"]').text()).toContain('single databases cannot be left out');
    expect(wrapper.get('[data-testid="dest-0-hint"]').text()).toBe('The whole cluster goes into one server folder (~server) inside it.');
    expect(wrapper.get('[data-testid="snapshot-covers"]').text()).toContain('one base backup of the whole cluster');
  });

  it('changing a saved task’s encryption says, before saving, what happens to the backups already made', async () => {
    answerEditorQuestions();
    fake.respond('tasks.list', () => ok([savedTask()]));
    fake.respond('keys.list', () => ok([{ ...KEY, exportedAt: 'x', exportMethod: 'file' }]));
    const { wrapper } = await mountEditor('/tasks/t1/edit');
    expect(wrapper.find('[data-testid="encryption-change-notice"]').exists()).toBe(false);
    await wrapper.get('[data-testid="encryption-none"]').trigger('change');
    await flushPromises();
    const notice = wrapper.get('[data-testid="encryption-change-notice"]').text();
    expect(notice).toContain('the next backup of each database is a full, in a new folder beside its folder ("<database folder>~plain")');
    expect(notice).toContain(`They can be restored only with the key ${KEY.fingerprint}: keep it.`);
    expect(notice).toContain("this task's retention no longer deletes them");
  });

  it('Delete task says what happens; a running task is refused with the engine’s reason and the dialog stays open; nothing is deleted', async () => {
    answerEditorQuestions();
    const task = savedTask();
    fake.respond('tasks.list', () => ok([task]));
    fake.respond('tasks.delete', () => fail('CONFLICT', 'Task "Nightly" is running; cancel the run (or wait for it to finish), then delete the task.'));
    const { wrapper, router } = await mountEditor('/tasks/t1/edit');

    await wrapper.get('[data-testid="task-delete"]').trigger('click');
    await flushPromises();
    const effects = wrapper.get('[data-testid="delete-task-effects"]').text();
    expect(effects).toContain('The backups are kept');
    expect(effects).toContain('/backups/nightly');
    expect(effects).toContain(KEY.fingerprint);
    expect(effects).toContain('The schedules stop');
    expect(effects).toContain('The history is kept');
    await wrapper.get('[data-testid="delete-task-dialog"] [data-testid="confirm-ok"]').trigger('click');
    await flushPromises();

    expect(fake.commands['tasks.delete']).toHaveBeenCalledWith({ id: 't1' });
    const notice = wrapper.get('[data-testid="delete-task-dialog"] [data-testid="error-notice"]');
    expect(notice.get('[data-testid="error-code"]').text()).toBe('CONFLICT');
    expect(notice.get('[data-testid="error-message"]').text()).toBe('Task "Nightly" is running; cancel the run (or wait for it to finish), then delete the task.');
    expect(router.currentRoute.value.path).toBe('/tasks/t1/edit');
    expect(wrapper.find('[data-testid="task-editor"]').exists()).toBe(true);
  });
  it('a PostgreSQL snapshot task: Delete says its slot is dropped and why; turning it logical asks before saving (and saves only on yes)', async () => {
    answerEditorQuestions();
    fake.respond('servers.list', () =>
      ok([{ id: 'p1', name: 'Prod', kind: 'postgres', host: 'db', port: 5432, user: 'backstop', database: 'postgres', ssl: 'prefer', passwordRef: null, createdAt: 'x', updatedAt: 'x' } as never]),
    );
    fake.respond('servers.test', () => ok({ ...GOOD_CHECK, support: { logical: { available: true, scope: 'database' }, snapshot: { available: true, scope: 'server' } } }));
    const task = savedTask({
      id: 't2',
      name: 'Cluster',
      serverId: 'p1',
      type: 'snapshot',
      schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
      encryption: { mode: 'none' },
      destinations: [{ kind: 'local', path: '/backups/cluster' }],
    });
    fake.respond('tasks.list', () => ok([task]));
    fake.respond('tasks.update', (input) => ok({ ...task, ...(input as { task: TaskInput }).task } as Task));
    const { wrapper } = await mountEditor('/tasks/t2/edit');

    await wrapper.get('[data-testid="task-delete"]').trigger('click');
    await flushPromises();
    const effects = wrapper.get('[data-testid="delete-task-effects"]').text();
    expect(wrapper.get('[data-testid="delete-task-slot"]').text()).toContain('Its replication slot is dropped on Prod first');
    expect(effects).toContain('keep every WAL segment the task has not received yet');
    expect(effects).not.toContain('Nothing is left on the server');
    await wrapper.get('[data-testid="delete-task-dialog"] [data-testid="confirm-cancel"]').trigger('click');
    await flushPromises();

    await wrapper.get('[data-testid="task-type-logical"]').setValue(true);
    await wrapper.get('[data-testid="task-save"]').trigger('click');
    await flushPromises();
    const ask = wrapper.get('[data-testid="drop-slot-dialog"]');
    expect(ask.text()).toContain('it becomes logical');
    expect(ask.text()).toContain('Saving drops its replication slot on Prod first');
    expect(fake.commands['tasks.update']).not.toHaveBeenCalled();
    await ask.get('[data-testid="confirm-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['tasks.update']).not.toHaveBeenCalled();

    await wrapper.get('[data-testid="task-save"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="drop-slot-dialog"] [data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    expect(fake.commands['tasks.update']).toHaveBeenCalledWith(expect.objectContaining({ id: 't2', task: expect.objectContaining({ type: 'logical' }) }));
  });
});
