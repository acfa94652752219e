/**
 * A folder of SQLite files as real applications and real disks leave it, backed up through the
 * engine's task runner (real worker threads, real files) and read back through history:
 *
 * - a database file that is damaged — a b-tree page scribbled over, a file cut short, a file that
 *   is only the SQLite header: every backup type fails for it (DUMP_FAILED) naming what SQLite
 *   found and the repair, stores nothing, keeps its earlier point (which still restores), and the
 *   sound databases beside it back up — never a "successful" point no restore accepts;
 * - an index whose entries do not match its table (quick_check passes, integrity_check does not):
 *   the snapshot backs up, and its restore gives the rows back with that index rebuilt and a note
 *   saying so, instead of refusing the only copy there is;
 * - a symbolic link to a folder that holds SQLite databases: reported as skipped like a
 *   subfolder (a link back to the folder itself, a loop and a link to a folder without databases
 *   are not);
 * - the temporary file a killed restore left in the folder (".backstop-restore-…", with its
 *   journal): reported as skipped naming its size and that it may be deleted, never silently
 *   passed over;
 * - file-level settings an application chose — UTF-16le text, 512-byte pages, incremental
 *   auto_vacuum, negative user_version and application_id, WAL — and a WAL file whose commits were
 *   never checkpointed and whose -shm is gone (a folder copied without it): each type's restore has
 *   them all, integrity_check ok;
 * - a database without tables (an application that has not created its schema yet): each type
 *   restores an SQLite file with its page size, encoding and auto_vacuum — not a 0-byte file that
 *   neither Backstop nor SQLite tools count as a database;
 * - a restore onto a name a dangling symbolic link holds: DATABASE_EXISTS as for any taken name,
 *   the link untouched, nothing left behind;
 * - files deleted or created by another process while the run goes: a database deleted after
 *   the run listed the folder, before its turn, fails naming exactly that, its earlier point kept;
 *   one created meanwhile is taken by the next run.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'libsql';
import { describe, expect, test } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { shellQuote } from '../../../electron/engine/servers/shell-quote.ts';
import { SqliteConnector } from '../../../electron/engine/servers/sqlite/connector.ts';
import type { BackupType } from '../../../electron/shared/domain.ts';
import { formatBytes } from '../../../electron/shared/format-bytes.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { hookedExecutor } from '../../fixtures/hooked-executor.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { pointIds } from '../../fixtures/points.ts';
import { restoreLocalPoint } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { storedSqliteTask, tinySqliteDb } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { rejection } from '../../fixtures/servers/common.ts';

const PAGE = 4096;

/** 3000 rows and an index in 4 KiB pages: page 10 is a leaf of the table's b-tree. */
function ledger(path: string): void {
  const db = new Database(path);
  db.exec(`PRAGMA page_size = ${PAGE}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v);
    WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000) INSERT INTO t (v) SELECT 'value ' || i FROM r;`);
  db.close();
}

function count(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) FROM t').raw(true).get() as unknown[])[0];
  } finally {
    db.close();
  }
}

const rows = (run: { databases: { database: string; status: string; errorCode: string | null; errorMessage: string | null }[] }) =>
  Object.fromEntries(run.databases.map((d) => [d.database, [d.status, d.errorCode, d.errorMessage]]));

describe('damaged database files', () => {
  for (const type of ['snapshot', 'logical'] as const satisfies readonly BackupType[]) {
    test(`${type}: a scribbled page, a file cut short, a bare header — DUMP_FAILED naming the damage and the repair, nothing stored, the earlier point kept and restorable; the sound database backs up`, async () => {
      const folder = tempDir('backstop-damaged-');
      const backups = tempDir('backstop-backups-');
      ledger(join(folder, 'ledger.db'));
      tinySqliteDb(join(folder, 'sound.db'));
      const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
      const task = await storedSqliteTask(engine, folder, backups, { type });
      const first = await runTask(engine, task.id, 'full');
      expect(rows(first)).toEqual({ 'ledger.db': ['success', null, null], 'sound.db': ['success', null, null] });
      const kept = await pointIds(backups, 'ledger.db');

      // A torn write over one leaf page of the table; a copy cut short after 5 of its pages; a file holding only the 100-byte header.
      const sound = readFileSync(join(folder, 'ledger.db'));
      const fd = openSync(join(folder, 'ledger.db'), 'r+');
      writeSync(fd, Buffer.alloc(200, 0x41), 0, 200, PAGE * 9 + 100);
      closeSync(fd);
      writeFileSync(join(folder, 'cut.db'), sound.subarray(0, PAGE * 5));
      writeFileSync(join(folder, 'header-only.db'), sound.subarray(0, 100));
      const hostile = `it's $HOME "cut" \`x\`.db`;
      writeFileSync(join(folder, hostile), sound.subarray(0, PAGE * 5));

      const second = await runTask(engine, task.id, 'full');
      expect(second.status).toBe('partial');
      const action = type === 'snapshot' ? 'Snapshotting' : 'Dumping';
      const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const damaged = (name: string) =>
        new RegExp(
          `^${action} "${esc(name)}": the database file is damaged \\(.+\\), or was still being copied into the folder when the backup read it\\. A copy of it would not pass the integrity check every restore makes, so nothing was stored for it and its earlier points are kept\\. If it is damaged, repair it with the application stopped: \`sqlite3 ${esc(shellQuote(join(folder, name)))} \\.recover \\| sqlite3 .+\\.recovered'?\`, check the result with PRAGMA integrity_check, and put it in place of the damaged file\\.$`,
        );
      expect(rows(second)).toEqual({
        'sound.db': ['success', null, null],
        'ledger.db': ['failed', 'DUMP_FAILED', expect.stringMatching(damaged('ledger.db'))],
        'cut.db': ['failed', 'DUMP_FAILED', expect.stringMatching(damaged('cut.db'))],
        'header-only.db': ['failed', 'DUMP_FAILED', expect.stringMatching(damaged('header-only.db'))],
        [hostile]: ['failed', 'DUMP_FAILED', expect.stringMatching(damaged(hostile))],
      });
      // The repair command works as pasted into a shell, whatever the file's name holds.
      const repair = /`(sqlite3 .+\.recovered'?)`/.exec(second.databases.find((d) => d.database === hostile)!.errorMessage!)![1]!;
      const sh = spawnSync('sh', ['-c', repair], { encoding: 'utf8' });
      expect(sh.status, sh.stderr).toBe(0);
      expect(existsSync(join(folder, `${hostile}.recovered`))).toBe(true);
      rmSync(join(folder, `${hostile}.recovered`));
      // The message is a few lines of what SQLite found, not its thousands.
      for (const d of second.databases) expect((d.errorMessage ?? '').length).toBeLessThan(1500);
      // Nothing was stored for the damaged files: the ledger keeps exactly its sound point, the new files have none.
      expect(await pointIds(backups, 'ledger.db')).toEqual(kept);
      expect(await pointIds(backups, 'cut.db')).toEqual([]);
      expect(await pointIds(backups, 'header-only.db')).toEqual([]);
      // That sound point still restores whole.
      const target = tempDir('backstop-restored-');
      const r = await restoreLocalPoint(engine, { backups, source: 'ledger.db', serverId: task.serverId, as: 'ledger.db', folder: target });
      expect(r).toMatchObject({ status: 'success', error: null });
      expect(count(join(target, 'ledger.db'))).toBe(3000);
    }, 30_000);
  }
});

describe('an index on a collation only the application defines', () => {
  for (const type of ['snapshot', 'logical'] as const satisfies readonly BackupType[]) {
    test(`${type}: DUMP_FAILED naming the collation and a page copy that needs none — not "damaged" with a .recover repair, nor a point no restore could load`, async () => {
      const folder = tempDir('backstop-collation-');
      const path = join(folder, `it's contacts.db`);
      const db = new Database(path);
      // As Android's contacts2.db: an index COLLATE LOCALIZED, a collation the app registers on each connection.
      db.exec(`CREATE TABLE contact (name TEXT); INSERT INTO contact VALUES ('b'), ('A'), ('c'); CREATE INDEX contact_name ON contact(name);
        PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'CREATE INDEX contact_name ON contact(name COLLATE LOCALIZED)' WHERE name = 'contact_name';`);
      db.close();
      const e = await rejection((async () => {
        const dump = await new SqliteConnector(folder).openDump(`it's contacts.db`, type);
        for await (const chunk of dump.stream) void chunk; // the logical dump fails on its first chunk, before any is stored
        await dump.done;
      })());
      const action = type === 'snapshot' ? 'Snapshotting' : 'Dumping';
      expect([e.code, e.message]).toEqual(['DUMP_FAILED', `${action} "it's contacts.db": its indexes use the collating sequence LOCALIZED, which only the application that made it defines (as Android's LOCALIZED and UNICODE are). The file is not damaged, but without that collation SQLite can neither check a copy of those indexes nor build them in a restore, so nothing was stored for it and its earlier points are kept. Copy it outside Backstop page by page, which needs no collation (\`sqlite3 ${shellQuote(path)} ".backup backup-copy.db"\` writes backup-copy.db in the current folder), or have the application use a built-in collation (BINARY, NOCASE, RTRIM) in its indexes.`]);
      // The copy command works as pasted, and copies every row.
      const cwd = tempDir('backstop-copy-');
      const sh = spawnSync('sh', ['-c', /`(sqlite3 .+)` writes/.exec(e.message)![1]!], { cwd, encoding: 'utf8' });
      expect([sh.status, sh.stderr]).toEqual([0, '']);
      const copy = new Database(join(cwd, 'backup-copy.db'), { readonly: true });
      expect((copy.prepare('SELECT count(*) FROM contact').raw(true).get() as unknown[])[0]).toBe(3);
      copy.close();
    });
  }
});

describe('an index that does not match its table', () => {
  test('snapshot: backed up, restored with the rows as they were, the index rebuilt (REINDEX) and a note naming it', async () => {
    const folder = tempDir('backstop-index-');
    const db = new Database(join(folder, 'shop.db'));
    // The index's entries are of column v, its definition now says w: "row N missing from index".
    db.exec(`CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT, w TEXT); CREATE INDEX item_w ON item (v);
      INSERT INTO item (v, w) VALUES ('a', 'z'), ('b', 'y'), ('c', 'x');
      PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'CREATE INDEX item_w ON item (w)' WHERE name = 'item_w'; PRAGMA writable_schema = OFF;`);
    db.close();
    const check = (path: string, pragma: string) => {
      const d = new Database(path, { readonly: true });
      try {
        return d.prepare(`PRAGMA ${pragma}`).pluck().all();
      } finally {
        d.close();
      }
    };
    expect(check(join(folder, 'shop.db'), 'quick_check')).toEqual(['ok']);
    expect(check(join(folder, 'shop.db'), 'integrity_check')).toEqual(['row 1 missing from index item_w', 'row 2 missing from index item_w', 'row 3 missing from index item_w']);
    const backups = tempDir('backstop-backups-');
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const task = await storedSqliteTask(engine, folder, backups);
    expect(rows(await runTask(engine, task.id, 'full'))).toEqual({ 'shop.db': ['success', null, null] });
    const target = tempDir('backstop-restored-');
    const r = await restoreLocalPoint(engine, { backups, source: 'shop.db', serverId: task.serverId, as: 'shop.db', folder: target });
    expect(r).toMatchObject({ status: 'success', error: null });
    expect(r.notes).toContain(
      'The backup of "shop.db" held an index ("item_w") whose entries did not match its table (PRAGMA integrity_check: row 1 missing from index item_w; row 2 missing from index item_w; row 3 missing from index item_w); the source database has the same damage. The tables were restored as they were and that index was rebuilt from their rows (REINDEX) — run REINDEX on the source database too.',
    );
    expect(check(join(target, 'shop.db'), 'integrity_check')).toEqual(['ok']);
    const restored = new Database(join(target, 'shop.db'), { readonly: true });
    try {
      expect(restored.prepare('SELECT id, v, w FROM item ORDER BY id').raw(true).all()).toEqual([[1, 'a', 'z'], [2, 'b', 'y'], [3, 'c', 'x']]);
      expect(restored.prepare("SELECT id FROM item WHERE w = 'y'").pluck().all()).toEqual([2]);
    } finally {
      restored.close();
    }
  }, 30_000);
});

describe('symbolic links to folders', () => {
  test('a link to a folder of SQLite databases is reported as skipped with the fix; a link to the folder itself, a loop and a link to a folder without databases are not', async () => {
    const folder = tempDir('backstop-links-');
    const shared = tempDir('backstop-shared-');
    const empty = tempDir('backstop-nodb-');
    tinySqliteDb(join(folder, 'app.db'));
    tinySqliteDb(join(shared, 'tenant-1.db'));
    tinySqliteDb(join(shared, 'tenant-2.db'));
    writeFileSync(join(empty, 'readme.txt'), 'no database here');
    symlinkSync(shared, join(folder, 'tenants'));
    symlinkSync('.', join(folder, 'self'));
    symlinkSync('loop', join(folder, 'loop'));
    symlinkSync(empty, join(folder, 'docs'));
    const backups = tempDir('backstop-backups-');
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const task = await storedSqliteTask(engine, folder, backups);
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(rows(run)).toEqual({
      'app.db': ['success', null, null],
      'tenants/': [
        'skipped',
        null,
        `"tenants" is a symbolic link to the folder "${shared}", which holds SQLite databases ("tenant-1.db", "tenant-2.db") that were not backed up — Backstop backs up only the regular files directly in the folder: add a server for "${shared}" and a task for it to back them up`,
      ],
    });
    expect(readdirSync(backups)).toEqual([encodeDatabaseFolder('app.db')]);
  }, 30_000);
});

/** Commits into a WAL database and dies without a checkpoint: the last rows live only in -wal. */
const WAL_LEFT = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec("PRAGMA page_size = 512; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA encoding = 'UTF-16le'; PRAGMA user_version = -5; PRAGMA application_id = -2147483648; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0");
db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT COLLATE NOCASE)");
for (let i = 0; i < 200; i++) db.exec("INSERT INTO t (v) VALUES ('Ärger ' || " + i + ")");
process.kill(process.pid, 'SIGKILL');
`;

const SETTINGS = ['page_size', 'encoding', 'auto_vacuum', 'user_version', 'application_id', 'journal_mode', 'integrity_check'];

function settings(path: string): Record<string, unknown> {
  const db = new Database(path, { readonly: true });
  try {
    return Object.fromEntries([...SETTINGS.map((p) => [p, (db.prepare(`PRAGMA ${p}`).raw(true).get() as unknown[])[0]]), ['rows', (db.prepare("SELECT count(*) || ' ' || max(v) FROM t").raw(true).get() as unknown[])[0]]]);
  } finally {
    db.close();
  }
}

describe('file-level settings applications choose', () => {
  for (const type of ['snapshot', 'logical'] as const satisfies readonly BackupType[]) {
    test(`${type}: UTF-16le, 512-byte pages, incremental auto_vacuum, negative user_version/application_id, WAL with uncheckpointed commits and no -shm — restored with all of them`, async () => {
      const folder = tempDir('backstop-settings-');
      const path = join(folder, 'odd.db');
      const r = spawnSync(process.execPath, ['-e', WAL_LEFT, createRequire(import.meta.url).resolve('libsql'), path], { encoding: 'utf8' });
      expect([r.signal, r.stderr]).toEqual(['SIGKILL', '']);
      rmSync(`${path}-shm`); // copied without it: SQLite rebuilds it from -wal
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      const source = settings(path);
      expect(source).toEqual({ page_size: 512, encoding: 'UTF-16le', auto_vacuum: 2, user_version: -5, application_id: -2147483648, journal_mode: 'wal', integrity_check: 'ok', rows: '200 Ärger 99' });
      const c = new SqliteConnector(folder);
      const dump = await c.openDump('odd.db', type);
      const chunks: Buffer[] = [];
      for await (const chunk of dump.stream) chunks.push(Buffer.from(chunk as Buffer));
      await dump.done;
      const target = tempDir('backstop-restored-');
      await new SqliteConnector(target).restore('odd.db', Readable.from([Buffer.concat(chunks)]), type);
      expect(settings(join(target, 'odd.db'))).toEqual(source);
    }, 20_000);
  }

  for (const type of ['snapshot', 'logical'] as const satisfies readonly BackupType[]) {
    test(`${type}: a database without tables comes back as an SQLite file with its page size, encoding and auto_vacuum`, async () => {
      const folder = tempDir('backstop-settings-');
      const made = {
        // Created and given its page size, nothing stored yet (a 0-byte restore before).
        'blank.db': 'PRAGMA page_size = 8192; VACUUM;',
        // UTF-16 text and auto_vacuum chosen, its first table dropped again (a UTF-8 restore before).
        'fresh.db': "PRAGMA page_size = 8192; PRAGMA encoding = 'UTF-16le'; PRAGMA auto_vacuum = FULL; CREATE TABLE setup (a); DROP TABLE setup;",
      };
      for (const [name, sql] of Object.entries(made)) {
        const db = new Database(join(folder, name));
        db.exec(sql);
        db.close();
      }
      const file = (path: string) => {
        const d = new Database(path, { readonly: true });
        try {
          return Object.fromEntries(['page_size', 'encoding', 'auto_vacuum', 'integrity_check'].map((p) => [p, (d.prepare(`PRAGMA ${p}`).raw(true).get() as unknown[])[0]]));
        } finally {
          d.close();
        }
      };
      expect(file(join(folder, 'blank.db'))).toEqual({ page_size: 8192, encoding: 'UTF-8', auto_vacuum: 0, integrity_check: 'ok' });
      expect(file(join(folder, 'fresh.db'))).toEqual({ page_size: 8192, encoding: 'UTF-16le', auto_vacuum: 1, integrity_check: 'ok' });
      const target = tempDir('backstop-restored-');
      const into = new SqliteConnector(target);
      for (const name of Object.keys(made)) {
        const dump = await new SqliteConnector(folder).openDump(name, type);
        const chunks: Buffer[] = [];
        for await (const chunk of dump.stream) chunks.push(Buffer.from(chunk as Buffer));
        await dump.done;
        await into.restore(name, Readable.from([Buffer.concat(chunks)]), type);
        expect(file(join(target, name)), name).toEqual(file(join(folder, name)));
        // Backstop's own test restore sees it as a database.
        expect((await into.inspectRestored(name, [])).checks).toEqual([{ name: 'integrity_check', ok: true, detail: 'PRAGMA integrity_check: ok' }]);
      }
      // And so does its next backup of that folder.
      expect(await into.listDatabases()).toEqual(Object.keys(made));
    });
  }

  test('a restore onto a name a dangling symbolic link holds: DATABASE_EXISTS, the link untouched, nothing left behind', async () => {
    const folder = tempDir('backstop-settings-');
    tinySqliteDb(join(folder, 'app.db'));
    const dump = await new SqliteConnector(folder).openDump('app.db', 'snapshot');
    const chunks: Buffer[] = [];
    for await (const chunk of dump.stream) chunks.push(Buffer.from(chunk as Buffer));
    await dump.done;
    const target = tempDir('backstop-restored-');
    symlinkSync('/nonexistent/app.db', join(target, 'app.db'));
    const e = await rejection(new SqliteConnector(target).restore('app.db', Readable.from([Buffer.concat(chunks)]), 'snapshot'));
    expect([e.code, e.message]).toEqual(['DATABASE_EXISTS', `"app.db" already exists in "${target}" (or has a leftover -wal/-journal file); choose another name.`]);
    expect(readdirSync(target)).toEqual(['app.db']);
    expect(readlinkSync(join(target, 'app.db'))).toBe('/nonexistent/app.db');
  });
});

describe('what a killed restore left', () => {
  test('its temporary file (and journal) in the folder is reported as skipped with its size and the fix, not backed up as a database', async () => {
    const folder = tempDir('backstop-leftover-');
    tinySqliteDb(join(folder, 'app.db'));
    // What a restore killed while it loaded a logical dump leaves: its temp database and that database's journal.
    const temp = '.backstop-restore-0123456789abcdef';
    ledger(join(folder, temp));
    writeFileSync(join(folder, `${temp}-journal`), Buffer.alloc(512));
    const backups = tempDir('backstop-backups-');
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const task = await storedSqliteTask(engine, folder, backups);
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(rows(run)).toEqual({
      'app.db': ['success', null, null],
      [temp]: [
        'skipped',
        null,
        `"${temp}" (${formatBytes(statSync(join(folder, temp)).size)}) is the temporary file of a Backstop restore into this folder, not a database of the application, so it was not backed up — a restore removes it when it ends, so unless a restore into "${folder}" is running now, one that was killed left it: delete it and its -journal/-wal/-shm files`,
      ],
    });
    expect(readdirSync(backups)).toEqual([encodeDatabaseFolder('app.db')]);
  }, 30_000);
});

describe('files deleted and created while the run goes', () => {
  test('a database deleted after the listing, before its turn: DATABASE_NOT_FOUND saying so, its earlier point kept; one renamed fails under its old name; one created meanwhile is taken by the next run', async () => {
    const folder = tempDir('backstop-churn-');
    const backups = tempDir('backstop-backups-');
    for (const n of ['app.db', 'gone.db', 'renamed.db']) tinySqliteDb(join(folder, n));
    const wal = new Database(join(folder, 'gone.db'));
    wal.exec("PRAGMA journal_mode = WAL; INSERT INTO t (v) VALUES ('in wal')");
    let act = false;
    const executor = hookedExecutor((spec) => {
      if (!act || spec.database !== 'app.db') return;
      act = false;
      wal.close();
      rmSync(join(folder, 'gone.db'));
      renameSync(join(folder, 'renamed.db'), join(folder, 'renamed-2.db'));
      tinySqliteDb(join(folder, 'later.db'));
    });
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0, executor });
    // One database at a time, in name order: the hook acts when "app.db" starts, before the others' turns.
    data(await engine.call('settings.set', { maxConcurrentBackups: 1 }));
    const task = await storedSqliteTask(engine, folder, backups);
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const before = await pointIds(backups, 'gone.db');
    expect(before).toHaveLength(1);

    act = true;
    const run = await runTask(engine, task.id, 'full');
    const gone = (name: string) =>
      `"${name}" is no longer in "${folder}": it was deleted or renamed after the backup run listed the folder, before its turn; nothing was stored for it and its earlier points are kept. The next run backs up the files the folder holds then (a renamed one under its new name).`;
    expect(rows(run)).toEqual({
      'app.db': ['success', null, null],
      'gone.db': ['failed', 'DATABASE_NOT_FOUND', gone('gone.db')],
      'renamed.db': ['failed', 'DATABASE_NOT_FOUND', gone('renamed.db')],
    });
    expect(await pointIds(backups, 'gone.db')).toEqual(before);
    expect(existsSync(join(folder, 'gone.db-wal'))).toBe(false);

    // The next run backs up what the folder holds, and says once that the two are no longer there.
    const next = await runTask(engine, task.id, 'full');
    const noLonger = (name: string) => expect.stringContaining(`the database "${name}" is no longer on the server (dropped or renamed)`);
    expect(rows(next)).toEqual({
      'app.db': ['success', null, null],
      'gone.db': ['skipped', null, noLonger('gone.db')],
      'later.db': ['success', null, null],
      'renamed.db': ['skipped', null, noLonger('renamed.db')],
      'renamed-2.db': ['success', null, null],
    });
  }, 30_000);
});
