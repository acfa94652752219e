import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { openAppDatabase, schemaVersion, SCHEMA_VERSION } from '../../../electron/engine/store/index.ts';
import { MIGRATIONS } from '../../../electron/engine/store/migrations.ts';
import { TaskDatabasesTable } from '../../../electron/engine/store/task-databases-table.ts';
import { BackstopError } from '../../../electron/shared/result.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('app database', () => {
  it('creates the schema at the current version in WAL mode', () => {
    const dir = tempDir();
    const db = openAppDatabase(join(dir, 'nested', 'backstop.db'));
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    expect((db.prepare('PRAGMA foreign_keys').get() as { foreign_keys: number }).foreign_keys).toBe(1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(['destination_space', 'keys', 'notification_deliveries', 'notification_outbox', 'restored_databases', 'run_databases', 'run_hooks', 'runs', 'schedule_state', 'scratch_targets', 'server_restores', 'servers', 'settings', 'task_databases', 'tasks', 'test_restore_schedule_state', 'unclaimed_secrets']);
    db.close();
  });

  it('reopens an existing database without re-running migrations', () => {
    const path = join(tempDir(), 'backstop.db');
    const db = openAppDatabase(path);
    db.prepare("INSERT INTO settings (key, value) VALUES ('theme', '\"dark\"')").run();
    db.close();
    const again = openAppDatabase(path);
    expect(again.prepare("SELECT value FROM settings WHERE key = 'theme'").get()).toMatchObject({ value: '"dark"' });
    again.close();
  });

  it('refuses a database written by a newer Backstop and leaves it untouched', () => {
    const path = join(tempDir(), 'backstop.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE future (x INTEGER); PRAGMA user_version = 999;');
    raw.close();
    const before = readFileSync(path);
    const mtime = statSync(path).mtimeMs;
    expect(() => openAppDatabase(path)).toThrow(expect.objectContaining({ code: 'FORMAT_TOO_NEW', message: expect.stringContaining('schema 999') }));
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(statSync(path).mtimeMs).toBe(mtime);
    expect(existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`).length : 0).toBe(0);
  });

  it('enforces foreign keys: a task cannot reference a missing server', () => {
    const db = openAppDatabase(join(tempDir(), 'backstop.db'));
    expect(() =>
      db.prepare("INSERT INTO tasks (id, name, server_id, config, created_at, updated_at) VALUES ('t', 'n', 'missing', '{}', 'x', 'x')").run(),
    ).toThrow(/FOREIGN KEY/);
    db.close();
  });
});

describe('migration 7: server-level streams in older history', () => {
  it('marks the globals and cluster rows of PostgreSQL runs written before it, and nothing else', () => {
    const path = join(tempDir(), 'backstop.db');
    const raw = new Database(path);
    for (const step of MIGRATIONS.slice(0, 6)) raw.exec(step);
    raw.exec('PRAGMA user_version = 6');
    raw.exec(`
      INSERT INTO servers (id, name, kind, config, created_at, updated_at) VALUES ('pg', 'pg', 'postgres', '{}', 'x', 'x'), ('lite', 'lite', 'sqlite', '{}', 'x', 'x');
      INSERT INTO tasks (id, name, server_id, config, created_at, updated_at) VALUES ('tp', 'tp', 'pg', '{}', 'x', 'x'), ('tl', 'tl', 'lite', '{}', 'x', 'x');
      INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at) VALUES ('rp', 'tp', 'tp', 'manual', 'full', 'success', 'x'), ('rl', 'tl', 'tl', 'manual', 'full', 'success', 'x');
      INSERT INTO run_databases (run_id, seq, database, destination, kind, status, started_at) VALUES
        ('rp', 1, 'sales', 'd', 'full', 'success', 'x'), ('rp', 2, 'globals.sql', 'd', 'full', 'success', 'x'), ('rp', 3, 'base.tar', 'd', 'full', 'success', 'x'),
        ('rl', 1, 'globals.sql', 'd', 'full', 'success', 'x');
    `);
    raw.close();
    const db = openAppDatabase(path);
    const rows = db.prepare('SELECT run_id, database, server_stream FROM run_databases ORDER BY run_id, seq').all();
    expect(rows).toEqual([
      { run_id: 'rl', database: 'globals.sql', server_stream: 0 },
      { run_id: 'rp', database: 'sales', server_stream: 0 },
      { run_id: 'rp', database: 'globals.sql', server_stream: 1 },
      { run_id: 'rp', database: 'base.tar', server_stream: 1 },
    ]);
    db.close();
  });
});

describe('an upgrade that fails part-way', () => {
  /** An app database as a Backstop of schema 6 left it, one run recorded, plus `extra` SQL (what makes a later migration fail). */
  function schema6(path: string, extra: string): void {
    const raw = new Database(path);
    for (const step of MIGRATIONS.slice(0, 6)) raw.exec(step);
    raw.exec(`
      PRAGMA user_version = 6;
      INSERT INTO servers (id, name, kind, config, created_at, updated_at) VALUES ('pg', 'pg', 'postgres', '{}', 'x', 'x');
      INSERT INTO tasks (id, name, server_id, config, created_at, updated_at) VALUES ('tp', 'tp', 'pg', '{}', 'x', 'x');
      INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at) VALUES ('rp', 'tp', 'tp', 'manual', 'full', 'success', 'x');
      INSERT INTO run_databases (run_id, seq, database, destination, kind, status, started_at) VALUES ('rp', 1, 'globals.sql', 'd', 'full', 'success', 'x');
      ${extra}
    `);
    raw.close();
  }

  it('leaves the file exactly at the older schema (no migration of the upgrade kept) and says which migration failed and why', () => {
    const path = join(tempDir(), 'backstop.db');
    // Migration 13 creates index runs_open; an object of that name already there (a hand-made index) makes it fail after 7–12 succeeded.
    schema6(path, 'CREATE INDEX runs_open ON runs (status);');
    let err: unknown;
    try {
      openAppDatabase(path);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'STORAGE' });
    const message = (err as Error).message;
    expect(message).toContain(`from schema 6 to ${MIGRATIONS.length}`);
    expect(message).toContain('migration 13');
    expect(message).toContain('runs_open already exists');
    expect(message).toContain('left unchanged at schema 6');
    const raw = new Database(path);
    expect(raw.prepare('PRAGMA user_version').get()).toMatchObject({ user_version: 6 });
    const columns = (raw.prepare('PRAGMA table_info(run_databases)').all() as { name: string }[]).map((c) => c.name);
    expect(columns).not.toContain('server_stream'); // migration 7's change was rolled back with the rest
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('restored_databases', 'notification_deliveries', 'unclaimed_secrets')").get()).toMatchObject({ n: 0 });
    expect(raw.prepare('SELECT id FROM runs').all()).toEqual([{ id: 'rp' }]);
    raw.close();
  });

  it('upgrades once the cause is removed, keeping the older rows', () => {
    const path = join(tempDir(), 'backstop.db');
    schema6(path, 'CREATE INDEX runs_open ON runs (status);');
    expect(() => openAppDatabase(path)).toThrow(/migration 13/);
    const raw = new Database(path);
    raw.exec('DROP INDEX runs_open');
    raw.close();
    const db = openAppDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT run_id, server_stream FROM run_databases').all()).toEqual([{ run_id: 'rp', server_stream: 1 }]);
    db.close();
  });

  it('migration 18 adds the outbox of deliveries still owed to a schema-17 file, its delivery history kept', () => {
    const path = join(tempDir(), 'backstop.db');
    const raw = new Database(path);
    for (const step of MIGRATIONS.slice(0, 17)) raw.exec(step);
    raw.exec("PRAGMA user_version = 17; INSERT INTO notification_deliveries (at, event, channel, target, status, attempts, channel_id) VALUES ('2026-12-06T02:00:00.000Z', 'run-failed', 'webhook', 'https://hooks.example.com', 'failed', 9, 'c1');");
    raw.close();
    const db = openAppDatabase(path);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.prepare('SELECT event, status, attempts, channel_id FROM notification_deliveries').all()).toEqual([{ event: 'run-failed', status: 'failed', attempts: 9, channel_id: 'c1' }]);
    const columns = (db.prepare('PRAGMA table_info(notification_outbox)').all() as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(['id', 'queued_at', 'event', 'channel', 'channel_id', 'target', 'receiver', 'fingerprint', 'task_id', 'run_id', 'payload', 'attempts', 'progress', 'owner']);
    expect(db.prepare('SELECT count(*) AS n FROM notification_outbox').get()).toMatchObject({ n: 0 });
    db.close();
  });
});

describe('the first release’s History (schema 5) upgraded', () => {
  it('marks PostgreSQL’s globals.sql and base.tar rows of task-file runs and deleted tasks as server streams, as those of stored tasks; databases stay databases', () => {
    const path = join(tempDir(), 'backstop.db');
    const raw = new Database(path);
    for (const step of MIGRATIONS.slice(0, 5)) raw.exec(step);
    const at = '2026-11-20T02:00:00.000Z';
    raw.exec(`PRAGMA user_version = 5;
      INSERT INTO servers (id, name, kind, config, password_ref, created_at, updated_at) VALUES ('s1', 'PG', 'postgres', '{}', NULL, '${at}', '${at}');
      INSERT INTO tasks (id, name, server_id, config, enabled, created_at, updated_at) VALUES ('t1', 'nightly', 's1', '{}', 1, '${at}', '${at}');`);
    const run = (id: string, taskId: string, names: string[]) => {
      raw.prepare("INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at) VALUES (?, ?, 'x', 'cli', 'full', 'success', ?)").run(id, taskId, at);
      names.forEach((n, i) => raw.prepare("INSERT INTO run_databases (run_id, seq, database, destination, kind, status, started_at) VALUES (?, ?, ?, 'local:/b', 'full', 'success', ?)").run(id, i + 1, n, at));
    };
    run('stored', 't1', ['shop', 'globals.sql']);
    run('file', 'file-cli-pg', ['shop', 'Sales', 'globals.sql']);
    run('deleted', 'a-deleted-task', ['shop', 'base.tar']);
    raw.close();
    const db = openAppDatabase(path);
    const rows = db.prepare('SELECT run_id AS run, database, server_stream AS stream FROM run_databases ORDER BY run_id, seq').all() as { run: string; database: string; stream: number }[];
    expect(rows.map(({ run, database, stream }) => ({ run, database, stream }))).toEqual([
      { run: 'deleted', database: 'shop', stream: 0 },
      { run: 'deleted', database: 'base.tar', stream: 1 },
      { run: 'file', database: 'shop', stream: 0 },
      { run: 'file', database: 'Sales', stream: 0 },
      { run: 'file', database: 'globals.sql', stream: 1 },
      { run: 'stored', database: 'shop', stream: 0 },
      { run: 'stored', database: 'globals.sql', stream: 1 },
    ]);
    db.close();
  });
});

describe('a write to the app database on a full disk (the real driver, PRAGMA max_page_count as the disk’s end)', () => {
  const full = () => {
    const dir = tempDir();
    const path = join(dir, 'backstop.db');
    const db = openAppDatabase(path);
    db.exec('PRAGMA foreign_keys = OFF'); // rows without their task: only the write itself matters here
    const pages = (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    db.exec(`PRAGMA max_page_count = ${pages}`);
    const message = `Backstop could not write its app database ${path}: the disk is full (database or disk is full, SQLITE_FULL). Free space on the disk that holds ${dir}, then try again.`;
    return { db, message };
  };

  it('a transaction (task databases seen by a run): DISK_FULL naming the file and the fix, none of its rows kept, the database still usable', () => {
    const { db, message } = full();
    const names = Array.from({ length: 2000 }, (_, i) => `database_with_a_long_name_${i}`);
    let caught: unknown;
    try {
      new TaskDatabasesTable(db).observe('t1', names, '2026-01-01T00:00:00.000Z');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BackstopError);
    expect(caught).toMatchObject({ code: 'DISK_FULL', message });
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT count(*) AS n FROM task_databases').get()).toMatchObject({ n: 0 });
    db.close();
  });

  it('a single statement (a database marked backed up): DISK_FULL naming the file, every earlier row kept', () => {
    const { db, message } = full();
    const table = new TaskDatabasesTable(db);
    let written = 0;
    let caught: unknown;
    for (; written < 5000; written++) {
      try {
        table.markSuccess('t1', `database_with_a_long_name_${written}`, '2026-01-01T00:00:00.000Z');
      } catch (e) {
        caught = e;
        break;
      }
    }
    expect(written).toBeGreaterThan(0);
    expect(caught).toMatchObject({ code: 'DISK_FULL', message });
    expect(db.prepare('SELECT count(*) AS n FROM task_databases').get()).toMatchObject({ n: written });
    db.close();
  });
});
