/**
 * The SQLite-folder connector on real files: discovery by header, snapshot (VACUUM INTO)
 * and logical (SQL text) backups of Chinook and of a database full of edge cases, restore
 * as a new file, a snapshot taken while another process writes, and the error paths.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'libsql';
import { describe, expect, test } from 'vitest';
import type { BackupType } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector } from '../../../electron/engine/servers/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { rejection } from '../../fixtures/servers/common.ts';

const FIXTURES = join(import.meta.dirname, '../../../../shared/fixtures');
const CHINOOK = join(FIXTURES, 'chinook/Chinook_Sqlite.sqlite');

function connector(folder: string): Connector {
  return connectorFor({ id: 's1', name: 'files', kind: 'sqlite', folder, createdAt: '', updatedAt: '' });
}

/** Schema rows (without root pages), and per table: row count + checksum of rowid, types and values in rowid order. */
function fingerprint(path: string): { schema: string[]; tables: Record<string, string>; pragmas: string } {
  const db = new Database(path);
  try {
    const schema = (db.prepare(`SELECT type || '|' || name || '|' || tbl_name || '|' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`).pluck().all() as string[]);
    const tables: Record<string, string> = {};
    const list = db.prepare(`SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name <> 'sqlite_schema'`).all() as { name: string; wr: number }[];
    for (const { name, wr } of list) {
      const q = `"${name.replace(/"/g, '""')}"`;
      const cols = (db.prepare(`SELECT name FROM pragma_table_xinfo(${`'${name.replace(/'/g, "''")}'`}) WHERE hidden = 0`).pluck().all() as string[]).map((c) => `"${c.replace(/"/g, '""')}"`);
      const parts = cols.map((c) => `typeof(${c}) || ':' || coalesce(hex(${c}), 'N')`).join(` || '|' || `);
      const key = Number(wr) === 1 ? '' : `rowid || '#' || `;
      const order = Number(wr) === 1 ? '' : ' ORDER BY rowid';
      const rows = db.prepare(`SELECT ${key}${parts || "''"} FROM ${q}${order}`).pluck().all() as string[];
      tables[name] = `${rows.length}:${hash(rows.join('\n'))}`;
    }
    // Database-level properties a restore must carry over (journal_mode: WAL is a property of the file).
    const pragmas = ['page_size', 'user_version', 'application_id', 'encoding', 'auto_vacuum', 'journal_mode'].map((p) => `${p}=${String(scalar(db, `PRAGMA ${p}`))}`).join(',');
    return { schema, tables, pragmas };
  } finally {
    db.close();
  }
}

function scalar(db: Database.Database, sql: string): unknown {
  return (db.prepare(sql).raw(true).get() as unknown[])[0];
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return `${h.toString(16)}/${s.length}`;
}

async function roundTrip(folder: string, name: string, type: BackupType, newName: string): Promise<{ bytes: Buffer; pageSize: number | undefined }> {
  const c = connector(folder);
  const dump = await c.openDump(name, type);
  const chunks: Buffer[] = [];
  for await (const chunk of dump.stream) chunks.push(Buffer.from(chunk as Buffer));
  await dump.done;
  const bytes = Buffer.concat(chunks);
  const report = await c.restore(newName, Readable.from([bytes]), type);
  expect(report.path).toBe(join(folder, newName));
  return { bytes, pageSize: dump.meta.pageSize };
}

function leftovers(folder: string): string[] {
  return readdirSync(folder).filter((n) => n.startsWith('.backstop'));
}

function edgeCaseDatabase(path: string): void {
  const db = new Database(path);
  db.exec(`
    PRAGMA page_size = 8192;
    PRAGMA auto_vacuum = INCREMENTAL;
    PRAGMA journal_mode = WAL;
    PRAGMA user_version = 7;
    PRAGMA application_id = 1234;
    CREATE TABLE plain (a, b TEXT, c REAL, d BLOB);
    INSERT INTO plain VALUES (1, 'x', 1.0, x'00');
    INSERT INTO plain VALUES (9223372036854775807, 'it''s', 0.1, x'');
    INSERT INTO plain VALUES (-9223372036854775808, 'multi' || char(10) || 'line' || char(13) || char(0) || 'nul', 1e300, NULL);
    INSERT INTO plain VALUES (1.5, '😀 Ünïcødé', -0.0, zeroblob(3));
    INSERT INTO plain VALUES ('text in a', NULL, 2.2250738585072014e-308, x'DEADBEEF');
    INSERT INTO plain VALUES (1e999, -1e999, 123456789.123456789, 'blob? no, text');
    DELETE FROM plain WHERE rowid = 2;
    INSERT INTO plain(rowid, a) VALUES (100, 'gap before me');
    CREATE TABLE "we""ird [name]" ("semi;colon" INTEGER PRIMARY KEY, "end" TEXT, "create" TEXT);
    INSERT INTO "we""ird [name]" VALUES (5, 'END;', 'CREATE TRIGGER x; -- not a comment');
    CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
    INSERT INTO kv VALUES ('b', 2), ('a', 1), ('c', x'01');
    CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT, v);
    INSERT INTO auto(v) VALUES (1), (2), (3);
    DELETE FROM auto WHERE id = 3;
    CREATE TABLE gen (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, c INTEGER GENERATED ALWAYS AS (a + 1) STORED);
    INSERT INTO gen(a) VALUES (1), (2);
    CREATE TABLE log (msg TEXT);
    CREATE TRIGGER plain_log AFTER INSERT ON plain BEGIN INSERT INTO log VALUES ('inserted; really'); END;
    CREATE INDEX plain_b ON plain(b);
    CREATE VIEW v_plain AS SELECT a, b FROM plain WHERE c > 0;
    CREATE VIEW v_v AS SELECT count(*) AS n FROM v_plain;
    CREATE VIRTUAL TABLE docs USING fts5(title, body);
    INSERT INTO docs VALUES ('backup', 'restore everything'), ('sqlite', 'full text search');
    -- INTEGER PRIMARY KEY DESC is no rowid alias: an external-content FTS5 index points at the rowids beside it.
    CREATE TABLE ranked (code INTEGER PRIMARY KEY DESC, txt TEXT);
    INSERT INTO ranked(rowid, code, txt) VALUES (10, 1, 'alpha one'), (20, 2, 'beta two'), (30, 3, 'alpha beta');
    DELETE FROM ranked WHERE code = 2;
    CREATE VIRTUAL TABLE ranked_fts USING fts5(txt, content='ranked', content_rowid='rowid');
    INSERT INTO ranked_fts(ranked_fts) VALUES ('rebuild');
    CREATE INDEX ranked_lower ON ranked(lower(txt)) WHERE txt IS NOT NULL;
    CREATE VIRTUAL TABLE geo USING rtree(id, minX, maxX, minY, maxY);
    INSERT INTO geo VALUES (1, 0, 10, 0, 10), (2, 6, 8, 1, 2), (3, 4, 6, 0, 1);
    CREATE VIRTUAL TABLE old_fts USING fts4(body); INSERT INTO old_fts(docid, body) VALUES (7, 'older text index');
    CREATE VIRTUAL TABLE bare_fts USING fts5(x, content='', tokenize='trigram'); INSERT INTO bare_fts(rowid, x) VALUES (5, 'hello world');
    ANALYZE;
  `);
  db.close();
}

describe('discovery', () => {
  test('databases are files with the SQLite header, whatever their name; side files are not', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'Chinook_Sqlite.sqlite'));
    copyFileSync(CHINOOK, join(folder, 'no extension'));
    writeFileSync(join(folder, 'fake.db'), 'not a database at all, just text');
    writeFileSync(join(folder, 'tiny'), 'SQLite');
    mkdirSync(join(folder, 'sub.db'));
    edgeCaseDatabase(join(folder, 'wal.db'));
    const open = new Database(join(folder, 'wal.db')); // keeps -wal and -shm present
    open.exec('INSERT INTO log VALUES (1)');
    try {
      expect(existsSync(join(folder, 'wal.db-wal'))).toBe(true);
      expect(await connector(folder).listDatabases()).toEqual(['Chinook_Sqlite.sqlite', 'no extension', 'wal.db']);
      const report = await connector(folder).testConnection();
      expect(report.serverVersion).toMatch(/^SQLite 3\.\d+\.\d+$/);
    } finally {
      open.close();
    }
  });

  test('SQLite files it cannot back up are reported as skipped with the fix, never silently left out: a name that is not UTF-8, a symbolic link; loops and dangling links are ignored', async () => {
    const folder = tempDir();
    const elsewhere = tempDir();
    copyFileSync(CHINOOK, join(folder, 'good.db'));
    copyFileSync(CHINOOK, join(elsewhere, 'other.db'));
    // A name with a byte that is not UTF-8 (Latin-1 "é" = 0xe9): Node reads it back as "\uFFFD".
    const latin1 = Buffer.concat([Buffer.from(`${folder}/caf`), Buffer.from([0xe9]), Buffer.from('.db')]);
    writeFileSync(latin1, readFileSync(CHINOOK));
    writeFileSync(Buffer.concat([Buffer.from(`${folder}/notes`), Buffer.from([0xff]), Buffer.from('.txt')]), 'not a database');
    symlinkSync('good.db', join(folder, 'alias.db'));
    symlinkSync(join(elsewhere, 'other.db'), join(folder, 'other.db'));
    symlinkSync('loop2', join(folder, 'loop1'));
    symlinkSync('loop1', join(folder, 'loop2'));
    symlinkSync('gone.db', join(folder, 'dangling.db'));
    const c = connector(folder);
    expect(await c.listDatabases()).toEqual(['good.db']);
    expect(await c.skippedDatabases!()).toEqual([
      {
        database: 'alias.db',
        reason: `"alias.db" is a symbolic link (to ${join(folder, 'good.db')}), so it was not backed up — Backstop backs up the regular files directly in the folder; that file is backed up as "good.db"`,
      },
      {
        database: 'caf\uFFFD.db',
        reason: `the file name "caf\\xe9.db" (bytes outside ASCII shown as \\xNN) is not valid UTF-8, so it was not backed up — rename it to a UTF-8 name to back it up`,
      },
      {
        database: 'other.db',
        reason: `"other.db" is a symbolic link (to ${join(elsewhere, 'other.db')}), so it was not backed up — Backstop backs up the regular files directly in the folder: replace the link with the file, or back up the folder that holds it`,
      },
    ]);
  });

  test('a snapshot whose temporary folder (TMPDIR) cannot be used fails naming the folder and TMPDIR, not as an unexplained INTERNAL', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'app.db'));
    const missing = join(tempDir(), 'no-such-tmp');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = missing;
    try {
      const e = await rejection(connector(folder).openDump('app.db', 'snapshot'));
      expect(e.code).toBe('VALIDATION');
      expect(e.message).toBe(`Snapshotting "app.db" needs a temporary folder in ${missing}, but that folder does not exist (ENOENT). Point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy.`);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    // The source was closed again: it can be snapshotted at once.
    const dump = await connector(folder).openDump('app.db', 'snapshot');
    dump.stream.resume();
    await dump.done;
  });

  test('a missing folder is UNREACHABLE; a missing or non-SQLite file is DATABASE_NOT_FOUND', async () => {
    const folder = tempDir();
    writeFileSync(join(folder, 'fake.db'), 'text');
    expect((await rejection(connector(join(folder, 'nope')).listDatabases())).code).toBe('UNREACHABLE');
    expect((await rejection(connector(folder).openDump('missing.db', 'snapshot'))).code).toBe('DATABASE_NOT_FOUND');
    expect((await rejection(connector(folder).openDump('fake.db', 'logical'))).code).toBe('DATABASE_NOT_FOUND');
    expect((await rejection(connector(folder).openDump('../etc/passwd', 'logical'))).code).toBe('VALIDATION');
  });
});

describe('fidelity', () => {
  for (const type of ['snapshot', 'logical'] as const) {
    test(`Chinook ${type}: restored as a new file with the same schema and data`, async () => {
      const folder = tempDir();
      copyFileSync(CHINOOK, join(folder, 'chinook.db'));
      const { bytes, pageSize } = await roundTrip(folder, 'chinook.db', type, 'chinook-restored.db');
      const a = fingerprint(join(folder, 'chinook.db'));
      const b = fingerprint(join(folder, 'chinook-restored.db'));
      expect(Object.keys(a.tables).length).toBe(11);
      expect(b).toEqual(a);
      if (type === 'snapshot') {
        expect(pageSize).toBe(readFileSync(CHINOOK).readUInt16BE(16));
        expect(bytes.length % (pageSize ?? 1)).toBe(0);
        expect(bytes.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
      } else {
        expect(bytes.toString('utf8')).toMatch(/^PRAGMA encoding = 'UTF-8';/);
      }
      expect(leftovers(folder)).toEqual([]);
    });

    test(`edge cases ${type}: exact values, rowids (beside an INTEGER PRIMARY KEY DESC too), WITHOUT ROWID, generated columns, AUTOINCREMENT, FTS5 (external content, contentless, trigram), FTS4, R*Tree, partial expression index, sqlite_stat1, triggers, views, pragmas`, async () => {
      const folder = tempDir();
      edgeCaseDatabase(join(folder, 'edge.db'));
      await roundTrip(folder, 'edge.db', type, 'edge copy.db');
      const a = fingerprint(join(folder, 'edge.db'));
      const b = fingerprint(join(folder, 'edge copy.db'));
      expect(b).toEqual(a);
      expect(a.tables.docs_content).toBeDefined(); // FTS5 shadow tables are compared too
      const db = new Database(join(folder, 'edge copy.db'));
      try {
        expect(db.prepare(`SELECT title FROM docs WHERE docs MATCH 'text'`).pluck().all()).toEqual(['sqlite']);
        expect(scalar(db, 'SELECT count(*) FROM log')).toBe(0); // the trigger did not fire during the restore
        expect(scalar(db, `SELECT seq FROM sqlite_sequence WHERE name = 'auto'`)).toBe(3);
        expect(db.prepare(`SELECT rowid FROM ranked_fts WHERE ranked_fts MATCH 'alpha' ORDER BY rowid`).pluck().all()).toEqual([10, 30]);
        expect(db.prepare(`SELECT r.code FROM ranked_fts f JOIN ranked r ON r.rowid = f.rowid WHERE f.ranked_fts MATCH 'beta'`).pluck().all()).toEqual([3]);
        expect(db.prepare(`SELECT id FROM geo WHERE minX <= 5 AND maxX >= 5 ORDER BY id`).pluck().all()).toEqual([1, 3]);
        expect(db.prepare(`SELECT rowid FROM old_fts WHERE old_fts MATCH 'older' UNION ALL SELECT rowid FROM bare_fts WHERE bare_fts MATCH 'llo'`).pluck().all()).toEqual([7, 5]);
        expect(scalar(db, 'PRAGMA integrity_check')).toBe('ok');
      } finally {
        db.close();
      }
    });
  }

  test('the logical dump loads with the sqlite3 command-line shell', async () => {
    const folder = tempDir();
    edgeCaseDatabase(join(folder, 'edge.db'));
    const dump = await connector(folder).openDump('edge.db', 'logical');
    const file = join(tempDir(), 'edge.sql');
    await pipeline(dump.stream, createWriteStream(file));
    await dump.done;
    const r = spawnSync('sqlite3', ['-bail', join(folder, 'cli.db')], { input: readFileSync(file), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fingerprint(join(folder, 'cli.db'))).toEqual(fingerprint(join(folder, 'edge.db')));
  });
});

/** A writer process: each transaction adds the same id to `a` and `b` and bumps `counter.n`; prints the count of commits. */
const WRITER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec('PRAGMA busy_timeout = 10000');
let n = 0;
const stop = () => { db.close(); process.stdout.write(String(n)); process.exit(0); };
process.on('SIGTERM', stop);
const tick = () => {
  db.exec('BEGIN IMMEDIATE');
  db.exec("INSERT INTO a(pad) VALUES (randomblob(200))");
  db.exec('INSERT INTO b(id) VALUES (last_insert_rowid())');
  db.exec('UPDATE counter SET n = n + 1');
  db.exec('COMMIT');
  n++;
  if (n === 1) process.stderr.write('started');
  setImmediate(tick);
};
tick();
`;

describe('consistency under concurrent writes', () => {
  for (const type of ['snapshot', 'logical'] as const) {
    test(`${type} of a WAL database while another process commits restores to a consistent state`, async () => {
      const folder = tempDir();
      const path = join(folder, 'busy.db');
      const db = new Database(path);
      db.exec(`PRAGMA journal_mode = WAL; CREATE TABLE a (id INTEGER PRIMARY KEY, pad BLOB); CREATE TABLE b (id INTEGER PRIMARY KEY);
               CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0);
               CREATE TABLE filler (x BLOB); WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20000) INSERT INTO filler SELECT randomblob(1000) FROM r;`);
      db.close();
      const writer = spawn(process.execPath, ['-e', WRITER, createRequire(import.meta.url).resolve('libsql'), path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      writer.stdout.on('data', (d) => (out += String(d)));
      await new Promise<void>((resolve) => writer.stderr.once('data', () => resolve()));
      const first = new Database(path);
      const before = Number(scalar(first, 'SELECT n FROM counter'));
      first.close();
      const dump = await connector(folder).openDump('busy.db', type);
      const chunks: Buffer[] = [];
      for await (const chunk of dump.stream) chunks.push(Buffer.from(chunk as Buffer));
      await dump.done;
      const probe = new Database(path);
      const after = Number(scalar(probe, 'SELECT n FROM counter'));
      probe.close();
      const exited = new Promise((r) => writer.once('close', r));
      writer.kill('SIGTERM');
      await exited;
      const commits = Number(out);
      await connector(folder).restore('copy.db', Readable.from([Buffer.concat(chunks)]), type);
      const copy = new Database(join(folder, 'copy.db'));
      try {
        const n = Number(scalar(copy, 'SELECT n FROM counter'));
        expect(scalar(copy, 'SELECT count(*) FROM a')).toBe(n);
        expect(scalar(copy, 'SELECT count(*) FROM b')).toBe(n);
        expect(scalar(copy, 'SELECT count(*) FROM a JOIN b USING (id)')).toBe(n);
        expect(scalar(copy, 'PRAGMA integrity_check')).toBe('ok');
        // The snapshot is a point between the first and the last commit of the writer.
        // The writer kept committing while the dump ran, and the copy is one point in between.
        console.info(`${type}: commits before ${before}, in copy ${n}, after dump ${after}, total ${commits}`);
        expect(after).toBeGreaterThan(before);
        expect(n).toBeGreaterThanOrEqual(before);
        expect(n).toBeLessThanOrEqual(after);
      } finally {
        copy.close();
      }
    });
  }
});

describe('restore never overwrites and leaves nothing behind on failure', () => {
  test('target name exists: DATABASE_EXISTS, the existing file untouched', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.db'));
    writeFileSync(join(folder, 'taken.db'), 'precious bytes');
    const dump = await connector(folder).openDump('chinook.db', 'snapshot');
    const e = await rejection(connector(folder).restore('taken.db', dump.stream, 'snapshot'));
    expect(e.code).toBe('DATABASE_EXISTS');
    expect(readFileSync(join(folder, 'taken.db'), 'utf8')).toBe('precious bytes');
    expect(dump.stream.destroyed).toBe(true); // the unread snapshot (and its temp file) is released
    // A leftover WAL of that name counts as taken too (it would be replayed into the new file).
    writeFileSync(join(folder, 'ghost.db-wal'), 'x');
    const dump2 = await connector(folder).openDump('chinook.db', 'snapshot');
    expect((await rejection(connector(folder).restore('ghost.db', dump2.stream, 'snapshot'))).code).toBe('DATABASE_EXISTS');
    expect(leftovers(folder)).toEqual([]);
  });

  test('truncated snapshot: RESTORE_FAILED, no file created', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.db'));
    const { bytes } = await roundTrip(folder, 'chinook.db', 'snapshot', 'first.db');
    const e = await rejection(connector(folder).restore('cut.db', Readable.from([bytes.subarray(0, bytes.length / 2)]), 'snapshot'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/truncated/);
    expect(existsSync(join(folder, 'cut.db'))).toBe(false);
    expect(leftovers(folder)).toEqual([]);
  });

  test('corrupted snapshot: integrity_check fails, RESTORE_FAILED, no file created', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.db'));
    const dump = await connector(folder).openDump('chinook.db', 'snapshot');
    const chunks: Buffer[] = [];
    for await (const c of dump.stream) chunks.push(Buffer.from(c as Buffer));
    const bytes = Buffer.concat(chunks);
    const pageSize = dump.meta.pageSize ?? 4096;
    bytes.fill(0x5a, pageSize * 3, pageSize * 6); // scribble over b-tree pages
    const e = await rejection(connector(folder).restore('bad.db', Readable.from([bytes]), 'snapshot'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(existsSync(join(folder, 'bad.db'))).toBe(false);
    expect(leftovers(folder)).toEqual([]);
  });

  test('truncated logical dump: RESTORE_FAILED, no file created', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.db'));
    const dump = await connector(folder).openDump('chinook.db', 'logical');
    let text = '';
    for await (const c of dump.stream) text += String(c);
    for (const cut of [text.slice(0, text.length / 2), text.slice(0, text.lastIndexOf('COMMIT;'))]) {
      const e = await rejection(connector(folder).restore('cut.db', Readable.from([cut]), 'logical'));
      expect(e.code).toBe('RESTORE_FAILED');
      expect(existsSync(join(folder, 'cut.db'))).toBe(false);
    }
    expect(leftovers(folder)).toEqual([]);
  });

  test('restore into another folder (opts.folder)', async () => {
    const folder = tempDir();
    const other = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.db'));
    const dump = await connector(folder).openDump('chinook.db', 'logical');
    const report = await connector(folder).restore('chinook.db', dump.stream, 'logical', { folder: other });
    expect(report.path).toBe(join(other, 'chinook.db'));
    expect(statSync(join(other, 'chinook.db')).size).toBeGreaterThan(0);
    expect(fingerprint(join(other, 'chinook.db'))).toEqual(fingerprint(join(folder, 'chinook.db')));
  });
});
