/**
 * Restore to a moment (dump + binary-log replay under a new name) of the schema features real
 * applications use, against a real MariaDB 10.11 (log on, ROW format), through the engine's
 * task runs and the CLI's restore command. Each test: full → writes at known moments →
 * incremental → restore to a moment between writes into a new name, compared with the source
 * as it was at that moment (every table's content — history rows of system-versioned tables
 * included — and SHOW CREATE of every table, view, trigger and sequence). And a target that
 * forbids the replay's SET TIMESTAMP (secure_timestamp) is refused before anything is created.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
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
const lines = (out: string): string[] => out.split('\n').filter(Boolean);

/**
 * What a restore of `database` must reproduce, its own name left out: mariadbFidelity, plus for
 * every table (system-versioned ones and sequences too) SHOW CREATE and its whole content
 * (history rows included, every column, invisible ones too), ordered; the database's own
 * name, where the server writes it (a sequence default), reads `DB`.
 */
function stateOf(database: string) {
  const lit = `'${database}'`;
  const tables = lines(db.sql(`SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${lit} ORDER BY 1`)).map((l) => l.split('\t') as [string, string]);
  const content: Record<string, string[]> = {};
  const creates: string[] = [];
  for (const [name, type] of tables) {
    const show = type === 'VIEW' ? 'VIEW' : type === 'SEQUENCE' ? 'SEQUENCE' : 'TABLE';
    creates.push(db.sql(`SHOW CREATE ${show} ${q(name)}`, database).split('\t')[1]!.replaceAll(q(database), '`DB`'));
    if (type === 'VIEW') continue;
    const cols = lines(db.sql(`SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${lit} AND TABLE_NAME = '${name}' ORDER BY ORDINAL_POSITION`)).map(q);
    if (type === 'SEQUENCE') {
      content[name] = lines(db.sql(`SELECT * FROM ${q(name)}`, database));
      continue;
    }
    // Implicit ROW_START/ROW_END of a versioned table are not among its columns: asked for by name.
    const implicit = type === 'SYSTEM VERSIONED' && !cols.some((c) => /row_start/i.test(c)) ? ', ROW_START, ROW_END' : '';
    const all = type === 'SYSTEM VERSIONED' ? ' FOR SYSTEM_TIME ALL' : '';
    content[name] = lines(db.sql(`SELECT ${cols.join(', ')}${implicit} FROM ${q(name)}${all} ORDER BY ${cols.join(', ')}${implicit}`, database));
  }
  // A sequence default names its database (`nextval(\`shop\`.\`s\`)`): the restored copy's names its own.
  const fidelity = JSON.parse(JSON.stringify(mariadbFidelity(db, database)).replaceAll(q(database), '`DB`')) as ReturnType<typeof mariadbFidelity>;
  return { fidelity, creates, content };
}

/** A moment in a second of its own and the state of `database` then. */
async function markMoment(database: string): Promise<{ moment: Date; state: ReturnType<typeof stateOf> }> {
  await nextSecond();
  const moment = new Date();
  const state = stateOf(database);
  await nextSecond();
  return { moment, state };
}

function serverFile(user = db.user, password = db.password): string {
  const file = join(tempDir(), 'server.json');
  process.env.FEATURES_TEST_PASSWORD = password;
  writeFileSync(file, JSON.stringify({ kind: 'mysql', host: db.host, port: db.port, user, passwordEnv: 'FEATURES_TEST_PASSWORD', tls: 'disable' }));
  return file;
}

/** A logical task on the server backing up to a new local folder. */
async function task(name: string): Promise<{ id: string; backups: string }> {
  const backups = tempDir();
  const { taskId } = await serverWithTask(engine, { kind: 'mysql', name, host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
  return { id: taskId, backups };
}

/**
 * Creates `database` with `schema`, takes a full, runs `writes` (each in a session of its own),
 * marks a moment, runs `after`, takes an incremental (the log covers the database) and
 * restores the moment into `<database>_back`; returns the source's state at the moment and the restored one.
 */
async function roundTrip(database: string, schema: string, writes: string[], after = ''): Promise<{ expected: ReturnType<typeof stateOf>; restored: ReturnType<typeof stateOf>; notes: string[] }> {
  engine = await testEngine({ encoderWorkers: 0 });
  db.sql(`CREATE DATABASE ${database}`);
  db.sql(schema, database);
  const { id, backups } = await task(database);
  expect((await runTask(engine, id, 'full')).status).toBe('success');
  // Each in a session of its own (a SET SESSION of one stays in it); the moment is in a later second.
  for (const w of writes) db.sql(w, database);
  const { moment, state: expected } = await markMoment(database);
  if (after) db.sql(after, database);
  const inc = await runTask(engine, id, 'incremental');
  expect(inc.databases.find((d) => d.database === database)).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG });
  const r = await restoreCommand(engine, join(backups, database), { asOf: moment, serverFile: serverFile(), database: `${database}_back` });
  return { expected, restored: stateOf(`${database}_back`), notes: r.notes };
}

beforeAll(async () => {
  // secure_timestamp=REPLICATION: the task's user (ALL PRIVILEGES) may set a statement's time, a user without BINLOG REPLAY may not.
  db = await startMariadb({ binlog: true, args: ['--secure-timestamp=REPLICATION'] });
}, 60_000);

afterAll(async () => {
  await db?.stop();
});

describe('MariaDB restore to a moment: schema features', () => {
  it('system-versioned tables (implicit and explicit row_start/row_end, PARTITION BY SYSTEM_TIME, an ALTER TABLE kept by system_versioning_alter_history, binlog_row_image=MINIMAL, DELETE HISTORY): current rows and history equal the source at the moment', async () => {
    const { expected, restored } = await roundTrip(
      'ver',
      `CREATE TABLE plain (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
       CREATE TABLE expl (id INT PRIMARY KEY, v INT, row_start TIMESTAMP(6) AS ROW START INVISIBLE, row_end TIMESTAMP(6) AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME(row_start, row_end)) WITH SYSTEM VERSIONING;
       CREATE TABLE parted (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING PARTITION BY SYSTEM_TIME (PARTITION p_hist HISTORY, PARTITION p_cur CURRENT);
       INSERT INTO plain VALUES (1, 10), (2, 20), (3, 30); INSERT INTO expl VALUES (1, 10), (2, 20), (3, 30); INSERT INTO parted VALUES (1, 10), (2, 20), (3, 30);
       UPDATE plain SET v = 11 WHERE id = 1;`,
      [
        'UPDATE plain SET v = v + 1 WHERE id <= 2; UPDATE expl SET v = v + 1 WHERE id <= 2; UPDATE parted SET v = v + 1 WHERE id <= 2;',
        'DELETE FROM plain WHERE id = 3; DELETE FROM expl WHERE id = 3; DELETE FROM parted WHERE id = 3; INSERT INTO plain VALUES (4, 40); INSERT INTO expl VALUES (4, 40); INSERT INTO parted VALUES (4, 40);',
        // A versioned table's ALTER runs only in a session that keeps its history so (the log does not say).
        `SET SESSION system_versioning_alter_history = KEEP;
         ALTER TABLE plain ADD COLUMN note VARCHAR(10) DEFAULT 'n';
         UPDATE plain SET note = 'x' WHERE id = 1;`,
        // Logged with before images holding the key only (row_end is part of it) and after images the changed columns.
        `SET SESSION binlog_row_image = 'MINIMAL';
         UPDATE expl SET v = v * 2 WHERE id = 4; DELETE FROM expl WHERE id = 2; DELETE HISTORY FROM parted;`,
      ],
      'UPDATE plain SET v = 0; UPDATE expl SET v = 0; DELETE FROM parted;',
    );
    expect(expected.content.plain!.length).toBe(8);
    expect(expected.content.expl!.length).toBe(7);
    expect(expected.content.parted).toEqual([expect.stringMatching(/^1\t11\t/), expect.stringMatching(/^2\t21\t/), expect.stringMatching(/^4\t40\t/)]);
    expect(restored).toEqual(expected);
  }, 60_000);

  it('sequences: the restored sequence never hands out a value NEXTVAL had handed out by the moment', async () => {
    const { expected, restored } = await roundTrip(
      'seqs',
      `CREATE SEQUENCE s_cached START WITH 100 INCREMENT BY 1;
       CREATE SEQUENCE s_nocache START WITH 1 INCREMENT BY 5 NOCACHE;
       CREATE TABLE orders (id BIGINT PRIMARY KEY DEFAULT NEXTVAL(s_cached), n BIGINT DEFAULT NEXTVAL(s_nocache), note VARCHAR(10));
       INSERT INTO orders (note) VALUES ('a'), ('b');`,
      ["INSERT INTO orders (note) VALUES ('c'), ('d'), ('e'); SELECT NEXTVAL(s_cached);", "SELECT SETVAL(s_nocache, 500); INSERT INTO orders (note) VALUES ('f');"],
      "INSERT INTO orders (note) VALUES ('later');",
    );
    expect(restored).toEqual(expected);
    const used = (t: string, c: string) => Number(db.sql(`SELECT MAX(${c}) FROM orders`, t).trim());
    expect(used('seqs_back', 'id')).toBe(106);
    // The next values there are past every value used at the moment.
    expect(Number(db.sql('SELECT NEXTVAL(s_cached)', 'seqs_back').trim())).toBeGreaterThan(used('seqs_back', 'id'));
    expect(Number(db.sql('SELECT NEXTVAL(s_nocache)', 'seqs_back').trim())).toBeGreaterThan(used('seqs_back', 'n'));
    expect(db.sql("INSERT INTO orders (note) VALUES ('new'); SELECT COUNT(*) FROM orders", 'seqs_back').trim()).toBe('7');
  }, 60_000);

  it('AUTO_INCREMENT, generated, invisible and ON UPDATE CURRENT_TIMESTAMP columns, partitions, ON DELETE CASCADE and triggers writing another table', async () => {
    const { expected, restored } = await roundTrip(
      'feat',
      `CREATE TABLE counter (id INT PRIMARY KEY AUTO_INCREMENT, v INT);
       CREATE TABLE gen (id INT PRIMARY KEY, a INT, b INT, total INT AS (a + b) VIRTUAL, doubled INT AS (a * 2) STORED, secret VARCHAR(10) INVISIBLE DEFAULT 'hidden', KEY (doubled));
       CREATE TABLE stamped (id INT PRIMARY KEY, v INT, changed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), touched DATETIME ON UPDATE NOW());
       CREATE TABLE ranged (id INT, k INT, PRIMARY KEY (id, k)) PARTITION BY RANGE (k) (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (100), PARTITION pmax VALUES LESS THAN MAXVALUE);
       CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB;
       CREATE TABLE child (id INT PRIMARY KEY, parent INT, FOREIGN KEY (parent) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB;
       CREATE TABLE grandchild (id INT PRIMARY KEY, child INT, FOREIGN KEY (child) REFERENCES child (id) ON DELETE SET NULL) ENGINE=InnoDB;
       CREATE TABLE log (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(40));
       CREATE TRIGGER counter_ins AFTER INSERT ON counter FOR EACH ROW INSERT INTO log (what) VALUES (CONCAT('ins ', NEW.id));
       CREATE TRIGGER counter_upd BEFORE UPDATE ON counter FOR EACH ROW SET NEW.v = NEW.v * 10;
       CREATE TRIGGER counter_del AFTER DELETE ON counter FOR EACH ROW UPDATE log SET what = CONCAT(what, ' gone') WHERE what = CONCAT('ins ', OLD.id);
       INSERT INTO counter (v) VALUES (1), (2), (3);
       INSERT INTO gen (id, a, b) VALUES (1, 1, 2), (2, 3, 4);
       INSERT INTO stamped (id, v) VALUES (1, 1), (2, 2);
       INSERT INTO ranged VALUES (1, 5), (2, 50), (3, 500);
       INSERT INTO parent VALUES (1), (2), (3);
       INSERT INTO child VALUES (10, 1), (11, 1), (20, 2), (30, 3);
       INSERT INTO grandchild VALUES (100, 10), (200, 20);`,
      [
        `INSERT INTO counter (v) VALUES (4), (5); DELETE FROM counter WHERE id = 5; UPDATE counter SET v = 7 WHERE id = 1;
         UPDATE gen SET a = a + 10, secret = 'shown' WHERE id = 1; INSERT INTO gen (id, a, b, secret) VALUES (3, 5, 6, 'x');
         UPDATE stamped SET v = v + 1 WHERE id = 1;
         UPDATE ranged SET k = 150 WHERE id = 1; UPDATE ranged SET k = 1 WHERE id = 3;
         DELETE FROM parent WHERE id = 1; UPDATE parent SET id = 22 WHERE id = 2;`,
        `INSERT INTO counter (v) VALUES (6); UPDATE stamped SET v = v + 1 WHERE id = 2; DELETE FROM parent WHERE id = 3;`,
      ],
      'INSERT INTO counter (v) VALUES (99); DELETE FROM parent;',
    );
    // The writes did what they should on the source: cascades, triggers, moved rows.
    expect(expected.content.child).toEqual(['20\t22']);
    expect(expected.content.grandchild).toEqual(['100\tNULL', '200\t20']);
    expect(expected.content.log).toEqual(['1\tins 1', '2\tins 2', '3\tins 3', '4\tins 4', '5\tins 5 gone', '6\tins 6']);
    expect(restored).toEqual(expected);
    // The counter goes on after the last id used at the moment (5 was used, then deleted).
    expect(db.sql("INSERT INTO counter (v) VALUES (8); SELECT MAX(id) FROM counter", 'feat_back').trim()).toBe('7');
  }, 60_000);

  it('DDL between the full and the moment: ADD COLUMN (instant), RENAME TABLE, CREATE/DROP TRIGGER, CREATE VIEW, then rows', async () => {
    const { expected, restored } = await roundTrip(
      'ddl',
      `CREATE TABLE item (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20));
       CREATE TABLE old_name (id INT PRIMARY KEY, v INT);
       CREATE TABLE hist (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(40));
       CREATE TRIGGER item_gone AFTER DELETE ON item FOR EACH ROW INSERT INTO hist (what) VALUES (CONCAT('gone ', OLD.name));
       INSERT INTO item (name) VALUES ('lamp'), ('desk'); INSERT INTO old_name VALUES (1, 1);`,
      [
        `ALTER TABLE item ADD COLUMN price DECIMAL(8,2) NOT NULL DEFAULT 1.50, ALGORITHM=INSTANT;
         DROP TRIGGER item_gone;
         CREATE TRIGGER item_new AFTER INSERT ON item FOR EACH ROW INSERT INTO hist (what) VALUES (CONCAT('new ', NEW.name, ' ', NEW.price));
         INSERT INTO item (name, price) VALUES ('chair', 45);
         RENAME TABLE old_name TO new_name;
         INSERT INTO new_name VALUES (2, 2);
         CREATE VIEW dear AS SELECT id, name, price FROM item WHERE price > 10;`,
        `INSERT INTO item (name, price) VALUES ('shelf', 80); DELETE FROM item WHERE name = 'lamp'; UPDATE new_name SET v = 20 WHERE id = 2;`,
      ],
      'ALTER TABLE item DROP COLUMN price; DROP VIEW dear;',
    );
    expect(expected.content.hist).toEqual(['1\tnew chair 45.00', '2\tnew shelf 80.00']);
    expect(restored).toEqual(expected);
  }, 60_000);

  it('a user who may not run what a replay runs (BINLOG REPLAY; SET TIMESTAMP under secure_timestamp): refused before anything is created, naming the privilege or setting and the fix', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    db.sql("CREATE DATABASE sec; CREATE TABLE sec.t (id INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)); INSERT INTO sec.t (id) VALUES (1);");
    db.sql(
      `CREATE USER 'noreplay'@'%' IDENTIFIED BY 'nr-1'; GRANT ALL PRIVILEGES ON *.* TO 'noreplay'@'%'; REVOKE SUPER, BINLOG REPLAY ON *.* FROM 'noreplay'@'%';
       CREATE USER 'superonly'@'%' IDENTIFIED BY 'so-1'; GRANT ALL PRIVILEGES ON *.* TO 'superonly'@'%'; REVOKE BINLOG REPLAY ON *.* FROM 'superonly'@'%';`,
    );
    const { id, backups } = await task('sec');
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    db.sql('INSERT INTO t (id) VALUES (2)', 'sec');
    const { moment, state } = await markMoment('sec');
    expect((await runTask(engine, id, 'incremental')).status).toBe('success');
    const attempt = (user: string, password: string, database: string) => rejection(restoreCommand(engine, join(backups, 'sec'), { asOf: moment, serverFile: serverFile(user, password), database }));
    expect(await attempt('noreplay', 'nr-1', 'sec_noreplay')).toMatchObject({
      code: 'RESTORE_FAILED',
      message: expect.stringMatching(
        /^Database "sec" cannot be restored as of .* on the MySQL\/MariaDB server 127\.0\.0\.1:\d+: user "noreplay" may not run what replaying the binary log runs \(.*the server said: "Access denied; you need \(at least one of\) the SUPER, BINLOG REPLAY privilege\(s\) for this operation"\)\. Nothing was created\. Fix: GRANT BINLOG REPLAY ON \*\.\* TO the user .*, or restore a backup point without --as-of/,
      ),
    });
    expect(await attempt('superonly', 'so-1', 'sec_superonly')).toMatchObject({
      code: 'RESTORE_FAILED',
      message: expect.stringMatching(
        /^Database "sec" cannot be restored as of .*: it has secure_timestamp=REPLICATION, so user "superonly" may not set a statement's time \(SET TIMESTAMP\), .*Nothing was created\. Fix: restore onto a server with secure_timestamp=NO \(or, with secure_timestamp=REPLICATION, as a user with BINLOG REPLAY\), or restore a backup point without --as-of/,
      ),
    });
    expect(db.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'sec\\_%'").trim()).toBe('0');
    // As a user with BINLOG REPLAY the same moment restores, the logged times kept.
    await restoreCommand(engine, join(backups, 'sec'), { asOf: moment, serverFile: serverFile(), database: 'sec_back' });
    expect(stateOf('sec_back')).toEqual(state);
  }, 60_000);
});
