/** The stores' actions added for the Backstop window, against a fake bridge. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import type { ActiveRun, DatabaseProgress, Task } from '@shared/domain.ts';
import type { Result } from '@shared/result.ts';
import { pathForDroppedFile } from '../../../renderer/src/api';
import { useKeysStore } from '../../../renderer/src/stores/keys';
import { usePlanningStore } from '../../../renderer/src/stores/planning';
import { useRestoreStore } from '../../../renderer/src/stores/restore';
import { useServersStore } from '../../../renderer/src/stores/servers';
import { useTasksStore } from '../../../renderer/src/stores/tasks';
import { deferred, fail, installFakeBridge, ok, removeBridge, sqliteServer, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
  setActivePinia(createPinia());
});
afterEach(removeBridge);

const task: Task = {
  id: 't1', name: 'Nightly', serverId: 's1', type: 'logical',
  schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
  retention: { minAgeDays: 0, keepLast: null }, encryption: { mode: 'none' },
  destinations: [{ kind: 'local', path: '/b' }], excludeDatabases: [], enabled: true,
  createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z',
};
const progress = (database: string, phase: DatabaseProgress['phase'], bytesRead = 0): DatabaseProgress => ({
  database, phase, bytesRead, expectedBytes: 100, destinations: [],
});

describe('useTasksStore', () => {
  it('setEnabled sends the saved task back with only `enabled` changed', async () => {
    fake.respond('tasks.list', () => ok([task]));
    fake.respond('tasks.status', () => ok([]));
    fake.respond('tasks.update', (input) => ok({ ...task, ...(input as { task: Partial<Task> }).task }));
    const store = useTasksStore();
    await store.refresh();
    expect(await store.setEnabled('t1', false)).toBe(true);
    const sent = fake.commands['tasks.update'].mock.calls[0]![0] as { id: string; task: Record<string, unknown> };
    expect(sent.id).toBe('t1');
    expect(sent.task).toEqual({ ...Object.fromEntries(Object.entries(task).filter(([k]) => !['id', 'createdAt', 'updatedAt'].includes(k))), enabled: false });
    expect(store.byId.get('t1')?.enabled).toBe(false);
  });

  it('runNow passes the kind, refreshes the active runs, and merges run.progress events into them', async () => {
    const active: ActiveRun = { runId: 'r1', taskId: 't1', taskName: 'Nightly', kind: 'full', startedAt: '2026-01-01T00:00:00Z', status: 'running', databases: [progress('a', 'queued')] };
    fake.respond('tasks.runNow', () => ok({ runId: 'r1' }));
    fake.respond('runs.active', () => ok([active]));
    fake.respond('tasks.status', () => ok([]));
    const store = useTasksStore();
    expect(await store.runNow('t1', 'incremental')).toBe('r1');
    expect(fake.commands['tasks.runNow'].mock.calls[0]![0]).toEqual({ id: 't1', kind: 'incremental' });
    await store.refreshActive();
    fake.emit('run.progress', { runId: 'r1', taskId: 't1', progress: progress('a', 'dumping', 40) });
    fake.emit('run.progress', { runId: 'r1', taskId: 't1', progress: progress('b', 'preparing') });
    expect(store.activeByTask.get('t1')?.databases.map((d) => [d.database, d.phase, d.bytesRead])).toEqual([
      ['a', 'dumping', 40],
      ['b', 'preparing', 0],
    ]);
  });

  it('a refused run keeps the engine’s error, for that task only', async () => {
    fake.respond('tasks.runNow', () => fail('CONFLICT', 'Nightly is already running.'));
    const store = useTasksStore();
    expect(await store.runNow('t1')).toBeNull();
    expect(fake.commands['tasks.runNow'].mock.calls[0]![0]).toEqual({ id: 't1' });
    expect(store.runError).toMatchObject({ code: 'CONFLICT', message: 'Nightly is already running.' });
    expect(store.runErrorTask).toBe('t1');
  });

  it('setupDemo remembers where the samples are and loads the new task', async () => {
    fake.respond('demo.setup', () => ok({ serverId: 's1', taskId: 't1', folder: '/samples', backups: '/backups' }));
    fake.respond('tasks.list', () => ok([task]));
    fake.respond('tasks.status', () => ok([]));
    fake.respond('runs.active', () => ok([]));
    const store = useTasksStore();
    await store.setupDemo();
    expect(store.demo).toEqual({ serverId: 's1', taskId: 't1', folder: '/samples', backups: '/backups' });
    expect(store.tasks.map((t) => t.id)).toEqual(['t1']);
  });
});

describe('useServersStore: test, update, databases', () => {
  it('test({id}) keeps the answer for that server; a failure keeps the code', async () => {
    fake.respond('servers.test', () => ok({ serverVersion: 'SQLite 3.45', tools: [], warnings: [], support: { logical: { available: true, scope: 'database' }, snapshot: { available: false, reason: 'no' } } }));
    const store = useServersStore();
    await store.test({ id: 's1' });
    expect(store.check?.target).toBe('s1');
    expect(store.check?.result.serverVersion).toBe('SQLite 3.45');
    fake.respond('servers.test', () => fail('UNREACHABLE', 'Connection refused on db:5432.'));
    await store.test({ server: { kind: 'postgres', name: 'x', host: 'db', user: 'u' } });
    expect(store.check).toBeNull();
    expect(store.checkTarget).toBe('draft');
    expect(store.testError).toMatchObject({ code: 'UNREACHABLE' });
  });

  it('update() replaces the server in the list', async () => {
    let stored = sqliteServer('s1', 'Old');
    fake.respond('servers.list', () => ok([stored]));
    fake.respond('servers.update', () => ok((stored = sqliteServer('s1', 'New'))));
    const store = useServersStore();
    await store.refresh();
    await store.update('s1', { kind: 'sqlite', name: 'New', folder: '/data/s1' });
    expect(fake.commands['servers.update'].mock.calls[0]![0]).toEqual({ id: 's1', server: { kind: 'sqlite', name: 'New', folder: '/data/s1' } });
    expect(store.servers.map((s) => s.name)).toEqual(['New']);
  });
});

describe('usePlanningStore', () => {
  it('schedule preview: the last question wins; an error replaces the runs', async () => {
    const slow = deferred<Result<{ at: string; kind: 'full' | 'incremental' }[]>>();
    fake.respond('schedule.preview', (input) =>
      (input as { schedule: { full: string } }).schedule.full === '99 2 * * *' ? fail('VALIDATION', 'schedule.full: bad cron') : slow.promise,
    );
    const store = usePlanningStore();
    const first = store.previewSchedule({ full: '0 2 * * *', incremental: null, timezone: 'UTC' });
    await store.previewSchedule({ full: '99 2 * * *', incremental: null, timezone: 'UTC' });
    slow.resolve(ok([{ at: '2026-01-01T02:00:00Z', kind: 'full' }]));
    await first;
    expect(store.runs).toBeNull();
    expect(store.nextFull).toBeNull();
    expect(store.scheduleError).toMatchObject({ code: 'VALIDATION', message: 'schedule.full: bad cron' });
    expect(fake.commands['schedule.preview'].mock.calls.map((c) => c[0])).toContainEqual({ schedule: { full: '99 2 * * *', incremental: null, timezone: 'UTC' }, count: 20 });
  });

  it('schedule preview: the next full is asked on its own, so hourly incrementals never hide it', async () => {
    const hourly = Array.from({ length: 20 }, (_, i) => ({ at: `2026-01-01T${String(i + 3).padStart(2, '0')}:00:00Z`, kind: 'incremental' as const }));
    fake.respond('schedule.preview', (input) => {
      const { schedule } = input as { schedule: { incremental: string | null } };
      return ok(schedule.incremental === null ? [{ at: '2026-01-04T02:00:00Z', kind: 'full' as const }] : hourly);
    });
    const store = usePlanningStore();
    await store.previewSchedule({ full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' });
    expect(store.nextFull).toBe('2026-01-04T02:00:00Z');
    expect(store.nextIncrementals).toEqual(hourly.slice(0, 5).map((r) => r.at));
    expect(store.runs).toHaveLength(5);
    expect(fake.commands['schedule.preview'].mock.calls.map((c) => c[0])).toEqual([
      { schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, count: 20 },
      { schedule: { full: '0 2 * * 0', incremental: null, timezone: 'UTC' }, count: 1 },
    ]);
  });
});

describe('useKeysStore', () => {
  it('saveToFile asks where, writes there, and records the export; a canceled dialog writes nothing', async () => {
    fake.respond('dialog.saveFile', () => ok({ path: null }));
    const store = useKeysStore();
    expect(await store.saveToFile('key.0000-0000-0000-0000', 'Nightly', 'ab12')).toBe('');
    expect(fake.commands['keys.saveToFile']).not.toHaveBeenCalled();

    fake.respond('dialog.saveFile', () => ok({ path: '/home/me/key.txt' }));
    fake.respond('keys.saveToFile', () => ok({ keyRef: 'key.0000-0000-0000-0000', fingerprint: 'ab12', origin: 'generated', createdAt: 'x', exportedAt: 'y', exportMethod: 'file' }));
    expect(await store.saveToFile('key.0000-0000-0000-0000', 'Nightly', 'ab12')).toBe('/home/me/key.txt');
    expect(fake.commands['keys.saveToFile'].mock.calls[0]![0]).toEqual({ keyRef: 'key.0000-0000-0000-0000', path: '/home/me/key.txt', taskName: 'Nightly' });
    expect(store.byRef.get('key.0000-0000-0000-0000')?.exportMethod).toBe('file');
  });
});

describe('useRestoreStore', () => {
  it('keeps a restore.finished that arrives before restore.start answers', async () => {
    const answer = deferred<Result<{ restoreId: string }>>();
    fake.respond('restore.start', () => answer.promise);
    const store = useRestoreStore();
    const started = store.start({ location: { kind: 'local', path: '/b/sales' }, pointId: 'latest', serverId: 's1', database: 'copy' });
    fake.emit('restore.progress', { restoreId: 'r9', phase: 'done', unit: 'bytes', done: 10, total: 10 });
    fake.emit('restore.finished', { restoreId: 'r9', status: 'success', database: 'copy', path: '/x/copy', notes: [], error: null });
    answer.resolve(ok({ restoreId: 'r9' }));
    await started;
    expect(store.restoreId).toBe('r9');
    expect(store.result).toMatchObject({ status: 'success', path: '/x/copy' });
    expect(store.progress?.phase).toBe('done');
    expect(store.restoring).toBe(false);
  });

  it('inspect shows NOT_A_BACKUP as the engine wrote it and no info', async () => {
    fake.respond('restore.inspect', () => fail('NOT_A_BACKUP', '/b is the common root; choose one database’s folder.'));
    const store = useRestoreStore();
    expect(await store.inspect({ kind: 'local', path: '/b' })).toBeNull();
    expect(store.info).toBeNull();
    expect(store.inspectError).toMatchObject({ code: 'NOT_A_BACKUP', message: '/b is the common root; choose one database’s folder.' });
  });
});

describe('pathForDroppedFile', () => {
  it('is null without the bridge function, and the bridge’s answer with it', () => {
    const file = new File(['x'], 'sales');
    expect(pathForDroppedFile(file)).toBeNull();
    fake.bridge.pathForFile = (f: File) => `/dropped/${f.name}`;
    expect(pathForDroppedFile(file)).toBe('/dropped/sales');
    fake.bridge.pathForFile = () => {
      throw new Error('no');
    };
    expect(pathForDroppedFile(file)).toBeNull();
  });
});
