import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../electron/engine/index.ts';
import { Settings, SettingsPatch } from '../../../electron/shared/domain.ts';
import type { EventName } from '../../../electron/shared/ipc/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { MIGRATIONS } from '../../../electron/engine/store/migrations.ts';

function data<T>(res: { ok: true; data: T } | { ok: false; code: string; message: string }): T {
  if (!res.ok) throw new Error(`expected ok, got ${res.code}: ${res.message}`);
  return res.data;
}

const task = (serverId: string, backupDir: string, over: Record<string, unknown> = {}) => ({
  name: 'nightly',
  serverId,
  type: 'logical',
  schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'Europe/Berlin' },
  destinations: [{ kind: 'local', path: backupDir }],
  ...over,
});

describe('engine handlers', () => {
  it('creates, lists, updates and deletes a SQLite-folder server, emitting servers.changed', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const seen: EventName[] = [];
    engine.events.onAny((name) => seen.push(name));
    const folder = tempDir();
    const created = data(await engine.call('servers.create', { kind: 'sqlite', name: 'Samples', folder }));
    expect(created).toMatchObject({ kind: 'sqlite', name: 'Samples', folder });
    expect(data(await engine.call('servers.list', undefined))).toEqual([created]);
    const renamed = data(await engine.call('servers.update', { id: created.id, server: { kind: 'sqlite', name: 'Renamed', folder } }));
    expect(renamed.name).toBe('Renamed');
    expect(data(await engine.call('servers.delete', { id: created.id }))).toEqual({ id: created.id });
    expect(data(await engine.call('servers.list', undefined))).toEqual([]);
    expect(seen).toEqual(['servers.changed', 'servers.changed', 'servers.changed']);
  });

  it('rejects a missing folder, a file, and a relative path with VALIDATION, storing nothing', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const dir = tempDir();
    const file = join(dir, 'a.db');
    writeFileSync(file, 'x');
    const cases: [string, RegExp][] = [
      [join(dir, 'missing'), /does not exist/],
      [file, /is a file, not a folder/],
      ['relative/path', /must be an absolute path/],
    ];
    for (const [folder, message] of cases) {
      const res = await engine.call('servers.create', { kind: 'sqlite', name: 'x', folder });
      expect(res).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringMatching(message) });
    }
    expect(data(await engine.call('servers.list', undefined))).toEqual([]);
  });

  it('refuses duplicate names case-insensitively with CONFLICT', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const folder = tempDir();
    data(await engine.call('servers.create', { kind: 'sqlite', name: 'Main', folder }));
    const res = await engine.call('servers.create', { kind: 'sqlite', name: 'MAIN', folder });
    expect(res).toMatchObject({ ok: false, code: 'CONFLICT', message: 'A server named "MAIN" already exists.' });
    expect(data(await engine.call('servers.list', undefined))).toHaveLength(1);
  });

  it('moves a server password into the secret store and keeps only a reference', async () => {
    const secrets = new MemorySecretStore();
    const engine = await testEngine({ secrets });
    const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: '127.0.0.1', user: 'backup', password: 'pw-123456' }));
    expect(server).not.toHaveProperty('password');
    expect(server.kind === 'postgres' && server.passwordRef).toBe(`server.${server.id}.password`);
    expect(secrets.values.get(`server.${server.id}.password`)).toBe('pw-123456');
    // Updating without a password keeps it; with one replaces it.
    data(await engine.call('servers.update', { id: server.id, server: { kind: 'postgres', name: 'pg', host: 'db', user: 'backup' } }));
    expect(secrets.values.get(`server.${server.id}.password`)).toBe('pw-123456');
    data(await engine.call('servers.update', { id: server.id, server: { kind: 'postgres', name: 'pg', host: 'db', user: 'backup', password: 'new-pw-789' } }));
    expect(secrets.values.get(`server.${server.id}.password`)).toBe('new-pw-789');
    data(await engine.call('servers.delete', { id: server.id }));
    expect(secrets.values.size).toBe(0);
  });

  it('refuses a server edit based on a version changed since (STALE): nothing saved, the stored password untouched', async () => {
    const secrets = new MemorySecretStore();
    const clock = new Date('2026-03-01T10:00:00.000Z');
    const engine = await testEngine({ secrets, now: () => clock });
    const opened = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: '127.0.0.1', user: 'backup', password: 'pw-123456' }));
    // Another window changes the host while this one still shows the version it opened.
    const moved = data(await engine.call('servers.update', { id: opened.id, basedOn: opened.updatedAt, server: { kind: 'postgres', name: 'pg', host: 'db2', user: 'backup' } }));
    expect(moved.updatedAt).toBe('2026-03-01T10:00:00.001Z');
    const stale = await engine.call('servers.update', { id: opened.id, basedOn: opened.updatedAt, server: { kind: 'postgres', name: 'pg', host: '127.0.0.1', user: 'backup', password: 'typed-here' } });
    expect(stale).toMatchObject({
      ok: false,
      code: 'STALE',
      message: 'Server "pg" was changed elsewhere (another window or the command line; saved at 2026-03-01T10:00:00.001Z) after this edit began, so nothing was saved. Review its current settings and save again.',
    });
    expect(data(await engine.call('servers.list', undefined))).toEqual([moved]);
    expect(secrets.values.get(`server.${opened.id}.password`)).toBe('pw-123456');
    // Based on the current version it saves.
    const saved = data(await engine.call('servers.update', { id: opened.id, basedOn: moved.updatedAt, server: { kind: 'postgres', name: 'pg', host: 'db3', user: 'backup', password: 'typed-here' } }));
    expect(saved).toMatchObject({ host: 'db3', updatedAt: '2026-03-01T10:00:00.002Z' });
    expect(secrets.values.get(`server.${opened.id}.password`)).toBe('typed-here');
  });

  it('removes a just-stored password when the server row cannot be written', async () => {
    const secrets = new MemorySecretStore();
    const engine = await testEngine({ secrets });
    data(await engine.call('servers.create', { kind: 'mysql', name: 'dup', host: 'h', user: 'u' }));
    const res = await engine.call('servers.create', { kind: 'mysql', name: 'dup', host: 'h', user: 'u', password: 'orphan-pw' });
    expect(res).toMatchObject({ ok: false, code: 'CONFLICT' });
    expect([...secrets.values.values()]).not.toContain('orphan-pw');
  });

  it('refuses to change a server kind', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const s = data(await engine.call('servers.create', { kind: 'mysql', name: 'm', host: 'h', user: 'u' }));
    const res = await engine.call('servers.update', { id: s.id, server: { kind: 'postgres', name: 'm', host: 'h', user: 'u' } });
    expect(res).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('mysql → postgres') });
  });

  it('creates tasks with defaults, validates schedules, and protects a server in use', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const folder = tempDir();
    const backups = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 's', folder }));
    const t = data(await engine.call('tasks.create', task(server.id, backups)));
    expect(t).toMatchObject({
      name: 'nightly',
      enabled: true,
      retention: { minAgeDays: 0, keepLast: null },
      encryption: { mode: 'none' },
      excludeDatabases: [],
    });
    expect(await engine.call('servers.delete', { id: server.id })).toMatchObject({
      ok: false,
      code: 'CONFLICT',
      message: 'Server "s" is used by task "nightly"; delete or change that task first.',
    });

    const badCron = await engine.call('tasks.create', task(server.id, backups, { name: 'b', schedule: { full: '61 2 * * *', timezone: 'UTC' } }));
    expect(badCron).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('schedule.full: "61 2 * * *" is not a valid cron expression') });
    const fourFields = await engine.call('tasks.create', task(server.id, backups, { name: 'b', schedule: { full: '0 2 * *', timezone: 'UTC' } }));
    expect(fourFields).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: expect.stringContaining('must have 5 fields') });
    const badTz = await engine.call('tasks.create', task(server.id, backups, { name: 'b', schedule: { full: '0 2 * * *', timezone: 'Mars/Olympus' } }));
    expect(badTz).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('"Mars/Olympus" is not a known IANA time zone') });
    const noSchedule = await engine.call('tasks.create', task(server.id, backups, { name: 'b', schedule: { timezone: 'UTC' } }));
    expect(noSchedule).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: expect.stringContaining('needs a full or an incremental schedule') });
    const relative = await engine.call('tasks.create', task(server.id, backups, { name: 'b', destinations: [{ kind: 'local', path: 'backups' }] }));
    expect(relative).toMatchObject({ ok: false, code: 'VALIDATION', message: 'destinations.0.path: "backups" must be an absolute path.' });
    const twice = await engine.call('tasks.create', task(server.id, backups, { name: 'b', destinations: [{ kind: 'local', path: backups }, { kind: 'local', path: backups + '/' }] }));
    expect(twice).toMatchObject({ ok: false, code: 'VALIDATION', message: 'destinations.1: the same destination is listed twice.' });
    const noServer = await engine.call('tasks.create', task('nope', backups, { name: 'b' }));
    expect(noServer).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(data(await engine.call('tasks.list', undefined)).map((x) => x.name)).toEqual(['nightly']);

    const updated = data(await engine.call('tasks.update', { id: t.id, task: task(server.id, backups, { enabled: false, excludeDatabases: ['tmp'] }) }));
    expect(updated).toMatchObject({ enabled: false, excludeDatabases: ['tmp'] });
    data(await engine.call('tasks.delete', { id: t.id }));
    data(await engine.call('servers.delete', { id: server.id }));
  });

  it('refuses an edit based on a version changed since (STALE, nothing saved); each save gets a later stamp even on a clock that stands still', async () => {
    const clock = new Date('2026-03-01T10:00:00.000Z');
    const engine = await testEngine({ secrets: new MemorySecretStore(), now: () => clock });
    const folder = tempDir();
    const backups = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const opened = data(await engine.call('tasks.create', task(server.id, backups)));
    // Another window pauses the task while the editor still shows the version it opened.
    const paused = data(await engine.call('tasks.update', { id: opened.id, task: task(server.id, backups, { enabled: false }), basedOn: opened.updatedAt }));
    expect(paused.enabled).toBe(false);
    expect(paused.updatedAt).toBe('2026-03-01T10:00:00.001Z');
    const stale = await engine.call('tasks.update', { id: opened.id, task: task(server.id, backups, { retention: { minAgeDays: 7, keepLast: null } }), basedOn: opened.updatedAt });
    expect(stale).toMatchObject({
      ok: false,
      code: 'STALE',
      message: 'Task "nightly" was changed elsewhere (another window or the command line; saved at 2026-03-01T10:00:00.001Z) after this edit began, so nothing was saved. Review its current settings and save again.',
    });
    // Nothing of the refused edit was stored: the pause stays.
    expect(data(await engine.call('tasks.list', undefined))).toEqual([paused]);
    // Based on the current version it saves; without basedOn (configuration files) it replaces what is stored.
    const edited = data(await engine.call('tasks.update', { id: opened.id, task: task(server.id, backups, { enabled: false, retention: { minAgeDays: 7, keepLast: null } }), basedOn: paused.updatedAt }));
    expect(edited).toMatchObject({ enabled: false, retention: { minAgeDays: 7 }, updatedAt: '2026-03-01T10:00:00.002Z' });
    const replaced = data(await engine.call('tasks.update', { id: opened.id, task: task(server.id, backups) }));
    expect(replaced).toMatchObject({ enabled: true, updatedAt: '2026-03-01T10:00:00.003Z' });
  });

  it('a settings.set of one setting changes only that one: notification channels, the e-mail server and every other setting stay', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    data(await engine.call('settings.set', { maxConcurrentBackups: 6, staleAfterHours: 36, toolPaths: { postgres: '/opt/pg/bin', mysql: null } }));
    const channel = data(await engine.call('notifications.saveChannel', { channel: { kind: 'email', name: 'DBA team', to: ['dba@example.test'] } }));
    const before = data(await engine.call('settings.get', undefined));
    expect(before.notificationChannels.map((c) => c.id)).toEqual([channel.id]);

    // The window's theme choice sends the theme alone.
    const after = data(await engine.call('settings.set', { theme: 'dark' }));
    expect(after).toEqual({ ...before, theme: 'dark' });
    expect(data(await engine.call('settings.get', undefined))).toEqual({ ...before, theme: 'dark' });
    // Every setting can be patched.
    expect(Object.keys(SettingsPatch.shape).sort()).toEqual(Object.keys(Settings.shape).sort());
  });

  it('persists settings and data across a restart of the engine', async () => {
    const dataDir = tempDir();
    const folder = tempDir();
    const first = await createEngine({ dataDir, secrets: new MemorySecretStore() });
    expect(data(await first.call('settings.get', undefined))).toEqual({
      theme: 'system',
      maxConcurrentBackups: 2,
      startAtLogin: false,
      notifications: true,
      staleAfterHours: null,
      slotWarnGiB: 1,
      toolPaths: { postgres: null, mysql: null },
      notificationChannels: [],
      smtp: null,
    });
    data(await first.call('settings.set', { theme: 'dark', maxConcurrentBackups: 4 }));
    expect(await first.call('settings.set', { maxConcurrentBackups: 0 })).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    data(await first.call('servers.create', { kind: 'sqlite', name: 'kept', folder }));
    await first.close();
    await first.close(); // idempotent

    const second = await testEngine({ dataDir, secrets: new MemorySecretStore() });
    expect(data(await second.call('settings.get', undefined))).toMatchObject({ theme: 'dark', maxConcurrentBackups: 4 });
    expect(data(await second.call('servers.list', undefined)).map((s) => s.name)).toEqual(['kept']);
    const info = data(await second.call('app.info', undefined));
    expect(info).toMatchObject({ name: 'Backstop', dataDir, schemaVersion: MIGRATIONS.length, logsDir: join(dataDir, 'logs') });
  });

  it('lists run history newest first with per-database rows, filtered by task', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const { HistoryTable } = await import('../../../electron/engine/store/index.ts');
    const history = new HistoryTable(engine.db);
    const r1 = history.startRun({ taskId: 't1', taskName: 'one', trigger: 'schedule', requestedKind: 'full', startedAt: '2026-01-01T02:00:00.000Z' });
    const seq = history.startDatabase(r1, { database: 'app', destination: 'local:/b', kind: 'full', kindReason: null, startedAt: '2026-01-01T02:00:01.000Z' });
    history.finishDatabase(r1, seq, {
      kind: 'full',
      kindReason: null,
      status: 'success',
      pointId: 'p1',
      bytesRead: 100,
      bytesStored: 40,
      endedAt: '2026-01-01T02:00:05.000Z',
      errorCode: null,
      errorMessage: null,
    });
    history.finishRun(r1, 'success', '2026-01-01T02:00:06.000Z');
    const r2 = history.startRun({ taskId: 't2', taskName: 'two', trigger: 'manual', requestedKind: 'incremental', startedAt: '2026-01-02T02:00:00.000Z' });
    history.finishRun(r2, 'failed', '2026-01-02T02:00:01.000Z', { code: 'UNREACHABLE', message: 'down' });

    const all = data(await engine.call('history.list', {}));
    expect(all.map((r) => r.id)).toEqual([r2, r1]);
    expect(all[1]).toMatchObject({ status: 'success', databases: [{ database: 'app', bytesRead: 100, bytesStored: 40, pointId: 'p1' }] });
    expect(all[0]).toMatchObject({ status: 'failed', errorCode: 'UNREACHABLE', databases: [] });
    expect(data(await engine.call('history.list', { taskId: 't1' })).map((r) => r.id)).toEqual([r1]);
    expect(data(await engine.call('history.list', { limit: 1 })).map((r) => r.id)).toEqual([r2]);
    expect(data(await engine.call('history.list', { before: '2026-01-02T00:00:00.000Z' })).map((r) => r.id)).toEqual([r1]);
  });

  it('filters history by database, status and a time range in the query, and pages without losing runs that started at the same instant', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const { HistoryTable } = await import('../../../electron/engine/store/index.ts');
    const history = new HistoryTable(engine.db);
    const at = '2026-01-05T02:00:00.000Z';
    const make = (id: string, startedAt: string, database: string, status: 'success' | 'failed') => {
      history.startRun({ taskId: 't1', taskName: 'one', trigger: 'schedule', requestedKind: 'full', startedAt }, id);
      history.startDatabase(id, { database, destination: 'local:/b', kind: 'full', kindReason: null, startedAt });
      history.finishRun(id, status, startedAt);
    };
    make('a', '2026-01-04T02:00:00.000Z', 'Übersicht_東京', 'success');
    make('b', at, 'app', 'failed');
    make('c', at, 'app', 'success');
    make('d', at, 'app', 'success');
    make('e', '2026-01-06T02:00:00.000Z', 'app', 'success');
    const ids = async (q: Record<string, unknown>) => data(await engine.call('history.list', q as never)).map((r) => r.id);

    expect(await ids({ database: 'Übersicht_東京' })).toEqual(['a']);
    expect(await ids({ status: 'failed' })).toEqual(['b']);
    expect(await ids({ since: at, before: '2026-01-06T00:00:00.000Z' })).toEqual(['b', 'c', 'd']);
    // Pages of two: the cursor (time and id of the last run shown) continues inside a shared instant.
    expect(await ids({ limit: 2 })).toEqual(['e', 'b']);
    expect(await ids({ limit: 2, before: at, beforeId: 'b' })).toEqual(['c', 'd']);
    expect(await ids({ limit: 2, before: at, beforeId: 'd' })).toEqual(['a']);
  });
});

