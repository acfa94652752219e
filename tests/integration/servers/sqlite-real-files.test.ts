/**
 * A folder of real SQLite files as running applications leave them, backed up through the
 * engine's task runner and restored through its contract, then compared with the source
 * (integrity_check, schema, every table's rows, page_size/auto_vacuum/user_version/application_id):
 * a WAL database with uncheckpointed frames and no writer, a hot rollback journal left by a
 * crashed writer (the copy holds the rolled-back state), content SQLite apps use (FTS5,
 * WITHOUT ROWID, STRICT, generated columns, a 50 MB BLOB, 64 KiB pages, auto_vacuum), names
 * that differ only in case or extension, with spaces, UTF-8, a newline or a leading dash;
 * and what else lies in such a folder (text or encrypted-looking files with a database
 * extension, an empty file, links, a loop, a subfolder), each backed up under its own name or
 * reported as skipped with why. A writer holding the database in locking_mode=EXCLUSIVE
 * ends in DUMP_FAILED naming that cause and the fix, never a hang or a copy.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, onTestFinished, test } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { SqliteConnector } from '../../../electron/engine/servers/sqlite/connector.ts';
import type { BackupType } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { restoreLocalPoint } from '../../fixtures/restores.ts';
import { runTask } from '../../fixtures/runs.ts';
import { storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { shellQuote } from '../../../electron/engine/servers/shell-quote.ts';
import { rejection } from '../../fixtures/servers/common.ts';

const LIBSQL = createRequire(import.meta.url).resolve('libsql');

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Runs `script` in a Node process with argv[1] = libsql's path; resolves on its exit (code, or signal name). */
function run(script: string, ...args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['-e', script, LIBSQL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr.on('data', (d) => (err += String(d)));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(`${signal ?? code}${err ? `: ${err}` : ''}`)));
}

/** Starts `script` and resolves once it writes "ready" to stderr (the child keeps running). */
async function startHolder(script: string, ...args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', script, LIBSQL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += String(d);
      if (err.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before it was ready: ${err}`)));
  });
  return child;
}

/** Commits rows into a WAL database and dies without closing it: the commits stay in -wal, never checkpointed. */
const WAL_LEFT = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u (k TEXT PRIMARY KEY) WITHOUT ROWID;");
for (let i = 0; i < 300; i++) db.exec("INSERT INTO t (v) VALUES ('row " + i + "'); INSERT INTO u VALUES ('k" + i + "')");
db.exec('PRAGMA user_version = 42');
process.kill(process.pid, 'SIGKILL');
`;

/**
 * A rollback-journal database of 2000 rows, then a transaction that zeroes every row with a
 * two-page cache (so changed pages spill into the database file) and a crash before COMMIT:
 * the file is half-written and its -journal is hot.
 */
const HOT_JOURNAL = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec("PRAGMA journal_mode = DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000) INSERT INTO t (v) SELECT randomblob(500) FROM r;");
db.exec("PRAGMA cache_size = 2; BEGIN; UPDATE t SET v = zeroblob(500); DELETE FROM t WHERE id > 1000;");
process.kill(process.pid, 'SIGKILL');
`;

/** Opens the database in locking_mode=EXCLUSIVE (journal mode argv[3]), writes once, and keeps it until killed. */
const EXCLUSIVE = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec("PRAGMA journal_mode = " + process.argv[3] + "; PRAGMA locking_mode = EXCLUSIVE; INSERT INTO t (v) VALUES ('held')");
process.stderr.write('ready');
setInterval(() => undefined, 1000);
`;

function scalar(db: Database.Database, sql: string): unknown {
  return (db.prepare(sql).raw(true).get() as unknown[])[0];
}

/** integrity_check, schema, a hash of every table's rows (with rowids, in order) and the file-level settings of a database. */
function fingerprint(path: string): { integrity: string; schema: string[]; tables: Record<string, string>; pragmas: Record<string, unknown> } {
  const db = new Database(path, { readonly: true });
  try {
    const integrity = String(scalar(db, 'PRAGMA integrity_check'));
    const schema = db.prepare(`SELECT type || '|' || name || '|' || tbl_name || '|' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`).pluck().all() as string[];
    const tables: Record<string, string> = {};
    const list = db.prepare(`SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name NOT LIKE 'sqlite_stat%' AND name <> 'sqlite_schema'`).all() as { name: string; wr: number }[];
    for (const { name, wr } of list) {
      const cols = (db.prepare(`SELECT name FROM pragma_table_xinfo('${name.replace(/'/g, "''")}') WHERE hidden = 0`).pluck().all() as string[]).map((c) => `"${c.replace(/"/g, '""')}"`);
      const rowid = Number(wr) !== 1;
      const h = createHash('sha256');
      let n = 0;
      const stmt = db.prepare(`SELECT ${[...(rowid ? ['rowid'] : []), ...cols].join(', ')} FROM "${name.replace(/"/g, '""')}"${rowid ? ' ORDER BY rowid' : ''}`).raw(true).safeIntegers(true);
      for (const row of stmt.iterate() as Iterable<unknown[]>) {
        n++;
        for (const v of row) {
          if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) h.update('b').update(Buffer.from(v instanceof ArrayBuffer ? v : v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
          else h.update(`${typeof v}:${String(v)}`);
          h.update('\0');
        }
      }
      tables[name] = `${n} rows ${h.digest('hex').slice(0, 16)}`;
    }
    const pragmas = Object.fromEntries(['page_size', 'user_version', 'application_id', 'encoding', 'auto_vacuum', 'journal_mode'].map((p) => [p, scalar(db, `PRAGMA ${p}`)]));
    return { integrity, schema, tables, pragmas };
  } finally {
    db.close();
  }
}

/** Backs up `folder` with a task of `type`, restores every backed-up database into a fresh folder; returns the run and the restored paths by name. */
async function backUpAndRestore(folder: string, type: BackupType) {
  const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
  const backups = tempDir('backstop-backups-');
  const task = await storedSqliteTask(engine, folder, backups, { type });
  const run = await runTask(engine, task.id, 'full');
  const target = tempDir('backstop-restored-');
  const restored: Record<string, string> = {};
  for (const d of run.databases.filter((x) => x.status === 'success')) {
    const into = join(target, encodeDatabaseFolder(d.database));
    mkdirSync(into);
    const r = await restoreLocalPoint(engine, { backups, source: d.database, serverId: task.serverId, as: 'restored.db', folder: into });
    expect(r, `restore of ${JSON.stringify(d.database)}`).toMatchObject({ status: 'success', error: null });
    restored[d.database] = r.path!;
  }
  return { engine, run, backups, restored };
}

/** A database holding its own name, so a restore shows which file it came from. */
function namedDb(path: string, name: string): void {
  const db = new Database(path);
  db.exec(`CREATE TABLE whoami (name TEXT); INSERT INTO whoami VALUES ('${name.replace(/'/g, "''")}')`);
  db.close();
}

function whoami(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return scalar(db, 'SELECT name FROM whoami');
  } finally {
    db.close();
  }
}

describe('files applications leave behind', () => {
  for (const type of ['snapshot', 'logical'] as const) {
    test(`${type}: a WAL database's uncheckpointed commits are in the copy; a hot journal's half-written transaction is not`, async () => {
      const folder = tempDir('backstop-app-files-');
      expect(await run(WAL_LEFT, join(folder, 'wal-left.db'))).toBe('SIGKILL');
      expect(await run(HOT_JOURNAL, join(folder, 'hot.db'))).toBe('SIGKILL');
      // As the crashed applications left them: the commits only in -wal, the hot journal beside a half-written file.
      expect(readdirSync(folder).sort()).toEqual(['hot.db', 'hot.db-journal', 'wal-left.db', 'wal-left.db-shm', 'wal-left.db-wal']);
      const { run: r, restored } = await backUpAndRestore(folder, type);
      expect(r.databases.map((d) => [d.database, d.status, d.errorMessage])).toEqual([
        ['hot.db', 'success', null],
        ['wal-left.db', 'success', null],
      ]);
      const wal = fingerprint(restored['wal-left.db']!);
      expect(wal).toEqual(fingerprint(join(folder, 'wal-left.db')));
      expect(wal.tables).toMatchObject({ t: expect.stringMatching(/^300 rows/), u: expect.stringMatching(/^300 rows/) });
      expect(wal.pragmas).toMatchObject({ user_version: 42, journal_mode: 'wal' });
      const hot = new Database(restored['hot.db']!, { readonly: true });
      try {
        expect(scalar(hot, 'PRAGMA integrity_check')).toBe('ok');
        // The rolled-back state: all 2000 rows, none zeroed by the transaction that never committed.
        expect(scalar(hot, 'SELECT count(*) FROM t')).toBe(2000);
        expect(scalar(hot, 'SELECT count(*) FROM t WHERE v = zeroblob(500)')).toBe(0);
      } finally {
        hot.close();
      }
      // SQLite's own recovery rolled the journal back in the source, as the application's next open would.
      expect(existsSync(join(folder, 'hot.db-journal'))).toBe(false);
    }, 30_000);
  }

  for (const mode of ['DELETE', 'WAL'] as const) {
    for (const type of ['snapshot', 'logical'] as const) {
      test(`${type} of a database a writer holds in locking_mode=EXCLUSIVE (journal_mode ${mode}): DUMP_FAILED naming the cause and the fix after the lock timeout`, async () => {
        const folder = tempDir('backstop-exclusive-');
        const path = join(folder, 'held.db');
        const db = new Database(path);
        db.exec(`PRAGMA journal_mode = ${mode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('before')`);
        db.close();
        await startHolder(EXCLUSIVE, path, mode);
        const started = Date.now();
        const e = await rejection(new SqliteConnector(folder, { lockTimeoutMs: 1000 }).openDump('held.db', type).then(async (dump) => {
          for await (const chunk of dump.stream) void chunk;
          await dump.done;
        }));
        // A hang bound (the lock timeout works; the holder never lets go), not a speed claim: 3× the 1 s + 10 s.
        expect(Date.now() - started).toBeLessThan(3 * 1000 + 10_000);
        expect(e.code).toBe('DUMP_FAILED');
        // A logical dump is written from the same consistent copy a snapshot makes: the same wait, worded the same.
        expect(e.message).toMatch(new RegExp(`^${type === 'snapshot' ? 'Snapshotting' : 'Dumping'} "held\\.db": the database stayed locked by another process for \\d+\\.\\d s \\(SQLITE_BUSY\\)\\. `));
        expect(e.message).toContain('locking_mode=EXCLUSIVE');
        expect(e.message).toContain('hook');
      }, 20_000);
    }
  }
});

describe('what else lies in an application folder', () => {
  test('names differing only in case or extension, with spaces, UTF-8, a newline or a leading dash: each backed up into its own folder and restored as itself; other files reported or ignored', async () => {
    const folder = tempDir('backstop-app-names-');
    const outside = tempDir('backstop-outside-');
    const names = ['a.db', 'A.db', 'a.sqlite', 'with space ü.db', 'new\nline.db', '-dash.db', 'données.sqlite3'];
    for (const n of names) namedDb(join(folder, n), n);
    writeFileSync(join(folder, 'notes.db'), 'not a database, just text with a database extension');
    writeFileSync(join(folder, 'empty.db'), '');
    writeFileSync(join(folder, 'cipher.db'), randomBytes(8192)); // what SQLCipher leaves: no plain header
    writeFileSync(join(folder, 'readme.txt'), 'not a database');
    writeFileSync(join(folder, 'Thumbs.db'), Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), randomBytes(1000)])); // Windows' thumbnail cache: an OLE file
    namedDb(join(outside, 'elsewhere.db'), 'elsewhere.db');
    symlinkSync(join(outside, 'elsewhere.db'), join(folder, 'linked.db'));
    symlinkSync('loop-b.db', join(folder, 'loop-a.db'));
    symlinkSync('loop-a.db', join(folder, 'loop-b.db'));
    mkdirSync(join(folder, 'archive'));
    namedDb(join(folder, 'archive', 'old.db'), 'old.db');
    mkdirSync(join(folder, 'cache')); // no database in it: nothing to say

    const { run: r, backups, restored } = await backUpAndRestore(folder, 'snapshot');
    expect(r.status).toBe('success');
    const by = (status: string) => r.databases.filter((d) => d.status === status);
    expect(by('success').map((d) => d.database).sort()).toEqual([...names].sort());
    // Never two databases in one destination folder: one folder per name, each restoring that name's database.
    expect(readdirSync(backups).sort()).toEqual(names.map(encodeDatabaseFolder).sort());
    expect(new Set(names.map(encodeDatabaseFolder)).size).toBe(names.length);
    expect(Object.fromEntries(by('skipped').map((d) => [d.database, d.errorMessage]))).toEqual({
      'archive/': `the subfolder "archive" holds SQLite databases ("old.db") that were not backed up — Backstop backs up only the files directly in the folder: add a server for "${join(folder, 'archive')}" and a task for it to back them up`,
      'cipher.db': `"cipher.db" has a database file name but is not an SQLite database (its first bytes are not the SQLite header), so it was not backed up — if it is an encrypted database (SQLCipher, SEE), Backstop cannot read it: back it up as a file, or exclude it from the task`,
      'notes.db': `"notes.db" has a database file name but is not an SQLite database (its first bytes are not the SQLite header), so it was not backed up — if it is an encrypted database (SQLCipher, SEE), Backstop cannot read it: back it up as a file, or exclude it from the task`,
      'empty.db': `"empty.db" is empty (0 bytes), so there is nothing to back up yet — SQLite writes the first page when the application first stores something`,
      'linked.db': `"linked.db" is a symbolic link (to ${join(outside, 'elsewhere.db')}), so it was not backed up — Backstop backs up the regular files directly in the folder: replace the link with the file, or back up the folder that holds it`,
    });
    // readme.txt, Thumbs.db, the link loop and the empty subfolder are no databases: nothing to say about them.
    expect(r.databases).toHaveLength(names.length + 5);
    for (const n of names) expect(whoami(restored[n]!), JSON.stringify(n)).toBe(n);
    // The source folder is as it was (the backup wrote nothing into it).
    expect(readdirSync(folder).sort()).toEqual([...names, 'notes.db', 'empty.db', 'cipher.db', 'readme.txt', 'Thumbs.db', 'linked.db', 'loop-a.db', 'loop-b.db', 'archive', 'cache'].sort());
  }, 30_000);
});

/** What SQLite applications store: FTS5, WITHOUT ROWID, STRICT, generated columns, a 50 MB BLOB, 64 KiB pages, auto_vacuum, user_version/application_id. */
function contentDatabase(path: string, blobMb: number): void {
  const db = new Database(path);
  db.exec(`
    PRAGMA page_size = 65536;
    PRAGMA auto_vacuum = FULL;
    PRAGMA user_version = 20261205;
    PRAGMA application_id = 1111770178;
    CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT) STRICT;
    CREATE TABLE tag (note INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (note, tag)) WITHOUT ROWID, STRICT;
    CREATE TABLE price (net INTEGER, vat INTEGER GENERATED ALWAYS AS (net / 5) VIRTUAL, gross INTEGER GENERATED ALWAYS AS (net + net / 5) STORED);
    CREATE TABLE attachment (id INTEGER PRIMARY KEY, name TEXT, data BLOB);
    CREATE VIRTUAL TABLE note_fts USING fts5(title, body, content='note', content_rowid='id');
    CREATE TRIGGER note_ai AFTER INSERT ON note BEGIN INSERT INTO note_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;
    WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 500)
      INSERT INTO note (title, body) SELECT 'note ' || i, 'body of note ' || i || CASE WHEN i % 7 = 0 THEN ' backup restore' ELSE '' END FROM r;
    INSERT INTO tag SELECT id, 'tag' || (id % 5) FROM note;
    INSERT INTO price (net) VALUES (100), (250), (-5);
    INSERT INTO attachment (name, data) VALUES ('big.bin', randomblob(${blobMb} * 1024 * 1024)), ('small.bin', x'00ff');
    DELETE FROM note WHERE id % 50 = 0;
  `);
  db.close();
}

describe('content applications store', () => {
  // A logical dump carries a BLOB as an X'…' literal of twice its size, which SQLite parses back
  // slowly (50 MB: ~30 s on a loaded machine; before the statement splitter became linear it did
  // not finish in minutes — its unit test covers that), so the logical round trip uses 8 MB.
  for (const [type, blobMb] of [['snapshot', 50], ['logical', 8]] as const) {
    test(`${type}: FTS5, WITHOUT ROWID, STRICT, generated columns, a ${blobMb} MB BLOB, 64 KiB pages, auto_vacuum=FULL, user_version and application_id come back identical`, async () => {
      const folder = tempDir('backstop-app-content-');
      contentDatabase(join(folder, 'content.db'), blobMb);
      const { run: r, restored } = await backUpAndRestore(folder, type);
      expect(r.databases.map((d) => [d.database, d.status, d.errorMessage])).toEqual([['content.db', 'success', null]]);
      const a = fingerprint(join(folder, 'content.db'));
      const b = fingerprint(restored['content.db']!);
      expect(b).toEqual(a);
      expect(a.pragmas).toMatchObject({ page_size: 65536, auto_vacuum: 1, user_version: 20261205, application_id: 1111770178 });
      expect(a.integrity).toBe('ok');
      expect(a.tables).toMatchObject({ note: expect.stringMatching(/^490 rows/), tag: expect.stringMatching(/^500 rows/), attachment: expect.stringMatching(/^2 rows/) });
      const matches = (path: string): unknown => {
        const d = new Database(path, { readonly: true });
        try {
          return d.prepare(`SELECT rowid FROM note_fts WHERE note_fts MATCH 'restore' ORDER BY rowid`).pluck().all();
        } finally {
          d.close();
        }
      };
      expect(matches(restored['content.db']!)).toEqual(matches(join(folder, 'content.db')));
      expect((matches(join(folder, 'content.db')) as unknown[]).length).toBeGreaterThan(60);
      const db = new Database(restored['content.db']!, { readonly: true });
      try {
        expect(scalar(db, `SELECT length(data) FROM attachment WHERE name = 'big.bin'`)).toBe(blobMb * 1024 * 1024);
        expect(scalar(db, 'SELECT group_concat(gross) FROM price')).toBe('120,300,-6');
      } finally {
        db.close();
      }
    }, 60_000);
  }
});

/**
 * Makes `folder` and its files read-only for this process: modes 0555/0444, and — as root, whom
 * modes do not stop — the immutable attribute (chattr +i), removed again when the test ends.
 * Null when that is not possible here (root without CAP_LINUX_IMMUTABLE or a file system without it).
 */
function readOnlyFolder(folder: string): string | null {
  const files = readdirSync(folder).map((f) => join(folder, f));
  for (const f of files) chmodSync(f, 0o444);
  chmodSync(folder, 0o555);
  onTestFinished(() => {
    if (process.getuid?.() === 0) spawnSync('chattr', ['-i', folder, ...files]);
    chmodSync(folder, 0o755);
  });
  if (process.getuid?.() !== 0) return null;
  const r = spawnSync('chattr', ['+i', ...files, folder], { encoding: 'utf8' });
  return r.status === 0 ? null : `chattr +i is not possible here (${(r.stderr || r.error?.message || '').trim()}), and root ignores file modes`;
}

describe('a folder the backing-up user may only read', () => {
  for (const type of ['snapshot', 'logical'] as const) {
  test(`${type}: WAL with its -wal/-shm present and rollback-journal files back up read-only; a clean WAL file and a hot journal fail naming the fix; the folder is never modified`, async (ctx) => {
    const folder = tempDir('backstop-readonly-');
    expect(await run(WAL_LEFT, join(folder, 'wal-left.db'))).toBe('SIGKILL');
    expect(await run(HOT_JOURNAL, join(folder, 'hot.db'))).toBe('SIGKILL');
    namedDb(join(folder, 'plain.db'), 'plain.db');
    const clean = new Database(join(folder, 'clean-wal.db'));
    clean.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')");
    clean.close(); // the last connection removes -wal and -shm: a reader must create them
    const before = Object.fromEntries(readdirSync(folder).map((f) => [f, createHash('sha256').update(readFileSync(join(folder, f))).digest('hex')]));
    const why = readOnlyFolder(folder);
    if (why) ctx.skip(why);

    const { run: r, restored } = await backUpAndRestore(folder, type);
    const action = type === 'snapshot' ? 'Snapshotting' : 'Dumping';
    expect(r.status).toBe('partial');
    const who = (await import('node:os')).userInfo().username;
    expect(Object.fromEntries(r.databases.map((d) => [d.database, [d.status, d.errorCode, d.errorMessage]]))).toEqual({
      'plain.db': ['success', null, null],
      'wal-left.db': ['success', null, null],
      'clean-wal.db': [
        'failed',
        'PERMISSION_DENIED',
        expect.stringMatching(
          new RegExp(
            `^${action} "clean-wal\\.db": "clean-wal\\.db" is in WAL mode, and reading it needs its "-wal" and "-shm" files, which the OS user ${who} may not create in "${folder}" \\(.*\\)\\. Let that user write to the folder \\(e\\.g\\. setfacl -m u:${who}:rwx on it\\), or run the backup as the user that owns the database\\.$`,
          ),
        ),
      ],
      'hot.db': [
        'failed',
        'PERMISSION_DENIED',
        `${action} "hot.db": its rollback journal "hot.db-journal" is hot — a writer stopped in the middle of a transaction — and SQLite must roll it back before the last committed state can be read, which needs write access to the file and its folder "${folder}" that the OS user ${who} lacks (attempt to write a readonly database). Open the database once with its application (or \`sqlite3 ${shellQuote(join(folder, 'hot.db'))} "PRAGMA integrity_check"\`) as a user that may write it, then back it up again.`,
      ],
    });
    // The uncheckpointed commits were read through the read-only -shm: all 300 rows.
    expect(fingerprint(restored['wal-left.db']!).tables).toMatchObject({ t: expect.stringMatching(/^300 rows/) });
    expect(whoami(restored['plain.db']!)).toBe('plain.db');
    // Nothing in the source folder was created, changed or removed (the hot journal is still there).
    const after = Object.fromEntries(readdirSync(folder).map((f) => [f, createHash('sha256').update(readFileSync(join(folder, f))).digest('hex')]));
    expect(after).toEqual(before);
  }, 30_000);
  }
});
