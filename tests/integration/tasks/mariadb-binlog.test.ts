/**
 * MariaDB incrementals from the binary log, against real MariaDB 10.11 servers (log on,
 * ROW format; and log off), through the engine's task runs and the CLI's restore command:
 * - a full records its binary-log position; an incremental stores the log once for the
 *   server (`~server/binlog`) and no dump of a covered database;
 * - restore to a moment between writes and a DROP TABLE into a new name: identical to the
 *   source at that moment (CHECKSUM TABLE, views, triggers, routines, events); after the
 *   drop: the table is gone; outside the range: OUT_OF_RANGE and nothing created;
 * - an incremental after a small change on a large database reads and stores a small
 *   fraction of the full (bytes);
 * - log off / no privilege / purged log: the incremental re-dumps, with the reason in history;
 * - servers set up differently: a global sql_mode with ANSI_QUOTES and NO_BACKSLASH_ESCAPES
 *   (grants.sql onto fresh servers too), binlog_row_image=MINIMAL, binlog_format STATEMENT or
 *   MIXED (re-dumps; statements in a stored log refuse the restore), a lower_case_table_names=1 target.
 */
import { readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { pooledExecutor, workerExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import { JobWorkerPool } from '../../../electron/engine/runtime/worker-job.ts';
import type { BackupJobSpec } from '../../../electron/engine/backup/job-spec.ts';
import type { Worker } from 'node:worker_threads';
import { UNCHANGED } from '../../../electron/engine/backup/unchanged-stream.ts';
import { logFileNumber } from '../../../electron/engine/servers/mysql/binlog.ts';
import { pruneCommand, restoreCommand } from '../../../electron/cli/commands/location.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import { cliInProcess, oneJsonDocument } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { storedPoints } from '../../fixtures/points.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { S3RVER_CREDENTIALS, startCountedS3 } from '../../fixtures/s3rver.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

let db: MariadbServer;
let engine: Engine;

function exists(name: string): boolean {
  return db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim() === '1';
}

function rowsOf(run: Run, database: string) {
  return run.databases.filter((d) => d.database === database);
}

/** A logical task on `server` backing up to `destinations` new local folders (`backups` is the first). */
async function task(name: string, user = db.user, password = db.password, server = db, destinations = 1): Promise<{ id: string; backups: string; roots: string[] }> {
  const roots = Array.from({ length: destinations }, () => tempDir());
  const s = data(await engine.call('servers.create', { kind: 'mysql', name, host: server.host, port: server.port, user, password, tls: 'disable' }));
  const t = data(
    await engine.call('tasks.create', {
      name,
      serverId: s.id,
      type: 'logical',
      schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
      destinations: roots.map((path) => ({ kind: 'local' as const, path })),
    }),
  );
  return { id: t.id, backups: roots[0]!, roots };
}

/** A moment in a second of its own (the log's timestamps are whole seconds) and the state of `shop` then. */
async function markMoment(): Promise<{ moment: Date; state: ReturnType<typeof mariadbFidelity> }> {
  await nextSecond();
  const moment = new Date();
  const state = mariadbFidelity(db, 'shop');
  await nextSecond();
  return { moment, state };
}

/** A full, `change()`, then an incremental that re-dumps `shop` with `reason` and stores no log; returns the incremental. */
async function redumpedIncremental(id: string, change: () => void, reason: unknown): Promise<Run> {
  expect((await runTask(engine, id, 'full')).status).toBe('success');
  change();
  const inc = await runTask(engine, id, 'incremental');
  expect(inc.status).toBe('success');
  expect(rowsOf(inc, 'binlog')).toEqual([]);
  expect(rowsOf(inc, 'shop')[0]).toMatchObject({ status: 'success', kind: 'incremental', pointId: expect.any(String), kindReason: reason });
  return inc;
}

/** The bytes of every file under `dir`. */
function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? treeBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);
}

/** Sets the modification time of every file under `dir` `seconds` back (time passing, for the GC's grace period). */
function ageFiles(dir: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) utimesSync(join(e.parentPath, e.name), then, then);
}

function serverFile(): string {
  const file = join(tempDir(), 'server.json');
  process.env.BINLOG_TEST_PASSWORD = db.password;
  writeFileSync(file, JSON.stringify({ kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: 'BINLOG_TEST_PASSWORD', tls: 'disable' }));
  return file;
}

beforeAll(async () => {
  db = await startMariadb({ binlog: true });
  db.sql('CREATE DATABASE shop');
  db.sql(
    `CREATE TABLE item (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50), price DECIMAL(10,2), changed INT NOT NULL DEFAULT 0);
     CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, item INT, note TEXT);
     INSERT INTO item (name, price) VALUES ('lamp', 10), ('desk', 120.5), ('chair', 45);
     CREATE VIEW dear AS SELECT id, name FROM item WHERE price > 40;
     CREATE TRIGGER item_audit AFTER UPDATE ON item FOR EACH ROW INSERT INTO audit (item, note) VALUES (NEW.id, CONCAT('price ', OLD.price, ' -> ', NEW.price));
     CREATE FUNCTION item_count() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM item);
     CREATE PROCEDURE noop() SELECT 1;
     CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM audit WHERE id < 0;`,
    'shop',
  );
}, 60_000);

afterAll(async () => {
  await db?.stop();
});

describe('MariaDB binary-log incrementals and restore to a moment', () => {
  it('restores a database as it was at a moment between writes, and after a DROP TABLE without it; outside the range nothing is created', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const { id, backups } = await task('pitr');
    const full = await runTask(engine, id, 'full');
    expect(full.status).toBe('success');
    expect(rowsOf(full, 'shop')[0]).toMatchObject({ status: 'success', kind: 'full' });
    expect(rowsOf(full, 'binlog')[0]).toMatchObject({ status: 'success', serverStream: true });
    // The full recorded its snapshot's position in the binary log.
    const meta = (await storedPoints(backups, 'shop'))[0]!.meta;
    expect(meta).toMatchObject({ binlogFile: expect.stringMatching(/^binlog\.\d{6}$/), binlogPos: expect.any(Number), binlogGtid: expect.stringMatching(/^0-1-\d+$/), snapshotAt: expect.any(String) });

    // Writes after the full: rows, an update that fires the trigger, a table created with the database selected.
    await nextSecond();
    db.sql(
      `INSERT INTO item (name, price) VALUES ('shelf', 80), ('rug', 35);
       UPDATE item SET price = price + 1, changed = 1 WHERE name IN ('lamp', 'desk');
       DELETE FROM item WHERE name = 'chair';
       CREATE TABLE later (k VARCHAR(10) PRIMARY KEY, v BLOB);
       INSERT INTO later VALUES ('a', UNHEX('00FF0A27')), ('b', NULL);`,
      'shop',
    );
    const { moment: beforeDrop, state: atMoment } = await markMoment();
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.status).toBe('success');
    expect(rowsOf(full, 'binlog')[0]).toMatchObject({ kind: 'full', kindReason: 'first backup at this destination' });
    expect(rowsOf(inc, 'shop')[0]).toMatchObject({ status: 'success', kind: 'incremental', kindReason: COVERED_BY_LOG, pointId: null, bytesRead: 0 });
    expect(rowsOf(inc, 'binlog')[0]).toMatchObject({ status: 'success', kind: 'incremental', kindReason: null });
    expect(rowsOf(inc, 'binlog')[0]!.bytesRead).toBeGreaterThan(0);

    db.sql(`UPDATE item SET price = 999 WHERE name = 'rug'; DROP TABLE later;`, 'shop');
    const { moment: afterDrop, state: latest } = await markMoment();
    // A second full: the databases are dumped again, the log continues its chain (only what is new is read).
    const full2 = await runTask(engine, id, 'full');
    expect(full2.status).toBe('success');
    expect(rowsOf(full2, 'shop')[0]).toMatchObject({ kind: 'full' });
    expect(rowsOf(full2, 'binlog')[0]).toMatchObject({ kind: 'incremental', kindReason: null });
    expect(rowsOf(full2, 'binlog')[0]!.bytesRead).toBeLessThan(rowsOf(full, 'binlog')[0]!.bytesRead);

    const folder = join(backups, encodeDatabaseFolder('shop'));
    const server = serverFile();
    const r1 = await restoreCommand(engine, folder, { asOf: beforeDrop, serverFile: server, database: 'shop_before' });
    expect(r1).toMatchObject({ database: 'shop_before', cluster: false, notes: [expect.stringContaining('the binary log up to that second')] });
    expect(mariadbFidelity(db, 'shop_before')).toEqual(atMoment);
    expect(atMoment.checksums.join()).toContain('later');
    // The command itself: one JSON document, the same result.
    const viaCli = await cliInProcess('restore', folder, '--as-of', beforeDrop.toISOString(), '--server', server, '--database', 'shop_cli', '--json', '--data-dir', tempDir());
    expect(viaCli.code).toBe(0);
    expect(oneJsonDocument(viaCli.out)).toEqual({ database: 'shop_cli', path: null, notes: [expect.stringMatching(/^Restored as of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: the dump of /)] });
    expect(mariadbFidelity(db, 'shop_cli')).toEqual(atMoment);
    // The function answers from the restored data.
    expect(db.sql('SELECT item_count()', 'shop_before').trim()).toBe('4');

    await restoreCommand(engine, folder, { asOf: afterDrop, serverFile: server, database: 'shop_after' });
    expect(mariadbFidelity(db, 'shop_after')).toEqual(latest);
    expect(db.sql(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_after' AND TABLE_NAME = 'later'`).trim()).toBe('0');
    // The source database was never touched by the replays.
    expect(mariadbFidelity(db, 'shop')).toEqual(latest);

    // Before the full, and after the last stored read: OUT_OF_RANGE with the range, nothing created.
    for (const moment of [new Date(Date.parse(meta.snapshotAt as string) - 3_600_000), new Date(Date.now() + 3_600_000)]) {
      const e = await rejection(restoreCommand(engine, folder, { asOf: moment, serverFile: server, database: 'shop_never' }));
      expect(e).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringMatching(/is outside what this database's backups reach\. Reachable moments \(UTC\): \d{4}-.* to \d{4}-/) });
      expect(exists('shop_never')).toBe(false);
    }
    // The server folder holds the log, once per run.
    expect(await storedPoints(join(backups, SERVER_FOLDER), 'binlog')).toHaveLength(3);
  }, 180_000);

  it('an incremental after a 1% change of a large database reads and stores the log: a small fraction of the full, in bytes', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    db.sql('CREATE DATABASE big');
    db.sql(`CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(200)); INSERT INTO t SELECT seq, REPEAT(CHAR(65 + seq % 26), 150) FROM seq_1_to_100000;`, 'big');
    const { id } = await task('cost');
    const full = await runTask(engine, id, 'full');
    expect(full.status).toBe('success');
    const fullBytes = rowsOf(full, 'big')[0]!.bytesRead;
    expect(fullBytes).toBeGreaterThan(15_000_000);
    db.sql(`UPDATE t SET pad = REPEAT('z', 150) WHERE id BETWEEN 5001 AND 6000`, 'big');
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.status).toBe('success');
    expect(rowsOf(inc, 'big')[0]).toMatchObject({ kind: 'incremental', kindReason: COVERED_BY_LOG, bytesRead: 0, bytesStored: 0 });
    const log = rowsOf(inc, 'binlog')[0]!;
    // The changed rows (1000 × ~155 bytes, before and after images) are in it; the unchanged 99% are not.
    expect(log.bytesRead).toBeGreaterThan(150_000);
    expect(log.bytesRead).toBeLessThan(fullBytes * 0.05);
    expect(log.bytesStored).toBeLessThan(fullBytes * 0.05);
    db.sql('DROP DATABASE big');
  }, 180_000);

  it('retention prunes the stored log no kept dump needs: after a second full with keepLast 1 the log before its position goes, moments after it stay reachable, before it OUT_OF_RANGE', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const s = data(await engine.call('servers.create', { kind: 'mysql', name: 'keep', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }));
    const t = data(
      await engine.call('tasks.create', {
        name: 'keep',
        serverId: s.id,
        type: 'logical',
        schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
        retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 },
        destinations: [{ kind: 'local', path: backups }],
      }),
    );
    const logFolder = join(backups, SERVER_FOLDER, 'binlog');
    const logReads = () => storedPoints(join(backups, SERVER_FOLDER), 'binlog');
    const filesOf = (p: { meta: Record<string, unknown> }) => (p.meta.binlogFiles as string[]).map((f) => logFileNumber(f)!.n);
    const shopDumps = () => storedPoints(backups, 'shop');
    db.sql('CREATE TABLE kept (id INT PRIMARY KEY, filler TEXT)', 'shop');
    // The writes before the second full carry ~0.5 MB of incompressible log each, so their reads' packs are worth freeing.
    const write = (i: number) =>
      db.sql(`INSERT INTO kept SELECT seq, MD5(seq) FROM seq_${i * 10 + 1}_to_${i * 10 + 10}; ${i < 3 ? 'INSERT INTO audit (note) SELECT HEX(RANDOM_BYTES(1000)) FROM seq_1_to_250;' : ''}`, 'shop');
    expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const { moment: afterFirstFull } = await markMoment();
    for (let i = 0; i < 3; i++) {
      write(i);
      const inc = await runTask(engine, t.id, 'incremental');
      expect(inc.status).toBe('success');
      expect(rowsOf(inc, 'shop')[0]).toMatchObject({ kind: 'incremental', pointId: null });
    }
    // The only kept dump of shop is the first full: every read since is needed to roll it forward;
    // only the first read (files closed before the full's position) is gone.
    const firstFull = (await shopDumps())[0]!;
    const before = await logReads();
    expect(before.length).toBe(3);
    expect(before.every((p) => filesOf(p).some((n) => n >= logFileNumber(firstFull.meta.binlogFile as string)!.n))).toBe(true);

    // Nor does `backstop prune` of the log folder: refused, nothing deleted.
    const refused = await rejection(pruneCommand(engine, logFolder, { minAge: '0h', keepLast: 1, dryRun: false }));
    expect(refused).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('the task\'s next run then deletes the log no kept dump needs') });
    expect((await logReads()).length).toBe(3);

    // A second full: shop's retention (keepLast 1) deletes the first full; the next run's log job prunes.
    write(3);
    expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const dumps = await shopDumps();
    expect(dumps.map((p) => p.kind)).toEqual(['full']);
    const secondFull = logFileNumber(dumps[0]!.meta.binlogFile as string)!.n;
    const readsBefore = (await logReads()).length;
    // The clock: these reads were stored an hour ago (GC leaves packs younger than its grace alone).
    ageFiles(join(logFolder, 'packs'), 3600);
    const bytesBefore = treeBytes(logFolder);
    write(4);
    const { moment: afterSecondFull } = await markMoment();
    const next = await runTask(engine, t.id, 'incremental');
    expect(next.status).toBe('success');
    const after = await logReads();
    // Every read left holds a file from the second full's position on; those before are gone, with their packs.
    expect(after.every((p) => filesOf(p).some((n) => n >= secondFull))).toBe(true);
    expect(Math.min(...after.flatMap(filesOf))).toBeLessThanOrEqual(secondFull);
    expect(readsBefore).toBe(4);
    expect(after.length).toBeLessThanOrEqual(2);
    // Most of the ~0.75 MB (stored) of log the three early writes produced is freed; the new read is a few KB
    // (what stays: packs holding a chunk a kept read is stored as a delta against).
    expect(after.length).toBe(1);
    expect(treeBytes(logFolder)).toBeLessThan(bytesBefore / 2);

    // A moment after the second full: restored, with every write up to it.
    await restoreCommand(engine, join(backups, 'shop'), { asOf: afterSecondFull, serverFile: serverFile(), database: 'shop_kept' });
    expect(db.sql('SELECT COUNT(*), MIN(id), MAX(id) FROM kept', 'shop_kept').trim()).toBe('50\t1\t50');
    // A moment before it (the first full is gone): OUT_OF_RANGE naming the range that is left, nothing created.
    const out = await rejection(restoreCommand(engine, join(backups, 'shop'), { asOf: afterFirstFull, serverFile: serverFile(), database: 'shop_gone' }));
    expect(out).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining(`Reachable moments (UTC): ${dumps[0]!.meta.snapshotAt as string} to `) });
    expect(exists('shop_gone')).toBe(false);
    db.sql('DROP TABLE kept', 'shop');
    db.sql('DROP DATABASE shop_kept');
  }, 240_000);

  it('an incremental whose databases the stored log covers starts no job for them (the log and grants.sql only); a database with no dump yet still gets its job', async () => {
    const started: string[] = [];
    engine = await testEngine({ encoderWorkers: 0, executor: (spec, ...rest) => (started.push(spec.database), workerExecutor(spec, ...rest)) });
    db.sql('CREATE DATABASE IF NOT EXISTS c1; CREATE DATABASE IF NOT EXISTS c2');
    db.sql('CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)', 'c1');
    const { id, roots } = await task('covered', db.user, db.password, db, 2);
    const full = await runTask(engine, id, 'full');
    expect(full.status).toBe('success');
    const databases = [...new Set(full.databases.filter((d) => !d.serverStream).map((d) => d.database))];
    expect(databases).toEqual(expect.arrayContaining(['c1', 'c2', 'shop']));
    expect(started.sort()).toEqual(['binlog', 'grants.sql', ...databases].sort());

    started.length = 0;
    db.sql('INSERT INTO t VALUES (1), (2)', 'c1');
    db.sql('CREATE DATABASE late');
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.status).toBe('success');
    // One job for the log, one for grants.sql, one for the database with no dump: none for the covered ones.
    expect(started.sort()).toEqual(['binlog', 'grants.sql', 'late']);
    for (const name of databases) {
      expect(rowsOf(inc, name)).toHaveLength(2);
      for (const row of rowsOf(inc, name)) expect(row).toMatchObject({ status: 'success', kind: 'incremental', kindReason: COVERED_BY_LOG, pointId: null, bytesRead: 0 });
    }
    expect(rowsOf(inc, 'late').map((r) => r.kind)).toEqual(['full', 'full']);
    // The accounts did not change: grants.sql is read (its job runs) but nothing is stored.
    expect(rowsOf(inc, 'grants.sql')).toHaveLength(2);
    for (const row of rowsOf(inc, 'grants.sql')) expect(row).toMatchObject({ status: 'success', kind: 'incremental', kindReason: UNCHANGED, pointId: null, bytesStored: 0 });
    expect(rowsOf(inc, 'grants.sql')[0]!.bytesRead).toBeGreaterThan(0);
    // Covered really means covered: c1's rows written after the full restore from the log (at the second destination too).
    // A new account changes grants.sql: stored again, at both destinations.
    db.sql("CREATE USER 'covered_user'@'localhost' IDENTIFIED BY 'x'");
    const { moment } = await markMoment();
    const third = await runTask(engine, id, 'incremental');
    expect(third.status).toBe('success');
    expect(rowsOf(third, 'grants.sql').map((r) => [r.status, r.kindReason, typeof r.pointId])).toEqual([['success', null, 'string'], ['success', null, 'string']]);
    db.sql("DROP USER 'covered_user'@'localhost'");
    await restoreCommand(engine, join(roots[1]!, 'c1'), { asOf: moment, serverFile: serverFile(), database: 'c1_back' });
    expect(db.sql('SELECT COUNT(*) FROM t', 'c1_back').trim()).toBe('2');
    db.sql('DROP DATABASE c1_back; DROP DATABASE late; DROP DATABASE c1; DROP DATABASE c2');
  }, 240_000);

  it('an incremental the log covers lists each database folder and the stored log a fixed number of times, not three more per database (S3, counted on the wire)', async () => {
    const s3 = await startCountedS3(['backstop']);
    const names = ['l1', 'l2', 'l3', 'l4'];
    try {
      engine = await testEngine({ encoderWorkers: 0 });
      for (const n of names) db.sql(`CREATE DATABASE IF NOT EXISTS ${n}; CREATE TABLE IF NOT EXISTS ${n}.t (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT); INSERT INTO ${n}.t (v) VALUES ('first')`);
      const server = data(await engine.call('servers.create', { kind: 'mysql', name: 'counted', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }));
      const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } }));
      const t = data(
        await engine.call('tasks.create', {
          name: 'counted',
          serverId: server.id,
          type: 'logical',
          schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
          excludeDatabases: ['shop'],
          retention: { minAgeDays: 30, keepLast: null },
          destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'counted', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef }],
        }),
      );
      expect((await runTask(engine, t.id, 'full')).status).toBe('success');
      for (const n of names) db.sql("INSERT INTO t (v) VALUES ('second')", n);
      s3.reset();
      const inc = await runTask(engine, t.id, 'incremental');
      expect(inc.status).toBe('success');
      for (const n of names) expect(rowsOf(inc, n)).toEqual([expect.objectContaining({ status: 'success', kindReason: COVERED_BY_LOG })]);
      const lists = (folder: string) =>
        s3.requests.filter((r) => r.method === 'GET' && new URL(r.url, 'http://x').searchParams.get('prefix') === `counted/${folder}/points/`).length;
      const log = lists(`${SERVER_FOLDER}/binlog`);
      const perDatabase = names.map((n) => lists(encodeDatabaseFolder(n)));
      // Measured: the log's points/ 5 times (its job's look, the check after its marker, its prune's plan and
      // collection, …) and each database's once (the log prune's look, which the coverage check reuses);
      // before: 8 + 3 per covered database (20 here), and each database's 3 times.
      expect(log, "LISTs of the stored log's points/").toBeLessThanOrEqual(5);
      for (const [i, n] of perDatabase.entries()) expect(n, `LISTs of ${names[i]}'s points/`).toBe(1);
    } finally {
      for (const n of names) db.sql(`DROP DATABASE IF EXISTS ${n}`);
      await s3.stop();
    }
  }, 240_000);

  it('an incremental the log covers opens four connections to the server: the connection test (which lists the databases), the log file closing, the log read, and one for grants.sql; and one job thread, the log and grants.sql in it', async () => {
    const ranIn = new Map<string, Worker>();
    const pool = new JobWorkerPool('backup-job', { onJob: (w, job) => void ranIn.set((job as BackupJobSpec).database, w) });
    engine = await testEngine({ encoderWorkers: 0, executor: pooledExecutor(pool) });
    const { id } = await task('connections');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    // A full: the log and grants.sql in one thread, shop in another warmed meanwhile (or the log's, freed).
    expect(ranIn.get('binlog')).toBe(ranIn.get('grants.sql'));
    expect(pool.started).toBeLessThanOrEqual(2);
    await pool.close();
    ranIn.clear();
    const threadsBefore = pool.started;
    db.sql('UPDATE item SET changed = changed + 1 WHERE id = 1', 'shop');
    // Each db.sql is a connection of its own: the reading one counts itself.
    const connections = () => Number(db.sql("SHOW GLOBAL STATUS LIKE 'Connections'").trim().split('\t')[1]);
    const before = connections();
    const inc = await runTask(engine, id, 'incremental');
    const opened = connections() - before - 1;
    expect(inc.status).toBe('success');
    expect(rowsOf(inc, 'binlog')[0]).toMatchObject({ status: 'success', kind: 'incremental', pointId: expect.any(String) });
    expect(rowsOf(inc, 'binlog')[0]!.bytesRead).toBeGreaterThan(0);
    expect(rowsOf(inc, 'shop')[0]).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG, pointId: null });
    expect(rowsOf(inc, 'grants.sql')[0]).toMatchObject({ status: 'success', kindReason: UNCHANGED, pointId: null });
    // Was 7: the listing and the check for the roles column had a client process each; then 5:
    // grants.sql listed the accounts in one process and SHOWed them in another (MariaDB now does both in one batch).
    expect(opened).toBe(4);
    // One job thread for the whole incremental (was 2: one each for the log and grants.sql).
    expect(pool.started - threadsBefore).toBe(1);
    expect([...ranIn.keys()].sort()).toEqual(['binlog', 'grants.sql']);
    expect(ranIn.get('binlog')).toBe(ranIn.get('grants.sql'));
    await pool.close();
  }, 120_000);

  it('a log read that overlaps what a destination stored (another destination restarting its chain) replays every event once', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const t = await task('two', db.user, db.password, db, 2);
    const [a, b] = t.roots as [string, string];
    db.sql('CREATE TABLE once (id INT PRIMARY KEY)', 'shop');
    expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    db.sql('INSERT INTO once SELECT seq FROM seq_1_to_100', 'shop');
    expect((await runTask(engine, t.id, 'incremental')).status).toBe('success');
    // Destination B loses its stored log: its next read starts a chain, so the read also brings A the files it has.
    rmSync(join(b, SERVER_FOLDER, 'binlog'), { recursive: true, force: true });
    db.sql('INSERT INTO once SELECT seq FROM seq_101_to_200', 'shop');
    const { moment, state: expected } = await markMoment();
    const run = await runTask(engine, t.id, 'incremental');
    expect(run.status).toBe('success');
    const logRows = rowsOf(run, 'binlog');
    expect(logRows.map((r) => [r.kind, r.kindReason])).toEqual([
      ['incremental', null],
      ['full', expect.stringMatching(/^the earlier backups of "binlog" at this destination are gone \(the newest was taken .* UTC; its folder was emptied, deleted or replaced by a new one\)/)],
    ]);
    const stored = (await storedPoints(join(a, SERVER_FOLDER), 'binlog')).map((p) => p.meta.binlogFiles as string[]);
    expect(stored.at(-1)).toEqual(expect.arrayContaining(stored[1]!)); // the newest read at A repeats files A had
    // A duplicate replay of an INSERT into the primary key would fail the restore; it is identical instead.
    await restoreCommand(engine, join(a, 'shop'), { asOf: moment, serverFile: serverFile(), database: 'shop_once_a' });
    expect(mariadbFidelity(db, 'shop_once_a')).toEqual(expected);
    expect(db.sql('SELECT COUNT(*) FROM once', 'shop_once_a').trim()).toBe('200');
    db.sql('DROP TABLE once', 'shop');
  }, 180_000);

  it('without the privileges to read the log, an incremental re-dumps with the reason and the GRANT to run', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    db.sql(`CREATE USER 'nolog'@'%' IDENTIFIED BY 'nolog-pw-1'; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON *.* TO 'nolog'@'%';`);
    const { id, backups } = await task('nolog', 'nolog', 'nolog-pw-1');
    const inc = await redumpedIncremental(id, () => db.sql(`INSERT INTO item (name, price) VALUES ('nolog', 3);`, 'shop'), expect.stringContaining('re-dumped: user "nolog" lacks REPLICATION SLAVE, BINLOG MONITOR, RELOAD'));
    expect(rowsOf(inc, 'shop')[0]!.kindReason).toContain('GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO');
    expect(data(await engine.call('tasks.status', undefined)).find((t) => t.taskId === id)!.logFallback).toMatch(/^user "nolog" lacks .*GRANT REPLICATION SLAVE/);
    // Restore points only: --as-of has nothing to reach, and says so; nothing is created.
    const e = await rejection(restoreCommand(engine, join(backups, 'shop'), { asOf: new Date(), serverFile: serverFile(), database: 'shop_nolog' }));
    expect(e).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining('no stored binary log at') });
    expect(exists('shop_nolog')).toBe(false);
  }, 180_000);

  it('a log purged before it was read starts a new log chain and re-dumps the database, with the reasons; moments after it are reachable again', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const { id, backups } = await task('purge');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    db.sql(`INSERT INTO item (name, price) VALUES ('lost', 1);`, 'shop');
    db.sql('FLUSH BINARY LOGS; FLUSH BINARY LOGS;');
    const current = db.sql('SHOW MASTER STATUS').split('\t')[0]!;
    // The server keeps a file until its binlog checkpoint is written: purge until only the current file is left.
    for (let i = 0; i < 50; i++) {
      db.sql(`PURGE BINARY LOGS TO '${current}'`);
      if (db.sql('SHOW BINARY LOGS').trim().split('\n').length === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(db.sql('SHOW BINARY LOGS').trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${current.replace('.', '\\.')}\t`))]);
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.status).toBe('success');
    expect(rowsOf(inc, 'binlog')[0]).toMatchObject({ status: 'success', kind: 'full', kindReason: expect.stringContaining('was purged from the server') });
    expect(rowsOf(inc, 'shop')[0]).toMatchObject({
      status: 'success',
      kind: 'incremental',
      pointId: expect.any(String),
      kindReason: 're-dumped: the stored binary log does not reach back to the last dump of this database (it was purged on the server before it was read)',
    });
    // The re-dump recorded its position: the next incremental is covered again, and a moment after it restores.
    await nextSecond();
    db.sql(`INSERT INTO item (name, price) VALUES ('after purge', 2);`, 'shop');
    const { moment, state: expected } = await markMoment();
    const next = await runTask(engine, id, 'incremental');
    expect(rowsOf(next, 'shop')[0]).toMatchObject({ kind: 'incremental', kindReason: COVERED_BY_LOG });
    await restoreCommand(engine, join(backups, 'shop'), { asOf: moment, serverFile: serverFile(), database: 'shop_purge' });
    expect(mariadbFidelity(db, 'shop_purge')).toEqual(expected);
  }, 180_000);

  it('account statements run with the database the default one are not replayed: a restore to a moment on the same server neither fails on an account that exists nor creates, changes or drops one, and says so', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    db.sql("CREATE USER 'acct_keep'@'%' IDENTIFIED BY 'keep-1'");
    const accounts = () => db.sql("SELECT CONCAT(User, '@', Host, ' ', authentication_string) FROM mysql.user WHERE User LIKE 'acct%' ORDER BY 1; SHOW GRANTS FOR 'acct_keep'@'%'; SHOW GRANTS FOR 'acct_new'@'%';");
    try {
      const { id, backups } = await task('accounts');
      expect((await runTask(engine, id, 'full')).status).toBe('success');
      await nextSecond();
      // As an application's migration would: account changes with shop the default database, between row changes.
      db.sql(
        `INSERT INTO item (name, price) VALUES ('before accounts', 3);
         CREATE USER 'acct_new'@'%' IDENTIFIED BY 'new-1';
         GRANT SELECT ON shop.* TO 'acct_new'@'%';
         GRANT INSERT ON \`shop\`.item TO 'acct_keep'@'%';
         DROP USER 'acct_keep'@'%';
         INSERT INTO item (name, price) VALUES ('after accounts', 4);`,
        'shop',
      );
      const { moment, state: expected } = await markMoment();
      // The DBA then puts the dropped account back, with another password and no grant.
      db.sql("CREATE USER 'acct_keep'@'%' IDENTIFIED BY 'keep-2'");
      expect(rowsOf(await runTask(engine, id, 'incremental'), 'shop')[0]).toMatchObject({ kind: 'incremental', kindReason: COVERED_BY_LOG });
      const before = accounts();
      const r = await restoreCommand(engine, join(backups, 'shop'), { asOf: moment, serverFile: serverFile(), database: 'shop_accounts' });
      expect(mariadbFidelity(db, 'shop_accounts')).toEqual(expected);
      expect(accounts()).toBe(before);
      expect(r.notes.join('\n')).toContain('The log held 4 account statements (GRANT, REVOKE, CREATE/ALTER/DROP USER or ROLE, SET PASSWORD) run while "shop" was the default database');
    } finally {
      db.sql("DROP USER IF EXISTS 'acct_keep'@'%', 'acct_new'@'%'; DROP DATABASE IF EXISTS shop_accounts;");
    }
  }, 120_000);
});

describe('MariaDB with the binary log off (its default)', () => {
  it('an incremental re-dumps every database, with the reason and what to enable, and stores no log', async () => {
    const off = await startMariadb();
    try {
      engine = await testEngine({ encoderWorkers: 0 });
      off.sql("CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.item VALUES (1, 'lamp');");
      const { id } = await task('off', off.user, off.password, off);
      await redumpedIncremental(
        id,
        () => off.sql("INSERT INTO shop.item VALUES (2, 'desk');"),
        expect.stringMatching(/^re-dumped: the binary log is off on the MySQL\/MariaDB server .*start the server with log_bin, binlog_format=ROW and a server_id/),
      );
      // The window's one-time hint reads the reason from the task's status: what to enable, without the history's prefix.
      const status = data(await engine.call('tasks.status', undefined)).find((t) => t.taskId === id)!;
      expect(status.logFallback).toMatch(/^the binary log is off on the MySQL\/MariaDB server .*start the server with log_bin, binlog_format=ROW and a server_id/);
    } finally {
      await off.stop();
    }
  }, 180_000);
});

describe('MariaDB servers a DBA set up differently', () => {
  it('a global sql_mode with NO_BACKSLASH_ESCAPES and ANSI_QUOTES: full, log incremental, restore to a moment, grants.sql applied to fresh servers of the default and of the same mode', async () => {
    const modes = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES';
    const was = db.sql('SELECT @@GLOBAL.sql_mode').trim();
    db.sql(`SET GLOBAL sql_mode = '${modes}'`);
    const fresh = await Promise.all([startMariadb(), startMariadb({ args: [`--sql-mode=${modes}`] })]);
    try {
      engine = await testEngine({ encoderWorkers: 0 });
      // In this mode a backslash is an ordinary character and "…" quotes an identifier.
      db.sql('CREATE DATABASE quirky');
      db.sql(
        `CREATE TABLE "odd" ("id" INT PRIMARY KEY, "txt" TEXT);
         INSERT INTO "odd" VALUES (1, 'back\\slash'), (2, 'it''s a "word"');
         CREATE VIEW "slashed" AS SELECT "id" FROM "odd" WHERE "txt" LIKE '%\\%' ESCAPE '!';
         CREATE TRIGGER "odd_ins" BEFORE INSERT ON "odd" FOR EACH ROW SET NEW."txt" = CONCAT(NEW."txt", '\\t');`,
        'quirky',
      );
      db.sql(`CREATE USER 'quirk''s'@'%' IDENTIFIED BY 'pw\\with''quote'; GRANT SELECT ON "quirky".* TO 'quirk''s'@'%';`);
      expect(db.sql('SELECT "txt" FROM "odd" ORDER BY 1', 'quirky')).toBe('back\\\\slash\nit\'s a "word"\n'); // --batch escapes the backslash
      const { id, backups } = await task('modes');
      expect((await runTask(engine, id, 'full')).status).toBe('success');
      await nextSecond();
      db.sql(`INSERT INTO "odd" VALUES (3, 'C:\\dir\\'); UPDATE "odd" SET "txt" = CONCAT("txt", '\\n') WHERE "id" = 1;`, 'quirky');
      const { moment, state } = await markMomentOf('quirky');
      db.sql(`DELETE FROM "odd" WHERE "id" = 2`, 'quirky');
      const inc = await runTask(engine, id, 'incremental');
      expect(rowsOf(inc, 'quirky')[0]).toMatchObject({ status: 'success', kind: 'incremental', kindReason: COVERED_BY_LOG });
      expect(rowsOf(inc, 'binlog')[0]).toMatchObject({ status: 'success', kind: 'incremental' });

      await restoreCommand(engine, join(backups, 'quirky'), { asOf: moment, serverFile: serverFile(), database: 'quirky_back' });
      expect(mariadbFidelity(db, 'quirky_back')).toEqual(state);
      expect(db.sql('SELECT HEX("txt") FROM "odd" WHERE "id" = 3', 'quirky_back').trim()).toBe(Buffer.from('C:\\dir\\\\t').toString('hex').toUpperCase());

      // grants.sql onto fresh servers, one with the default sql_mode, one with the same: the account, its password and its grants.
      const location = { kind: 'local' as const, path: join(backups, SERVER_FOLDER, 'grants.sql') };
      const account = (s: MariadbServer) => s.sql("SELECT authentication_string FROM mysql.user WHERE User = 'quirk''s'; SET SESSION sql_mode = ''; SHOW GRANTS FOR 'quirk''s'@'%'");
      expect(account(db)).toContain("GRANT SELECT ON `quirky`.* TO `quirk's`@`%`");
      for (const target of fresh) {
        const tgt = data(await engine.call('servers.create', { kind: 'mysql', name: `fresh${target.port}`, host: target.host, port: target.port, user: target.user, password: target.password, tls: 'disable' }));
        target.sql("GRANT ALL PRIVILEGES ON *.* TO 'backstop'@'%' WITH GRANT OPTION");
        const applied = data(await engine.call('restore.applyGlobals', { location, serverId: tgt.id, dryRun: false }));
        expect(applied.objects.filter((o) => o.action === 'failed')).toEqual([]);
        expect(applied.objects.find((o) => o.name === "user `quirk's`@`%`")).toMatchObject({ action: 'created' });
        expect(account(target)).toBe(account(db));
      }
    } finally {
      db.sql(`SET GLOBAL sql_mode = '${was}'; DROP USER IF EXISTS 'quirk''s'@'%'; DROP DATABASE IF EXISTS quirky; DROP DATABASE IF EXISTS quirky_back;`);
      await Promise.all(fresh.map((f) => f.stop()));
    }
  }, 180_000);

  it('binlog_format: row images MINIMAL restore right; STATEMENT or MIXED set globally makes incrementals re-dump with the reason; statements logged while it was set (changed back before the run) are refused at restore, never replayed into the source', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const reset = "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'";
    try {
      db.sql('CREATE DATABASE fmt');
      db.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT, note VARCHAR(20)); INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b')", 'fmt');
      const { id, backups } = await task('formats');
      const server = serverFile();
      // binlog_row_image=MINIMAL: before images hold the key only, after images the changed columns only.
      db.sql("SET GLOBAL binlog_row_image = 'MINIMAL'");
      expect((await runTask(engine, id, 'full')).status).toBe('success');
      await nextSecond();
      db.sql("UPDATE t SET v = v + 1 WHERE id = 1; DELETE FROM t WHERE id = 2; INSERT INTO t VALUES (3, 30, 'c'); UPDATE t SET note = 'cc' WHERE v = 30", 'fmt');
      const minimal = await markMomentOf('fmt');
      db.sql("SET GLOBAL binlog_row_image = 'FULL'");
      const inc = await runTask(engine, id, 'incremental');
      expect(rowsOf(inc, 'fmt')[0]).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG });
      await restoreCommand(engine, join(backups, 'fmt'), { asOf: minimal.moment, serverFile: server, database: 'fmt_minimal' });
      expect(mariadbFidelity(db, 'fmt_minimal')).toEqual(minimal.state);

      // STATEMENT for a while between two runs, ROW again when the next one starts: its log read holds statements.
      db.sql("SET GLOBAL binlog_format = 'STATEMENT'");
      db.sql('UPDATE fmt.t SET v = v + 100 WHERE id = 3', 'fmt');
      const { moment: statementTime } = await markMomentOf('fmt');
      db.sql("SET GLOBAL binlog_format = 'ROW'");
      const source = mariadbFidelity(db, 'fmt');
      expect(rowsOf(await runTask(engine, id, 'incremental'), 'fmt')[0]).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG });
      const refused = await rejection(restoreCommand(engine, join(backups, 'fmt'), { asOf: statementTime, serverFile: server, database: 'fmt_statement' }));
      expect(refused).toMatchObject({
        code: 'RESTORE_FAILED',
        message: expect.stringMatching(/holds a change of rows logged as an SQL statement \(binlog_format was STATEMENT or MIXED when it was written\): "UPDATE fmt\.t SET v = v \+ 100 WHERE id = 3"\. .*nothing was created\. Fix: restore a backup point without --as-of .* set binlog_format=ROW/),
      });
      expect(exists('fmt_statement')).toBe(false);
      // The source database was not touched by the attempt (a replay under the new name would have updated fmt.t itself).
      expect(mariadbFidelity(db, 'fmt')).toEqual(source);
      // A moment before those statements still restores.
      await restoreCommand(engine, join(backups, 'fmt'), { asOf: minimal.moment, serverFile: server, database: 'fmt_before' });
      expect(mariadbFidelity(db, 'fmt_before')).toEqual(minimal.state);

      // STATEMENT or MIXED when a run starts: the incremental re-dumps, with the reason and the fix.
      for (const format of ['STATEMENT', 'MIXED']) {
        db.sql(`SET GLOBAL binlog_format = '${format}'`);
        const other = await task(`formats-${format}`);
        expect((await runTask(engine, other.id, 'full')).status).toBe('success');
        db.sql("INSERT INTO t VALUES (4, 40, 'd')", 'fmt');
        const redumped = await runTask(engine, other.id, 'incremental');
        expect(rowsOf(redumped, 'binlog')).toEqual([]);
        expect(rowsOf(redumped, 'fmt')[0]).toMatchObject({ status: 'success', kind: 'incremental', pointId: expect.any(String) });
        expect(rowsOf(redumped, 'fmt')[0]!.kindReason).toMatch(new RegExp(`^re-dumped: binlog_format is ${format} on the MySQL/MariaDB server .*set binlog_format=ROW \\(SET GLOBAL binlog_format = 'ROW'; and in the server's configuration\\)`));
        db.sql('DELETE FROM t WHERE id = 4', 'fmt');
      }
    } finally {
      db.sql(`${reset}; DROP DATABASE IF EXISTS fmt; DROP DATABASE IF EXISTS fmt_minimal; DROP DATABASE IF EXISTS fmt_before; DROP DATABASE IF EXISTS fmt_statement`);
    }
  }, 240_000);

  it('a target with lower_case_table_names=1 (the source has 0): mixed-case table names restore, lower-cased, with their data; names that differ only in case are refused naming the fix, nothing left', async () => {
    const lower = await startMariadb({ args: ['--lower-case-table-names=1'] });
    try {
      engine = await testEngine({ encoderWorkers: 0 });
      db.sql('CREATE DATABASE Camel; CREATE DATABASE Twins');
      db.sql("CREATE TABLE `CamelCase` (id INT PRIMARY KEY, note VARCHAR(10)); INSERT INTO `CamelCase` VALUES (1, 'a'), (2, 'b'); CREATE VIEW `CamelView` AS SELECT note FROM `CamelCase`", 'Camel');
      db.sql('CREATE TABLE `Orders` (id INT PRIMARY KEY); CREATE TABLE `orders` (id INT PRIMARY KEY); INSERT INTO `Orders` VALUES (1); INSERT INTO `orders` VALUES (2)', 'Twins');
      const { id, backups } = await task('lctn');
      expect((await runTask(engine, id, 'full')).status).toBe('success');
      const target = join(tempDir(), 'lower.json');
      process.env.LOWER_TEST_PASSWORD = lower.password;
      writeFileSync(target, JSON.stringify({ kind: 'mysql', host: lower.host, port: lower.port, user: lower.user, passwordEnv: 'LOWER_TEST_PASSWORD', tls: 'disable' }));

      await restoreCommand(engine, join(backups, encodeDatabaseFolder('Camel')), { point: 'latest', serverFile: target, database: 'camel_back' });
      expect(lower.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'camel_back' ORDER BY 1")).toBe('camelcase\ncamelview\n');
      expect(lower.sql('CHECKSUM TABLE CamelCase EXTENDED; SELECT GROUP_CONCAT(note ORDER BY note) FROM CamelView', 'camel_back').split('\n').map((l) => l.split('\t').at(-1))).toEqual(
        db.sql('CHECKSUM TABLE `CamelCase` EXTENDED; SELECT GROUP_CONCAT(note ORDER BY note) FROM `CamelView`', 'Camel').split('\n').map((l) => l.split('\t').at(-1)),
      );

      const refused = await rejection(restoreCommand(engine, join(backups, encodeDatabaseFolder('Twins')), { point: 'latest', serverFile: target, database: 'twins_back' }));
      expect(refused).toMatchObject({
        code: 'RESTORE_FAILED',
        message: expect.stringMatching(/^Database "twins_back" cannot be restored on the MySQL\/MariaDB server .*: it has lower_case_table_names=1, and the backup holds tables whose names differ only in case \(`Orders` and `orders`\), which would be one table there\. Nothing was created\. Fix: restore onto a server with lower_case_table_names=0, or rename one of those tables on the source and take a new backup\.$/),
      });
      expect(lower.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'twins_back'").trim()).toBe('0');
    } finally {
      db.sql('DROP DATABASE IF EXISTS Camel; DROP DATABASE IF EXISTS Twins');
      await lower.stop();
    }
  }, 120_000);
});

/** `markMoment` of another database than shop. */
async function markMomentOf(database: string): Promise<{ moment: Date; state: ReturnType<typeof mariadbFidelity> }> {
  await nextSecond();
  const moment = new Date();
  const state = mariadbFidelity(db, database);
  await nextSecond();
  return { moment, state };
}
