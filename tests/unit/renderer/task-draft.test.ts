import { describe, expect, it } from 'vitest';
import type { Task } from '@shared/domain.ts';
import { TaskInput } from '@shared/domain.ts';
import { draftErrors, draftFromTask, draftRetention, draftTestRestore, draftToInput, emptyDraft, emptyS3Draft, wholeOf } from '../../../renderer/src/components/task-draft';

const task: Task = {
  id: 't1',
  name: 'Nightly',
  serverId: 's1',
  type: 'logical',
  schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'Europe/Berlin' },
  retention: { minAgeDays: 30, keepLast: 5 },
  encryption: { mode: 'key', keyRef: 'key.0000-1111-2222-3333', fingerprint: 'ab12-cd34' },
  destinations: [
    { kind: 'local', path: '/backups' },
    { kind: 's3', bucket: 'bkt', prefix: 'root', region: 'auto', endpoint: 'https://acc.r2.cloudflarestorage.com', forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef: 's3.cred' },
  ],
  excludeDatabases: ['tmp'],
  enabled: false,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};

describe('task drafts', () => {
  it('a saved task round-trips through the editor unchanged, and the result parses as a TaskInput', () => {
    const input = draftToInput(draftFromTask(task));
    const { id: _id, createdAt: _c, updatedAt: _u, ...fields } = task;
    expect(input).toEqual(fields);
    expect(TaskInput.safeParse(input).success).toBe(true);
  });

  it('a task\'s test-restore settings survive an edit in the window', () => {
    const withTest: Task = { ...task, testRestore: { schedule: '0 4 * * 0', afterFull: true, maxMinutes: 30 } };
    expect(draftToInput(draftFromTask(withTest)).testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: true, maxMinutes: 30 });
    expect('testRestore' in draftToInput(draftFromTask(task))).toBe(false);
  });

  it('hooks, upload limits and notification channels set outside the editor survive an edit in the window', () => {
    const configured: Task = {
      ...task,
      hooks: { pre: ['/usr/local/bin/freeze'], post: null, timeoutSeconds: 60, onFailure: 'skip' },
      limits: { uploadBytesPerSecond: 1_000_000 },
      notifications: ['chan-1'],
      destinations: [{ kind: 'local', path: '/backups', limits: { uploadBytesPerSecond: 2048 } }, task.destinations[1]!],
    };
    const d = draftFromTask(configured);
    d.name = 'Renamed';
    const input = draftToInput(d);
    expect(input).toMatchObject({ name: 'Renamed', hooks: configured.hooks, limits: configured.limits, notifications: ['chan-1'] });
    expect(input.destinations[0]).toEqual({ kind: 'local', path: '/backups', limits: { uploadBytesPerSecond: 2048 } });
    expect(TaskInput.safeParse(input).success).toBe(true);
  });

  it('an unchanged command keeps its exact argv (an argument with a line break too); odd byte rates come back exact', () => {
    for (const bytes of [1024, 1_048_576, 123_456_789, 1e12]) {
      const configured: Task = { ...task, hooks: { pre: ['/bin/sh', '-c', 'echo a\necho b'], post: ['/x'], timeoutSeconds: 5, onFailure: 'warn' }, limits: { uploadBytesPerSecond: bytes } };
      const input = draftToInput(draftFromTask(configured));
      expect(input.hooks).toEqual(configured.hooks);
      expect(input.limits).toEqual({ uploadBytesPerSecond: bytes });
    }
  });

  it('a read limit (set by a task file or the editor) survives an edit beside the upload limit, alone or with it; a bad one is named', () => {
    for (const limits of [{ readBytesPerSecond: 2_000_000 }, { uploadBytesPerSecond: 5_000_000, readBytesPerSecond: 4096 }]) {
      expect(draftToInput(draftFromTask({ ...task, limits })).limits).toEqual(limits);
    }
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [{ kind: 'local' as const, path: '/b' }] };
    d.read = { amount: '0.5', unit: 'KB/s' };
    expect(draftErrors(d)).toEqual({ read: 'Enter a read limit from 1.024 KB/s to 1,000,000 MB/s, or leave it empty for no limit.' });
    d.read = { amount: '3', unit: 'MB/s' };
    expect(draftToInput(d).limits).toEqual({ readBytesPerSecond: 3_000_000 });
  });

  it('the hook timeout is checked only when a command is entered', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [{ kind: 'local' as const, path: '/b' }] };
    d.hooks = { ...d.hooks, timeoutSeconds: '' };
    expect(draftErrors(d)).toEqual({});
    expect('hooks' in draftToInput(d)).toBe(false);
    d.hooks = { ...d.hooks, post: '/bin/true' };
    expect(draftErrors(d)).toEqual({ hooksTimeout: 'Enter the timeout as whole seconds from 1 to 86400 (24 hours).' });
  });

  it('test restores: a cron and/or after every full, a time cap in whole minutes; bad values are named', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [{ kind: 'local' as const, path: '/b' }] };
    expect(draftTestRestore(d)).toBeNull();
    d.testRestoreAfterFull = true;
    expect(draftTestRestore(d)).toEqual({ schedule: null, afterFull: true, maxMinutes: null });
    d.testRestoreCron = '0 4 * * 0';
    d.testRestoreMaxMinutes = 45;
    expect(draftToInput(d).testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: true, maxMinutes: 45 });
    d.testRestoreServerId = 's2';
    expect(draftToInput(d).testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: true, maxMinutes: 45, serverId: 's2' });
    d.testRestoreServerId = 's1'; // the task's own server: no serverId
    expect(draftToInput(d).testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: true, maxMinutes: 45 });
    expect(draftFromTask({ ...draftToInput(d), testRestore: { schedule: null, afterFull: true, maxMinutes: null, serverId: 's2' }, id: 't', createdAt: 'x', updatedAt: 'x' } as never).testRestoreServerId).toBe('s2');
    d.testRestoreMaxMinutes = 0;
    expect(draftErrors(d).testRestore).toBe('Enter the time cap as whole minutes from 1 to 1440, or leave it empty.');
    d.testRestoreMaxMinutes = '';
    d.testRestoreCron = '0 4 * *';
    expect(draftErrors(d).testRestore).toBe('Fix the test-restore cron expression (5 fields: minute hour day month weekday), or clear it.');
  });

  it('a new draft needs a name and a destination folder; its defaults are daily full + hourly incremental', () => {
    const d = emptyDraft('s1', 'UTC');
    expect(Object.keys(draftErrors(d)).sort()).toEqual(['destination-0', 'name']);
    d.name = 'X';
    d.destinations = [{ kind: 'local', path: '/b' }];
    expect(draftErrors(d)).toEqual({});
    expect(draftToInput(d).schedule).toEqual({ full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' });
  });

  it('flags no schedule, bad retention numbers, an ungenerated key and an S3 destination without credentials', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', full: { kind: 'off' as const }, incremental: { kind: 'off' as const }, minAgeDays: -1, encryption: 'generate' as const };
    d.destinations = [{ ...emptyS3Draft(), bucket: 'my-bucket' }];
    const e = draftErrors(d);
    expect(e.schedule).toMatch(/full or an incremental/);
    expect(e.retention).toMatch(/whole numbers/);
    expect(e.encryption).toBe('Generate the key first.');
    expect(e['destination-0']).toBe('Enter the access key id and secret.');
  });

  it('uses the credentials reference of a just-saved secret', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [{ ...emptyS3Draft(), bucket: 'b-1', accessKeyId: 'AK', secretAccessKey: 'SK' }] };
    const input = draftToInput(d, ['s3.new']);
    expect(input.destinations[0]).toMatchObject({ kind: 's3', bucket: 'b-1', credentialsRef: 's3.new', prefix: 'backstop', endpoint: null });
    expect(JSON.stringify(input)).not.toContain('SK');
  });

  it('draftRetention: empty keep-last is null', () => {
    expect(draftRetention({ minAgeDays: '0', keepLast: '' })).toEqual({ minAgeDays: 0, keepLast: null });
    expect(draftRetention({ minAgeDays: '7', keepLast: '0' })).toBeNull();
    expect(draftRetention({ minAgeDays: '1.5', keepLast: '' })).toBeNull();
  });

  it('a number input’s value (a number) converts like typed text: the retention fields never call string methods on it', () => {
    // What v-model on <input type="number"> yields: a number, or '' when cleared.
    expect(draftRetention({ minAgeDays: 14, keepLast: 10 })).toEqual({ minAgeDays: 14, keepLast: 10 });
    expect(draftRetention({ minAgeDays: 0, keepLast: '' })).toEqual({ minAgeDays: 0, keepLast: null });
    // Text (an older draft, a paste) converts the same way.
    expect(draftRetention({ minAgeDays: ' 14 ', keepLast: '10' })).toEqual({ minAgeDays: 14, keepLast: 10 });
    // Empty days, fractions, negatives, too large, keep-last 0, anything else: not valid.
    for (const bad of [
      { minAgeDays: '', keepLast: '' },
      { minAgeDays: 1.5, keepLast: '' },
      { minAgeDays: -1, keepLast: '' },
      { minAgeDays: 36501, keepLast: '' },
      { minAgeDays: 7, keepLast: 0 },
      { minAgeDays: 7, keepLast: Number.NaN },
      { minAgeDays: null, keepLast: '' },
      { minAgeDays: {}, keepLast: '' },
    ]) {
      expect(draftRetention(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(wholeOf(undefined)).toBe('');
    expect(wholeOf('  ')).toBe('');
    expect(wholeOf('3e2')).toBeNull();
  });

  it('a draft with numbers typed into both retention fields saves (no error) and becomes the TaskInput’s numbers', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [{ kind: 'local' as const, path: '/b' }], minAgeDays: 14 as const, keepLast: 10 as const };
    expect(draftErrors(d)).toEqual({});
    const input = draftToInput(d);
    expect(input.retention).toEqual({ minAgeDays: 14, keepLast: 10 });
    expect(TaskInput.safeParse(input).success).toBe(true);
    // Cleared "keep last" (''), as the input gives it back.
    expect(draftToInput({ ...d, keepLast: '' }).retention).toEqual({ minAgeDays: 14, keepLast: null });
    // A saved task's retention comes back as numbers, not text.
    expect(draftFromTask(task)).toMatchObject({ minAgeDays: 30, keepLast: 5 });
    expect(draftFromTask({ ...task, retention: { minAgeDays: 0, keepLast: null } })).toMatchObject({ minAgeDays: 0, keepLast: '' });
  });
});
