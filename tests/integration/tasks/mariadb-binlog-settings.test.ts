/**
 * MariaDB server settings that shape what the binary log holds, against one real MariaDB 10.11
 * started with binlog_ignore_db, binlog_checksum=NONE, a 4 KB max_binlog_size (files rotate
 * during a run; a transaction larger than that) and log_bin_compress=ON (compressed Query and
 * row events). A log incremental must never store "nothing changed" while the database changed:
 * - a database binlog_ignore_db leaves out of the log: its incrementals re-dump, the reason
 *   naming the setting and the fix (and the server check warns); a moment of it is out of range
 *   (never its dump silently rolled forward with a log that lacks its changes); a moment of a
 *   logged database beside it restores, noting that DDL run from a left-out database is not logged;
 * - the filter set at a restart after a full: moments after it are out of range, the incremental
 *   re-dumps; removed at a later restart: the first incremental still re-dumps (its read holds files
 *   written under the filter), then the log covers the database again;
 * - a DROP + CREATE DATABASE logged as a compressed Query event: the next incremental re-dumps
 *   (as uncompressed), and a restore to a moment after it is refused, nothing created;
 * - rotations mid-run, a transaction larger than max_binlog_size, no checksums and compressed
 *   row events: a restore to a moment equals the source then (CHECKSUM TABLE and the rest).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import type { Engine } from '../../../electron/engine/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { momentOfItsOwn } from '../../fixtures/whole-seconds.ts';

let db: MariadbServer;
let engine: Engine;

function serverFile(): string {
  const file = join(tempDir(), 'server.json');
  process.env.SETTINGS_TEST_PASSWORD = db.password;
  writeFileSync(file, JSON.stringify({ kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: 'SETTINGS_TEST_PASSWORD', tls: 'disable' }));
  return file;
}

/** A logical task of only `databases`, to a new local folder. */
async function task(name: string, databases: string[]): Promise<{ id: string; serverId: string; backups: string }> {
  const backups = tempDir();
  const all = db.sql('SHOW DATABASES').trim().split('\n');
  const { serverId, taskId } = await serverWithTask(engine, { kind: 'mysql', name, host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups, {
    excludeDatabases: all.filter((d) => !databases.includes(d)),
  });
  return { id: taskId, serverId, backups };
}

const items = (database: string) => db.sql('SELECT id, name FROM item ORDER BY id', database).trim().split('\n');
const exists = (database: string) => db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${database}'`).trim() === '1';

beforeAll(async () => {
  db = await startMariadb({ binlog: true, args: ['--binlog-ignore-db=quiet', '--binlog-checksum=NONE', '--max-binlog-size=4096'] });
  // Every event of 10 bytes or more compressed (the default leaves statements under 256 bytes alone).
  db.sql('SET GLOBAL log_bin_compress = ON; SET GLOBAL log_bin_compress_min_len = 10;');
}, 60_000);

beforeEach(async () => {
  engine = await testEngine({ encoderWorkers: 0 });
});

afterEach(async () => {
  await engine.close();
});

afterAll(async () => {
  await db?.stop();
});

describe('MariaDB settings that shape the binary log', () => {
  it('a database binlog_ignore_db leaves out of the log: its incrementals re-dump naming the setting, the server check warns, and a moment of it is out of range; a logged one beside it reads the log', { timeout: 120_000 }, async () => {
    db.sql("CREATE DATABASE quiet; CREATE TABLE quiet.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO quiet.item VALUES (1, 'quiet one');");
    db.sql("CREATE DATABASE loud; CREATE TABLE loud.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO loud.item VALUES (1, 'loud one');");
    const { id, serverId, backups } = await task('ignore db', ['quiet', 'loud']);
    expect(db.sql('SHOW MASTER STATUS').trim().split('\t')[3]).toBe('quiet');
    expect(data(await engine.call('servers.test', { id: serverId })).warnings).toEqual([
      expect.stringMatching(/binlog_ignore_db.*"quiet".*re-dump.*remove .*binlog_ignore_db/),
    ]);
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    // Written by an application whose default database is the table's own (ROW format filters by the table's database).
    db.sql("INSERT INTO item VALUES (2, 'quiet two')", 'quiet');
    db.sql("INSERT INTO item VALUES (2, 'loud two')", 'loud');
    const at = await momentOfItsOwn();
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.status).toBe('success');
    expect(inc.databases.find((d) => d.database === 'loud')).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG, pointId: null });
    expect(inc.databases.find((d) => d.database === 'quiet')).toMatchObject({
      status: 'success',
      kind: 'incremental',
      pointId: expect.any(String),
      kindReason: expect.stringMatching(/^re-dumped: the server's binlog_ignore_db leaves "quiet" out of the binary log .*remove .*binlog_ignore_db/),
    });
    // No moment of it is reachable: its dumps are never rolled forward with a log that lacks its changes.
    const e = await rejection(restoreCommand(engine, join(backups, encodeDatabaseFolder('quiet')), { asOf: at, serverFile: serverFile(), database: 'quiet_at' }));
    expect(e).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining('Reachable moments (UTC): none') });
    expect(exists('quiet_at')).toBe(false);
    await restoreCommand(engine, join(backups, encodeDatabaseFolder('quiet')), { point: 'latest', serverFile: serverFile(), database: 'quiet_back' });
    expect(items('quiet_back')).toEqual(['1\tquiet one', '2\tquiet two']);
    const loud = await restoreCommand(engine, join(backups, encodeDatabaseFolder('loud')), { asOf: at, serverFile: serverFile(), database: 'loud_at' });
    expect(items('loud_at')).toEqual(['1\tloud one', '2\tloud two']);
    // A schema change run with a left-out database selected is not in the log: the restore says so.
    expect(loud.notes).toContainEqual(expect.stringMatching(/^The server wrote this binary log with binlog_ignore_db=quiet set, .*USE it; ALTER TABLE `loud`\.…\) is not in the log/));
  });

  it('a DROP + CREATE DATABASE logged compressed (log_bin_compress=ON): the next incremental re-dumps, and a moment after it is refused with nothing created', { timeout: 120_000 }, async () => {
    db.sql("CREATE DATABASE cycle; CREATE TABLE cycle.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO cycle.item VALUES (1, 'old one');");
    const { id, backups } = await task('compressed cycle', ['cycle']);
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    db.sql('DROP DATABASE cycle; CREATE DATABASE cycle;');
    db.sql("CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO item VALUES (7, 'new one');", 'cycle');
    const after = await momentOfItsOwn();
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.databases.find((d) => d.database === 'cycle')).toMatchObject({
      status: 'success',
      kind: 'incremental',
      pointId: expect.any(String),
      kindReason: expect.stringContaining('re-dumped: the database was dropped or created again (DROP/CREATE DATABASE in the binary log since its last dump)'),
    });
    const e = await rejection(restoreCommand(engine, join(backups, encodeDatabaseFolder('cycle')), { asOf: after, serverFile: serverFile(), database: 'cycle_at' }));
    expect(e).toMatchObject({ code: 'RESTORE_FAILED', message: expect.stringContaining('a statement on the database "cycle" itself (dropped, created again or altered)') });
    expect(exists('cycle_at')).toBe(false);
    expect(items('cycle')).toEqual(['7\tnew one']);
  });

  it('files rotating mid-run (max_binlog_size 4 KB), a transaction larger than a file, no checksums, compressed row events: a restore to a moment equals the source then', { timeout: 120_000 }, async () => {
    db.sql('CREATE DATABASE churn; CREATE TABLE churn.item (id INT PRIMARY KEY, name VARCHAR(20), pad VARCHAR(300));');
    db.sql("INSERT INTO churn.item VALUES (1, 'first', REPEAT('a', 300));");
    const { id, backups } = await task('churn', ['churn']);
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    const before = db.sql('SHOW MASTER STATUS').split('\t')[0]!;
    // Small transactions (each rotates the file soon), then one of ~30 KB (larger than a file: it stays whole in one).
    for (let i = 2; i <= 12; i++) db.sql(`INSERT INTO item VALUES (${i}, 'small ${i}', REPEAT(CHAR(96 + ${i}), 300)); UPDATE item SET name = 'touched' WHERE id = ${i - 1};`, 'churn');
    const values = Array.from({ length: 100 }, (_, k) => `(${100 + k}, 'big ${k}', REPEAT('${String.fromCharCode(97 + (k % 26))}', 300))`).join(', ');
    db.sql(`START TRANSACTION; INSERT INTO item VALUES ${values}; UPDATE item SET pad = REVERSE(pad) WHERE id < 50; COMMIT;`, 'churn');
    expect(db.sql('SHOW MASTER STATUS').split('\t')[0]).not.toBe(before);
    const first = await momentOfItsOwn();
    const atFirst = mariadbFidelity(db, 'churn');
    db.sql("DELETE FROM item WHERE id BETWEEN 100 AND 149; UPDATE item SET name = 'late' WHERE id = 1;", 'churn');
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.databases.find((d) => d.database === 'churn')).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG, pointId: null });
    db.sql("INSERT INTO item VALUES (500, 'after run', REPEAT('z', 300));", 'churn');
    const second = await momentOfItsOwn();
    const atSecond = mariadbFidelity(db, 'churn');
    expect((await runTask(engine, id, 'incremental')).status).toBe('success');
    const folder = join(backups, encodeDatabaseFolder('churn'));
    await restoreCommand(engine, folder, { asOf: first, serverFile: serverFile(), database: 'churn_first' });
    expect(mariadbFidelity(db, 'churn_first')).toEqual(atFirst);
    await restoreCommand(engine, folder, { asOf: second, serverFile: serverFile(), database: 'churn_second' });
    expect(mariadbFidelity(db, 'churn_second')).toEqual(atSecond);
  });
  // Last: it restarts the server with another configuration.
  it('binlog_ignore_db set at a restart after a full: the full\'s moments end before the first read taken under it (never rolled forward with a log that lacks the changes), and the incremental re-dumps', { timeout: 120_000 }, async () => {
    db.sql("CREATE DATABASE later; CREATE TABLE later.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO later.item VALUES (1, 'one');");
    const { id, backups } = await task('filter later', ['later']);
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    db.sql("INSERT INTO item VALUES (2, 'logged')", 'later');
    const logged = await momentOfItsOwn();
    expect((await runTask(engine, id, 'incremental')).databases.find((d) => d.database === 'later')).toMatchObject({ kindReason: COVERED_BY_LOG });
    const args = ['--binlog-checksum=NONE', '--max-binlog-size=4096'];
    await db.restart([...args, '--binlog-ignore-db=quiet', '--binlog-ignore-db=later']);
    try {
      db.sql("INSERT INTO item VALUES (3, 'not logged')", 'later');
      const unlogged = await momentOfItsOwn();
      const inc = await runTask(engine, id, 'incremental');
      expect(inc.databases.find((d) => d.database === 'later')).toMatchObject({ status: 'success', pointId: expect.any(String), kindReason: expect.stringContaining('binlog_ignore_db leaves "later" out') });
      const folder = join(backups, encodeDatabaseFolder('later'));
      const e = await rejection(restoreCommand(engine, folder, { asOf: unlogged, serverFile: serverFile(), database: 'later_gap' }));
      expect(e).toMatchObject({ code: 'OUT_OF_RANGE' });
      expect(exists('later_gap')).toBe(false);
      await restoreCommand(engine, folder, { asOf: logged, serverFile: serverFile(), database: 'later_logged' });
      expect(items('later_logged')).toEqual(['1\tone', '2\tlogged']);
      await restoreCommand(engine, folder, { point: 'latest', serverFile: serverFile(), database: 'later_back' });
      expect(items('later_back')).toEqual(['1\tone', '2\tlogged', '3\tnot logged']);

      // Written after that dump while still left out, then the filter removed at a restart: the next read has no
      // filter, but its first file was written under it, so the incremental re-dumps rather than lose row 4.
      db.sql("INSERT INTO item VALUES (4, 'before restart')", 'later');
      await db.restart([...args, '--binlog-ignore-db=quiet']);
      db.sql("INSERT INTO item VALUES (5, 'logged again')", 'later');
      expect((await runTask(engine, id, 'incremental')).databases.find((d) => d.database === 'later')).toMatchObject({ pointId: expect.any(String), kindReason: expect.stringContaining('binlog_ignore_db leaves "later" out') });
      db.sql("INSERT INTO item VALUES (6, 'after')", 'later');
      const after = await momentOfItsOwn();
      expect((await runTask(engine, id, 'incremental')).databases.find((d) => d.database === 'later')).toMatchObject({ kindReason: COVERED_BY_LOG, pointId: null });
      await restoreCommand(engine, folder, { asOf: after, serverFile: serverFile(), database: 'later_after' });
      expect(items('later_after')).toEqual(['1\tone', '2\tlogged', '3\tnot logged', '4\tbefore restart', '5\tlogged again', '6\tafter']);
    } finally {
      await db.restart([...args, '--binlog-ignore-db=quiet']);
    }
  });
});
