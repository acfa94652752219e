/**
 * PostgreSQL snapshot restores to a moment where the cluster changed after the base backup in
 * ways the base backup cannot show: a DBA raised max_prepared_transactions (and
 * max_locks_per_transaction, max_connections, max_worker_processes) with a restart after the
 * base backup and then had more transactions prepared at once than the old limit; a database
 * renamed after the base backup; a database name that never existed. One server, one chain:
 * full → moment 1 → incremental 1 → (limits raised, restart; database "shop" renamed "store",
 * four transactions prepared in it, one holding 40,000 locks) → moment 2 → incremental 2. Also a --folder restore where
 * pg_controldata is not installed (a probe in a mount namespace hiding it, as tool-missing.test.ts;
 * skipped, saying so, where `unshare -m` is missing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { SERVER_FOLDER, startDataDirectory } from '../../../electron/engine/servers/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { chownTree, rejection } from '../../fixtures/servers/common.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { walTask, privateTmpDir, pgServerFile, untilPromoted } from '../../fixtures/wal-task.ts';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';

const PROBE = join(import.meta.dirname, '../../fixtures/pitr-folder-probe.ts');
const canUnshare = (() => {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /mnt'], { stdio: 'ignore' });
  if (r.status !== 0) console.warn('the pg_controldata-missing test is skipped: `unshare -m` with mount is not available here');
  return r.status === 0;
})();

let pg: PgServer;
let backups: string;
let serverRoot: string;
/** Before any change to the limits or the databases (in incremental 1). */
let moment1: string;
/** With four transactions prepared in "store" (the base backup's limit was 2). */
let moment2: string;

const now = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
const pause = () => new Promise((r) => setTimeout(r, 300));

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('ALTER SYSTEM SET max_prepared_transactions = 2');
  await pg.restart();
  pg.psql('CREATE DATABASE shop');
  pg.psql("CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (0, 'zero')", 'shop');
  backups = mkdtempSync(join(tmpdir(), 'backstop-test-'));
  serverRoot = join(backups, SERVER_FOLDER);
}, 120_000);

/** The chain (see the header), made by the first test that needs it. */
async function backUp(): Promise<void> {
  if (moment2) return;
  const task = await walTask(pg, backups);
  expect((await runTask(task.engine, task.taskId, 'full')).databases[0]).toMatchObject({ kind: 'full', status: 'success' });
  // Past the second the reachable range starts in (rounded up to a whole second).
  await new Promise((r) => setTimeout(r, 1100));
  pg.psql("INSERT INTO orders VALUES (1, 'one')", 'shop');
  await pause();
  moment1 = now();
  await pause();
  expect((await runTask(task.engine, task.taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
  // The DBA raises the limits (a restart: PostgreSQL logs them in a parameter-change WAL record).
  pg.psql('ALTER SYSTEM SET max_prepared_transactions = 6; ALTER SYSTEM SET max_locks_per_transaction = 128; ALTER SYSTEM SET max_connections = 400; ALTER SYSTEM SET max_worker_processes = 12');
  await pg.restart();
  pg.psql('ALTER DATABASE shop RENAME TO store');
  // p1 holds 40,000 locks (transaction-level advisory locks): room in the source's lock table (max_locks_per_transaction ×
  // (max_connections + max_prepared_transactions) = 128 × 406), not in one sized for PostgreSQL's default 100 connections (128 × 106).
  for (const i of [1, 2, 3, 4]) {
    const locks = i === 1 ? 'SELECT count(pg_advisory_xact_lock(g)) FROM generate_series(1, 40000) g; ' : '';
    pg.psql(`BEGIN; INSERT INTO orders VALUES (${10 + i}, 'prepared'); ${locks}PREPARE TRANSACTION 'p${i}'`, 'store');
  }
  await pause();
  moment2 = now();
  await pause();
  expect((await runTask(task.engine, task.taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
  for (const i of [1, 2, 3, 4]) pg.psql(`COMMIT PREPARED 'p${i}'`, 'store');
}

afterAll(async () => {
  await pg?.stop();
  if (backups) rmSync(backups, { recursive: true, force: true });
});

/** An engine for restores (the PostgreSQL tools set), closed when the test ends. */
async function restorer(): Promise<Engine> {
  await backUp();
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  return engine;
}

describe('PostgreSQL restore to a moment after the source changed its limits or databases', () => {
  it('one database at a moment with more transactions prepared than the base backup\'s max_prepared_transactions allowed (raised by a restart since): the temporary cluster takes the WAL\'s higher limits and a lock table as large as the source\'s (one of them holds 40,000 locks), replay completes', async () => {
    const engine = await restorer();
    privateTmpDir();
    const r = await restoreCommand(engine, serverRoot, { asOf: new Date(moment2), serverFile: pgServerFile(pg), database: 'store_at', sourceDatabase: 'store' });
    expect(r).toMatchObject({ database: 'store_at', cluster: false });
    expect(pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM orders", 'store_at').trim()).toBe('0zero,1one');
    expect(r.notes.join('\n')).toMatch(/4 prepared transactions were open in "store" at that moment .*"p1" .*"p4" .*rolled back in the temporary cluster before the dump/);
    // Renamed after the base backup (the name is in no base backup's record, only a row change of pg_database in the WAL): not refused before the recovery.
    expect(r.notes.join('\n')).toContain('The whole cluster was written to the temporary cluster: database "store" had another name when the base backup was taken.');
    pg.psql('DROP DATABASE store_at');
  }, 180_000);

  it('a name the cluster never had, at a moment whose WAL creates, drops and renames no database: DATABASE_NOT_FOUND before anything is recovered, nothing created', async () => {
    const engine = await restorer();
    privateTmpDir();
    const at = moment1.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    await expect(restoreCommand(engine, serverRoot, { asOf: new Date(moment1), serverFile: pgServerFile(pg), database: 'nosuch_at', sourceDatabase: 'nosuch' })).rejects.toMatchObject({
      code: 'DATABASE_NOT_FOUND',
      message: expect.stringMatching(
        new RegExp(
          `^The cluster held no database "nosuch" at ${at}; it had: postgres, shop \\(known without recovering it: the base backup records these, and the WAL up to that moment creates, drops and renames no database\\)\\. No base backup of this server records "nosuch": .* Nothing was created\\.$`,
        ),
      ),
    });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'nosuch_at'").trim()).toBe('0');
  }, 180_000);

  it('the whole cluster at that moment (--folder): postgresql.auto.conf carries the highest limits the WAL up to the moment names, not the base backup\'s; started as it is (hot_standby on) it opens as a primary with the prepared transactions', async () => {
    const engine = await restorer();
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    const r = await restoreCommand(engine, serverRoot, { asOf: new Date(moment2), folder });
    expect(r).toMatchObject({ cluster: true, path: folder });
    const auto = readFileSync(join(folder, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toMatch(/^max_prepared_transactions = 6$/m);
    expect(auto).toMatch(/^max_locks_per_transaction = 128$/m);
    // Raised too, and compared by a hot standby (PostgreSQL's default): with less, its recovery pauses at the parameter change.
    expect(auto).toMatch(/^max_connections = 400$/m);
    expect(auto).toMatch(/^max_worker_processes = 12$/m);
    expect(r.notes.join('\n')).toContain("postgresql.auto.conf sets the source's max_prepared_transactions = 6, max_locks_per_transaction = 128, max_connections = 400, max_worker_processes = 12 (read from the backup's pg_control and raised to what the WAL up to the moment records (the source was restarted with higher limits after the base backup); keep them");
    // Started as restored (hot_standby on, PostgreSQL's default): it recovers to the moment and opens as a primary.
    const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
    try {
      const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
      await untilPromoted(conn, 30_000);
      expect(await conn.query('SELECT pg_is_in_recovery()::text')).toEqual([['false']]);
      expect(await conn.query("SELECT string_agg(gid, ',' ORDER BY gid) FROM pg_prepared_xacts")).toEqual([['p1,p2,p3,p4']]);
    } finally {
      await running.stop();
    }
    // With the base backup's limit, as before, and hot_standby off (with it on, replay would pause at the parameter change
    // instead): the start fails and says which setting to raise.
    appendFileSync(join(folder, 'postgresql.auto.conf'), 'max_prepared_transactions = 2\nhot_standby = off\n');
    const failed = await rejection(startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true }));
    expect(failed.code).toBe('RESTORE_FAILED');
    expect(failed.message).toBe('The restored cluster did not start: FATAL: maximum number of prepared transactions reached HINT: Increase max_prepared_transactions (currently 2).');
  }, 180_000);

  it.skipIf(!canUnshare)('the whole cluster (--folder) where pg_controldata is not installed: the notes say pg_control\'s limits were not read and how to set them', async () => {
    await backUp();
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    const input = JSON.stringify({ location: serverRoot, asOf: moment1, folder, binDir: PG_BIN });
    const out = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `set -e; mount --bind /dev/null '${join(PG_BIN, 'pg_controldata')}'; exec "$0" --import tsx "$1" "$2"`, process.execPath, PROBE, input], {
      cwd: join(import.meta.dirname, '../../..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    const r = JSON.parse(out) as { ok?: true; notes?: string[]; code?: string; message?: string };
    expect(r).toMatchObject({ ok: true });
    expect(r.notes!.join('\n')).toContain(
      `pg_controldata (part of the PostgreSQL server package) was not found here, so Backstop could not read the source's max_prepared_transactions and max_locks_per_transaction from the backup's pg_control (only the WAL's changes to them are set): if transactions were prepared (PREPARE TRANSACTION) at that moment, the first start stops with "maximum number of prepared transactions reached" unless max_prepared_transactions is at least the source's. Before starting it, run pg_controldata ${folder} where the PostgreSQL 15 server package is installed`,
    );
    // The WAL fetched for the moment begins with the restart that set 2 (before the base backup): that value, no other.
    expect(readFileSync(join(folder, 'postgresql.auto.conf'), 'utf8').match(/^max_\w+ = \d+$/gm)).toEqual(['max_prepared_transactions = 2']);
    expect(r.notes!.join('\n')).toContain("postgresql.auto.conf sets the source's max_prepared_transactions = 2 (read from the parameter changes in the WAL up to the moment only (see the next note); keep them");
  }, 180_000);
});
