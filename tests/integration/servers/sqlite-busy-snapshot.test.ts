/**
 * Snapshots of a busy rollback-journal database (issue 16 item 4): a ~52 MB file in
 * journal_mode=delete while another process commits small transactions continuously.
 * Every snapshot must succeed, pass integrity_check and hold a consistent state (a
 * counter table whose rows are contiguous from 1). A lock held longer than the timeout
 * ends in DUMP_FAILED naming the time really waited; a shorter one is waited out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import Database from 'libsql';
import { afterEach, describe, expect, test } from 'vitest';
import { BackstopError } from '../../../electron/shared/result.ts';
import { SqliteConnector } from '../../../electron/engine/servers/sqlite/connector.ts';
import { onlineBackup, SqliteLockedError } from '../../../electron/engine/servers/sqlite/online-backup.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const LIBSQL = createRequire(import.meta.url).resolve('libsql');

/** Commits one counter row (and rewrites one filler row) per transaction until SIGTERM; prints the commit count. */
const WRITER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec('PRAGMA busy_timeout = 20000');
let n = 0;
process.on('SIGTERM', () => { db.close(); process.stdout.write(String(n)); process.exit(0); });
const rows = Number(db.prepare('SELECT max(rowid) FROM filler').raw(true).get()[0]);
const tick = () => {
  db.exec('BEGIN IMMEDIATE');
  db.exec('INSERT INTO counter (n) VALUES (' + (n + 1) + ')');
  db.exec('UPDATE filler SET x = randomblob(1000) WHERE rowid = ' + (1 + Math.floor(Math.random() * rows)));
  db.exec('COMMIT');
  n++;
  if (n === 1) process.stderr.write('started');
  setImmediate(tick);
};
tick();
`;

/** Holds an EXCLUSIVE lock for argv[3] ms, then exits (afterEach kills one still holding it). */
const LOCKER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec('PRAGMA busy_timeout = 5000');
db.exec('BEGIN EXCLUSIVE');
db.exec('INSERT INTO counter (n) VALUES (-1)');
process.stderr.write('locked');
setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.exit(0); }, Number(process.argv[3]));
`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function start(script: string, ...args: string[]): { child: ChildProcess; ready: Promise<void>; stdout: () => string } {
  const child = spawn(process.execPath, ['-e', script, LIBSQL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += String(d);
      if (/started|locked/.test(err)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`helper exited (${code}) before it was ready: ${err}`)));
  });
  return { child, ready, stdout: () => out };
}

function busyDatabase(folder: string, rows: number): string {
  const path = join(folder, 'busy.db');
  const db = new Database(path);
  db.exec(`PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096;
           CREATE TABLE counter (n INTEGER PRIMARY KEY);
           CREATE TABLE filler (x BLOB);
           WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ${rows}) INSERT INTO filler SELECT randomblob(1000) FROM r;`);
  db.close();
  return path;
}

function check(file: string): { count: number; integrity: string; contiguous: boolean } {
  const db = new Database(file, { readonly: true });
  try {
    const integrity = (db.prepare('PRAGMA integrity_check').raw(true).get() as string[])[0]!;
    const [count, min, max] = db.prepare('SELECT count(*), coalesce(min(n), 1), coalesce(max(n), 0) FROM counter').raw(true).get() as number[];
    return { count: count!, integrity, contiguous: min === 1 && max === count };
  } finally {
    db.close();
  }
}

/** A small database whose EXCLUSIVE lock another process holds for `holdMs`. */
async function lockedDatabase(holdMs: number): Promise<{ folder: string; path: string }> {
  const folder = tempDir();
  const path = busyDatabase(folder, 100);
  await start(LOCKER, path, String(holdMs)).ready;
  return { folder, path };
}

async function snapshotTo(connector: SqliteConnector, file: string): Promise<void> {
  const dump = await connector.openDump('busy.db', 'snapshot');
  await pipeline(dump.stream, createWriteStream(file));
  await dump.done;
}

describe('snapshot of a busy rollback-journal database', () => {
  test('every snapshot succeeds while a writer commits continuously, each a consistent state', async () => {
    const folder = tempDir();
    const path = busyDatabase(folder, 50_000); // ~52 MB
    const writer = start(WRITER, path);
    await writer.ready;
    const connector = new SqliteConnector(folder);
    const counts: number[] = [];
    const started = Date.now();
    let file = '';
    for (let i = 0; i < 4; i++) {
      file = join(tempDir(), `snap-${i}.db`);
      await snapshotTo(connector, file);
      const r = check(file);
      expect(r.integrity).toBe('ok');
      expect(r.contiguous).toBe(true);
      counts.push(r.count);
    }
    const exited = new Promise((r) => writer.child.once('exit', r));
    writer.child.kill('SIGTERM');
    await exited;
    const commits = Number(writer.stdout());
    console.info(`4 snapshots in ${Date.now() - started} ms; counter rows in the copies ${counts.join(', ')}; writer commits ${commits}`);
    // The writer kept committing across the snapshots, and each copy is a later point.
    expect(counts.at(-1)!).toBeGreaterThan(counts[0]!);
    for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(commits).toBeGreaterThanOrEqual(counts.at(-1)!);
    // The last copy restores through the connector like any snapshot.
    await connector.restore('restored.db', createReadStream(file), 'snapshot');
    expect(check(join(folder, 'restored.db'))).toMatchObject({ integrity: 'ok', contiguous: true });
  }, 60_000);

  test('a lock held longer than the timeout: DUMP_FAILED naming the time really waited', async () => {
    // Held past the test's end (killed in afterEach): a lock that ran out before a slow machine first asked would
    // let the snapshot succeed.
    const { folder } = await lockedDatabase(600_000);
    const started = Date.now();
    let error: unknown = null;
    try {
      await new SqliteConnector(folder, { lockTimeoutMs: 1500 }).openDump('busy.db', 'snapshot');
    } catch (e) {
      error = e;
    }
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(BackstopError);
    const e = error as BackstopError;
    expect(e.code).toBe('DUMP_FAILED');
    const m = /stayed locked by another process for (\d+\.\d) s \(SQLITE_BUSY\)/.exec(e.message);
    expect(m, e.message).not.toBeNull();
    const claimed = Number(m![1]) * 1000;
    expect(claimed).toBeGreaterThanOrEqual(1500);
    expect(claimed).toBeLessThanOrEqual(elapsed + 100);
    expect(e.message).toMatch(/^Snapshotting "busy.db": /);
  }, 30_000);

  test('a lock shorter than the timeout is waited out; onlineBackup reports the real wait when it gives up', async () => {
    const { folder, path } = await lockedDatabase(1200);
    const file = join(tempDir(), 'copy.db');
    await snapshotTo(new SqliteConnector(folder, { lockTimeoutMs: 20_000 }), file); // far past the 1.2 s, however late the locker's timer fires
    expect(check(file)).toMatchObject({ integrity: 'ok', count: 0 }); // the locker's row was rolled back

    const again = start(LOCKER, path, String(600_000)); // held past the test's end, like the one above
    await again.ready;
    const t0 = Date.now();
    const err = await onlineBackup(path, join(tempDir(), 'x.db'), { lockTimeoutMs: 700 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SqliteLockedError);
    expect((err as SqliteLockedError).waitedMs).toBeGreaterThanOrEqual(700);
    expect((err as SqliteLockedError).waitedMs).toBeLessThanOrEqual(Date.now() - t0);
  }, 30_000);
});
