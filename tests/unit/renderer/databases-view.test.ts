/**
 * The Databases view over a fake bridge: one `databases.list` call renders every row (no
 * per-row calls), search and status filter narrow it, "Back up now" sends just that
 * database to `tasks.runNow`, its refusal shows the engine's code and message, and History /
 * Restore navigate with the task and database in the query.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { DatabaseOverview } from '@shared/domain.ts';
import DatabasesView from '../../../renderer/src/views/DatabasesView.vue';
import { routes } from '../../../renderer/src/router/index.ts';
import { fail, installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

function row(database: string, over: Partial<DatabaseOverview> = {}): DatabaseOverview {
  return {
    database,
    taskId: 't1',
    taskName: 'nightly',
    serverId: 's1',
    serverName: 'files',
    serverKind: 'sqlite',
    firstSeenAt: '2026-03-01T00:00:00.000Z',
    lastSuccessAt: '2026-03-02T02:00:00.000Z',
    freshness: 'fresh',
    storedBytes: 2048,
    points: 3,
    lastTestRestore: null,
    nextRun: '2026-03-03T02:00:00.000Z',
    ...over,
  };
}

async function mountView() {
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push('/databases');
  await router.isReady();
  const wrapper = mount(DatabasesView, { global: { plugins: [createPinia(), router] }, attachTo: document.body });
  await flushPromises();
  return { wrapper, router };
}

const names = (w: Awaited<ReturnType<typeof mountView>>['wrapper']) => w.findAll('[data-testid="database-row"]').map((r) => r.attributes('data-database'));

describe('DatabasesView', () => {
  it('a database gone from the server shows "Gone from server", no next run, and no "Back up now"; its History and Restore stay', async () => {
    fake.respond('databases.list', () => ok([row('gone.db', { freshness: 'gone' }), row('here.db')]));
    const { wrapper } = await mountView();
    const [gone, here] = wrapper.findAll('[data-testid="database-row"]');
    expect(gone!.get('[data-testid="database-freshness"]').text()).toBe('Gone from server');
    expect(gone!.get('[data-testid="database-backup"]').attributes('disabled')).toBeDefined();
    expect(gone!.text()).not.toContain('2026');
    expect(gone!.get('[data-testid="database-restore"]').attributes('disabled')).toBeUndefined();
    expect(here!.get('[data-testid="database-backup"]').attributes('disabled')).toBeUndefined();
    await wrapper.get('[data-testid="databases-status"]').setValue('gone');
    expect(names(wrapper)).toEqual(['gone.db']);
  });

  it('renders hundreds of databases from one call, and search and status filter them', { timeout: 60_000 }, async () => {
    const many = Array.from({ length: 200 }, (_, i) => row(`db${String(i).padStart(3, '0')}`, { freshness: i % 10 === 0 ? 'stale' : 'fresh' }));
    many.push(row('billing', { serverName: 'accounts', taskName: 'money', freshness: 'due', lastTestRestore: { database: 'billing', ok: false, at: '2026-03-02T03:00:00.000Z', durationMs: 10 } }));
    fake.respond('databases.list', () => ok(many));
    const { wrapper } = await mountView();

    expect(fake.commands['databases.list']).toHaveBeenCalledTimes(1);
    expect(wrapper.findAll('[data-testid="database-row"]')).toHaveLength(201);
    expect(wrapper.get('[data-testid="databases-count"]').text()).toBe('201 of 201 databases');

    await wrapper.get('[data-testid="databases-search"]').setValue('ACCOUNTS');
    expect(names(wrapper)).toEqual(['billing']);
    const billing = wrapper.get('[data-testid="database-row"]');
    expect(billing.get('[data-testid="database-freshness"]').text()).toBe('Due');
    expect(billing.text()).toContain('Failed');
    expect(billing.text()).toContain('2.0 KB');

    await wrapper.get('[data-testid="databases-search"]').setValue('');
    await wrapper.get('[data-testid="databases-status"]').setValue('stale');
    expect(wrapper.findAll('[data-testid="database-row"]')).toHaveLength(20);
    await wrapper.get('[data-testid="databases-search"]').setValue('db19');
    expect(names(wrapper)).toEqual(['db190']);
    expect(wrapper.get('[data-testid="databases-count"]').text()).toBe('1 of 201 databases');
  });

  it('backs up just that database, and shows the engine’s refusal with its code and message', async () => {
    fake.respond('databases.list', () => ok([row('a.db'), row('b.db')]));
    fake.respond('runs.active', () => ok([]));
    fake.respond('tasks.status', () => ok([]));
    fake.respond('tasks.runNow', () => ok({ runId: 'r1' }));
    const { wrapper } = await mountView();

    await wrapper.findAll('[data-testid="database-backup"]')[1]!.trigger('click');
    await flushPromises();
    expect(fake.commands['tasks.runNow']).toHaveBeenCalledWith({ id: 't1', databases: ['b.db'] });
    expect(wrapper.find('[data-testid="databases-run-started"]').exists()).toBe(true);
    await wrapper.get('[data-testid="databases-backup-kind"]').setValue('incremental');
    await wrapper.findAll('[data-testid="database-backup"]')[0]!.trigger('click');
    await flushPromises();
    expect(fake.commands['tasks.runNow']).toHaveBeenLastCalledWith({ id: 't1', kind: 'incremental', databases: ['a.db'] });

    fake.respond('tasks.runNow', () => fail('VALIDATION', 'The server of task "nightly" has no database "a.db". Its databases: "b.db". Names are case-sensitive; fix the database list.'));
    await wrapper.findAll('[data-testid="database-backup"]')[0]!.trigger('click');
    await flushPromises();
    const notice = wrapper.get('[data-testid="error-notice"]');
    expect(notice.get('[data-testid="error-code"]').text()).toBe('VALIDATION');
    expect(notice.get('[data-testid="error-message"]').text()).toBe('The server of task "nightly" has no database "a.db". Its databases: "b.db". Names are case-sensitive; fix the database list.');
    expect(wrapper.find('[data-testid="databases-run-started"]').exists()).toBe(false);
  });

  it('opens the database’s history and restore with the task and database in the query', async () => {
    fake.respond('databases.list', () => ok([row('Sales Ü')]));
    const { wrapper, router } = await mountView();

    await wrapper.get('[data-testid="database-history"]').trigger('click');
    await flushPromises();
    expect(router.currentRoute.value.path).toBe('/history');
    expect(router.currentRoute.value.query).toEqual({ task: 't1', database: 'Sales Ü' });

    await router.push('/databases');
    await wrapper.get('[data-testid="database-restore"]').trigger('click');
    await flushPromises();
    expect(router.currentRoute.value.path).toBe('/restore');
    expect(router.currentRoute.value.query).toEqual({ task: 't1', database: 'Sales Ü' });
  });

  it('says the list could not load, with the code and message, and offers a retry', async () => {
    fake.respond('databases.list', () => fail('INTERNAL', 'The app database could not be read.'));
    const { wrapper } = await mountView();
    const notice = wrapper.get('[data-testid="error-notice"]');
    expect(notice.get('[data-testid="error-code"]').text()).toBe('INTERNAL');
    expect(notice.get('[data-testid="error-message"]').text()).toBe('The app database could not be read.');
    fake.respond('databases.list', () => ok([row('a.db')]));
    await notice.get('button').trigger('click');
    await flushPromises();
    expect(names(wrapper)).toEqual(['a.db']);
  });
});
