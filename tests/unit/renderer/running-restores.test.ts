/**
 * The restore view lists the restores the engine runs that its steps do not follow — one
 * started before the window was reloaded, or in another window — with their progress, a
 * Cancel, and their result until dismissed; whole-server restores too (over a fake bridge; the
 * engine's `restore.active` is tested in tests/integration/history/restore-history.test.ts,
 * `restore.serverActive` in tests/integration/restore-server/restore-server-window.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import type { ActiveRestore } from '@shared/domain.ts';
import type { ActiveServerRestore } from '@shared/server-restore.ts';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { mountRestoreView, pgServer } from './restore-mount';

let fake: FakeBridge;
let unmount: (() => void) | null = null;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  unmount?.();
  removeBridge();
  document.body.innerHTML = '';
});

const RUNNING: ActiveRestore = { restoreId: 'r-before-reload', database: 'sales_copy', serverId: 'pg1', startedAt: '2026-01-02T03:04:05.000Z', progress: { restoreId: 'r-before-reload', phase: 'restoring', unit: 'bytes', done: 1048576, total: 4194304 } };

async function mountView(active: ActiveRestore[], serverActive: ActiveServerRestore[] = []) {
  fake.respond('restore.cancel', () => ok({ canceled: true }));
  fake.respond('restore.serverCancel', () => ok({ canceled: true }));
  const wrapper = await mountRestoreView(fake, { servers: [pgServer], active, serverActive });
  unmount = () => wrapper.unmount();
  return wrapper;
}

describe('restores running', () => {
  it('a restore started before the reload: its progress, Cancel, then its result until dismissed', async () => {
    const wrapper = await mountView([RUNNING]);
    const row = wrapper.get('[data-testid="restore-running"]');
    expect(row.attributes('data-database')).toBe('sales_copy');
    expect(row.text()).toContain('sales_copy on Production PG');
    expect(row.get('[data-testid="restore-running-state"]').text()).toBe('Restoring…');
    expect(row.text()).toContain('1.0 MB of 4.2 MB');

    fake.emit('restore.progress', { ...RUNNING.progress!, done: 3145728 });
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-running"]').text()).toContain('3.1 MB of 4.2 MB');

    await wrapper.get('[data-testid="restore-running-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.cancel']).toHaveBeenCalledWith({ restoreId: 'r-before-reload' });
    fake.emit('restore.finished', { restoreId: 'r-before-reload', status: 'canceled', database: 'sales_copy', path: null, notes: [], error: { code: 'CANCELED', message: 'The restore of sales_copy was cancelled.' } });
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-running-state"]').text()).toBe('Canceled');
    expect(wrapper.find('[data-testid="restore-running-cancel"]').exists()).toBe(false);

    await wrapper.get('[data-testid="restore-running-dismiss"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="restores-running"]').exists()).toBe(false);
  });

  it('a restore another window starts shows up at its first progress; nothing is shown while none runs', async () => {
    const active: ActiveRestore[] = [];
    const wrapper = await mountView(active);
    expect(wrapper.find('[data-testid="restores-running"]').exists()).toBe(false);
    active.push({ ...RUNNING, restoreId: 'r-other', progress: null });
    fake.emit('restore.progress', { restoreId: 'r-other', phase: 'preparing', unit: 'bytes', done: 0, total: null });
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-running-state"]').text()).toBe('Preparing…');
    fake.emit('restore.finished', { restoreId: 'r-other', status: 'failed', database: 'sales_copy', path: null, notes: [], error: { code: 'DATABASE_EXISTS', message: 'A database named "sales_copy" already exists.' } });
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-running-state"]').text()).toBe('Failed: A database named "sales_copy" already exists.');
  });

  it('a restore the steps started is never listed as running elsewhere, not even after "Choose another folder"', async () => {
    const wrapper = await mountView([]);
    const { useRestoreStore } = await import('../../../renderer/src/stores/restore');
    // The view's own store (its pinia): the active pinia is whichever a component used last,
    // and a file run before this one in the same worker may leave components behind.
    const restore = useRestoreStore(wrapper.vm.$pinia);
    fake.respond('restore.start', () => ok({ restoreId: 'r-mine' }));
    // Its first progress arrives before restore.start answers: the engine lists it as running.
    fake.respond('restore.active', () => ok([{ ...RUNNING, restoreId: 'r-mine' }]));
    fake.emit('restore.progress', { restoreId: 'r-mine', phase: 'preparing', unit: 'bytes', done: 0, total: null });
    await restore.start({ location: { kind: 'local', path: '/backups/x' }, pointId: 'latest', serverId: 'pg1', database: 'sales_copy', options: {} } as never);
    await flushPromises();
    fake.emit('restore.finished', { restoreId: 'r-mine', status: 'success', database: 'sales_copy', path: null, notes: [], error: null });
    restore.reset();
    await flushPromises();
    expect(wrapper.find('[data-testid="restores-running"]').exists()).toBe(false);
  });

  it('a whole-server restore started before the reload: how many databases are done and which restores, Cancel, then its summary until dismissed', async () => {
    const wrapper = await mountView([], [{ serverRestoreId: 'sr-before-reload', serverId: 'pg1', startedAt: '2026-01-02T03:04:05.000Z', total: 3, databases: [{ database: 'sales', restoredAs: 'r_sales', status: 'ok' }, { database: 'hr', restoredAs: 'r_hr', status: 'running' }] }]);
    const row = wrapper.get('[data-testid="server-restore-running"]');
    expect(row.text()).toContain('Whole server onto Production PG');
    expect(row.get('[data-testid="server-restore-running-state"]').text()).toBe('1 of 3 databases done, restoring hr…');

    // Its progress events keep the row current.
    fake.emit('restore.serverProgress', { serverRestoreId: 'sr-before-reload', database: { database: 'hr', restoredAs: 'r_hr', status: 'ok' } });
    fake.emit('restore.serverProgress', { serverRestoreId: 'sr-before-reload', database: { database: 'crm', restoredAs: 'r_crm', status: 'running' } });
    await flushPromises();
    expect(wrapper.get('[data-testid="server-restore-running-state"]').text()).toBe('2 of 3 databases done, restoring crm…');

    await wrapper.get('[data-testid="server-restore-running-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverCancel']).toHaveBeenCalledWith({ serverRestoreId: 'sr-before-reload' });
    const canceled = { code: 'CANCELED', message: '"crm" was not restored: the restore was canceled.' };
    fake.emit('restore.serverFinished', {
      serverRestoreId: 'sr-before-reload',
      databases: [{ database: 'sales', restoredAs: 'r_sales', status: 'ok' }, { database: 'hr', restoredAs: 'r_hr', status: 'ok' }, { database: 'crm', restoredAs: 'r_crm', status: 'failed', error: canceled }],
      serverLevel: null,
      notes: [],
      error: null,
    });
    await flushPromises();
    expect(wrapper.get('[data-testid="server-restore-running-state"]').text()).toBe('Canceled: restored 2, failed 1, skipped 0');
    expect(wrapper.find('[data-testid="server-restore-running-cancel"]').exists()).toBe(false);
    // The one-database list is untouched by it.
    expect(wrapper.find('[data-testid="restore-running"]').exists()).toBe(false);

    await wrapper.get('[data-testid="server-restore-running-dismiss"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="restores-running"]').exists()).toBe(false);
  });

  it('a whole-server restore another window starts shows up at its first progress; one that could not start says why', async () => {
    const serverActive: ActiveServerRestore[] = [];
    const wrapper = await mountView([], serverActive);
    expect(wrapper.find('[data-testid="restores-running"]').exists()).toBe(false);
    // The engine lists it with the database its first progress names.
    serverActive.push({ serverRestoreId: 'sr-other', serverId: 'pg1', startedAt: '2026-01-02T03:04:05.000Z', total: null, databases: [{ database: 'sales', restoredAs: 'r_sales', status: 'running' }] });
    fake.emit('restore.serverProgress', { serverRestoreId: 'sr-other', database: { database: 'sales', restoredAs: 'r_sales', status: 'running' } });
    await flushPromises();
    expect(wrapper.get('[data-testid="server-restore-running-state"]').text()).toBe('0 databases done, restoring sales…');
    fake.emit('restore.serverFinished', { serverRestoreId: 'sr-other', databases: [], serverLevel: null, notes: [], error: { code: 'NOT_FOUND', message: '/backups/x holds no database backups.' } });
    await flushPromises();
    expect(wrapper.get('[data-testid="server-restore-running-state"]').text()).toBe('Failed: /backups/x holds no database backups.');
  });
});
