/**
 * An app database as a Backstop of a year ago left it (schema 8: servers, a task, a year of
 * nightly runs with their database rows, notification deliveries, a key) — built by applying
 * only the first migrations with the real libsql driver, its server and task rows as this
 * Backstop writes them — opened by the current engine: every row is still there and usable
 * (history lists the year, the task runs and continues its chain, the restore points are
 * listed, the key and the settings are kept).
 */
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../electron/engine/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/database-folder.ts';
import { MIGRATIONS } from '../../../electron/engine/store/migrations.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const OLD_SCHEMA = 8;
const DAYS = 365;

describe('an app database a year-old Backstop left (schema 8)', () => {
  it('opens with every row kept and usable: history, the task runs on its chain, restore points, keys, settings', { timeout: 120_000 }, async () => {
    const folder = sqliteFolder(['shop.db']);
    const backups = tempDir();
    // The server and task rows (and the first full, a real point) as Backstop writes them.
    const nowDir = tempDir();
    const setup = await createEngine({ dataDir: nowDir });
    let taskId: string;
    let firstRunId: string;
    let firstPoint: string;
    try {
      const task = await storedSqliteTask(setup, folder, backups, { name: 'nightly' });
      taskId = task.id;
      const first = await runTask(setup, task.id, 'full');
      expect(first.status).toBe('success');
      firstRunId = first.id;
      firstPoint = first.databases[0]!.pointId!;
    } finally {
      await setup.close();
    }
    const src = new Database(join(nowDir, 'backstop.db'));
    const server = src.prepare('SELECT id, name, kind, config, password_ref, created_at, updated_at FROM servers').get() as Record<string, unknown>;
    const taskRow = src.prepare('SELECT id, name, server_id, config, enabled, created_at, updated_at FROM tasks').get() as Record<string, unknown>;
    const run = src.prepare('SELECT id, task_id, task_name, trigger, requested_kind, status, started_at, ended_at, error_code, error_message, key_fingerprint FROM runs').get() as Record<string, unknown>;
    const row = src.prepare('SELECT run_id, seq, database, destination, kind, kind_reason, status, point_id, bytes_read, bytes_stored, started_at, ended_at FROM run_databases').get() as Record<string, unknown>;
    src.close();
    const insert = (db: Database.Database, table: string, r: Record<string, unknown>): void => {
      const cols = Object.keys(r).filter((k) => k !== '_metadata');
      db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => r[c]));
    };

    // The old database: schema 8, the same server and task, a year of nightly runs before the real one.
    const dataDir = tempDir();
    const old = new Database(join(dataDir, 'backstop.db'));
    old.exec('PRAGMA journal_mode = WAL;');
    for (const step of MIGRATIONS.slice(0, OLD_SCHEMA)) old.exec(step);
    old.exec(`PRAGMA user_version = ${OLD_SCHEMA}`);
    old.transaction(() => {
      insert(old, 'settings', { key: 'theme', value: '"dark"' });
      insert(old, 'servers', server);
      insert(old, 'tasks', taskRow);
      const day0 = Date.parse('2025-12-01T02:00:00.000Z');
      for (let d = 0; d < DAYS; d++) {
        const at = new Date(day0 + d * 86_400_000).toISOString();
        const end = new Date(day0 + d * 86_400_000 + 4000).toISOString();
        const failed = d % 50 === 7;
        const id = `old-${String(d).padStart(3, '0')}`;
        insert(old, 'runs', { id, task_id: taskId, task_name: 'nightly', trigger: 'schedule', requested_kind: d % 7 === 0 ? 'full' : 'incremental', status: failed ? 'failed' : 'success', started_at: at, ended_at: end, error_code: failed ? 'UNREACHABLE' : null, error_message: failed ? 'The server did not answer.' : null, key_fingerprint: null });
        insert(old, 'run_databases', { run_id: id, seq: 1, database: 'shop.db', destination: row.destination, kind: d % 7 === 0 ? 'full' : 'incremental', status: failed ? 'failed' : 'success', point_id: null, bytes_read: 4096, bytes_stored: 512, started_at: at, ended_at: end });
        if (failed) insert(old, 'notification_deliveries', { at: end, event: 'run-failed', channel: 'webhook', target: 'hooks.example.test', task_id: taskId, run_id: id, status: 'delivered', attempts: 1, error: null });
      }
      insert(old, 'runs', run);
      insert(old, 'run_databases', row);
      insert(old, 'keys', { key_ref: 'backstop-key-old', fingerprint: 'AB12CD34EF56AB78', origin: 'generated', created_at: '2025-11-30T10:00:00.000Z', exported_at: '2025-11-30T10:05:00.000Z', export_method: 'file', name: 'office safe' });
    })();
    old.close();

    const engine = await createEngine({ dataDir });
    try {
      expect(data(await engine.call('app.info', undefined)).schemaVersion).toBe(MIGRATIONS.length);
      const history = data(await engine.call('history.list', { limit: 1000 }));
      expect(history).toHaveLength(DAYS + 1);
      expect(history.every((r) => r.runKind === undefined)).toBe(true); // every row a backup
      expect(history[0]).toMatchObject({ id: firstRunId, status: 'success', databases: [expect.objectContaining({ database: 'shop.db', pointId: firstPoint, status: 'success' })] });
      expect(history.at(-1)).toMatchObject({ id: 'old-000', taskId, startedAt: '2025-12-01T02:00:00.000Z', requestedKind: 'full' });
      expect(history.filter((r) => r.status === 'failed').map((r) => r.errorCode)).toEqual(Array(8).fill('UNREACHABLE'));
      expect(data(await engine.call('history.list', { limit: 5, taskId })).map((r) => r.id)).toEqual([firstRunId, 'old-364', 'old-363', 'old-362', 'old-361']);

      expect(data(await engine.call('tasks.list', undefined)).map((t) => ({ id: t.id, name: t.name }))).toEqual([{ id: taskId, name: 'nightly' }]);
      expect(data(await engine.call('settings.get', undefined)).theme).toBe('dark');
      expect(data(await engine.call('keys.list', undefined))).toEqual([expect.objectContaining({ fingerprint: 'AB12CD34EF56AB78', name: 'office safe', origin: 'generated' })]);

      // The task runs on: an incremental continues the full the old Backstop recorded.
      const shop = new Database(join(folder, 'shop.db'));
      shop.exec("INSERT INTO t (v) VALUES ('after the upgrade')");
      shop.close();
      const next = await runTask(engine, taskId, 'incremental');
      expect(next, JSON.stringify(next)).toMatchObject({ status: 'success', databases: [expect.objectContaining({ database: 'shop.db', kind: 'incremental', status: 'success' })] });
      const points = data(await engine.call('restore.inspect', { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop.db')) } })).points;
      expect(points.map((p) => [p.id, p.kind])).toEqual([
        [firstPoint, 'full'],
        [next.databases[0]!.pointId, 'incremental'],
      ]);
      expect(data(await engine.call('history.list', { limit: 1000 }))).toHaveLength(DAYS + 2);
    } finally {
      await engine.close();
    }
  });
});
