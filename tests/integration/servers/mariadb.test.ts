/**
 * The MySQL/MariaDB connector against a real throwaway MariaDB 10.11 server over TCP with
 * a password. Fidelity: Chinook (plus a view, routine, trigger and event added here, and
 * binary/unicode data) is dumped and restored under a new name; SHOW CREATE output,
 * per-table row counts + checksums and everything `mariadbFidelity` compares (database
 * defaults, table/column charsets, routine/view/trigger/event contexts, CHECKSUM TABLE)
 * must match, and a routine must answer the same. On a second server whose default is
 * latin1, a utf8mb4 database keeps its character set, collation and comment.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector, type RestoreProgress } from '../../../electron/engine/servers/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { freePort, rejection, waitFor } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, mariadbFingerprint, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';

const FIXTURES = join(import.meta.dirname, '../../../../shared/fixtures');

let db: MariadbServer;

function connector(over: Partial<Extract<Server, { kind: 'mysql' }>> = {}, password: string | null = db.password): Connector {
  const server: Server = {
    id: 'my1',
    name: 'test mariadb',
    kind: 'mysql',
    host: db.host,
    port: db.port,
    user: db.user,
    tls: 'disable',
    passwordRef: 'server.my1.password',
    createdAt: '',
    updatedAt: '',
    ...over,
  };
  return connectorFor(server, { password, toolPaths: { mysql: null } });
}

function exists(name: string): boolean {
  return db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name.replace(/'/g, "''")}'`).trim() === '1';
}

async function dumpToFile(c: Connector, database: string): Promise<string> {
  const file = join(tempDir(), 'dump.sql');
  const dump = await c.openDump(database, 'logical');
  await pipeline(dump.stream, createWriteStream(file));
  await dump.done;
  return file;
}

beforeAll(async () => {
  db = await startMariadb();
  db.loadFile(join(FIXTURES, 'chinook/Chinook_MySql.sql')); // creates `Chinook`
  db.sql(
    `CREATE VIEW TopTracks AS SELECT TrackId, Name FROM Track WHERE Milliseconds > 300000;
     CREATE TABLE Oddities (id INT PRIMARY KEY AUTO_INCREMENT, b BLOB, t TEXT CHARACTER SET utf8mb4, d DECIMAL(20,6), f DOUBLE);
     INSERT INTO Oddities (b, t, d, f) VALUES (UNHEX('00FF0A0D27225C'), 'Grüße 😀 ''quoted'' \\\\ back\\nslash', 12345678901234.123456, 1.0000000000000002), (NULL, NULL, NULL, NULL);
     CREATE TRIGGER TrackAudit BEFORE UPDATE ON Track FOR EACH ROW SET NEW.UnitPrice = GREATEST(NEW.UnitPrice, 0);
     CREATE FUNCTION TrackCount(g INT) RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM Track WHERE GenreId = g);
     CREATE PROCEDURE Noop() SELECT 1;
     CREATE EVENT Nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM Oddities WHERE id < 0;`,
    'Chinook',
  );
  db.sql(`CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-pw'; GRANT SELECT ON Chinook.* TO 'limited'@'%';`);
});

afterAll(async () => {
  await db?.stop();
});

describe('connection', () => {
  test('testConnection reports MariaDB and the client tools (tls "prefer" falls back to plain on a server without TLS)', async () => {
    const report = await connector({ tls: 'prefer' }).testConnection();
    expect(report.serverVersion).toMatch(/^MariaDB 10\.11\.\d+$/);
    expect(report.tools.map((t) => t.name)).toEqual(['mariadb', 'mariadb-dump']);
  });

  test('wrong password: AUTH_FAILED without the password in the message', async () => {
    const e = await rejection(connector({}, 'wrong-Secret-77').testConnection());
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/Access denied for user 'backstop'/);
    expect(e.message).not.toContain('wrong-Secret-77');
  });

  test('server down: UNREACHABLE', async () => {
    const port = await freePort();
    const e = await rejection(connector({ port }).testConnection());
    expect(e.code).toBe('UNREACHABLE');
    expect(e.message).toContain(`127.0.0.1:${port}`);
  });

  test('missing global privileges: PERMISSION_DENIED naming them', async () => {
    const e = await rejection(connector({ user: 'limited' }, 'limited-pw').testConnection());
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toContain('SELECT, SHOW VIEW, TRIGGER, EVENT');
  });

  test('listDatabases (and testConnection asked to list): user databases only, hostile names decoded exactly', async () => {
    db.sql('CREATE DATABASE `we``ird\tname`; CREATE DATABASE `Ünï`;');
    try {
      const names = await connector().listDatabases();
      expect(names).toEqual(['Chinook', 'we`ird\tname', 'Ünï'].sort());
      // A run's connection test lists them in the same client process: the same names; not listed unless asked.
      expect((await connector().testConnection({ listDatabases: true })).databases).toEqual(names);
      expect((await connector().testConnection()).databases).toBeUndefined();
    } finally {
      db.sql('DROP DATABASE `we``ird\tname`; DROP DATABASE `Ünï`;');
    }
  });

  test('snapshot is not offered, with a reason the task editor can show', () => {
    const s = connector().support('snapshot');
    expect(s.available).toBe(false);
    expect(s.available === false && s.reason).toMatch(/file access on the database host/);
    expect(connector().support('logical')).toEqual({ available: true, scope: 'database' });
  });
});

describe('backup and restore', () => {
  test('Chinook: dump (no CREATE DATABASE/USE) → restore under a new name is faithful', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'Chinook');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/CREATE DATABASE|^USE /m);
    expect(text).toContain('CREATE DEFINER');
    const progress: RestoreProgress[] = [];
    const size = readFileSync(file).length;
    await c.restore('chinook restored', createReadStream(file), 'logical', { onProgress: (p) => progress.push(p), totalBytes: size });
    try {
      const a = mariadbFingerprint(db, 'Chinook');
      const b = mariadbFingerprint(db, 'chinook restored');
      expect(Object.keys(a.tables).length).toBe(12);
      expect(b.tables).toEqual(a.tables);
      expect(b.schema).toBe(a.schema);
      const fa = mariadbFidelity(db, 'Chinook');
      expect(fa.checksums).toHaveLength(12);
      expect(fa.routines).toHaveLength(2);
      expect(mariadbFidelity(db, 'chinook restored')).toEqual(fa);
      expect(db.sql('SELECT `chinook restored`.TrackCount(1)').trim()).toBe(db.sql('SELECT Chinook.TrackCount(1)').trim());
      expect(b.schema).toContain('TrackAudit');
      expect(b.schema).toContain('Nightly');
      expect(progress.at(-1)).toEqual({ unit: 'bytes', done: size, total: size });
    } finally {
      db.sql('DROP DATABASE `chinook restored`');
    }
  });

  test('restore target exists: DATABASE_EXISTS and the existing database untouched', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'Chinook');
    db.sql('CREATE DATABASE keepme; CREATE TABLE keepme.t (x INT); INSERT INTO keepme.t VALUES (42);');
    try {
      const e = await rejection(c.restore('keepme', createReadStream(file), 'logical'));
      expect(e.code).toBe('DATABASE_EXISTS');
      expect(db.sql('SELECT x FROM keepme.t').trim()).toBe('42');
      expect(db.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'keepme'").trim()).toBe('1');
    } finally {
      db.sql('DROP DATABASE keepme');
    }
  });

  test('a broken dump: RESTORE_FAILED and the new database is dropped', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'Chinook');
    const text = readFileSync(file, 'utf8');
    const cut = text.slice(0, Math.floor(text.length / 2)); // ends inside an INSERT
    const e = await rejection(c.restore('half', Readable.from([cut]), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/restoring into database "half"/);
    expect(exists('half')).toBe(false);
  });

  test('canceling while CREATE DATABASE waits on the server: the database the server still creates is dropped', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'Chinook');
    // A global read lock keeps CREATE DATABASE waiting on the server while the restore is canceled;
    // a killed client would not stop the statement, so the database appears once the lock goes.
    const holder = spawn('mariadb', ['--no-defaults', `--socket=${db.socket}`, '--user=root', '-e', 'FLUSH TABLES WITH READ LOCK; SELECT SLEEP(60)'], { stdio: 'ignore' });
    const released = new Promise((resolve) => holder.on('close', resolve));
    await waitFor('the global read lock', () => db.sql(`SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)'`).trim() === '1');
    const ac = new AbortController();
    const restoring = rejection(c.restore('canceled_at_create', createReadStream(file), 'logical', { signal: ac.signal }));
    await waitFor('CREATE DATABASE to wait on the lock', () => db.sql(`SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'CREATE DATABASE%canceled_at_create%'`).trim() === '1');
    ac.abort();
    await new Promise((r) => setTimeout(r, 300));
    db.sql(`SELECT CONCAT('KILL ', ID) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)' INTO @k; EXECUTE IMMEDIATE @k`);
    await released;
    const e = await restoring;
    // However the restore ended, the statement has ended on the server before the check.
    await waitFor('CREATE DATABASE to end on the server', () => db.sql(`SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'CREATE DATABASE%canceled_at_create%'`).trim() === '0');
    expect(e.code).toBe('CANCELED');
    expect(exists('canceled_at_create')).toBe(false);
  });

  test('database dropped before the dump starts: DATABASE_NOT_FOUND and the stream errors', async () => {
    db.sql('CREATE DATABASE gone');
    const c = connector();
    db.sql('DROP DATABASE gone');
    const dump = await c.openDump('gone', 'logical');
    const e = await rejection(pipeline(dump.stream, createWriteStream(join(tempDir(), 'x'))));
    expect(e.code).toBe('DATABASE_NOT_FOUND');
    expect((await rejection(dump.done)).code).toBe('DATABASE_NOT_FOUND');
    expect(e.message).toMatch(/gone/);
  });
});

describe('database-level options (server default latin1)', () => {
  let latin: MariadbServer;

  function latinConnector(): Connector {
    return connectorFor(
      { id: 'my2', name: 'latin1 mariadb', kind: 'mysql', host: latin.host, port: latin.port, user: latin.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' },
      { password: latin.password, toolPaths: { mysql: null } },
    );
  }

  async function dumpOf(database: string): Promise<string> {
    const file = join(tempDir(), 'dump.sql');
    const dump = await latinConnector().openDump(database, 'logical');
    await pipeline(dump.stream, createWriteStream(file));
    await dump.done;
    return file;
  }

  const schemata = (name: string): string =>
    latin.sql(`SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim();

  beforeAll(async () => {
    latin = await startMariadb({ args: ['--character-set-server=latin1', '--collation-server=latin1_swedish_ci'] });
    latin.sql("CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci COMMENT 'Läden \\\\ ''quoted'' ✓'");
    latin.sql(
      `CREATE FUNCTION f_greet(x VARCHAR(40)) RETURNS VARCHAR(60) DETERMINISTIC RETURN CONCAT('👋 ', x);
       CREATE TABLE notes (id INT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(100), legacy VARCHAR(20) CHARACTER SET latin1) COMMENT 'notes ✓' ROW_FORMAT=DYNAMIC;
       INSERT INTO notes (body, legacy) VALUES ('emoji 😀 and 𝄞 four-byte', 'Grüße'), ('plain', NULL);
       CREATE VIEW greeting AS SELECT id, CONCAT('👋 ', body) AS hello FROM notes;
       CREATE TRIGGER notes_bi BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = CONCAT(NEW.body, ' ✓');
       CREATE EVENT tidy ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM notes WHERE body = '💥';
       ALTER DATABASE shop COLLATE utf8mb4_general_ci;
       CREATE PROCEDURE later_proc() SELECT CONCAT('🚀', COUNT(*)) FROM notes;
       ALTER DATABASE shop COLLATE utf8mb4_unicode_ci;`,
      'shop',
    );
  });

  afterAll(async () => {
    await latin?.stop();
  });

  test('the issue repro: shop_r keeps utf8mb4 / unicode_ci and its comment, f_greet works, everything compares equal', async () => {
    const file = await dumpOf('shop');
    const before = mariadbFidelity(latin, 'shop');
    await latinConnector().restore('shop_r', createReadStream(file), 'logical');
    try {
      expect(schemata('shop_r')).toBe("utf8mb4\tutf8mb4_unicode_ci\tLäden \\\\ 'quoted' ✓");
      expect(latin.sql("SELECT shop_r.f_greet('x')").trim()).toBe('👋 x');
      expect(latin.sql('CALL shop_r.later_proc()').trim()).toBe(latin.sql('CALL shop.later_proc()').trim());
      expect(latin.sql('SELECT body FROM shop_r.notes ORDER BY id').trim()).toBe('emoji 😀 and 𝄞 four-byte\nplain');
      const after = mariadbFidelity(latin, 'shop_r');
      expect(after).toEqual(before);
      // The routine created under utf8mb4_general_ci keeps that database collation.
      expect(after.routines.find((r) => r.includes('later_proc'))).toContain('utf8mb4_general_ci');
      expect(after.checksums).toHaveLength(1);
      // The source was never altered by the restore (its per-routine ALTER DATABASE lines were aimed at shop_r).
      expect(mariadbFidelity(latin, 'shop')).toEqual(before);
      // The view and the trigger behave as in the source.
      expect(latin.sql('SELECT hello FROM shop_r.greeting ORDER BY id')).toBe(latin.sql('SELECT hello FROM shop.greeting ORDER BY id'));
      latin.sql("INSERT INTO shop_r.notes (body) VALUES ('neu 🧪')");
      expect(latin.sql('SELECT body FROM shop_r.notes WHERE id = 3').trim()).toBe('neu 🧪 ✓');
    } finally {
      latin.sql('DROP DATABASE shop_r');
    }
  });

  test('the restored copy does not need the source database: restore after the source is gone', async () => {
    latin.sql('CREATE DATABASE solo CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
    latin.sql("ALTER DATABASE solo COLLATE utf8mb4_unicode_ci; CREATE FUNCTION g() RETURNS VARCHAR(5) RETURN '✓'; ALTER DATABASE solo COLLATE utf8mb4_bin;", 'solo');
    const file = await dumpOf('solo');
    const before = mariadbFidelity(latin, 'solo');
    latin.sql('DROP DATABASE solo');
    await latinConnector().restore('solo_r', createReadStream(file), 'logical');
    try {
      expect(mariadbFidelity(latin, 'solo_r')).toEqual(before);
      expect(schemata('solo_r')).toBe('utf8mb4\tutf8mb4_bin'); // no comment
      expect(schemata('solo')).toBe(''); // not re-created by the dump's ALTER DATABASE `solo` lines
    } finally {
      latin.sql('DROP DATABASE solo_r');
    }
  });

  test('an extracted dump loaded by hand carries the options too', async () => {
    const text = readFileSync(await dumpOf('shop'), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^-- backstop-database-options \{"charset":"utf8mb4","collation":"utf8mb4_unicode_ci"/);
    latin.sql('CREATE DATABASE by_hand');
    try {
      latin.sql(text, 'by_hand');
      expect(schemata('by_hand')).toBe(schemata('shop'));
    } finally {
      latin.sql('DROP DATABASE by_hand');
    }
  });

  test('a backup taken before the header existed restores as before, without touching the source, and its notes say the server defaults were used', async () => {
    const text = readFileSync(await dumpOf('shop'), 'utf8');
    const old = text.replace(/^-- backstop-database-options .*\n(\/\*.*ALTER DATABASE.*\n)+/, '');
    expect(old).not.toContain('backstop-database-options');
    const before = mariadbFidelity(latin, 'shop');
    const report = await latinConnector().restore('shop_old', Readable.from([old]), 'logical');
    try {
      const [charset, collation] = latin.sql("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_old'").trim().split('\t');
      expect(report.notes).toEqual([expect.stringContaining(`"shop_old" has ${charset}, ${collation} (this server's defaults, unless the dump's routines set others).`)]);
      expect(latin.sql("SELECT COUNT(*) FROM shop_old.notes").trim()).toBe('2');
      expect(mariadbFidelity(latin, 'shop')).toEqual(before);
    } finally {
      latin.sql('DROP DATABASE shop_old');
    }
  });

  test('a collation the target lacks: RESTORE_FAILED naming it, no database left', async () => {
    const text = readFileSync(await dumpOf('shop'), 'utf8').replace(/utf8mb4_unicode_ci/g, 'utf8mb4_nosuch_ci');
    const e = await rejection(latinConnector().restore('shop_bad', Readable.from([text]), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/creating database "shop_bad".*utf8mb4_nosuch_ci/);
    expect(schemata('shop_bad')).toBe('');
  });

  test('a damaged options line: RESTORE_FAILED, no database created', async () => {
    const text = readFileSync(await dumpOf('shop'), 'utf8').replace('{"charset"', '{"charset');
    const e = await rejection(latinConnector().restore('shop_dmg', Readable.from([text]), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/database-options line is damaged/);
    expect(schemata('shop_dmg')).toBe('');
  });
});
