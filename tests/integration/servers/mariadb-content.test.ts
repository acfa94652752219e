/**
 * Real-world MariaDB content through the MySQL/MariaDB connector, on real MariaDB 10.11
 * servers: does a restore into a new name (and a binary-log replay to a moment) bring back
 * exactly what the DBA had? Compared source ↔ copy: SHOW CREATE of every object, every row
 * of every table (invisible columns and, for system-versioned tables, the history rows with
 * their row_start/row_end), sequence state, and everything `mariadbFidelity` compares.
 * - newer table features: system versioning (history kept), SEQUENCE (next value kept),
 *   INVISIBLE, CHECK, virtual/stored generated columns, spatial + SPATIAL INDEX, FULLTEXT,
 *   partitions, MyISAM and Aria, a table without a primary key (replay of UPDATE/DELETE);
 * - identifiers with backquotes, dots, spaces and non-ASCII letters (MariaDB refuses emoji
 *   in names; data keeps them), in a database whose name has a dash and a dot, restored into
 *   a name that has them too;
 * - a 9 MB row (source max_allowed_packet 256M) through dump and restore, a 13 MB one
 *   through a log read and replay; a target whose max_allowed_packet is smaller refuses it
 *   naming the fix, nothing left;
 * - definers the target lacks, or that lack privileges on the new name: the restore works and
 *   its notes name the accounts and the fix (which the test applies); a restoring user
 *   without SET USER: PERMISSION_DENIED naming the grant, nothing left;
 * - a database set up as DBAs do (latin1 with a comment on a utf8mb4 server, utf8mb4_bin): views'
 *   ALGORITHM/SQL SECURITY/CHECK OPTION, routines' sql_mode and COMMENT, events PRESERVE / DISABLE
 *   ON SLAVE / AT, definers restore equal; the note on grants left on the original name names the
 *   accounts granted at database (an escaped `my\_app` pattern), table, column and routine level;
 *   to a moment, such objects and an unnamed ALTER DATABASE of its defaults replayed come back too.
 * The source server logs (ROW); replays use its log as an incremental reads and stores it.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector } from '../../../electron/engine/servers/index.ts';
import type { MysqlConnector } from '../../../electron/engine/servers/mysql/connector.ts';
import { unpackLogFiles } from '../../../electron/engine/servers/mysql/binlog.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

let src: MariadbServer;
let small: MariadbServer;

function connector(server: MariadbServer): MysqlConnector {
  const s: Server = { id: 'c', name: 'content', kind: 'mysql', host: server.host, port: server.port, user: server.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(s, { password: server.password, toolPaths: { mysql: null } }) as Connector as MysqlConnector;
}

const q = (s: string): string => `\`${s.replace(/`/g, '``')}\``;
const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
const lines = (out: string): string[] => out.split('\n').filter(Boolean);

function exists(server: MariadbServer, name: string): boolean {
  return server.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${lit(name)}`).trim() === '1';
}

/**
 * Everything a DBA would compare, the database's own name left out: mariadbFidelity, SHOW
 * CREATE of every table/view/sequence, and per table the row count and a checksum over
 * every column (invisible ones included; system-versioned tables with every history row
 * and its ROW_START/ROW_END), and each sequence's state.
 */
function content(server: MariadbServer, database: string, light = false) {
  const objects = lines(server.sql(`SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${lit(database)} ORDER BY 1`)).map((l) => l.split('\t') as [string, string]);
  const out: Record<string, string> = {};
  for (const [name, type] of objects) {
    const create = server.sql(`SHOW CREATE ${type === 'VIEW' ? 'VIEW' : 'TABLE'} ${q(name)}`, database);
    out[`create ${name}`] = create.slice(create.indexOf('\t') + 1).split('\t')[0]!;
    if (type === 'SEQUENCE') {
      out[`sequence ${name}`] = server.sql(`SELECT * FROM ${q(name)}`, database);
      continue;
    }
    if (type !== 'BASE TABLE' && type !== 'SYSTEM VERSIONED') continue;
    if (light) continue; // large rows: CHECKSUM TABLE (mariadbFidelity) and the test's own MD5s
    const versioned = type === 'SYSTEM VERSIONED';
    const cols = lines(server.sql(`SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${lit(database)} AND TABLE_NAME = ${lit(name)} ORDER BY ORDINAL_POSITION`)).map(
      (c) => `COALESCE(HEX(${q(c)}), 'NULL')`,
    );
    // Implicit row_start/row_end are not listed as columns; explicit ones are.
    if (versioned && !/AS ROW START/.test(out[`create ${name}`]!)) cols.push('HEX(ROW_START)', 'HEX(ROW_END)');
    const rows = `CRC32(CONCAT_WS('|', ${cols.join(', ')}))`;
    out[`rows ${name}`] = server.sql(`SELECT COUNT(*), COALESCE(SUM(${rows}), 0), COALESCE(BIT_XOR(${rows}), 0) FROM ${q(name)}${versioned ? ' FOR SYSTEM_TIME ALL' : ''}`, database).trim();
  }
  return { objects: objects.map((o) => o.join(' ')), out, fidelity: mariadbFidelity(server, database) };
}

async function dumpOf(server: MariadbServer, database: string): Promise<{ file: string; position: { binlogFile: string; binlogPos: number } }> {
  const file = join(tempDir(), 'dump.sql');
  const dump = await connector(server).openDump(database, 'logical');
  await pipeline(dump.stream, createWriteStream(file));
  await dump.done;
  return { file, position: dump.finalMeta!() as { binlogFile: string; binlogPos: number } };
}

/** The closed log files from `first` on, read as a log incremental reads them (over the replication protocol) and unpacked into a temp folder. */
async function logFiles(first: string): Promise<string[]> {
  const read = await connector(src).openServerDump('binlog', {});
  const dir = tempDir();
  const names = await unpackLogFiles(read.stream, dir, (n) => n >= first);
  await read.done;
  return names.map((n) => join(dir, n));
}

/** Full → `change()` → a moment → restore into `target` and replay the log to that moment; returns the source's content at the moment. */
async function restoreToMoment(source: string, target: string, change: () => void, light = false): Promise<{ at: ReturnType<typeof content>; file: string }> {
  const { file, position } = await dumpOf(src, source);
  await nextSecond();
  change();
  await nextSecond();
  const moment = new Date();
  const at = content(src, source, light);
  await nextSecond();
  src.sql(`CREATE TABLE IF NOT EXISTS later_noise (x INT); INSERT INTO later_noise VALUES (1)`, source);
  const files = await logFiles(position.binlogFile);
  const c = connector(src);
  expect(await c.unsafeForReplay(source, files, position.binlogPos, moment)).toBeNull();
  await c.restore(target, createReadStream(file), 'logical');
  await c.replayLog(source, target, files, position.binlogPos, moment);
  return { at, file };
}

beforeAll(async () => {
  [src, small] = await Promise.all([startMariadb({ binlog: true, args: ['--max-allowed-packet=256M'] }), startMariadb()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([src?.stop(), small?.stop()]);
});

describe('newer table features', () => {
  const FEATURES = `
    CREATE TABLE versioned (id INT PRIMARY KEY, v VARCHAR(20)) WITH SYSTEM VERSIONING;
    CREATE TABLE versioned_explicit (id INT PRIMARY KEY, v INT,
      rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING;
    CREATE SEQUENCE seq_order START WITH 100 INCREMENT BY 5 CACHE 10;
    CREATE TABLE hidden (id INT PRIMARY KEY, secret VARCHAR(20) INVISIBLE DEFAULT 'dflt', shown INT);
    CREATE TABLE checked (id INT PRIMARY KEY, qty INT CHECK (qty >= 0), lo INT, hi INT, CONSTRAINT lo_hi CHECK (lo <= hi));
    CREATE TABLE generated (id INT PRIMARY KEY, a INT, b INT, s INT AS (a + b) VIRTUAL, p INT AS (a * b) PERSISTENT, j VARCHAR(40) AS (CONCAT(a, '-', b)) STORED, KEY (p));
    CREATE TABLE places (id INT PRIMARY KEY, pt POINT NOT NULL, shape GEOMETRY NOT NULL, SPATIAL INDEX (pt), SPATIAL INDEX (shape)) ENGINE=InnoDB;
    CREATE TABLE docs (id INT PRIMARY KEY, body TEXT, FULLTEXT KEY (body)) ENGINE=InnoDB;
    CREATE TABLE parted (id INT, at DATE, v INT, PRIMARY KEY (id, at)) PARTITION BY RANGE (YEAR(at)) (PARTITION p2023 VALUES LESS THAN (2024), PARTITION p2024 VALUES LESS THAN (2025), PARTITION pmax VALUES LESS THAN MAXVALUE);
    CREATE TABLE my (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM;
    CREATE TABLE ar (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=Aria TRANSACTIONAL=1 PAGE_CHECKSUM=1;
    CREATE TABLE nopk (a INT, b VARCHAR(10));
    INSERT INTO versioned VALUES (1, 'one'), (2, 'two');
    INSERT INTO versioned_explicit (id, v) VALUES (1, 10), (2, 20);
    DO SLEEP(0.01);
    UPDATE versioned SET v = 'uno' WHERE id = 1;
    DELETE FROM versioned WHERE id = 2;
    UPDATE versioned_explicit SET v = v + 1;
    SELECT NEXTVAL(seq_order), NEXTVAL(seq_order), NEXTVAL(seq_order);
    INSERT INTO hidden (id, secret, shown) VALUES (1, 'psst', 7); INSERT INTO hidden (id, shown) VALUES (2, 8);
    INSERT INTO checked VALUES (1, 5, 1, 2);
    INSERT INTO generated (id, a, b) VALUES (1, 2, 3), (2, 10, 20);
    INSERT INTO places VALUES (1, POINT(1, 2), ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')), (2, POINT(-3.5, 7.25), ST_GeomFromText('LINESTRING(0 0,1 1,2 3)'));
    INSERT INTO docs VALUES (1, 'the quick brown fox'), (2, 'lazy dogs sleep all day');
    INSERT INTO parted VALUES (1, '2023-05-01', 1), (2, '2024-06-01', 2), (3, '2030-01-01', 3);
    INSERT INTO my VALUES (1, 'myisam'); INSERT INTO ar VALUES (1, 'aria');
    INSERT INTO nopk VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'c');`;

  test('every feature survives a restore into a new name: history rows, sequence value, invisible, check, generated, spatial, fulltext, partitions, MyISAM, Aria', async () => {
    src.sql('CREATE DATABASE features CHARACTER SET utf8mb4');
    src.sql(FEATURES, 'features');
    const { file } = await dumpOf(src, 'features');
    const before = content(src, 'features');
    expect(before.out['rows versioned']).toMatch(/^3\t/); // 1 current + 2 history
    await connector(src).restore('features_r', createReadStream(file), 'logical');
    try {
      expect(content(src, 'features_r')).toEqual(before);
      // They work: the sequence continues where the source does, the check still refuses, fulltext and spatial answer.
      // (A restored sequence, like one after a server restart, continues after the values the source had cached.)
      expect(src.sql('SELECT NEXTVAL(seq_order)', 'features_r').trim()).toBe(before.out['sequence seq_order']!.split('\t')[0]);
      expect(() => src.sql('INSERT INTO checked VALUES (2, -1, 1, 2)', 'features_r')).toThrow(/CONSTRAINT `checked.qty` failed/);
      expect(src.sql("SELECT id FROM docs WHERE MATCH(body) AGAINST('fox')", 'features_r').trim()).toBe('1');
      expect(src.sql('SELECT id FROM places WHERE MBRContains(shape, POINT(5, 5))', 'features_r').trim()).toBe('1');
      expect(src.sql('SELECT COUNT(*) FROM versioned FOR SYSTEM_TIME ALL', 'features_r').trim()).toBe('3');
    } finally {
      src.sql('DROP DATABASE IF EXISTS features_r');
    }
  });

  test('transaction-precise history (ROW START a transaction id, which mariadb-dump --dump-history refuses): the dump works, current rows restore, the history is left out', async () => {
    src.sql('CREATE DATABASE trx_history');
    src.sql(
      `CREATE TABLE versioned_trx (id INT PRIMARY KEY, v INT,
         ts BIGINT UNSIGNED GENERATED ALWAYS AS ROW START, te BIGINT UNSIGNED GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (ts, te)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
       CREATE TABLE plain (id INT PRIMARY KEY);
       INSERT INTO versioned_trx (id, v) VALUES (1, 1), (2, 2); UPDATE versioned_trx SET v = 3 WHERE id = 1; INSERT INTO plain VALUES (1);`,
      'trx_history',
    );
    const { file } = await dumpOf(src, 'trx_history');
    await connector(src).restore('trx_history_r', createReadStream(file), 'logical');
    try {
      const current = 'SELECT id, v FROM versioned_trx ORDER BY id; SELECT COUNT(*) FROM plain;';
      expect(src.sql(current, 'trx_history_r')).toBe(src.sql(current, 'trx_history'));
      expect(src.sql('SELECT COUNT(*) FROM versioned_trx FOR SYSTEM_TIME ALL', 'trx_history').trim()).toBe('3');
      expect(src.sql('SELECT COUNT(*) FROM versioned_trx FOR SYSTEM_TIME ALL', 'trx_history_r').trim()).toBe('2');
      expect(mariadbFidelity(src, 'trx_history_r').columns).toEqual(mariadbFidelity(src, 'trx_history').columns);
    } finally {
      src.sql('DROP DATABASE IF EXISTS trx_history_r');
    }
  });

  test('a test restore of system-versioned tables: they are listed, and their rows (history included) match the counts recorded while dumping', async () => {
    src.sql('CREATE DATABASE hist_facts');
    src.sql(
      `CREATE TABLE plain (id INT PRIMARY KEY); INSERT INTO plain VALUES (1), (2);
       CREATE TABLE ve (id INT PRIMARY KEY, v INT, rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING;
       INSERT INTO ve (id, v) VALUES (1, 1), (2, 2); UPDATE ve SET v = 5 WHERE id = 1; DELETE FROM ve WHERE id = 2;`,
      'hist_facts',
    );
    const c = connector(src);
    const dump = await c.openDump('hist_facts', 'logical');
    const file = join(tempDir(), 'dump.sql');
    const out = createWriteStream(file);
    for await (const chunk of dump.stream) {
      dump.facts!.observe(chunk as Buffer);
      out.write(chunk);
    }
    await new Promise((r) => out.end(r));
    const facts = dump.facts!.result();
    expect(facts).toEqual({ facts: expect.objectContaining({ tables: { plain: 2, ve: 3 } }) }); // 1 current + 2 history rows
    await c.restore('hist_facts_r', createReadStream(file), 'logical');
    try {
      const seen = await c.inspectRestored('hist_facts_r', ['plain', 've']);
      expect(seen.tables).toEqual(['plain', 've']);
      expect(seen.counts).toEqual({ plain: 2, ve: 3 });
      expect(seen.checks).toEqual([expect.objectContaining({ name: 'CHECK TABLE', ok: true })]);
    } finally {
      src.sql('DROP DATABASE IF EXISTS hist_facts_r');
    }
  });

  test('restore to a moment replays changes of every feature, UPDATE/DELETE of a table without a primary key included', async () => {
    src.sql('CREATE DATABASE features_pitr CHARACTER SET utf8mb4');
    src.sql(FEATURES, 'features_pitr');
    const { at } = await restoreToMoment('features_pitr', 'features_pitr_r', () =>
      src.sql(
        `UPDATE versioned SET v = 'eins' WHERE id = 1; INSERT INTO versioned VALUES (3, 'three');
         UPDATE versioned_explicit SET v = v * 2 WHERE id = 2; DELETE FROM versioned_explicit WHERE id = 1;
         SELECT NEXTVAL(seq_order); SELECT SETVAL(seq_order, 500);
         UPDATE hidden SET secret = 'changed' WHERE id = 2; INSERT INTO hidden (id, secret, shown) VALUES (3, 'new', 9);
         UPDATE generated SET a = 100 WHERE id = 1;
         UPDATE places SET pt = POINT(9, 9) WHERE id = 2;
         INSERT INTO docs VALUES (3, 'a fox again');
         UPDATE parted SET at = '2023-01-01' WHERE id = 3; INSERT INTO parted VALUES (4, '2024-02-02', 4);
         UPDATE my SET v = 'myisam2'; INSERT INTO ar VALUES (2, 'aria2');
         UPDATE nopk SET b = 'z' WHERE a = 1 LIMIT 1; DELETE FROM nopk WHERE a = 2; INSERT INTO nopk VALUES (4, 'd');`,
        'features_pitr',
      ),
    );
    try {
      expect(content(src, 'features_pitr_r')).toEqual(at);
      expect(src.sql('SELECT b FROM nopk ORDER BY a, b', 'features_pitr_r').trim()).toBe('a\nz\nc\nd');
    } finally {
      src.sql('DROP DATABASE IF EXISTS features_pitr_r');
    }
  });
});

describe('identifiers', () => {
  const DB = 'shop-2024.eu';
  const TARGET = 'shop-2024.eu restored.v2';
  const OBJECTS = `
    CREATE TABLE \`we\`\`ird\` (\`col\`\`q\` INT PRIMARY KEY, \`dot.ted col\` VARCHAR(20), \`ünï ✓\` VARCHAR(20));
    CREATE TABLE \`dot.ted\` (id INT PRIMARY KEY AUTO_INCREMENT, \`sp ace\` INT);
    CREATE TABLE \`Ünïcødé €\` (\`ключ\` INT PRIMARY KEY, \`値\` VARCHAR(10));
    INSERT INTO \`we\`\`ird\` VALUES (1, 'x.y', 'ü😀'), (2, NULL, 'z');
    INSERT INTO \`dot.ted\` (\`sp ace\`) VALUES (10), (20);
    INSERT INTO \`Ünïcødé €\` VALUES (1, '一'), (2, '二');
    CREATE VIEW \`view.with \`\` all ✓\` AS SELECT \`col\`\`q\`, \`ünï ✓\` FROM \`we\`\`ird\`;
    CREATE FUNCTION \`fn.dot ✓\`(\`p a\` INT) RETURNS INT DETERMINISTIC RETURN \`p a\` * 2;
    CREATE PROCEDURE \`proc\`\`q\`() SELECT COUNT(*) FROM \`dot.ted\`;
    CREATE TRIGGER \`trg.dot ü\` BEFORE INSERT ON \`dot.ted\` FOR EACH ROW SET NEW.\`sp ace\` = COALESCE(NEW.\`sp ace\`, 0) + 1;
    CREATE EVENT \`ev €\` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM \`dot.ted\` WHERE id < 0;`;

  test('names with backquotes, dots, spaces and non-ASCII letters, in a database named with a dash and a dot, restore into such a name', async () => {
    src.sql(`CREATE DATABASE ${q(DB)} CHARACTER SET utf8mb4`);
    src.sql(OBJECTS, DB);
    const { file } = await dumpOf(src, DB);
    const before = content(src, DB);
    expect(before.objects).toHaveLength(4);
    await connector(src).restore(TARGET, createReadStream(file), 'logical');
    try {
      expect(content(src, TARGET)).toEqual(before);
      expect(src.sql('SELECT `fn.dot ✓`(21)', TARGET).trim()).toBe('42');
      expect(src.sql('CALL `proc``q`()', TARGET).trim()).toBe('2');
      expect(src.sql('SELECT COUNT(*) FROM `view.with `` all ✓`', TARGET).trim()).toBe('2');
    } finally {
      src.sql(`DROP DATABASE IF EXISTS ${q(TARGET)}`);
    }
  });

  test('restore to a moment of such a database into such a name', async () => {
    const source = 'pitr-2024.eu ✓';
    const target = 'pitr-2024.eu.r-1';
    src.sql(`CREATE DATABASE ${q(source)} CHARACTER SET utf8mb4`);
    src.sql(OBJECTS, source);
    const { at } = await restoreToMoment(source, target, () =>
      src.sql('INSERT INTO `dot.ted` (`sp ace`) VALUES (30); UPDATE `we``ird` SET `dot.ted col` = \'a.b\' WHERE `col``q` = 2; DELETE FROM `Ünïcødé €` WHERE `ключ` = 1;', source),
    );
    try {
      expect(content(src, target)).toEqual(at);
      expect(content(src, source)).not.toEqual(at); // the source moved on (later_noise); the copy stopped at the moment
    } finally {
      src.sql(`DROP DATABASE IF EXISTS ${q(target)}`);
    }
  });
});

describe('triggers created from another session (names qualified with their database)', () => {
  test('restored under a new name they go on the new database’s tables — never on the source’s (on the source server: "already exists"; elsewhere: added to a database of the source’s name)', async () => {
    const DEF = `CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20), n INT DEFAULT 0)`;
    src.sql(`CREATE DATABASE trg_src; ${DEF.replace('item', 'trg_src.item')}; CREATE TABLE trg_src.log (id INT)`);
    // As an admin script writes them: from no database, every name qualified (bare and backquoted).
    src.sql(`CREATE TRIGGER trg_src.up BEFORE INSERT ON trg_src.item FOR EACH ROW SET NEW.name = UPPER(NEW.name);
      CREATE TRIGGER \`trg_src\`.\`logged\` after insert ON \`trg_src\`.item FOR EACH ROW INSERT INTO log VALUES (NEW.id);
      CREATE TRIGGER trg_src.audited AFTER UPDATE ON trg_src.item FOR EACH ROW INSERT INTO trg_src.log VALUES (-NEW.id);
      CREATE PROCEDURE trg_src.purge() DELETE FROM \`trg_src\` . log WHERE id < 0;
      CREATE PROCEDURE trg_src.fine() DELETE FROM log WHERE id < 0`);
    const { file } = await dumpOf(src, 'trg_src');
    const triggers = (server: MariadbServer, db: string) =>
      server.sql(`SELECT GROUP_CONCAT(CONCAT(TRIGGER_NAME, ' ', ACTION_TIMING, ' ', EVENT_MANIPULATION, ' ON ', EVENT_OBJECT_SCHEMA, '.', EVENT_OBJECT_TABLE) ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${lit(db)}`).trim();
    // Another server with a database of the source's name (and no triggers): a restore under a new name must leave it alone.
    small.sql(`CREATE DATABASE trg_src; ${DEF.replace('item', 'trg_src.item')}; CREATE TABLE trg_src.log (id INT)`);
    try {
      for (const server of [src, small]) {
        const report = await connector(server).restore('trg_copy', createReadStream(file), 'logical', { sourceName: 'trg_src' });
        // A body naming the original database keeps it (written so): a note says which.
        expect(report.notes).toEqual([
          'The bodies of procedure `purge`, trigger `audited` in "trg_copy" appear to name the original database `trg_src` (`trg_src`.table): restored as they were written, they still read and write `trg_src`, not "trg_copy". To have them use the copy, re-create them without the database name (SHOW CREATE … gives their text).',
        ]);
        expect(triggers(server, 'trg_copy')).toBe('audited AFTER UPDATE ON trg_copy.item,logged AFTER INSERT ON trg_copy.item,up BEFORE INSERT ON trg_copy.item');
        server.sql(`INSERT INTO item (id, name) VALUES (1, 'abc')`, 'trg_copy');
        expect(server.sql(`SELECT name FROM item UNION ALL SELECT COUNT(*) FROM log`, 'trg_copy').trim()).toBe('ABC\n1');
      }
      expect(triggers(src, 'trg_src')).toBe('audited AFTER UPDATE ON trg_src.item,logged AFTER INSERT ON trg_src.item,up BEFORE INSERT ON trg_src.item');
      expect(triggers(small, 'trg_src')).toBe('NULL');
    } finally {
      for (const server of [src, small]) server.sql(`DROP DATABASE IF EXISTS trg_copy; DROP DATABASE IF EXISTS trg_src`);
    }
  });
});

describe('a large row', () => {
  test('dump and restore carry a 9 MB row (an 18 MB statement as hex), a 13 MB one a log read and replay (source max_allowed_packet 256M); a target whose max_allowed_packet (16 MB) is smaller refuses it naming the fix, nothing left there', async () => {
    src.sql('CREATE DATABASE big CHARACTER SET utf8mb4');
    src.sql(
      `CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT);
       INSERT INTO blobs VALUES (1, REPEAT(RANDOM_BYTES(1024), 9 * 1024), REPEAT('Grüße ✓ ', 1000)), (2, UNHEX('00FF'), 'small');`,
      'big',
    );
    expect(Number(src.sql('SELECT LENGTH(b) FROM blobs WHERE id = 1', 'big'))).toBe(9 * 1024 * 1024);
    const rows = 'SELECT id, LENGTH(b), MD5(b), MD5(t) FROM blobs ORDER BY id';
    let atRows = '';
    const { at, file } = await restoreToMoment(
      'big',
      'big_r',
      () => {
        // A 13 MB row in the log (its event, replayed as base64, is ~17 MB: past the 16 MB default too), a small change beside it.
        src.sql("INSERT INTO blobs VALUES (3, REPEAT(RANDOM_BYTES(1024), 13 * 1024), REPEAT('ü', 1000)); UPDATE blobs SET t = 'changed' WHERE id = 2;", 'big');
        atRows = src.sql(rows, 'big');
      },
      true,
    );
    try {
      expect(content(src, 'big_r', true)).toEqual(at);
      expect(src.sql(rows, 'big_r')).toBe(atRows);
      expect(atRows).toMatch(/^1\t9437184\t.*\n2\t2\t.*\n3\t13631488\t/);
    } finally {
      src.sql('DROP DATABASE IF EXISTS big_r');
    }
    // The same dump onto a server with the default max_allowed_packet (16M).
    expect(small.sql('SELECT @@max_allowed_packet').trim()).toBe(String(16 * 1024 * 1024));
    const e = await rejection(connector(small).restore('big_small', createReadStream(file), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/max_allowed_packet/);
    expect(e.message).toContain('SET GLOBAL max_allowed_packet = 1073741824;');
    expect(exists(small, 'big_small')).toBe(false);
  }, 60_000);
});

describe('definers', () => {
  test('objects defined by `app`@`%` (privileges on the source database only), restored into a new name: on a server without the account, and on the source server; the notes name the accounts and the fixes, which work', async () => {
    src.sql(`CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; CREATE DATABASE definers; GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON definers.* TO 'app'@'%';`);
    src.sql(
      `CREATE TABLE t (id INT PRIMARY KEY, n INT DEFAULT 0);
       INSERT INTO t (id) VALUES (1), (2);
       CREATE DEFINER='app'@'%' VIEW v AS SELECT id FROM t;
       CREATE DEFINER='root'@'localhost' VIEW v_root AS SELECT id FROM t;
       CREATE DEFINER='app'@'%' SQL SECURITY INVOKER VIEW v_invoker AS SELECT id FROM t;
       CREATE DEFINER='app'@'%' FUNCTION f() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM t);
       CREATE DEFINER='app'@'%' PROCEDURE p() SELECT COUNT(*) FROM t;
       CREATE DEFINER='app'@'%' TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW SET NEW.n = OLD.n + 1;
       CREATE DEFINER='app'@'%' EVENT ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM t WHERE id < 0;`,
      'definers',
    );
    const { file } = await dumpOf(src, 'definers');
    const fixOf = (note: string) => /GRANT [^;]+;/.exec(note)![0];
    const works = (server: MariadbServer, db: string) => {
      expect(server.sql('SELECT COUNT(*) FROM v; SELECT COUNT(*) FROM v_root; SELECT f(); CALL p();', db).trim().split('\n')).toEqual(['2', '2', '2', '2']);
      server.sql('UPDATE t SET id = id WHERE id = 1', db); // fires the trigger
      expect(server.sql('SELECT n FROM t WHERE id = 1', db).trim()).toBe('1');
    };

    // The source server has the account, with privileges on `definers` only: the objects fail under the new name.
    const here = await connector(src).restore('definers_here', createReadStream(file), 'logical');
    try {
      expect(here.notes).toEqual([expect.stringContaining(`run as accounts that have no privileges on "definers_here" on this server: 'app'@'%'.`)]);
      expect(() => src.sql('SELECT COUNT(*) FROM v', 'definers_here')).toThrow(/ERROR 1356 /);
      expect(fixOf(here.notes![0]!)).toBe("GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON `definers_here`.* TO 'app'@'%';");
      src.sql(fixOf(here.notes![0]!));
      works(src, 'definers_here');
    } finally {
      src.sql('DROP DATABASE IF EXISTS definers_here');
    }

    // A server without the account: everything is created as in the source (same definers) but fails with 1449.
    const report = await connector(small).restore('definers_r', createReadStream(file), 'logical');
    try {
      expect(report.notes).toEqual([expect.stringContaining(`defined by accounts this server does not have: 'app'@'%'. They were restored, but using them fails (error 1449`)]);
      expect(report.notes![0]).toContain('backstop apply-globals <backup root>/~server --server server.json');
      const { views: _v, ...withoutViews } = mariadbFidelity(src, 'definers');
      expect(mariadbFidelity(small, 'definers_r')).toMatchObject(withoutViews);
      expect(() => small.sql('SELECT COUNT(*) FROM v', 'definers_r')).toThrow(/ERROR 1449 .*'app'@'%'/);
      // The fix the note names: the backed-up accounts applied (as a user that may grant) ...
      const grants = await connector(src).openServerDump('grants.sql');
      const chunks: Buffer[] = [];
      for await (const c of grants.stream) chunks.push(c as Buffer);
      small.sql("GRANT ALL PRIVILEGES ON *.* TO 'backstop'@'%' WITH GRANT OPTION");
      const applied = await connector(small).applyAccounts(Buffer.concat(chunks).toString('utf8'), { dryRun: false });
      expect(applied.objects).toContainEqual(expect.objectContaining({ name: 'user `app`@`%`', action: 'created' }));
      // ... which then lack privileges on the new name, as on the source server: a restore now says so, and its fix makes them work.
      small.sql('DROP DATABASE definers_r');
      const again = await connector(small).restore('definers_r', createReadStream(file), 'logical');
      expect(again.notes).toEqual([expect.stringContaining(`run as accounts that have no privileges on "definers_r" on this server: 'app'@'%'.`)]);
      small.sql(fixOf(again.notes![0]!));
      expect(mariadbFidelity(small, 'definers_r')).toEqual(mariadbFidelity(src, 'definers'));
      works(small, 'definers_r');
    } finally {
      small.sql('DROP DATABASE IF EXISTS definers_r');
    }

    // A restoring user that may not name other definers (no SET USER): PERMISSION_DENIED naming the grant to run, nothing left.
    small.sql("CREATE USER 'restorer'@'%' IDENTIFIED BY 'restorer-pw'; GRANT ALL PRIVILEGES ON `lim\\_%`.* TO 'restorer'@'%';");
    const restorer = connectorFor(
      { id: 'r', name: 'restorer', kind: 'mysql', host: small.host, port: small.port, user: 'restorer', tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' },
      { password: 'restorer-pw', toolPaths: { mysql: null } },
    );
    const e = await rejection(restorer.restore('lim_definers', createReadStream(file), 'logical'));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toMatch(/may not create objects .* whose DEFINER is another account .* Fix: GRANT SET USER ON \*\.\* TO <that user>;/);
    expect(exists(small, 'lim_definers')).toBe(false);
  });

  test("a database as a DBA sets it up (latin1 with a comment on a utf8mb4 server; utf8mb4_bin) restores equal: views' ALGORITHM, SQL SECURITY and CHECK OPTION, routines' sql_mode and COMMENT, events ON COMPLETION PRESERVE / DISABLE ON SLAVE / AT, definers; the note names every account granted on it — database (an escaped `\\_` pattern), table, column, routine, a role", async () => {
    src.sql(
      `CREATE DATABASE my_app CHARACTER SET latin1 COLLATE latin1_swedish_ci COMMENT 'the app';
       CREATE DATABASE bin_app CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
       CREATE TABLE bin_app.k (s VARCHAR(10) PRIMARY KEY); INSERT INTO bin_app.k VALUES ('a'), ('A');
       CREATE USER 'owner'@'localhost'; GRANT ALL ON \`my\\_app\`.* TO 'owner'@'localhost';
       CREATE USER 'esc'@'%'; GRANT SELECT, INSERT ON \`my\\_app\`.* TO 'esc'@'%';
       CREATE USER 'wide'@'%'; GRANT SELECT ON \`my\\_app%\`.* TO 'wide'@'%';
       CREATE USER 'tbl'@'%'; CREATE USER 'col'@'%'; CREATE USER 'fn'@'%'; CREATE USER 'elsewhere'@'%'; CREATE ROLE app_reader;
       GRANT SELECT ON bin_app.* TO 'elsewhere'@'%';`,
    );
    src.sql(
      `CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin COMMENT 'own charset', CHECK (id > 0)) CHARACTER SET utf8mb4 COMMENT 'a table';
       INSERT INTO t VALUES (1, 'é', 'Ü');
       SET sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT';
       CREATE DEFINER = 'owner'@'localhost' FUNCTION f(s VARCHAR(5)) RETURNS VARCHAR(20) DETERMINISTIC COMMENT 'a function' RETURN 'x' || s;
       CREATE DEFINER = 'owner'@'localhost' PROCEDURE p() SQL SECURITY INVOKER COMMENT 'a procedure' SELECT "a" FROM t;
       SET sql_mode = DEFAULT;
       CREATE ALGORITHM = MERGE DEFINER = 'owner'@'localhost' SQL SECURITY INVOKER VIEW vw AS SELECT id, a FROM t WITH CASCADED CHECK OPTION;
       CREATE ALGORITHM = TEMPTABLE DEFINER = 'owner'@'localhost' VIEW vw_count AS SELECT COUNT(*) AS c FROM t;
       CREATE DEFINER = 'owner'@'localhost' TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = UPPER(NEW.a);
       CREATE DEFINER = 'owner'@'localhost' EVENT ev_daily ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE ON SLAVE COMMENT 'an event' DO DELETE FROM t WHERE id > 100;
       CREATE EVENT ev_once ON SCHEDULE AT '2031-01-01 00:00:00' ON COMPLETION PRESERVE ENABLE DO DELETE FROM t;
       GRANT SELECT ON my_app.t TO 'tbl'@'%';
       GRANT SELECT (a), UPDATE (b) ON my_app.t TO 'col'@'%';
       GRANT EXECUTE ON FUNCTION my_app.f TO 'fn'@'%';
       GRANT SELECT (id) ON my_app.t TO app_reader;`,
      'my_app',
    );
    const restored: string[] = [];
    try {
      for (const [name, copy] of [['my_app', 'my_app_copy'], ['bin_app', 'bin_app_copy']] as const) {
        const own = (c: ReturnType<typeof content>, db: string) => JSON.parse(JSON.stringify(c).replaceAll(`\`${db}\``, '`DB`')) as unknown;
        const before = content(src, name);
        const { file } = await dumpOf(src, name);
        restored.push(copy);
        const report = await connector(src).restore(copy, createReadStream(file), 'logical', { sourceName: name });
        expect(own(content(src, copy), copy)).toEqual(own(before, name));
        if (name === 'bin_app') {
          // 'elsewhere' holds privileges on bin_app by name: named for that copy.
          expect(report.notes).toEqual([expect.stringContaining(`have none on the new name "bin_app_copy": 'elsewhere'@'%'.`)]);
          continue;
        }
        expect(before.fidelity.database).toEqual(['latin1\tlatin1_swedish_ci\tthe app']);
        expect(before.fidelity.events).toEqual([expect.stringContaining('\tSLAVESIDE_DISABLED\tPRESERVE\tan event\t'), expect.stringContaining('\tONE TIME\t')]);
        // Every account granted on my_app at any level but none on my_app_copy; not 'wide' (`my\_app%` reaches the copy), not the
        // definer 'owner' (the definer note names it), not 'elsewhere'.
        expect(report.notes!.filter((n) => n.startsWith('Accounts that hold privileges'))).toEqual([
          `Accounts that hold privileges on "my_app" on this server have none on the new name "my_app_copy": 'app_reader', 'col'@'%', 'esc'@'%', 'fn'@'%', 'tbl'@'%'. Grants name a database, so they stay on the original and were not copied. ` +
            "If applications are to use \"my_app_copy\" in its place, grant those accounts on the new name what they hold on the original (SHOW GRANTS FOR 'app_reader'; lists it), e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON `my_app_copy`.* TO 'app_reader';",
        ]);
        expect(report.notes).toContainEqual(expect.stringContaining(`run as accounts that have no privileges on "my_app_copy" on this server: 'owner'@'localhost'.`));
      }
      // Grants outlive a dropped database: 'fn' granted EXECUTE on the copy's function, the copy dropped and restored again —
      // 'fn' reaches the new copy (mysql.procs_priv), so it is not named.
      src.sql("GRANT EXECUTE ON FUNCTION my_app_copy.f TO 'fn'@'%'; DROP DATABASE my_app_copy;");
      const { file } = await dumpOf(src, 'my_app');
      const again = await connector(src).restore('my_app_copy', createReadStream(file), 'logical', { sourceName: 'my_app' });
      expect(again.notes!.filter((n) => n.startsWith('Accounts that hold privileges'))).toEqual([
        expect.stringContaining(`have none on the new name "my_app_copy": 'app_reader', 'col'@'%', 'esc'@'%', 'tbl'@'%'. Grants`),
      ]);
    } finally {
      src.sql(
        `DROP DATABASE my_app; DROP DATABASE bin_app; ${restored.map((d) => `DROP DATABASE IF EXISTS ${d};`).join(' ')}
         DROP USER 'owner'@'localhost', 'esc'@'%', 'wide'@'%', 'tbl'@'%', 'col'@'%', 'fn'@'%', 'elsewhere'@'%'; DROP ROLE app_reader;`,
      );
    }
  });

  test("restore to a moment of such a database: a function under ANSI_QUOTES,PIPES_AS_CONCAT, a view, trigger and event with their definer, a column with its own collation and an ALTER DATABASE of the defaults (unnamed: the rewrite takes it to the new name) in the replayed log come back as at the moment", async () => {
    src.sql(`CREATE DATABASE pm_app CHARACTER SET latin1 COMMENT 'c'; CREATE USER 'pown'@'localhost'; GRANT ALL ON pm_app.* TO 'pown'@'localhost';`);
    src.sql(`CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10) CHARACTER SET utf8mb4) COMMENT 'x'; INSERT INTO t VALUES (1, 'é');`, 'pm_app');
    const { at } = await restoreToMoment('pm_app', 'pm_copy', () =>
      src.sql(`SET sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT';
        CREATE DEFINER = 'pown'@'localhost' FUNCTION f(s VARCHAR(5)) RETURNS VARCHAR(20) DETERMINISTIC COMMENT 'a function' RETURN 'x' || s;
        SET sql_mode = DEFAULT;
        CREATE ALGORITHM = MERGE DEFINER = 'pown'@'localhost' SQL SECURITY INVOKER VIEW vw AS SELECT id, a FROM t WITH CASCADED CHECK OPTION;
        CREATE DEFINER = 'pown'@'localhost' TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = UPPER(NEW.a);
        CREATE DEFINER = 'pown'@'localhost' EVENT ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE ON SLAVE COMMENT 'ev' DO DELETE FROM t WHERE id > 100;
        ALTER TABLE t ADD COLUMN b VARCHAR(5) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin INVISIBLE, COMMENT 'y';
        ALTER DATABASE COMMENT 'changed' CHARACTER SET utf8mb4;
        INSERT INTO t (id, a) VALUES (2, 'ü');`, 'pm_app'));
    const own = (c: ReturnType<typeof content>, db: string) => JSON.parse(JSON.stringify(c).replaceAll(`\`${db}\``, '`DB`')) as unknown;
    try {
      expect(at.fidelity.database).toEqual(['utf8mb4\tutf8mb4_general_ci\tchanged']);
      expect(at.fidelity.routines).toEqual([expect.stringContaining('\tPIPES_AS_CONCAT,ANSI_QUOTES\ta function\tpown@localhost\t')]);
      expect(own(content(src, 'pm_copy'), 'pm_copy')).toEqual(own(at, 'pm_app'));
      expect(src.sql("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'pm_app' AND SCHEMA_COMMENT = 'changed'").trim()).toBe('1');
    } finally {
      src.sql("DROP DATABASE IF EXISTS pm_copy; DROP DATABASE pm_app; DROP USER 'pown'@'localhost';");
    }
  });
});
