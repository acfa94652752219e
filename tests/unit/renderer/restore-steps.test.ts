/**
 * The running restore of a PostgreSQL cluster backup shows its steps (`restore.progress`
 * `step`/`steps`): the ones before the running step marked done, the running one named with
 * its bytes, the rest waiting; a restore without steps shows the phase as before.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { RestoreStep } from '@shared/domain.ts';
import RestoreOutcome from '../../../renderer/src/components/restore/RestoreOutcome.vue';
import { useRestoreStore } from '../../../renderer/src/stores/restore';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
});

const STEPS: RestoreStep[] = ['wal-fetch', 'base-backup', 'wal-replay', 'dump', 'load'];

describe('restore progress by step', () => {
  it('marks the steps done, current and waiting as the engine reports them', async () => {
    const pinia = createPinia();
    setActivePinia(pinia);
    fake.respond('restore.start', () => ok({ restoreId: 'r1' }));
    const store = useRestoreStore();
    await store.start({ location: { kind: 'local', path: '/b/~server/base.tar' }, asOf: '2026-12-04T14:02:00Z', sourceDatabase: 'shop', serverId: 's1', database: 'shop_1402' });
    const wrapper = mount(RestoreOutcome, { props: { mode: 'database' }, global: { plugins: [pinia] } });

    fake.emit('restore.progress', { restoreId: 'r1', phase: 'restoring', unit: 'bytes', done: 5_000_000, total: 10_000_000, step: 'base-backup', steps: STEPS });
    await flushPromises();
    const state = (s: RestoreStep) => wrapper.get(`[data-testid="restore-step-${s}"]`).attributes('data-state');
    expect(STEPS.map(state)).toEqual(['done', 'current', 'waiting', 'waiting', 'waiting']);
    expect(wrapper.get('[data-testid="restore-step-base-backup"]').attributes('aria-current')).toBe('step');
    expect(wrapper.text()).toContain('Base backup…');
    expect(wrapper.text()).toMatch(/Base backup… 5(\.0)? MB of 10 MB/);

    fake.emit('restore.progress', { restoreId: 'r1', phase: 'restoring', unit: 'bytes', done: 0, total: null, step: 'wal-replay', steps: STEPS });
    await flushPromises();
    expect(STEPS.map(state)).toEqual(['done', 'done', 'current', 'waiting', 'waiting']);
    expect(wrapper.text()).toContain('WAL replay to the moment (temporary cluster)…');

    fake.emit('restore.progress', { restoreId: 'r1', phase: 'done', unit: 'bytes', done: 1, total: 1 });
    await flushPromises();
    expect(wrapper.find('[data-testid="restore-steps"]').exists()).toBe(false);
    expect(wrapper.text()).toContain('Done…');
  });
});
