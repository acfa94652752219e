import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { DEFAULT_SETTINGS, type Settings } from '@shared/domain.ts';
import { useHistoryStore } from '../../../renderer/src/stores/history';
import { useServersStore } from '../../../renderer/src/stores/servers';
import { useSettingsStore } from '../../../renderer/src/stores/settings';
import { useAppStore } from '../../../renderer/src/stores/app';
import type { Result } from '@shared/result.ts';
import type { Run, Server } from '@shared/domain.ts';
import { deferred, fail, installFakeBridge, ok, removeBridge, sqliteServer, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge();
  setActivePinia(createPinia());
});
afterEach(removeBridge);

describe('useServersStore', () => {
  it('refresh() calls servers.list, shows loading while it runs, then the servers sorted by name', async () => {
    const answer = deferred<Result<Server[]>>();
    fake.respond('servers.list', () => answer.promise);
    const store = useServersStore();
    expect(store.loaded).toBe(false);

    const done = store.refresh();
    expect(store.loading).toBe(true);
    answer.resolve(ok([sqliteServer('2', 'zeta'), sqliteServer('1', 'Alpha')]));
    await done;

    expect(fake.commands['servers.list']).toHaveBeenCalledTimes(1);
    expect(store.loading).toBe(false);
    expect(store.loaded).toBe(true);
    expect(store.error).toBeNull();
    expect(store.servers.map((s) => s.name)).toEqual(['Alpha', 'zeta']);
  });

  it('a failed refresh exposes the engine’s code and message and keeps the servers it had', async () => {
    fake.respond('servers.list', () => ok([sqliteServer('1', 'Alpha')]));
    const store = useServersStore();
    await store.refresh();

    fake.respond('servers.list', () => fail('INTERNAL', 'The app database is locked.'));
    await store.refresh();

    expect(store.loading).toBe(false);
    expect(store.error).toMatchObject({ code: 'INTERNAL', message: 'The app database is locked.' });
    expect(store.servers.map((s) => s.name)).toEqual(['Alpha']);

    fake.respond('servers.list', () => ok([]));
    await store.refresh();
    expect(store.error).toBeNull();
  });

  it('an older answer never overwrites a newer one (last request wins)', async () => {
    const first = deferred<Result<Server[]>>();
    const second = deferred<Result<Server[]>>();
    const answers = [first.promise, second.promise];
    fake.respond('servers.list', () => answers.shift()!);
    const store = useServersStore();

    const a = store.refresh();
    const b = store.refresh();
    second.resolve(ok([sqliteServer('new', 'Newer')]));
    await b;
    first.resolve(ok([sqliteServer('old', 'Older')]));
    await a;

    expect(store.servers.map((s) => s.name)).toEqual(['Newer']);
    expect(store.loading).toBe(false);
  });

  it('create() that the engine refuses returns null, sets actionError, and adds nothing', async () => {
    fake.respond('servers.list', () => ok([]));
    fake.respond('servers.create', () => fail('VALIDATION', 'folder: "/nope" does not exist. Choose an existing folder of SQLite databases.'));
    const store = useServersStore();
    await store.refresh();

    const created = await store.create({ kind: 'sqlite', name: 'Ghost', folder: '/nope' });

    expect(created).toBeNull();
    expect(fake.commands['servers.create']).toHaveBeenCalledWith({ kind: 'sqlite', name: 'Ghost', folder: '/nope' });
    expect(store.actionError).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('does not exist') });
    expect(store.saving).toBe(false);
    expect(store.servers).toEqual([]);
    // A list-loading error is a different thing and stays clear.
    expect(store.error).toBeNull();
  });

  it('create() that succeeds shows the new server and clears an earlier actionError', async () => {
    const created = sqliteServer('s1', 'Apps');
    let stored: Server[] = [];
    fake.respond('servers.list', () => ok(stored));
    fake.respond('servers.create', () => {
      stored = [created];
      return ok(created);
    });
    const store = useServersStore();
    await store.refresh();
    store.clearActionError();

    await expect(store.create({ kind: 'sqlite', name: 'Apps', folder: '/data/s1' })).resolves.toEqual(created);
    expect(store.actionError).toBeNull();
    expect(store.servers.map((s) => s.id)).toEqual(['s1']);
  });

  it('refreshes when the engine announces servers.changed, once it has loaded', async () => {
    let stored: Server[] = [];
    fake.respond('servers.list', () => ok(stored));
    const store = useServersStore();

    fake.emit('servers.changed', { ids: ['x'] });
    expect(fake.commands['servers.list']).not.toHaveBeenCalled(); // nothing shown yet: nothing to refresh

    await store.refresh();
    stored = [sqliteServer('x', 'From the CLI')];
    fake.emit('servers.changed', { ids: ['x'] });
    await vi.waitFor(() => expect(store.servers).toHaveLength(1));
    expect(fake.commands['servers.list']).toHaveBeenCalledTimes(2);
    expect(store.servers[0]?.name).toBe('From the CLI');
  });

  it('remove() deletes by id; a refused delete keeps the server and reports why', async () => {
    fake.respond('servers.list', () => ok([sqliteServer('a', 'A')]));
    fake.respond('servers.delete', () => fail('CONFLICT', 'Task “Nightly” still uses this server.'));
    const store = useServersStore();
    await store.refresh();

    await expect(store.remove('a')).resolves.toBe(false);
    expect(fake.commands['servers.delete']).toHaveBeenCalledWith({ id: 'a' });
    expect(store.actionError).toMatchObject({ code: 'CONFLICT' });
    expect(store.servers.map((s) => s.id)).toEqual(['a']);
  });
});

describe('useSettingsStore', () => {
  const dark: Settings = { ...DEFAULT_SETTINGS, theme: 'dark', maxConcurrentBackups: 4 };

  it('uses the defaults until loaded, then the engine’s settings', async () => {
    fake.respond('settings.get', () => ok(dark));
    const store = useSettingsStore();
    expect(store.theme).toBe('system');
    await store.refresh();
    expect(store.theme).toBe('dark');
    expect(store.settings.maxConcurrentBackups).toBe(4);
  });

  it('save() sends the patch through settings.set and keeps what the engine answers', async () => {
    fake.respond('settings.set', () => ok(dark));
    const store = useSettingsStore();
    await expect(store.save({ theme: 'dark', maxConcurrentBackups: 4 })).resolves.toBe(true);
    expect(fake.commands['settings.set']).toHaveBeenCalledWith({ theme: 'dark', maxConcurrentBackups: 4 });
    expect(store.settings).toEqual(dark);
  });

  it('a refused save reports the engine’s error and keeps the old settings', async () => {
    fake.respond('settings.set', () => fail('MALFORMED_REQUEST', 'Invalid request for settings.set: maxConcurrentBackups: Too big'));
    const store = useSettingsStore();
    await expect(store.save({ maxConcurrentBackups: 99 })).resolves.toBe(false);
    expect(store.actionError).toMatchObject({ code: 'MALFORMED_REQUEST' });
    expect(store.settings).toEqual(DEFAULT_SETTINGS);
  });

  it('takes settings.changed payloads as the new settings', () => {
    const store = useSettingsStore();
    fake.emit('settings.changed', dark);
    expect(store.settings).toEqual(dark);
    expect(store.loaded).toBe(true);
  });
});

describe('useHistoryStore and useAppStore', () => {
  it('history asks for the newest runs and refreshes on history.changed', async () => {
    fake.respond('history.list', () => ok([]));
    const store = useHistoryStore();
    await store.refresh();
    expect(fake.commands['history.list']).toHaveBeenCalledWith({ limit: 200 });
    fake.emit('history.changed', { runId: 'r', taskId: 't' });
    await vi.waitFor(() => expect(fake.commands['history.list']).toHaveBeenCalledTimes(2));
  });

  it('history pages with a cursor, searches a filter in the engine, and keeps older pages on history.changed', async () => {
    const mk = (n: number) => ({ id: `r${String(n).padStart(4, '0')}`, taskId: 't', taskName: 'T', trigger: 'schedule', requestedKind: 'full', status: 'success', startedAt: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(), endedAt: null, errorCode: null, errorMessage: null, keyFingerprint: null, databases: [] }) as unknown as Run;
    const all = Array.from({ length: 450 }, (_, i) => mk(450 - i)); // newest first
    fake.respond('history.list', (input) => {
      const q = input as { beforeId?: string; taskId?: string; limit?: number } | undefined;
      const start = q?.beforeId ? all.findIndex((r) => r.id === q.beforeId) + 1 : 0;
      const pool = q?.taskId ? all.filter((r) => r.id.endsWith('7')) : all;
      return ok(pool.slice(q?.taskId ? 0 : start, (q?.taskId ? 0 : start) + (q?.limit ?? 100)));
    });
    const store = useHistoryStore();
    await store.refresh();
    expect(store.runs).toHaveLength(200);
    expect(store.hasMore).toBe(true);
    await store.loadOlder();
    expect(fake.commands['history.list']).toHaveBeenLastCalledWith({ limit: 200, before: all[199]!.startedAt, beforeId: all[199]!.id });
    await store.loadOlder();
    expect(store.runs.map((r) => r.id)).toEqual(all.map((r) => r.id));
    expect(store.hasMore).toBe(false);

    // A new run: the newest page is fetched again; the pages already open stay.
    all.unshift(mk(451));
    fake.emit('history.changed', { runId: 'r0451', taskId: 't' });
    await vi.waitFor(() => expect(store.runs).toHaveLength(451));
    expect(store.runs[0]!.id).toBe('r0451');

    // A filter replaces the runs with the engine's answer for it.
    await store.setFilter({ taskId: 't' });
    expect(fake.commands['history.list']).toHaveBeenLastCalledWith({ taskId: 't', limit: 200 });
    expect(store.runs.every((r) => r.id.endsWith('7'))).toBe(true);
    expect(store.runs).toHaveLength(45);
    expect(store.hasMore).toBe(false);
  });

  it('an older page still loading when new runs arrive lands after them (no second click); a filter change drops it', async () => {
    const mk = (n: number) => ({ id: `r${String(n).padStart(4, '0')}`, taskId: 't', taskName: 'T', trigger: 'schedule', requestedKind: 'full', status: 'success', startedAt: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(), endedAt: null, errorCode: null, errorMessage: null, keyFingerprint: null, databases: [] }) as unknown as Run;
    const all = Array.from({ length: 300 }, (_, i) => mk(300 - i)); // newest first
    let older = deferred<Result<Run[]>>();
    fake.respond('history.list', (input) => {
      const q = input as { beforeId?: string; limit?: number; taskId?: string };
      if (q.beforeId) return older.promise;
      return ok(all.slice(0, q.limit ?? 100));
    });
    const store = useHistoryStore();
    await store.refresh();
    const cursor = store.runs[199]!;
    const loading = store.loadOlder();
    expect(store.loadingOlder).toBe(true);

    // A new run arrives while the older page is on its way: the newest page is fetched again.
    all.unshift(mk(301));
    fake.emit('history.changed', { runId: 'r0301', taskId: 't' });
    await vi.waitFor(() => expect(store.runs[0]!.id).toBe('r0301'));
    expect(store.loadingOlder).toBe(true);
    const cut = all.findIndex((r) => r.id === cursor.id) + 1;
    older.resolve(ok(all.slice(cut, cut + 200)));
    await loading;
    expect(store.loadingOlder).toBe(false);
    expect(store.runs.map((r) => r.id)).toEqual(all.map((r) => r.id));
    expect(store.hasMore).toBe(false);

    // A filter changed while an older page loads: that page (of the old filter) is dropped.
    older = deferred<Result<Run[]>>();
    fake.respond('history.list', (input) => {
      const q = input as { beforeId?: string };
      if (q.beforeId) return older.promise;
      return ok(all.slice(0, 200));
    });
    await store.refresh();
    const second = store.loadOlder();
    await store.setFilter({ taskId: 't' });
    older.resolve(ok(all.slice(200, 400)));
    await second;
    expect(store.runs).toHaveLength(200);
  });

  it('app info failure is exposed as error, with info left empty', async () => {
    removeBridge();
    const store = useAppStore();
    await store.refresh();
    expect(store.info).toBeNull();
    expect(store.error?.code).toBe('INTERNAL');
  });
});
