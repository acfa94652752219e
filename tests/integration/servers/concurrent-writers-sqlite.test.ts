/**
 * SQLite files written by another process during their backup (real SQLite through libsql in a
 * child process, the app's real engine and worker threads): how long Backstop keeps the writer
 * waiting, and whether what it restores is a consistent moment.
 *
 * The application is a bank in one file: `accounts`, `transfers` (FKs to `accounts`) and an
 * append-only `ledger`, one transaction per transfer; the writer measures how long each COMMIT
 * (and, in WAL mode, each `wal_checkpoint(TRUNCATE)` it runs every 25 commits) waited. The
 * backup is held to a read limit so that it lasts seconds, as one to a slow destination does
 * (backpressure reaches the dump the same way). For each journal mode (rollback journal, WAL) and
 * backup type (logical, snapshot):
 * - the writer never waited on Backstop for most of the backup (its longest COMMIT, and WAL
 *   checkpoint, under half the backup's time: the copy of the file takes well under a second and a
 *   half while the backup runs for 4 s; relative, as a loaded machine slows both);
 * - the restored file passes `PRAGMA integrity_check` and `foreign_key_check`, the money is
 *   constant, every transfer has its ledger row and the balances are the transfers' sum.
 * And a writer holding RESERVED (an open write transaction, rollback journal) through a logical
 * backup: the backup does not wait for it, holds only committed rows, and the writer's COMMIT
 * afterwards goes through at once (with busy_timeout 0: any lock Backstop still held would fail it). (A writer holding EXCLUSIVE longer than the lock timeout:
 * sqlite-busy-snapshot.test.ts, sqlite-real-files.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { SqliteConnector } from '../../../electron/engine/servers/sqlite/connector.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';
import { ACCOUNTS, OPENING } from '../../fixtures/bank-writer.ts';

const LIBSQL = createRequire(import.meta.url).resolve('libsql');
/** Bytes per second read from the file or the dump: ~400 KB of data lasts a few seconds. */
const READ_LIMIT = 128 * 1024;

/**
 * The application: transfers in a loop, each one transaction, every 25th followed by a TRUNCATE
 * checkpoint in WAL mode. On SIGTERM it prints {commits, maxCommitMs, maxCheckpointMs, checkpoints, busyCheckpoints}.
 */
const WRITER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec('PRAGMA busy_timeout = 60000; PRAGMA foreign_keys = ON');
const wal = db.prepare('PRAGMA journal_mode').raw(true).get()[0] === 'wal';
const s = { commits: 0, maxCommitMs: 0, maxCheckpointMs: 0, checkpoints: 0, busyCheckpoints: 0 };
process.on('SIGTERM', () => { db.close(); process.stdout.write(JSON.stringify(s)); process.exit(0); });
const tick = () => {
  const i = s.commits;
  const src = (i % ${ACCOUNTS}) + 1, dst = ((i * 7 + 3) % ${ACCOUNTS}) + 1, amount = (i % 13) + 1; // bank-writer.ts transferOf
  const t0 = Date.now();
  db.exec('BEGIN IMMEDIATE');
  db.exec('UPDATE accounts SET balance = balance - ' + amount + ' WHERE id = ' + src);
  db.exec('UPDATE accounts SET balance = balance + ' + amount + ' WHERE id = ' + dst);
  db.exec('INSERT INTO transfers (src, dst, amount) VALUES (' + src + ', ' + dst + ', ' + amount + ')');
  db.exec('INSERT INTO ledger (transfer_id, amount) VALUES (last_insert_rowid(), ' + amount + ')');
  db.exec('COMMIT');
  s.maxCommitMs = Math.max(s.maxCommitMs, Date.now() - t0);
  s.commits++;
  if (wal && s.commits % 25 === 0) {
    const c0 = Date.now();
    const [busy] = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').raw(true).get();
    s.maxCheckpointMs = Math.max(s.maxCheckpointMs, Date.now() - c0);
    s.checkpoints++;
    if (busy) s.busyCheckpoints++;
  }
  if (s.commits === 1) process.stderr.write('started');
  setTimeout(tick, 2);
};
tick();
`;

/**
 * Opens a transfer (BEGIN IMMEDIATE: the RESERVED lock), prints 'reserved', and commits when a line arrives on stdin
 * without waiting for any lock (busy_timeout 0: SQLITE_BUSY, exit code 1, if a reader still holds SHARED), printing
 * how long the COMMIT took.
 */
const RESERVER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec('PRAGMA busy_timeout = 60000');
db.exec('BEGIN IMMEDIATE');
db.exec('INSERT INTO transfers (src, dst, amount) VALUES (1, 2, 0)');
db.exec('INSERT INTO ledger (transfer_id, amount) VALUES (last_insert_rowid(), 0)');
process.stderr.write('reserved');
process.stdin.once('data', () => {
  db.exec('PRAGMA busy_timeout = 0');
  const t0 = Date.now();
  db.exec('COMMIT');
  process.stdout.write(String(Date.now() - t0));
  db.close();
  process.exit(0);
});
`;

interface WriterStats {
  commits: number;
  maxCommitMs: number;
  maxCheckpointMs: number;
  checkpoints: number;
  busyCheckpoints: number;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function startWriter(path: string): Promise<{ stop: () => Promise<WriterStats> }> {
  const child = spawn(process.execPath, ['-e', WRITER, LIBSQL, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += String(d);
      if (err.includes('started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited (${code}) before it started: ${err}`)));
  });
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out) as WriterStats;
    },
  };
}

/** The bank in `folder`/bank.db in `journal` mode, with ~400 KB of notes so that its backup lasts seconds under READ_LIMIT. */
function createBank(folder: string, journal: 'delete' | 'wal'): string {
  const path = join(folder, 'bank.db');
  const db = new Database(path);
  db.exec(`PRAGMA journal_mode = ${journal};
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
    CREATE TABLE transfers (id INTEGER PRIMARY KEY, src INTEGER NOT NULL REFERENCES accounts (id), dst INTEGER NOT NULL REFERENCES accounts (id), amount INTEGER NOT NULL);
    CREATE TABLE ledger (transfer_id INTEGER PRIMARY KEY REFERENCES transfers (id), amount INTEGER NOT NULL);
    CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ACCOUNTS}) INSERT INTO accounts SELECT i, ${OPENING} FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800) INSERT INTO notes SELECT i, printf('%.500d', i) FROM n;`);
  db.close();
  return path;
}

function invariants(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const one = (sql: string) => Number((db.prepare(sql).raw(true).get() as unknown[])[0]);
    return {
      integrity: (db.prepare('PRAGMA integrity_check').raw(true).get() as string[])[0],
      fkViolations: db.prepare('PRAGMA foreign_key_check').all().length,
      money: one('SELECT SUM(balance) FROM accounts'),
      transfers: one('SELECT COUNT(*) FROM transfers'),
      ledgerMismatch: one('SELECT COUNT(*) FROM transfers t FULL JOIN ledger l ON l.transfer_id = t.id WHERE t.id IS NULL OR l.transfer_id IS NULL OR l.amount <> t.amount'),
      unexplained: one(
        `SELECT COUNT(*) FROM accounts a WHERE a.balance <> ${OPENING} - COALESCE((SELECT SUM(amount) FROM transfers WHERE src = a.id), 0) + COALESCE((SELECT SUM(amount) FROM transfers WHERE dst = a.id), 0)`,
      ),
    };
  } finally {
    db.close();
  }
}

describe('SQLite files written during their backup', () => {
  for (const journal of ['delete', 'wal'] as const) {
    for (const type of ['logical', 'snapshot'] as const) {
      it(`${journal === 'wal' ? 'WAL mode, the writer checkpointing' : 'rollback journal'}, ${type} backup: the writer waits far less than the backup lasts, and the copy is consistent`, { timeout: 60_000 }, async () => {
        const folder = tempDir();
        const path = createBank(folder, journal);
        const engine = await testEngine();
        const backups = tempDir();
        const { taskId, serverId } = await serverWithTask(engine, { kind: 'sqlite', name: 'files', folder }, type, backups, { limits: { readBytesPerSecond: READ_LIMIT } });
        const writer = await startWriter(path);
        const started = Date.now();
        const run = await runTask(engine, taskId, 'full');
        const backupMs = Date.now() - started;
        const stats = await writer.stop();
        expect(run.status, JSON.stringify(run)).toBe('success');
        console.info(`${journal} ${type}: backup ${backupMs} ms; writer ${JSON.stringify(stats)}`);
        // The backup lasted seconds; the writer kept committing, never waiting for most of it.
        expect(backupMs).toBeGreaterThan(2000);
        expect(stats.commits).toBeGreaterThan(50);
        // Relative to the backup, not a fixed time: a loaded machine (a slow fsync) stretches a commit, and the backup too.
        expect(stats.maxCommitMs).toBeLessThan(backupMs / 2);
        if (journal === 'wal') {
          expect(stats.checkpoints).toBeGreaterThan(0);
          expect(stats.maxCheckpointMs).toBeLessThan(backupMs / 2);
          expect(stats.busyCheckpoints).toBe(0);
        }

        const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('bank.db')) }, pointId: 'latest', serverId, database: 'bank-copy.db' });
        expect(restored.status, JSON.stringify(restored)).toBe('success');
        const copy = invariants(join(folder, 'bank-copy.db'));
        expect(copy).toMatchObject({ integrity: 'ok', fkViolations: 0, money: ACCOUNTS * OPENING, ledgerMismatch: 0, unexplained: 0 });
        expect(copy.transfers).toBeGreaterThan(0);
        expect(copy.transfers).toBeLessThanOrEqual(stats.commits);
      });
    }
  }

  it('rollback journal, a writer holding RESERVED (an open write transaction) during a logical backup: the backup does not wait for it, holds only what was committed, and the writer then commits at once', { timeout: 60_000 }, async () => {
    const folder = tempDir();
    const path = createBank(folder, 'delete');
    const engine = await testEngine();
    const backups = tempDir();
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'sqlite', name: 'files', folder }, 'logical', backups);
    const child = spawn(process.execPath, ['-e', RESERVER, LIBSQL, path], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d) => String(d).includes('reserved') && resolve());
      child.once('exit', (code) => reject(new Error(`the reserving writer exited (${code})`)));
    });
    const run = await runTask(engine, taskId, 'full');
    expect(run.status, JSON.stringify(run)).toBe('success');
    // The writer still holds its transaction: the backup neither waited for it nor made it fail.
    expect(child.exitCode).toBeNull();
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin!.end('commit\n');
    await exited;
    // At once: the COMMIT waited for no lock (busy_timeout 0 fails it, exit code 1, on any lock still held), which a
    // time bound could only guess at on a loaded machine.
    expect(child.exitCode).toBe(0);
    console.info(`the reserving writer's COMMIT took ${Number(out)} ms`);
    expect(invariants(path)).toMatchObject({ transfers: 1 });

    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('bank.db')) }, pointId: 'latest', serverId, database: 'bank-copy.db' });
    expect(restored.status, JSON.stringify(restored)).toBe('success');
    expect(invariants(join(folder, 'bank-copy.db'))).toMatchObject({ integrity: 'ok', fkViolations: 0, money: ACCOUNTS * OPENING, transfers: 0, ledgerMismatch: 0, unexplained: 0 });
  });

  it('the temporary copy both types make needs room: a TMPDIR too small for it is DISK_FULL naming the folder, the size and the fix; nothing is left there and the source is untouched', async (ctx) => {
    const small = tempDir();
    const tmpfs = new TmpfsMounts();
    if (!tmpfs.tryMount(small, '1m')) ctx.skip('mount -t tmpfs is not permitted here');
    const saved = process.env.TMPDIR;
    try {
      const folder = tempDir();
      const path = createBank(folder, 'delete');
      const db = new Database(path);
      db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO notes (body) SELECT printf('%.1000d', i) FROM n");
      db.close();
      const before = invariants(path);
      process.env.TMPDIR = small;
      for (const type of ['logical', 'snapshot'] as const) {
        const e = await rejection(new SqliteConnector(folder).openDump('bank.db', type));
        expect(e.code).toBe('DISK_FULL');
        expect(e.message).toMatch(
          new RegExp(
            `^${type === 'logical' ? 'Dumping' : 'Snapshotting'} "bank\\.db" needs room for a copy of about 3\\.\\d MB in a temporary folder in ${small.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, but that disk is full \\(.*(SQLITE_FULL|disk is full).*\\)\\. Point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy\\.$`,
          ),
        );
        expect(readdirSync(small)).toEqual([]);
      }
      expect(invariants(path)).toEqual(before);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      tmpfs.unmountAll();
    }
  });
});
