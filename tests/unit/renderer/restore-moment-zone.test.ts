/**
 * The moment picker in the task's time zone (not this machine's): a backup opened from a
 * task whose schedule runs in America/New_York shows the zone with its offset, states the
 * reachable range in New York wall time, reads the entered date and time there (the asOf
 * sent is that instant), refuses a time the clocks skip (naming the gap, nothing sent), and
 * for a time the clocks show twice takes the earlier unless the user picks the second.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import type { BackupFolderInfo, Task } from '@shared/domain.ts';
import RestoreView from '../../../renderer/src/views/RestoreView.vue';
import { formatDateTimeSeconds } from '../../../renderer/src/components/format';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { pgServer, point } from './restore-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const zone = 'America/New_York';
// 1 Nov 2026 00:00 EDT (UTC-04:00) to 04:00 EST (UTC-05:00): the night the clocks go back at 02:00.
const range = { from: '2026-11-01T04:00:00.000Z', to: '2026-11-01T09:00:00.000Z' };
const clusterInfo: BackupFolderInfo = {
  location: '/b/~server/base.tar', database: 'base.tar', serverIdentity: 'x', serverKind: 'postgres', encrypted: false, keyFingerprint: null, needsKey: false,
  points: [point({ format: 'pg-basebackup-tar', backupType: 'snapshot', createdAt: '2026-11-01T03:00:00.000Z' }), point({ id: '20261101T090000000Z-1a2b3c4d', kind: 'incremental', format: 'pg-wal-tar', createdAt: range.to })],
  momentRanges: [range],
};
const task = {
  id: 't1', name: 'cluster', serverId: 'pg1', type: 'snapshot', enabled: true,
  schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: zone },
  destinations: [{ kind: 'local', path: '/b' }],
} as unknown as Task;

async function mountFromTask() {
  fake.respond('servers.list', () => ok([pgServer]));
  fake.respond('tasks.list', () => ok([task]));
  fake.respond('tasks.status', () => ok([]));
  fake.respond('restore.folders', () => ok([{ folder: '~server/base.tar', database: 'base.tar', serverStream: true, location: { kind: 'local', path: '/b/~server/base.tar' } }]));
  fake.respond('restore.inspect', () => ok(clusterInfo));
  fake.respond('restore.start', () => ok({ restoreId: `r${fake.commands['restore.start'].mock.calls.length}` }));
  const wrapper = mount(RestoreView, { global: { plugins: [createPinia()] }, attachTo: document.body });
  await flushPromises();
  await wrapper.get('[data-testid="restore-browse-destination"]').setValue('t1:0');
  await wrapper.get('[data-testid="restore-browse-list"]').trigger('click');
  await flushPromises();
  await wrapper.get('[data-testid="restore-choice"]').trigger('click');
  await flushPromises();
  return wrapper;
}

describe('restore to a moment in the task’s time zone', () => {
  it('labels the zone, states the range in it, and sends the instant the zone’s wall time means', async () => {
    const wrapper = await mountFromTask();
    const text = wrapper.get('[data-testid="restore-moment-range"]').text();
    expect(text).toContain(`from ${formatDateTimeSeconds(range.from, zone)} to ${formatDateTimeSeconds(range.to, zone)}`);
    // New York wall time (00:00 and 04:00), not this machine's.
    expect(formatDateTimeSeconds(range.from, zone)).toContain('00:00:00');
    expect(formatDateTimeSeconds(range.to, zone)).toContain('04:00:00');
    expect(text).toContain("(the task's time zone, America/New_York, UTC-0");

    await wrapper.get('[data-testid="restore-way-database"]').setValue(true);
    await wrapper.get('[data-testid="restore-source-database"]').setValue('shop');
    await wrapper.get('[data-testid="restore-name"]').setValue('shop_then');
    await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
    await wrapper.get('[data-testid="restore-moment"]').setValue('2026-11-01T00:30:15');
    expect(wrapper.get('label[for="restore-moment"]').text()).toContain('America/New_York, UTC-04:00');
    expect(wrapper.find('[data-testid="restore-moment-error"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="restore-moment-twice"]').exists()).toBe(false);
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start'].mock.calls[0]![0]).toMatchObject({ asOf: '2026-11-01T04:30:15.000Z', sourceDatabase: 'shop', database: 'shop_then' });
  });

  it('refuses a time the clocks skip in the zone, naming the gap; nothing is sent', async () => {
    const wrapper = await mountFromTask();
    await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
    await wrapper.get('[data-testid="restore-moment"]').setValue('2026-03-08T02:30');
    const said = '2026-03-08 02:30 does not exist in America/New_York: the clocks skip forward there that day (UTC-05:00 to UTC-04:00, daylight saving). Choose a time before or after the skipped hour.';
    expect(wrapper.get('[data-testid="restore-moment-error"]').text()).toBe(said);
    await wrapper.get('[data-testid="restore-datadir"]').setValue('/srv/pg/at');
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start']).not.toHaveBeenCalled();
    expect(wrapper.get('[data-testid="restore-refused"]').text()).toBe(`Not started: ${said}`);
  });

  it('a time the clocks show twice: the earlier, said so, or the second when chosen', async () => {
    const wrapper = await mountFromTask();
    await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
    await wrapper.get('[data-testid="restore-moment"]').setValue('2026-11-01T01:30');
    expect(wrapper.get('[data-testid="restore-moment-twice"]').text()).toContain('2026-11-01 01:30 happens twice in America/New_York (the clocks go back that night): first at UTC-04:00, then at UTC-05:00. The first is taken unless you choose the second.');
    await wrapper.get('[data-testid="restore-datadir"]').setValue('/srv/pg/at');
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start'].mock.calls[0]![0]).toMatchObject({ asOf: '2026-11-01T05:30:00.000Z', options: { folder: '/srv/pg/at' } });
    await wrapper.get('[data-testid="restore-moment-later"]').setValue(true);
    expect(wrapper.get('label[for="restore-moment"]').text()).toContain('America/New_York, UTC-05:00');
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start'].mock.calls[1]![0]).toMatchObject({ asOf: '2026-11-01T06:30:00.000Z' });
  });
});
