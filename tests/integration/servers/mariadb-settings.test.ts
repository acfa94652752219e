/**
 * MariaDB 10.11 with the settings DBAs set (the other MariaDB tests run on the defaults):
 * through the engine's task runs (full, binary-log incremental) and the CLI's restore command
 * (a point, and a moment) into a new name, compared with `mariadbFidelity` (CHECKSUM TABLE,
 * SHOW CREATE, database and column character sets, routines, triggers, …):
 * - a global sql_mode of ORACLE with PAD_CHAR_TO_FULL_LENGTH and NO_BACKSLASH_ESCAPES, and of
 *   STRICT_ALL_TABLES with NO_ZERO_DATE over zero dates already in the data;
 * - autocommit=0 globally: restored rows are committed (read from new sessions), a failed
 *   restore's database is gone;
 * - net_write_timeout / wait_timeout of a second or two: a dump whose reader stalls fails
 *   naming the settings and the fix (not as an unreachable server); in a run, a dump whose
 *   connection the server ends stores no point and the previous one restores; a restore whose
 *   source stalls fails the same way, nothing left;
 * - binlog_row_image MINIMAL and NOBLOB with gtid_strict_mode=ON: restore to a moment after
 *   UPDATEs and DELETEs of tables with and without a primary key, BLOBs included;
 * - character_set_server latin1 with utf8mb4 and latin1 tables holding non-ASCII text;
 * - a server with lower_case_table_names=1, log_slave_updates and gtid_strict_mode: mixed-case
 *   names restored into mixed-case new names (a point, a moment), definer notes found there.
 * - views whose DEFINER account was dropped (their dumped bodies name the source database),
 *   views reading another database, a view over a view: a point and a moment restore into a
 *   new name reading the new database; a view over a view whose definer is gone fails naming
 *   the account and the fix.
 * (ANSI_QUOTES/NO_BACKSLASH_ESCAPES alone, binlog_format, a purged log and a
 * lower_case_table_names=1 target are in tasks/mariadb-binlog.test.ts.)
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { connectorFor, encodeDatabaseFolder, type Connector } from '../../../electron/engine/servers/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { runTestRestoreJob } from '../../../electron/engine/test-restore/run-test-restore-job.ts';
import type { Run, Server } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { rejection, waitFor } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

let db: MariadbServer;
let engine: Engine;

function connector(target: MariadbServer = db): Connector {
  const server: Server = { id: 'my1', name: 'settings', kind: 'mysql', host: target.host, port: target.port, user: target.user, tls: 'disable', passwordRef: 'server.my1.password', createdAt: '', updatedAt: '' };
  return connectorFor(server, { password: target.password, toolPaths: { mysql: null } });
}

function exists(server: MariadbServer, name: string): boolean {
  return server.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim() === '1';
}

function rowOf(run: Run, database: string) {
  return run.databases.find((d) => d.database === database);
}

async function task(name: string, server: MariadbServer = db, limits?: { readBytesPerSecond?: number }): Promise<{ id: string; backups: string; serverFile: string }> {
  const backups = tempDir();
  const { taskId } = await serverWithTask(engine, { kind: 'mysql', name, host: server.host, port: server.port, user: server.user, password: server.password, tls: 'disable' }, 'logical', backups, limits ? { limits } : {});
  const serverFile = join(tempDir(), 'server.json');
  const env = `SETTINGS_TEST_PASSWORD_${server.port}`;
  process.env[env] = server.password;
  writeFileSync(serverFile, JSON.stringify({ kind: 'mysql', host: server.host, port: server.port, user: server.user, passwordEnv: env, tls: 'disable' }));
  return { id: taskId, backups, serverFile };
}

/**
 * A full of each of `databases`, `change()`, a moment, an incremental that the log covers;
 * then each database restored from the full (`<database>_p`, or `names.point`) and as of the
 * moment (`<database>_m`, or `names.moment`), compared with the source at that time.
 */
async function fullChangeRestore(databases: string | string[], change: () => void, server: MariadbServer = db, names?: { point: string; moment: string }): Promise<void> {
  const all = typeof databases === 'string' ? [databases] : databases;
  const { id, backups, serverFile } = await task(`t_${all[0]}`, server);
  const atFull = all.map((d) => mariadbFidelity(server, d));
  const full = await runTask(engine, id, 'full');
  expect(full.status).toBe('success');
  await nextSecond();
  change();
  await nextSecond();
  const moment = new Date();
  const atMoment = all.map((d) => mariadbFidelity(server, d));
  await nextSecond();
  const inc = await runTask(engine, id, 'incremental');
  expect(inc.status).toBe('success');
  for (const [i, database] of all.entries()) {
    expect(rowOf(inc, database)).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG });
    const folder = join(backups, encodeDatabaseFolder(database));
    const repo = await openRepository(new LocalBackend(folder), { key: null, workers: 0 });
    const point = (await repo.listPoints())[0]!.id;
    const { point: p, moment: m } = names ?? { point: `${database}_p`, moment: `${database}_m` };
    await restoreCommand(engine, folder, { point, serverFile, database: p });
    expect(mariadbFidelity(server, p)).toEqual(atFull[i]);
    await restoreCommand(engine, folder, { asOf: moment, serverFile, database: m });
    expect(mariadbFidelity(server, m)).toEqual(atMoment[i]);
  }
}

beforeAll(async () => {
  db = await startMariadb({ binlog: true });
}, 60_000);

beforeEach(async () => {
  engine = await testEngine({ encoderWorkers: 0 });
});

// Every run dumps every database of the server: each test leaves none behind (`slow` is its describe's).
afterEach(() => {
  const left = db.sql("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'slow')").split('\n').filter(Boolean);
  if (left.length) db.sql(left.map((d) => `DROP DATABASE \`${d}\`;`).join(' '));
});

afterAll(async () => {
  await db?.stop();
});

describe('global sql_mode', () => {
  const CONTENT = `CREATE TABLE txt (id INT PRIMARY KEY, s VARCHAR(40), c CHAR(10), b BLOB);
    INSERT INTO txt VALUES (1, 'back\\\\slash \\\\n', 'ab', UNHEX('5C27220A00')), (2, 'it''s "quoted"', 'x', NULL), (3, 'C:\\\\dir\\\\', '', '');
    CREATE TABLE dates (id INT PRIMARY KEY, d DATE NOT NULL DEFAULT '0000-00-00', dt DATETIME, ts TIMESTAMP NULL);
    INSERT INTO dates VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'), (2, '2024-00-10', '2024-02-00 10:00:00', NULL), (3, '2024-05-06', '2024-05-06 07:08:09', '2024-05-06 07:08:09');
    CREATE TABLE nokey (a INT, s VARCHAR(20));
    INSERT INTO nokey VALUES (1, 'one'), (1, 'one'), (2, 'two');
    CREATE VIEW v AS SELECT id, CONCAT(s, '|') AS s FROM txt;
    CREATE FUNCTION f(x VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN CONCAT('<', x, '>');
    CREATE TRIGGER t_ins BEFORE INSERT ON txt FOR EACH ROW SET NEW.s = CONCAT(NEW.s, '!');`;

  for (const mode of ['ORACLE,PAD_CHAR_TO_FULL_LENGTH,NO_BACKSLASH_ESCAPES', 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO']) {
    it(`${mode}: a point and a moment restore exactly (backslashes, quotes, CHAR padding, zero dates)`, async () => {
      const name = mode.startsWith('ORACLE') ? 'mode_oracle' : 'mode_strict';
      const was = db.sql('SELECT @@GLOBAL.sql_mode').trim();
      db.sql(`SET SESSION sql_mode = ''; CREATE DATABASE ${name}; USE ${name}; ${CONTENT}`);
      db.sql(`SET GLOBAL sql_mode = '${mode}'`);
      try {
        await fullChangeRestore(name, () =>
          db.sql(
            // Written in the DBA's mode: under ORACLE/NO_BACKSLASH_ESCAPES a backslash is an ordinary character.
            `${mode.startsWith('ORACLE') ? "INSERT INTO txt VALUES (4, 'new\\one', 'pad', NULL);" : "INSERT INTO txt VALUES (4, 'new\\\\one', 'pad', NULL);"}
             UPDATE txt SET c = 'changed' WHERE id = 2; DELETE FROM txt WHERE id = 3;
             UPDATE dates SET dt = '2025-01-01 00:00:00' WHERE id = 1; DELETE FROM dates WHERE id = 2;
             UPDATE nokey SET s = 'uno' WHERE a = 1 LIMIT 1; DELETE FROM nokey WHERE a = 2;`,
            name,
          ),
        );
        expect(db.sql(`SET SESSION sql_mode = ''; SELECT d, dt FROM ${name}_m.dates ORDER BY id`)).toBe('0000-00-00\t2025-01-01 00:00:00\n2024-05-06\t2024-05-06 07:08:09\n');
      } finally {
        db.sql(`SET GLOBAL sql_mode = '${was}'`);
      }
    }, 60_000);
  }
});

describe('autocommit=0 globally', () => {
  it('restored rows (a point, a moment) are committed: new sessions see them; a failed restore leaves no database', async () => {
    db.sql(
      `CREATE DATABASE ac; USE ac;
       CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a'), (2, 'b');
       CREATE TABLE h (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING; INSERT INTO h VALUES (1, 1); UPDATE h SET v = 2;
       CREATE SEQUENCE s START WITH 100; SELECT NEXTVAL(s);`,
    );
    db.sql('SET GLOBAL autocommit = 0');
    try {
      expect(db.sql('SELECT @@autocommit').trim()).toBe('0');
      await fullChangeRestore('ac', () => db.sql("INSERT INTO t VALUES (3, 'c'); UPDATE t SET v = 'bb' WHERE id = 2; UPDATE h SET v = 3; COMMIT;", 'ac'));
      expect(db.sql('SELECT COUNT(*) FROM t; SELECT COUNT(*) FROM h FOR SYSTEM_TIME ALL', 'ac_m')).toBe('3\n3\n');
      // A restore that fails half-way (a dump cut inside its rows) drops its database: gone for every new session.
      const dump = await connector().openDump('ac', 'logical');
      const chunks: Buffer[] = [];
      for await (const c of dump.stream) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      const cut = text.slice(0, text.indexOf("(1,'a'", text.indexOf('INSERT INTO `t`')) + 4); // inside a string
      const e = await rejection(connector().restore('ac_cut', Readable.from([cut]), 'logical'));
      expect(e).toMatchObject({ code: 'RESTORE_FAILED', message: expect.stringContaining('restoring into database "ac_cut"') });
      expect(exists(db, 'ac_cut')).toBe(false);
    } finally {
      db.sql('SET GLOBAL autocommit = 1');
    }
  }, 60_000);
});

describe('short timeouts', () => {
  afterAll(() => db.sql('DROP DATABASE slow'));
  beforeAll(() => {
    // 8 MB of dump (hex), more than the buffers between the server and the reader hold. Not logged (no log read here).
    db.sql('CREATE DATABASE slow; USE slow; CREATE TABLE big (id INT PRIMARY KEY, b BLOB); SET SESSION sql_log_bin = 0; INSERT INTO big SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_4000;');
  });
  const aborted = () => Number(db.sql("SHOW GLOBAL STATUS LIKE 'Aborted_clients'").trim().split('\t')[1]);

  /** Reads `n` buffers of a dump, then the server closing a connection (Aborted_clients rising), then the rest; returns the failure. */
  async function stalledRead(stream: Readable, n: number): Promise<unknown> {
    const it = stream[Symbol.asyncIterator]();
    try {
      const before = aborted();
      for (let i = 0; i < n; i++) await it.next();
      await waitFor('the server to close the stalled connection', () => aborted() > before);
      while (!(await it.next()).done);
      return null;
    } catch (e) {
      return e;
    }
  }

  it('a dump whose reader stalls past net_write_timeout fails naming the settings and the fix (not as an unreachable server)', async () => {
    const was = db.sql('SELECT @@GLOBAL.net_write_timeout, @@GLOBAL.wait_timeout').trim().split('\t');
    db.sql('SET GLOBAL net_write_timeout = 1; SET GLOBAL wait_timeout = 2');
    try {
      const dump = await connector().openDump('slow', 'logical');
      const e = await stalledRead(dump.stream, 2); // the options header, then the tool's first buffer
      // What the tool says depends on how far the server got before the reader stalled, which the machine's load
      // decides: loopback autotunes the receive buffer (up to tcp_rmem's 32 MB here), and the buffers held 0.9–8 MB of
      // this 8 MB table in 20 runs under load. Cut mid-rows (net_write_timeout), the tool says "Lost connection"
      // (2013, exit code 3); once every row was sent, the idle connection is cut by wait_timeout and the tool's next
      // query fails: it exits 2 saying nothing (seen under load, the reader having got to the table's UNLOCK TABLES),
      // or says "server has gone away" (2006). The same stall either way, and Backstop reports it the same.
      expect(e).toMatchObject({
        code: 'DUMP_FAILED',
        message: expect.stringMatching(
          /^The MySQL\/MariaDB server .* closed the connection of the dump of database "slow" while the dump waited on Backstop .*net_write_timeout allows \(1 s on this server\) or that waits longer than wait_timeout \(2 s\).*Fix: on that server run SET GLOBAL net_write_timeout = 600; SET GLOBAL wait_timeout = 28800;.*\(while dumping database "slow"; exit code \d+\)(?:\.$|: .*(?:Lost connection|[Ss]erver has gone away))/s,
        ),
      });
      await expect(dump.done).rejects.toMatchObject({ code: 'DUMP_FAILED' });
    } finally {
      db.sql(`SET GLOBAL net_write_timeout = ${was[0]}; SET GLOBAL wait_timeout = ${was[1]}`);
    }
  }, 30_000);

  it('in a run: a dump whose connection the server ends fails the database with DUMP_FAILED naming the fix; no point is stored, the previous one restores', async () => {
    db.sql('CREATE DATABASE cut; CREATE TABLE cut.t (id INT PRIMARY KEY); INSERT INTO cut.t VALUES (1), (2);');
    const { id, backups, serverFile } = await task('cut');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    const folder = join(backups, 'cut');
    const repo = await openRepository(new LocalBackend(folder), { key: null, workers: 0 });
    const before = await repo.listPoints();
    // A session holding cut.t keeps the next dump waiting on the server; its connection is ended there (KILL, sooner
    // than any timeout could have: said as such, not as a timeout to raise), then the lock is released.
    const holder = spawn('mariadb', ['--no-defaults', `--socket=${db.socket}`, '--user=root', '-e', 'LOCK TABLES cut.t WRITE; SELECT SLEEP(60)'], { stdio: 'ignore' });
    const released = new Promise((resolve) => holder.on('close', resolve));
    try {
      await waitFor('the lock', () => db.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)'").trim() === '1');
      const { runId } = data(await engine.call('tasks.runNow', { id, kind: 'full' }));
      const waiting = "FROM information_schema.PROCESSLIST WHERE USER = 'backstop' AND STATE LIKE 'Waiting for %'";
      await waitFor('the dump to wait on the lock', () => db.sql(`SELECT COUNT(*) ${waiting}`).trim() === '1');
      db.sql(`SELECT ID ${waiting} INTO @dump; KILL CONNECTION @dump`);
      const run = await waitForRun(engine, runId);
      expect(run.status).toBe('partial'); // the other databases, the log and grants.sql were stored
      expect(rowOf(run, 'cut')).toMatchObject({
        status: 'failed',
        errorCode: 'DUMP_FAILED',
        errorMessage: expect.stringMatching(/ended the connection of the dump of database "cut" before any of its timeouts could have: an administrator ended it \(KILL\), or the server was restarted\. Nothing of this dump was stored; earlier backups are unchanged\. Fix: run the task again once the server accepts connections\./),
      });
    } finally {
      holder.kill();
      await released;
    }
    expect((await repo.listPoints()).map((p) => p.id)).toEqual(before.map((p) => p.id));
    await restoreCommand(engine, folder, { point: before[0]!.id, serverFile, database: 'cut_before' });
    expect(db.sql('SELECT COUNT(*) FROM t', 'cut_before').trim()).toBe('2');
  }, 60_000);

  it('a restore whose source stalls past wait_timeout fails naming the settings and the fix; the new database is removed', async () => {
    const dump = await connector().openDump('slow', 'logical');
    const chunks: Buffer[] = [];
    for await (const c of dump.stream) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks);
    const half = text.indexOf('\n', text.length >> 1) + 1; // a statement boundary in the middle of the rows
    const was = db.sql('SELECT @@GLOBAL.wait_timeout').trim();
    db.sql('SET GLOBAL wait_timeout = 1');
    try {
      const before = aborted();
      async function* source(): AsyncGenerator<Buffer> {
        yield text.subarray(0, half);
        await waitFor('the server to close the idle restore connection', () => aborted() > before);
        yield text.subarray(half);
      }
      const e = await rejection(connector().restore('slow_back', Readable.from(source()), 'logical'));
      expect(e).toMatchObject({
        code: 'RESTORE_FAILED',
        message: expect.stringMatching(
          /^The MySQL\/MariaDB server .* closed the connection of the restore into database "slow_back" while the restore waited on its source .*wait_timeout \(1 s on this server\).*The new database was removed\. Fix: on that server run SET GLOBAL wait_timeout = 28800; SET GLOBAL net_read_timeout = 600;.*\(while restoring into database "slow_back"; exit code 1\): .*ERROR 2006 \(HY000\) at line \d+: Server has gone away/s,
        ),
      });
      expect(exists(db, 'slow_back')).toBe(false);
    } finally {
      db.sql(`SET GLOBAL wait_timeout = ${was}`);
    }
  }, 30_000);
});

describe('binary-log settings', () => {
  for (const image of ['MINIMAL', 'NOBLOB']) {
    it(`binlog_row_image=${image}, gtid_strict_mode=ON: a moment after UPDATEs and DELETEs of tables with and without a primary key restores exactly`, async () => {
      const name = `img_${image.toLowerCase()}`;
      db.sql(
        `CREATE DATABASE ${name}; USE ${name};
         CREATE TABLE pk (id INT PRIMARY KEY, a INT, note VARCHAR(20), b BLOB, t TEXT);
         CREATE TABLE nopk (a INT, note VARCHAR(20), b BLOB);
         CREATE TABLE uk (u INT NOT NULL UNIQUE, a INT, b LONGBLOB);
         INSERT INTO pk VALUES (1, 1, 'one', UNHEX('0001'), 'text one'), (2, 2, 'two', UNHEX('0002'), 'text two'), (3, 3, 'three', NULL, NULL);
         INSERT INTO nopk VALUES (1, 'one', UNHEX('01')), (1, 'one', UNHEX('01')), (2, 'two', NULL), (3, 'three', UNHEX('03'));
         INSERT INTO uk VALUES (1, 1, REPEAT('x', 1000)), (2, 2, NULL);`,
      );
      const was = db.sql('SELECT @@GLOBAL.binlog_row_image, @@GLOBAL.gtid_strict_mode').trim().split('\t');
      db.sql(`SET GLOBAL binlog_row_image = '${image}'; SET GLOBAL gtid_strict_mode = ON`);
      try {
        await fullChangeRestore(name, () =>
          db.sql(
            `UPDATE pk SET a = a + 10 WHERE id = 1; UPDATE pk SET b = UNHEX('FFFF') WHERE id = 2; UPDATE pk SET note = 'drei' WHERE id = 3; DELETE FROM pk WHERE id = 2;
             UPDATE nopk SET note = 'uno' WHERE a = 1 LIMIT 1; UPDATE nopk SET b = UNHEX('0303') WHERE a = 3; DELETE FROM nopk WHERE a = 2;
             UPDATE uk SET a = 10 WHERE u = 1; UPDATE uk SET b = 'new' WHERE u = 2; DELETE FROM uk WHERE u = 1; INSERT INTO uk VALUES (3, 3, 'three');`,
            name,
          ),
        );
      } finally {
        db.sql(`SET GLOBAL binlog_row_image = '${was[0]}'; SET GLOBAL gtid_strict_mode = ${was[1]}`);
      }
    }, 60_000);
  }
});

describe('character sets', () => {
  it('character_set_server latin1: latin1 and utf8mb4 tables with non-ASCII text, a database of the server default and one of another charset', async () => {
    const was = db.sql('SELECT @@GLOBAL.character_set_server, @@GLOBAL.collation_server').trim().split('\t');
    db.sql('SET GLOBAL character_set_server = latin1; SET GLOBAL collation_server = latin1_swedish_ci');
    try {
      db.sql(
        `CREATE DATABASE cs_lat; USE cs_lat;
         CREATE TABLE l (id INT PRIMARY KEY, s VARCHAR(40)); INSERT INTO l VALUES (1, 'Grüße, café, naïve'), (2, '£ ¥ © ÿ');
         CREATE TABLE u (id INT PRIMARY KEY, s VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci); INSERT INTO u VALUES (1, 'Ελληνικά 中文 😀'), (2, 'Grüße');
         CREATE FUNCTION greet(x VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN CONCAT('Grüß ', x);
         CREATE DATABASE cs_u8 CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci; USE cs_u8;
         CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(40), l VARCHAR(40) CHARACTER SET latin1); INSERT INTO t VALUES (1, 'Ελληνικά 😀', 'Grüße');`,
      );
      expect(db.sql("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'cs_lat'").trim()).toBe('latin1');
      await fullChangeRestore(['cs_lat', 'cs_u8'], () =>
        db.sql("INSERT INTO cs_lat.l VALUES (3, 'Ærø Ångström'); UPDATE cs_lat.u SET s = 'Ünïcödé 🎉' WHERE id = 2; DELETE FROM cs_lat.l WHERE id = 2; INSERT INTO cs_u8.t VALUES (2, 'Ελλάδα', 'Ærø');"),
      );
      expect(db.sql('SELECT HEX(s) FROM l ORDER BY id', 'cs_lat_m')).toBe(db.sql('SELECT HEX(s) FROM l ORDER BY id', 'cs_lat'));
      expect(db.sql('SELECT s, l FROM t ORDER BY id', 'cs_u8_m')).toBe('Ελληνικά 😀\tGrüße\nΕλλάδα\tÆrø\n');
    } finally {
      db.sql(`SET GLOBAL character_set_server = ${was[0]}; SET GLOBAL collation_server = ${was[1]}`);
    }
  }, 60_000);
});

describe('lower_case_table_names=1, log_slave_updates, gtid_strict_mode', () => {
  it('mixed-case names restore into mixed-case new names (a point, a moment), and the definer notes find the new database', async () => {
    const lower = await startMariadb({ binlog: true, args: ['--lower-case-table-names=1', '--log-slave-updates=1', '--gtid-strict-mode=1'] });
    try {
      lower.sql(`CREATE DATABASE MixedShop; USE MixedShop; CREATE TABLE CamelItems (Id INT PRIMARY KEY, Name VARCHAR(20)); INSERT INTO CamelItems VALUES (1, 'lamp'), (2, 'desk');
        CREATE VIEW BigItems AS SELECT Id FROM CamelItems WHERE Id > 1;
`);
      await fullChangeRestore('mixedshop', () => lower.sql("INSERT INTO CamelItems VALUES (3, 'chair'); DELETE FROM camelitems WHERE Id = 1;", 'MixedShop'), lower, { point: 'Restored_Point', moment: 'Restored_Moment' });
      // A view run as an account without privileges on the new name: the restore's note finds it in the (lower-cased) new database.
      lower.sql("CREATE USER 'app'@'%'; GRANT SELECT ON MixedShop.* TO 'app'@'%'; CREATE DEFINER = 'app'@'%' VIEW ByApp AS SELECT Name FROM CamelItems;", 'MixedShop');
      const c = connector(lower);
      const dump = await c.openDump('mixedshop', 'logical');
      const report = await c.restore('Noted_Copy', dump.stream, 'logical');
      expect(report.notes).toEqual([expect.stringMatching(/^Views, routines, triggers or events of "Noted_Copy" run as accounts that have no privileges on "Noted_Copy" on this server: 'app'@'%'\./)]);
    } finally {
      await lower.stop();
    }
  }, 60_000);
});

describe('views whose DEFINER was dropped, views reading another database', () => {
  it('restore under a new name (a point, a moment) reading the new database, with a definer note; literals, aliases and the other database kept', async () => {
    db.sql(
      `CREATE DATABASE vshop; CREATE DATABASE vother; CREATE TABLE vother.t (x INT PRIMARY KEY); INSERT INTO vother.t VALUES (5), (6);
       USE vshop; CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO items VALUES (1, 'lamp'), (2, 'vshop');
       CREATE USER 'gone'@'localhost'; GRANT ALL ON vshop.* TO 'gone'@'localhost'; GRANT SELECT ON vother.* TO 'gone'@'localhost';
       CREATE DEFINER = 'gone'@'localhost' VIEW v_orphan AS SELECT id, name, 'vshop.items.name' AS lit, CONCAT('\`vshop\`.', name) AS q, name AS \`vshop\` FROM items;
       CREATE DEFINER = 'gone'@'localhost' SQL SECURITY INVOKER VIEW v_invoker AS SELECT i.id, o.x FROM items i JOIN vother.t o;
       CREATE DEFINER = 'root'@'localhost' VIEW v_base AS SELECT id, name FROM items WHERE id > 1;
       CREATE DEFINER = 'gone'@'localhost' VIEW v_over AS SELECT v_base.id, v_base.name, items.name AS again FROM v_base JOIN items ON v_base.id = items.id;
       CREATE DEFINER = 'root'@'localhost' VIEW v_cross AS SELECT i.id, i.name, o.x FROM items i JOIN vother.t o WHERE o.x = 5;
       DROP USER 'gone'@'localhost';`,
    );
    const views = ['v_base', 'v_cross', 'v_invoker', 'v_orphan', 'v_over'];
    // What the source shows: the orphaned views with their database inside the body, the cross-database one too.
    const definition = (database: string, view: string): string => db.sql(`SHOW CREATE VIEW \`${view}\``, database).split('\t')[1] ?? '';
    expect(definition('vshop', 'v_orphan')).toContain('`vshop`.`items`.`name`');
    expect(definition('vshop', 'v_cross')).toContain('`vshop`.`items`');
    expect(definition('vshop', 'v_over')).toContain('`vshop`.`items`.`name` AS `again`');
    // SELECT as root (SQL SECURITY INVOKER; a DEFINER view of a missing account cannot run, even on the source).
    const results = (database: string) => ({
      v_cross: db.sql('SELECT * FROM v_cross ORDER BY id', database),
      v_invoker: db.sql('SELECT * FROM v_invoker ORDER BY id, x', database),
    });
    const before = results('vshop');
    expect(before.v_invoker).toBe('1\t5\n1\t6\n2\t5\n2\t6\n');
    const { id, backups, serverFile } = await task('t_views');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    // In the log before the moment: a view created by an account that is dropped again (the replay creates it under the new name).
    await nextSecond();
    // The account statements run outside the database: a replay of "vshop" would run those logged under `use vshop` too (a separate issue).
    db.sql("CREATE USER 'gone'@'localhost'; GRANT ALL ON vshop.* TO 'gone'@'localhost';");
    db.sql("CREATE DEFINER = 'gone'@'localhost' VIEW v_late AS SELECT items.id, 'x' AS vshop FROM items;", 'vshop');
    db.sql("DROP USER 'gone'@'localhost';");
    await nextSecond();
    const moment = new Date();
    await nextSecond();
    expect((await runTask(engine, id, 'incremental')).status).toBe('success');
    const folder = join(backups, encodeDatabaseFolder('vshop'));
    const repo = await openRepository(new LocalBackend(folder), { key: null, workers: 0 });
    const point = (await repo.listPoints())[0]!.id;
    // The source changes after the backup: a copy's views must not see it.
    db.sql("UPDATE items SET name = 'changed' WHERE id = 1; INSERT INTO items VALUES (3, 'later')", 'vshop');
    const sourceNow = results('vshop');
    const restored = [
      ['vshop_p', await restoreCommand(engine, folder, { point, serverFile, database: 'vshop_p' })],
      ['vshop_m', await restoreCommand(engine, folder, { asOf: moment, serverFile, database: 'vshop_m' })],
    ] as const;
    db.sql("UPDATE items SET name = 'lamp' WHERE id = 1; DELETE FROM items WHERE id = 3", 'vshop');
    // A test restore of the point (into a scratch name) passes too.
    const server: Server = { id: 'my1', name: 'settings', kind: 'mysql', host: db.host, port: db.port, user: db.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
    const tested = await runTestRestoreJob(
      { op: 'test-restore', restoreId: 'tr', location: { kind: 'local', path: folder }, pointId: point, server, password: db.password, toolPaths: { mysql: null }, database: 'vshop_test', keyBase64: null, credentials: null, folder: null },
      new AbortController().signal,
    );
    expect(tested.checks.map((c) => `${c.name}:${c.ok}`)).toEqual(['restore:true', 'CHECK TABLE:true', 'tables present:true', 'row counts:true']);
    for (const [copy, report] of restored) {
      expect(results(copy), copy).toEqual(before);
      expect(results(copy)).not.toEqual(sourceNow);
      expect(db.sql(`SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${copy}' AND TABLE_NAME = 'v_late'`).trim(), copy).toBe(copy === 'vshop_m' ? '1' : '0');
      for (const view of copy === 'vshop_m' ? [...views, 'v_late'] : views) expect(definition(copy, view), `${copy}.${view}`).toBe(definition('vshop', view).replaceAll('`vshop`.`', `\`${copy}\`.\``));
      // The literal, the string built in the body and the column alias named like the database are as they were.
      expect(definition(copy, 'v_orphan')).toContain("'vshop.items.name' AS `lit`,concat('`vshop`.',");
      expect(definition(copy, 'v_orphan')).toContain('AS `vshop` from');
      expect(definition(copy, 'v_cross')).toContain('`vother`.`t`');
      expect(report.notes, copy).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^Views, routines, triggers or events of "${copy}" are defined by accounts this server does not have: 'gone'@'localhost'\\.`))]));
      // Once the account exists with privileges on the copy, the orphaned views read the copy.
    }
    db.sql("CREATE USER 'gone'@'localhost'; GRANT ALL ON vshop_p.* TO 'gone'@'localhost'; GRANT SELECT ON vother.* TO 'gone'@'localhost';");
    try {
      expect(db.sql('SELECT id, name, lit, q, `vshop` FROM v_orphan ORDER BY id', 'vshop_p')).toBe('1\tlamp\tvshop.items.name\t`vshop`.lamp\tlamp\n2\tvshop\tvshop.items.name\t`vshop`.vshop\tvshop\n');
      expect(db.sql('SELECT * FROM v_over', 'vshop_p')).toBe('2\tvshop\tvshop\n');
      expect(definition('vshop_p', 'v_orphan')).not.toContain('`vshop_p`.');
    } finally {
      db.sql("DROP USER 'gone'@'localhost'");
    }
  }, 60_000);

  it('a view reading a view whose DEFINER was dropped: RESTORE_FAILED naming the account and the fix, nothing left; with the account, it restores', async () => {
    db.sql(
      `CREATE DATABASE vbad; USE vbad; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (7);
       CREATE USER 'gone2'@'localhost'; GRANT ALL ON vbad.* TO 'gone2'@'localhost';
       CREATE DEFINER = 'gone2'@'localhost' VIEW v_a AS SELECT id FROM t;
       CREATE DEFINER = 'root'@'localhost' VIEW v_b AS SELECT id FROM v_a;
       DROP USER 'gone2'@'localhost';`,
    );
    const c = connector();
    const dump = await c.openDump('vbad', 'logical');
    const chunks: Buffer[] = [];
    for await (const b of dump.stream) chunks.push(b as Buffer);
    await dump.done;
    const e = await rejection(c.restore('vbad_copy', Readable.from([Buffer.concat(chunks)]), 'logical', { sourceName: 'vbad' }));
    expect(e).toMatchObject({
      code: 'RESTORE_FAILED',
      message: expect.stringMatching(/^Database "vbad_copy" cannot be restored on the .*: the backup has a view that reads another view defined by 'gone2'@'localhost', .*Nothing was created\. Fix: create the account on this server and grant it on the new name .* first \(e\.g\. CREATE USER 'gone2'@'localhost'; GRANT SELECT ON `vbad_copy`\.\* TO 'gone2'@'localhost';\), then restore again.*Server said: ERROR 1449/),
    });
    expect(exists(db, 'vbad_copy')).toBe(false);
    // The fix the message names.
    db.sql("CREATE USER 'gone2'@'localhost'; GRANT SELECT ON `vbad_copy`.* TO 'gone2'@'localhost';");
    try {
      const report = await c.restore('vbad_copy', Readable.from([Buffer.concat(chunks)]), 'logical', { sourceName: 'vbad' });
      expect(report.notes).toBeUndefined();
      expect(db.sql('SELECT * FROM v_b', 'vbad_copy')).toBe('7\n');
    } finally {
      db.sql("DROP USER 'gone2'@'localhost'");
    }
  }, 30_000);
});
