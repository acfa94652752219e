/**
 * A MariaDB 10.11 server set up the way DBAs run them, not the defaults, through the engine's
 * task runs (full, binary-log incremental) and the CLI's restore command (a point, a moment):
 * global sql_mode ANSI_QUOTES + NO_BACKSLASH_ESCAPES, time_zone +05:30 (TIMESTAMP columns),
 * character_set_server latin1 (utf8mb4 databases, mixed per-column charsets),
 * explicit_defaults_for_timestamp OFF, max_allowed_packet 64M, binary log ROW.
 * - the schema features of real applications restore equal to the source (SHOW CREATE of every
 *   object, charsets/collations, routines/triggers/events with their definers, sql_mode and
 *   status, rows and history rows): application-time periods, system versioning, a sequence,
 *   events enabled and disabled, a view whose DEFINER account is gone, tables whose names
 *   differ only in case, 64-character and quoted/unicode identifiers; the restore's notes name the
 *   accounts and roles whose privileges on the original name do not reach the new one;
 * - a run's History row of a database with tables without transactions (MyISAM, Aria) warns
 *   once, counting them per engine, with the fix; a database of InnoDB tables only does not;
 * - a moment whose binary log holds one statement's row changes larger than the target's
 *   max_allowed_packet (the replay sends them as one BINLOG statement: many small rows of an
 *   INSERT … SELECT, no large row) is refused before anything is created, naming the SET GLOBAL.
 * - a moment of a database whose name mariadb-binlog's --rewrite-db cannot carry (`->` in it, a
 *   leading space), or into a new name with a leading space, is refused before anything is
 *   created: the replay would have written into the source database itself.
 * - a moment of a database with a foreign key into another database whose referenced row is
 *   gone from the server since fails naming the key and the fix, nothing left.
 * lower_case_table_names=1 needs a server of its own: mariadb-settings.test.ts and
 * mariadb-binlog.test.ts start one; not repeated here.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

let db: MariadbServer;
let engine: Engine;

const q = (s: string): string => `\`${s.replace(/`/g, '``')}\``;
const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const lines = (out: string): string[] => out.split('\n').filter(Boolean);

/**
 * What a restore of `database` must reproduce, its own name left out: mariadbFidelity, SHOW
 * CREATE of every table/view/sequence, every row (history rows of versioned tables with their
 * row_start/row_end, as UTC), each sequence's state.
 */
function stateOf(database: string) {
  // The server's ANSI_QUOTES quotes names with "…" in SHOW CREATE; a view's body names its database.
  const own = (text: string) => text.replaceAll(q(database), '`DB`').replaceAll(`\\"${database}\\"`, '\\"DB\\"').replaceAll(`"${database}"`, '"DB"');
  const tables = lines(db.sql(`SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${lit(database)} ORDER BY BINARY TABLE_NAME`)).map((l) => l.split('\t') as [string, string]);
  const content: Record<string, string[]> = {};
  const creates: string[] = [];
  for (const [name, type] of tables) {
    const show = type === 'VIEW' ? 'VIEW' : type === 'SEQUENCE' ? 'SEQUENCE' : 'TABLE';
    creates.push(own(db.sql(`SHOW CREATE ${show} ${q(name)}`, database).split('\t')[1]!));
    if (type === 'VIEW') continue;
    if (type === 'SEQUENCE') {
      content[name] = lines(db.sql(`SELECT * FROM ${q(name)}`, database));
      continue;
    }
    const cols = lines(db.sql(`SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${lit(database)} AND TABLE_NAME = ${lit(name)} ORDER BY ORDINAL_POSITION`)).map(q);
    const implicit = type === 'SYSTEM VERSIONED' && !cols.some((c) => /row_start/i.test(c)) ? ', ROW_START, ROW_END' : '';
    const all = type === 'SYSTEM VERSIONED' ? ' FOR SYSTEM_TIME ALL' : '';
    // TIMESTAMPs read in UTC: the same instants whatever the session's zone.
    content[name] = lines(db.sql(`SET time_zone = '+00:00'; SELECT ${cols.join(', ')}${implicit} FROM ${q(name)}${all} ORDER BY ${cols.join(', ')}${implicit}`, database));
  }
  const fidelity = JSON.parse(own(JSON.stringify(mariadbFidelity(db, database)))) as Record<string, string[]>;
  // information_schema orders names without case: "Case" and "case" tie, in any order; sorted exactly here.
  for (const k of Object.keys(fidelity)) fidelity[k] = [...fidelity[k]!].sort();
  return { fidelity, creates, content };
}

function serverFile(): string {
  const file = join(tempDir(), 'server.json');
  process.env.DBA_TEST_PASSWORD = db.password;
  writeFileSync(file, JSON.stringify({ kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: 'DBA_TEST_PASSWORD', tls: 'disable' }));
  return file;
}

/** A logical task on the server (in a new engine: its data dir is the test's) backing up to a new local folder. */
async function task(name: string, dataDir = tempDir('backstop-data-')): Promise<{ id: string; backups: string }> {
  engine = await testEngine({ encoderWorkers: 0, dataDir });
  const backups = tempDir();
  const { taskId } = await serverWithTask(engine, { kind: 'mysql', name, host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
  return { id: taskId, backups };
}

const exists = (name: string): boolean => db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${lit(name)}`).trim() === '1';
const createdDatabases = (): number => Number(db.sql("SHOW GLOBAL STATUS LIKE 'Com_create_db'").trim().split('\t')[1]);

beforeAll(async () => {
  db = await startMariadb({
    binlog: true,
    args: [
      '--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION',
      '--default-time-zone=+05:30',
      '--character-set-server=latin1',
      '--collation-server=latin1_swedish_ci',
      '--explicit-defaults-for-timestamp=OFF',
      '--max-allowed-packet=64M',
    ],
  });
}, 60_000);

afterAll(async () => {
  await db?.stop();
});

describe('a server with non-default settings', () => {
  it('the settings are in force (what the other tests run under)', () => {
    expect(db.sql('SELECT @@GLOBAL.sql_mode, @@GLOBAL.time_zone, @@GLOBAL.character_set_server, @@GLOBAL.explicit_defaults_for_timestamp').trim().split('\t')).toEqual([
      'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION',
      '+05:30',
      'latin1',
      '0',
    ]);
  });

  it('schema features of real applications: a point and a moment restore equal to the source (objects, charsets, definers, sql_mode, event status, rows, history)', async () => {
    const long = 'l'.repeat(64);
    db.sql('CREATE DATABASE app CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    db.sql(
      // Created under the server's sql_mode (ANSI_QUOTES: "…" are names): routines, triggers and events keep it.
      `CREATE TABLE stamps (id INT PRIMARY KEY, created TIMESTAMP, changed TIMESTAMP, note VARCHAR(20) CHARACTER SET latin1, name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin) ENGINE=InnoDB;
       CREATE TABLE prices (id INT, valid_from DATE, valid_to DATE, price DECIMAL(8,2), PERIOD FOR valid (valid_from, valid_to), PRIMARY KEY (id, valid_to)) ENGINE=InnoDB;
       CREATE TABLE hist (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
       CREATE SEQUENCE seq_order START WITH 100 INCREMENT BY 5;
       CREATE TABLE "Case" (id INT PRIMARY KEY, v VARCHAR(10));
       CREATE TABLE "case" (id INT PRIMARY KEY, v VARCHAR(10));
       CREATE TABLE "${long}" ("${long}" INT PRIMARY KEY, "quo""te\`s ä" VARCHAR(10) INVISIBLE DEFAULT 'ü', CONSTRAINT chk CHECK ("${long}" >= 0));
       CREATE TABLE audit (at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6), what VARCHAR(50));
       CREATE TRIGGER "stamps_ai" AFTER INSERT ON stamps FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('stamp ', NEW.id, ' \\ kept'));
       CREATE FUNCTION "quoted"(s VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN CONCAT("s", '\\n', s);
       CREATE EVENT ev_on ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ENABLE DO DELETE FROM audit WHERE at < NOW() - INTERVAL 1 YEAR;
       CREATE EVENT ev_off ON SCHEDULE EVERY 1 HOUR STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM audit;
       CREATE USER 'gone'@'%'; GRANT SELECT ON app.* TO 'gone'@'%';
       CREATE USER 'webapp'@'%'; GRANT SELECT, INSERT ON app.* TO 'webapp'@'%';
       CREATE USER 'rep'@'10.%'; GRANT SELECT ON app.stamps TO 'rep'@'10.%';
       CREATE ROLE approle; GRANT SELECT ON app.* TO approle;
       CREATE USER 'wide'@'%'; GRANT SELECT ON \`app%\`.* TO 'wide'@'%'; GRANT SELECT ON app.* TO 'wide'@'%';
       CREATE DEFINER = 'gone'@'%' SQL SECURITY DEFINER VIEW v_gone AS SELECT id, note FROM stamps;
       DROP USER 'gone'@'%';
       INSERT INTO stamps (id, note, name) VALUES (1, 'café', 'Grüße ✓'), (2, 'back\\slash', 'two');
       UPDATE stamps SET changed = '2026-03-29 02:30:00' WHERE id = 2;
       INSERT INTO prices VALUES (1, '2020-01-01', '2030-01-01', 10.00);
       INSERT INTO hist VALUES (1, 1), (2, 2); UPDATE hist SET v = 10 WHERE id = 1;
       INSERT INTO "Case" VALUES (1, 'upper'); INSERT INTO "case" VALUES (1, 'lower');
       INSERT INTO "${long}" ("${long}", "quo""te\`s ä") VALUES (1, 'ä''\`"');
       SELECT NEXTVAL(seq_order);`,
      'app',
    );
    const { id, backups } = await task('app');
    const full = await runTask(engine, id, 'full');
    expect(full.status).toBe('success');
    const atFull = stateOf('app');
    await nextSecond();
    db.sql(
      `UPDATE prices FOR PORTION OF valid FROM '2025-01-01' TO '2026-01-01' SET price = 12.50 WHERE id = 1;
       UPDATE hist SET v = 20 WHERE id = 2; DELETE FROM hist WHERE id = 1;
       INSERT INTO stamps (id, note, name) VALUES (3, 'moment', 'drei');
       UPDATE "case" SET v = 'lower2'; SELECT NEXTVAL(seq_order);
       ALTER EVENT ev_on DISABLE; CREATE TRIGGER stamps_bu BEFORE UPDATE ON stamps FOR EACH ROW SET NEW.note = CONCAT(NEW.note, '!');`,
      'app',
    );
    await nextSecond();
    const moment = new Date();
    const expected = stateOf('app');
    await nextSecond();
    db.sql("INSERT INTO stamps (id, note) VALUES (4, 'after'); ALTER EVENT ev_off ENABLE; UPDATE stamps SET name = 'later' WHERE id = 1;", 'app');
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.databases.find((d) => d.database === 'app')).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG });
    try {
      const r = await restoreCommand(engine, join(backups, 'app'), { asOf: moment, serverFile: serverFile(), database: 'app_moment' });
      // The replayed ALTER EVENT made the restoring account its definer (the log does not say who ran it): the note says so, and its fix restores it.
      const eventNote = r.notes.find((n) => n.startsWith('Events of "app_moment"'));
      expect(eventNote).toBe(
        `Events of "app_moment" changed by ALTER EVENT in the replayed binary log now have the restoring account 'backstop'@'%' as their definer: \`ev_on\`. ` +
          "ALTER EVENT makes whoever runs it the definer, and the log does not record who ran it on the source (before the replay it was 'root'@'localhost' for `ev_on`). " +
          "Fix: give each event its definer back, keeping its state, e.g. ALTER DEFINER = 'root'@'localhost' EVENT `app_moment`.`ev_on` DISABLE;",
      );
      db.sql(eventNote!.slice(eventNote!.indexOf('ALTER DEFINER')));
      expect(stateOf('app_moment')).toEqual(expected);
      expect(r.notes.join('\n')).toContain("'gone'@'%'");
      // The accounts holding privileges on "app" but none on the new name (not "wide": its `app%` grant reaches it).
      expect(r.notes.filter((n) => n.startsWith('Accounts that hold privileges'))).toEqual([
        `Accounts that hold privileges on "app" on this server have none on the new name "app_moment": 'approle', 'rep'@'10.%', 'webapp'@'%'. Grants name a database, so they stay on the original and were not copied. ` +
          "If applications are to use \"app_moment\" in its place, grant those accounts on the new name what they hold on the original (SHOW GRANTS FOR 'approle'; lists it), e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON `app_moment`.* TO 'approle';",
      ]);
      // The point itself (the full): as the source was then.
      await restoreCommand(engine, join(backups, 'app'), { point: full.databases.find((d) => d.database === 'app')!.pointId!, serverFile: serverFile(), database: 'app_point' });
      expect(stateOf('app_point')).toEqual(atFull);
      expect(atFull.content.stamps).toHaveLength(2);
      expect(atFull.content.hist).toHaveLength(3);
      // The instants kept: read in another zone than the server's, the same UTC times.
      expect(db.sql("SET time_zone = '+00:00'; SELECT changed FROM stamps WHERE id = 2", 'app_point').trim()).toBe('2026-03-28 21:00:00');
    } finally {
      db.sql("DROP DATABASE IF EXISTS app_moment; DROP DATABASE IF EXISTS app_point; DROP USER 'webapp'@'%', 'rep'@'10.%', 'wide'@'%'; DROP ROLE approle;");
    }
  }, 90_000);

  it("a run warns in History about a database's tables without transactions (MyISAM, Aria), once, counted per engine, with the fix; an InnoDB-only database gets none", async () => {
    db.sql(
      `CREATE DATABASE mixed; CREATE DATABASE pure;
       CREATE TABLE mixed.orders (id INT PRIMARY KEY) ENGINE=InnoDB;
       CREATE TABLE mixed.hits (id INT PRIMARY KEY) ENGINE=MyISAM; CREATE TABLE mixed.\`odd \`\`name\` (id INT) ENGINE=MyISAM;
       CREATE TABLE mixed.cache (id INT PRIMARY KEY) ENGINE=Aria;
       CREATE TABLE pure.t (id INT PRIMARY KEY) ENGINE=InnoDB;
       INSERT INTO mixed.hits VALUES (1); INSERT INTO pure.t VALUES (1);`,
    );
    const dataDir = tempDir('backstop-data-');
    const { id } = await task('engines', dataDir);
    const run = await runTask(engine, id, 'full');
    expect(run.status).toBe('success');
    const row = (database: string) => run.databases.find((d) => d.database === database)!;
    // What a script reads: `backstop history --json`, the same row's `warnings`.
    const printed = await cliInProcess('history', '--json', '--limit', '1', '--data-dir', dataDir);
    expect(printed.code).toBe(0);
    const rows = (JSON.parse(printed.out) as Run[])[0]!.databases;
    expect(rows.find((d) => d.database === 'mixed')!.warnings).toEqual(row('mixed').warnings);
    expect(rows.find((d) => d.database === 'pure')).not.toHaveProperty('warnings');
    expect(row('mixed').warnings).toEqual([
      'Tables without transactions in database "mixed" (1 Aria table, 2 MyISAM tables): a backup reads them as they are when it reaches them, not at the moment of its snapshot, ' +
        'so rows written to them while it runs may not match the rest of the database (and a restore to a moment may replay a change the dump already holds). ' +
        'Fix: convert them to InnoDB (ALTER TABLE <table> ENGINE=InnoDB), or schedule the task when nothing writes to them, or accept that their copy may not match (docs/RESTORE.md, MariaDB section).',
    ]);
    // Nothing on the other rows: InnoDB-only databases, the binary log and grants.sql.
    expect(run.databases.filter((d) => d.warnings).map((d) => d.database)).toEqual(['mixed']);
    expect(row('pure')).not.toHaveProperty('warnings');
    // Converted, the next full warns no more.
    db.sql('ALTER TABLE mixed.hits ENGINE=InnoDB; ALTER TABLE mixed.`odd ``name` ENGINE=InnoDB; ALTER TABLE mixed.cache ENGINE=InnoDB;');
    const again = await runTask(engine, id, 'full');
    expect(again.databases.find((d) => d.database === 'mixed')).toMatchObject({ status: 'success' });
    expect(again.databases.find((d) => d.database === 'mixed')!.warnings).toBeUndefined();
  }, 90_000);

  it("a moment whose binary log holds one statement's row changes larger than the target's max_allowed_packet (an INSERT … SELECT of 50,000 small rows): refused before anything is created, naming the SET GLOBAL to run; with it, the moment restores", async () => {
    db.sql('CREATE DATABASE big; CREATE TABLE big.items (id INT PRIMARY KEY, v VARCHAR(100)); INSERT INTO big.items VALUES (0, \'first\');');
    const { id, backups } = await task('big');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    // No large row: 50,000 rows of ~110 bytes in one statement, logged as row events the replay sends as ONE BINLOG statement of ~7 MB.
    db.sql("INSERT INTO items SELECT seq, REPEAT('x', 100) FROM seq_1_to_50000", 'big');
    await nextSecond();
    const moment = new Date();
    const expected = db.sql('SELECT COUNT(*), SUM(CRC32(CONCAT(id, v))) FROM items', 'big');
    await nextSecond();
    expect((await runTask(engine, id, 'incremental')).status).toBe('success');
    db.sql('SET GLOBAL max_allowed_packet = 4194304');
    try {
      const before = createdDatabases();
      const e = await rejection(restoreCommand(engine, join(backups, 'big'), { asOf: moment, serverFile: serverFile(), database: 'big_moment' }));
      expect(e.code).toBe('RESTORE_FAILED');
      expect(e.message).toMatch(
        /^Database "big_moment" cannot be restored on the MySQL\/MariaDB server 127\.0\.0\.1:\d+: the stored binary log holds a statement of [5-9] MB to replay \(the row changes of one statement: a large row, or many rows changed by one INSERT … SELECT, UPDATE or DELETE, replayed as one BINLOG statement\), more than that server's max_allowed_packet of 4 MB, so it would close the connection while loading it\. Nothing was created\. /,
      );
      expect(e.message).toContain('Fix: on that server run SET GLOBAL max_allowed_packet = 1073741824;');
      expect(exists('big_moment')).toBe(false);
      expect(createdDatabases()).toBe(before);
    } finally {
      db.sql('SET GLOBAL max_allowed_packet = 67108864');
    }
    try {
      await restoreCommand(engine, join(backups, 'big'), { asOf: moment, serverFile: serverFile(), database: 'big_moment' });
      expect(db.sql('SELECT COUNT(*), SUM(CRC32(CONCAT(id, v))) FROM items', 'big_moment')).toBe(expected);
      expect(expected).toMatch(/^50001\t/);
    } finally {
      db.sql('DROP DATABASE IF EXISTS big_moment');
    }
  }, 90_000);

  it('a moment of a database whose name mariadb-binlog\'s --rewrite-db cannot carry ("->" in it, a leading space), or into a new name starting with a space: refused before anything is created, the source untouched; its point restores', async () => {
    db.sql("CREATE DATABASE plain; CREATE TABLE plain.t (id INT PRIMARY KEY); CREATE DATABASE `ar->row`; CREATE DATABASE ` lead`; CREATE TABLE `ar->row`.t (id INT PRIMARY KEY); CREATE TABLE ` lead`.t (id INT PRIMARY KEY); INSERT INTO `ar->row`.t VALUES (1); INSERT INTO ` lead`.t VALUES (1);");
    const { id, backups } = await task('names');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    db.sql("INSERT INTO `ar->row`.t VALUES (2); INSERT INTO ` lead`.t VALUES (2);");
    await nextSecond();
    const moment = new Date();
    await nextSecond();
    // Deleted on the source after the moment: a replay applied to the source itself would bring the row back there.
    db.sql("DELETE FROM `ar->row`.t WHERE id = 2; DELETE FROM ` lead`.t WHERE id = 2;");
    expect((await runTask(engine, id, 'incremental')).status).toBe('success');
    const before = createdDatabases();
    const refused = async (source: string, target: string) => rejection(restoreCommand(engine, join(backups, encodeDatabaseFolder(source)), { asOf: moment, serverFile: serverFile(), database: target }));
    const arrow = await refused('ar->row', 'arrow_copy');
    expect(arrow.code).toBe('RESTORE_FAILED');
    expect(arrow.message).toMatch(
      /^Database "ar->row" cannot be restored as of .* into "arrow_copy": the source database's name holds "->", which mariadb-binlog's --rewrite-db reads as the end of a name, so the replay would apply the log's changes to the source database itself \(on its own server\), not to the new one\. Nothing was created\. Fix: restore a backup point without --as-of/,
    );
    const lead = await refused(' lead', 'lead_copy');
    expect(lead.message).toMatch(/^Database " lead" cannot be restored as of .*: the source database's name starts with a space, which mariadb-binlog's --rewrite-db drops, .*Nothing was created\. Fix: restore a backup point without --as-of/);
    const target = await refused('plain', ' plain_copy');
    expect(target.message).toMatch(/: the new name starts with a space, which mariadb-binlog's --rewrite-db drops, .*Nothing was created\. Fix: choose a new name without a leading space, or restore a backup point without --as-of/);
    expect(createdDatabases()).toBe(before);
    for (const name of ['arrow_copy', 'lead_copy', ' plain_copy', 'plain_copy']) expect(exists(name)).toBe(false);
    expect(db.sql('SELECT GROUP_CONCAT(id) FROM `ar->row`.t; SELECT GROUP_CONCAT(id) FROM ` lead`.t').trim().split('\n')).toEqual(['1', '1']);
    // The point (the full) restores under any name.
    try {
      await restoreCommand(engine, join(backups, encodeDatabaseFolder('ar->row')), { point: 'latest', serverFile: serverFile(), database: 'arrow_point' });
      expect(db.sql('SELECT GROUP_CONCAT(id ORDER BY id) FROM t', 'arrow_point').trim()).toBe('1');
    } finally {
      db.sql('DROP DATABASE IF EXISTS arrow_point');
    }
  }, 90_000);

  it("a moment of a database with a foreign key into another database, whose referenced row is gone from the server since: RESTORE_FAILED naming the key's tables and the fix (not a bare 1452), nothing left; the point restores", async () => {
    db.sql(
      `CREATE DATABASE pb; CREATE DATABASE ca; CREATE TABLE pb.parent (id INT PRIMARY KEY);
       CREATE TABLE ca.child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES pb.parent (id));
       INSERT INTO pb.parent VALUES (1); INSERT INTO ca.child VALUES (1, 1);`,
    );
    const { id, backups } = await task('keys');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    db.sql('INSERT INTO pb.parent VALUES (5); INSERT INTO ca.child VALUES (5, 5);');
    await nextSecond();
    const moment = new Date();
    await nextSecond();
    db.sql('DELETE FROM ca.child WHERE id = 5; DELETE FROM pb.parent WHERE id = 5;');
    expect((await runTask(engine, id, 'incremental')).status).toBe('success');
    const e = await rejection(restoreCommand(engine, join(backups, 'ca'), { asOf: moment, serverFile: serverFile(), database: 'ca_moment' }));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(
      /^Database "ca" cannot be restored as of .*Z: its table `child` has a foreign key into another database, `pb`\.`parent`, and the binary log holds a row referencing a row of `pb`\.`parent` that this server does not have now .*The new database "ca_moment" was removed\. Fix: restore a backup point without --as-of .*, or restore as of that moment onto a server whose `pb`\.`parent` still holds the rows the log references\.$/,
    );
    expect(exists('ca_moment')).toBe(false);
    try {
      await restoreCommand(engine, join(backups, 'ca'), { point: 'latest', serverFile: serverFile(), database: 'ca_point' });
      expect(db.sql('SELECT GROUP_CONCAT(id) FROM child', 'ca_point').trim()).toBe('1');
    } finally {
      db.sql('DROP DATABASE IF EXISTS ca_point');
    }
  }, 90_000);
});
