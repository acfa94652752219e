/**
 * The restore view's "restore to a moment" over a fake bridge: the choice between a restore
 * point and a moment where the backup reaches moments (and only there), the reachable range
 * stated in local time with the time zone, a moment outside it refused before anything is
 * sent (the range named), the `asOf` sent for one inside it, and a PostgreSQL cluster
 * backup's two ways (one database into a new database, the whole cluster into a folder).
 *
 * In the task's time zone (not this machine's): a backup opened from a task whose schedule
 * runs in America/New_York shows the zone with its offset, states the range in New York wall
 * time, sends the instant the wall time means there, refuses a time the clocks skip (naming
 * the gap, nothing sent), and for a time they show twice takes the earlier unless the user
 * picks the second.
 *
 * On a machine in Asia/Kolkata (TZ set for one test; a folder opened without a task): the
 * window names that zone with its half-hour offset, states the range in Kolkata wall time and
 * sends the instant the typed wall time means there.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import type { BackupFolderInfo, Server, Task } from '@shared/domain.ts';
import { formatDateTimeSeconds } from '../../../renderer/src/components/format';
import { draftErrors, draftToStartInput, emptyDraft, localZoneLabel } from '../../../renderer/src/components/restore/restore-draft';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { mariadb, mountRestoreAt, mountRestoreView, pgServer, point } from './restore-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

/** Local times (the test runs in any time zone): 4 May 2026 14:00 to 15:00 local. */
const local = (h: number, m = 0, s = 0) => new Date(2026, 4, 4, h, m, s);
const range = { from: local(14).toISOString(), to: local(15).toISOString() };

const myInfo = (momentRanges: BackupFolderInfo['momentRanges']): BackupFolderInfo => ({
  location: '/b/shop', database: 'shop', serverIdentity: 'x', serverKind: 'mysql', encrypted: false, keyFingerprint: null, needsKey: false,
  points: [point({})], momentRanges,
});
const clusterInfo: BackupFolderInfo = {
  location: '/b/~server/base.tar', database: 'base.tar', serverIdentity: 'x', serverKind: 'postgres', encrypted: false, keyFingerprint: null, needsKey: false,
  points: [point({ format: 'pg-basebackup-tar', backupType: 'snapshot' }), point({ id: '20260504T130000000Z-1a2b3c4d', kind: 'incremental', format: 'pg-wal-tar', createdAt: '2026-05-04T13:00:00.000Z' })],
  momentRanges: [range],
};

const mountAt = (info: BackupFolderInfo, servers: Server[]) => mountRestoreAt(fake, info, servers);

const startInput = (n: number) => fake.commands['restore.start'].mock.calls[n]![0] as Record<string, unknown>;

describe('restore to a moment', () => {
  it('offers a moment only where the backup reaches one, with the range and the time zone stated', async () => {
    const none = await mountAt(myInfo(null), [mariadb]);
    expect(none.find('[data-testid="restore-at"]').exists()).toBe(false);
    expect(none.find('[data-testid="restore-points"]').exists()).toBe(true);
    none.unmount();

    const wrapper = await mountAt(myInfo([range]), [mariadb]);
    const text = wrapper.get('[data-testid="restore-moment-range"]').text();
    expect(text).toContain(`from ${formatDateTimeSeconds(range.from)} to ${formatDateTimeSeconds(range.to)}`);
    expect(text).toContain(localZoneLabel());
    expect(localZoneLabel()).toMatch(/^.+, UTC[+-]\d\d:\d\d$/);
    // A restore point by default: the table is there, no date-time input.
    expect(wrapper.find('[data-testid="restore-points"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="restore-moment"]').exists()).toBe(false);
    await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
    expect(wrapper.find('[data-testid="restore-points"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="restore-moment"]').attributes('type')).toBe('datetime-local');
    expect(wrapper.get('label[for="restore-moment"]').text()).toContain(localZoneLabel());
  });

  it('refuses a moment outside the range before starting, naming the range; sends asOf for one inside it', async () => {
    const wrapper = await mountAt(myInfo([range]), [mariadb]);
    await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
    // Empty: named when starting, nothing sent.
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start']).not.toHaveBeenCalled();
    expect(wrapper.get('[data-testid="restore-refused"]').text()).toBe('Not started: Enter the date and time to restore to.');

    await wrapper.get('[data-testid="restore-moment"]').setValue('2026-05-04T16:00:00');
    const said = `${formatDateTimeSeconds(local(16).toISOString())} is outside what this backup reaches: ${formatDateTimeSeconds(range.from)} to ${formatDateTimeSeconds(range.to)}. Choose a moment within that range.`;
    expect(wrapper.get('[data-testid="restore-moment-error"]').text()).toBe(said);
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start']).not.toHaveBeenCalled();
    expect(wrapper.get('[data-testid="restore-refused"]').text()).toBe(`Not started: ${said}`);

    await wrapper.get('[data-testid="restore-moment"]').setValue('2026-05-04T14:30:15');
    expect(wrapper.find('[data-testid="restore-moment-error"]').exists()).toBe(false);
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start']).toHaveBeenCalledTimes(1);
    const sent = startInput(0);
    expect(sent).toMatchObject({ asOf: local(14, 30, 15).toISOString(), serverId: 'my1', database: 'shop_restored', location: { kind: 'local', path: '/b/shop' } });
    expect(sent).not.toHaveProperty('pointId');
    expect(sent).not.toHaveProperty('sourceDatabase');
    expect(wrapper.find('[data-testid="restore-refused"]').exists()).toBe(false);
  });

  it('a PostgreSQL cluster backup restores one database into a new database or the whole cluster into a folder', async () => {
    const wrapper = await mountAt(clusterInfo, [pgServer]);
    expect(wrapper.find('[data-testid="restore-cluster-way"]').exists()).toBe(true);
    // The whole cluster by default, as before: a data directory, no names.
    expect(wrapper.find('[data-testid="restore-datadir"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="restore-source-database"]').exists()).toBe(false);

    await wrapper.get('[data-testid="restore-way-database"]').setValue(true);
    expect(wrapper.find('[data-testid="restore-datadir"]').exists()).toBe(false);
    expect((wrapper.get('[data-testid="restore-name"]').element as HTMLInputElement).value).toBe('');
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start']).not.toHaveBeenCalled();
    expect(wrapper.get('#restore-source-error').text()).toBe('Enter the name of the database to take out of the cluster backup.');
    expect(wrapper.get('#restore-name-error').text()).toBe('Enter a name for the new database.');

    await wrapper.get('[data-testid="restore-source-database"]').setValue(' shop ');
    await wrapper.get('[data-testid="restore-name"]').setValue('shop_at_1430');
    await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
    await wrapper.get('[data-testid="restore-moment"]').setValue('2026-05-04T14:30');
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(startInput(0)).toMatchObject({ asOf: local(14, 30).toISOString(), sourceDatabase: 'shop', database: 'shop_at_1430', serverId: 'pg1', options: { folder: null } });

    // The whole cluster at a restore point: the folder, no source database, the point.
    await wrapper.get('[data-testid="restore-way-cluster"]').setValue(true);
    await wrapper.get('[data-testid="restore-at-point"]').setValue(true);
    await wrapper.get('[data-testid="restore-datadir"]').setValue('/srv/pg/at');
    fake.emit('restore.finished', { restoreId: 'r1', status: 'success', database: 'shop_at_1430', path: null, notes: [], error: null });
    await flushPromises();
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    const second = startInput(1);
    expect(second).toMatchObject({ pointId: 'latest', database: 'base.tar', options: { folder: '/srv/pg/at' } });
    expect(second).not.toHaveProperty('asOf');
    expect(second).not.toHaveProperty('sourceDatabase');
  });
});

describe('restore draft: moments', () => {
  it('names every range when a moment is outside them, and accepts either end of one', () => {
    const info = { ...myInfo([range, { from: local(17).toISOString(), to: local(18).toISOString() }]) };
    const d = { ...emptyDraft(), serverId: 'my1', database: 'x', at: 'moment' as const };
    const fmt = (iso: string) => `<${iso}>`;
    expect(draftErrors({ ...d, moment: '2026-05-04T16:00' }, 'database', info, fmt).moment).toBe(
      `<${local(16).toISOString()}> is outside what this backup reaches: <${range.from}> to <${range.to}>; <${local(17).toISOString()}> to <${local(18).toISOString()}>. Choose a moment within one of those ranges.`,
    );
    expect(draftErrors({ ...d, moment: '2026-05-04T14:00' }, 'database', info, fmt)).toEqual({});
    expect(draftErrors({ ...d, moment: '2026-05-04T18:00:00' }, 'database', info, fmt)).toEqual({});
    expect(draftErrors({ ...d, moment: 'yesterday' }, 'database', info, fmt).moment).toBe('Enter the moment as a date and a time.');
    expect(draftErrors({ ...d, moment: '2026-05-04T14:30' }, 'database', myInfo(null), fmt).moment).toBe('This backup can only be restored to one of its restore points.');
    // A point restore ignores the moment field.
    expect(draftErrors({ ...d, at: 'point', moment: 'garbage' }, 'database', info, fmt)).toEqual({});
    expect(draftToStartInput({ ...d, at: 'point', moment: '2026-05-04T14:30' }, { location: { kind: 'local', path: '/b/shop' }, info, mode: 'database', targetKind: 'mysql', key: '' })).not.toHaveProperty('asOf');
  });
});

const zone = 'America/New_York';
// 1 Nov 2026 00:00 EDT (UTC-04:00) to 04:00 EST (UTC-05:00): the night the clocks go back at 02:00.
const nyRange = { from: '2026-11-01T04:00:00.000Z', to: '2026-11-01T09:00:00.000Z' };
const nyClusterInfo: BackupFolderInfo = {
  location: '/b/~server/base.tar', database: 'base.tar', serverIdentity: 'x', serverKind: 'postgres', encrypted: false, keyFingerprint: null, needsKey: false,
  points: [point({ format: 'pg-basebackup-tar', backupType: 'snapshot', createdAt: '2026-11-01T03:00:00.000Z' }), point({ id: '20261101T090000000Z-1a2b3c4d', kind: 'incremental', format: 'pg-wal-tar', createdAt: nyRange.to })],
  momentRanges: [nyRange],
};
const task = {
  id: 't1', name: 'cluster', serverId: 'pg1', type: 'snapshot', enabled: true,
  schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: zone },
  destinations: [{ kind: 'local', path: '/b' }],
} as unknown as Task;

async function mountFromTask() {
  fake.respond('restore.folders', () => ok([{ folder: '~server/base.tar', database: 'base.tar', serverStream: true, location: { kind: 'local', path: '/b/~server/base.tar' } }]));
  fake.respond('restore.inspect', () => ok(nyClusterInfo));
  fake.respond('restore.start', () => ok({ restoreId: `r${fake.commands['restore.start'].mock.calls.length}` }));
  const wrapper = await mountRestoreView(fake, { servers: [pgServer], tasks: [task] });
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
    expect(text).toContain(`from ${formatDateTimeSeconds(nyRange.from, zone)} to ${formatDateTimeSeconds(nyRange.to, zone)}`);
    // New York wall time (00:00 and 04:00), not this machine's.
    expect(formatDateTimeSeconds(nyRange.from, zone)).toContain('00:00:00');
    expect(formatDateTimeSeconds(nyRange.to, zone)).toContain('04:00:00');
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

  it('on a machine in Asia/Kolkata: the zone and its +05:30 offset named, the range in its wall time, the instant it means sent', async () => {
    // The renderer's types have no `process`; the test runs in Node, whose TZ can change at run time.
    const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;
    const before = env.TZ;
    env.TZ = 'Asia/Kolkata';
    try {
      expect(new Date(Date.UTC(2026, 4, 4, 8, 30)).getHours()).toBe(14); // the process really is in Kolkata now
      const wrapper = await mountAt(myInfo([{ from: '2026-05-04T08:30:00.000Z', to: '2026-05-04T09:30:00.000Z' }]), [mariadb]);
      const text = wrapper.get('[data-testid="restore-moment-range"]').text();
      expect(text).toMatch(/from .*14:00:00.* to .*15:00:00/);
      expect(text).toMatch(/\(your time, Asia\/(Kolkata|Calcutta), UTC\+05:30\)/);
      await wrapper.get('[data-testid="restore-at-moment"]').setValue(true);
      await wrapper.get('[data-testid="restore-moment"]').setValue('2026-05-04T14:30:15');
      expect(wrapper.get('label[for="restore-moment"]').text()).toContain('UTC+05:30');
      await wrapper.get('[data-testid="restore-target"]').trigger('submit');
      await flushPromises();
      expect(startInput(0)).toMatchObject({ asOf: '2026-05-04T09:00:15.000Z' });
    } finally {
      if (before === undefined) delete env.TZ;
      else env.TZ = before;
    }
  });
});
