/**
 * MariaDB with the accounts a careful DBA gives a backup tool:
 * - bk: SELECT, SHOW VIEW, TRIGGER, EVENT (what the server check asks for), LOCK TABLES,
 *   PROCESS, RELOAD, BINLOG MONITOR. The check passes; a dump has the views, triggers and
 *   routines. Each of the four needed grants taken away in turn: the check fails with
 *   PERMISSION_DENIED naming it and the GRANT that fixes it (a run asks the same first).
 * - rs: every privilege but SUPER and SET USER, restoring a dump whose objects have another
 *   account's DEFINER: PERMISSION_DENIED naming SET USER, and the new database is removed.
 * - rs_db: ALL on the new database name only, + SET USER: the restore works; it may not read
 *   mysql.user, so the definer check cannot run — a note names the definer account and the
 *   GRANT it needs on the new name (the view fails until then).
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { BackstopError } from '../../../electron/shared/result.ts';
import { connectorFor } from '../../../electron/engine/servers/index.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';

let db: MariadbServer;
let dir: string;
let dumped: Promise<string> | null = null;

/** The backup account's dump of "shop" (made once, by whichever test needs it first). */
function dumpShop(): Promise<string> {
  dumped ??= (async () => {
    const d = await as('bk').openDump('shop', 'logical');
    await pipeline(d.stream, createWriteStream(join(dir, 'shop.sql')));
    await d.done;
    return join(dir, 'shop.sql');
  })();
  return dumped;
}
const as = (user: string) =>
  connectorFor({ id: 'm', name: 'm', kind: 'mysql', host: db.host, port: db.port, user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' } satisfies Server, { password: `${user}-pw`, toolPaths: { mysql: null } });

beforeAll(async () => {
  db = await startMariadb();
  dir = mkdtempSync(join(tmpdir(), 'backstop-leastpriv-maria-'));
  db.sql(`CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.item VALUES (1, 'a');
    CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT ALL ON shop.* TO 'app'@'%';
    CREATE DEFINER='app'@'%' VIEW shop.v AS SELECT * FROM shop.item;
    CREATE DEFINER='app'@'%' PROCEDURE shop.p() SELECT 1;
    CREATE USER 'bk'@'%' IDENTIFIED BY 'bk-pw'; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, PROCESS, RELOAD, BINLOG MONITOR ON *.* TO 'bk'@'%';
    CREATE USER 'rs'@'%' IDENTIFIED BY 'rs-pw'; GRANT ALL ON *.* TO 'rs'@'%'; REVOKE SUPER, SET USER ON *.* FROM 'rs'@'%';`);
  db.sql(`CREATE DEFINER='app'@'%' TRIGGER tr BEFORE INSERT ON item FOR EACH ROW SET NEW.name = UPPER(NEW.name)`, 'shop');
}, 120_000);

afterAll(async () => {
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the backup account: the check passes and the dump has the view, trigger and procedure; each needed grant missing fails the check naming it and the fix', async () => {
  expect((await as('bk').testConnection({ contentWarnings: true })).warnings).toEqual([]);
  const dump = readFileSync(await dumpShop(), 'utf8');
  for (const object of ['VIEW `v`', 'TRIGGER tr BEFORE INSERT ON item', 'PROCEDURE `p`']) expect(dump).toContain(object);
  for (const privilege of ['SHOW VIEW', 'TRIGGER', 'EVENT', 'SELECT']) {
    db.sql(`REVOKE ${privilege} ON *.* FROM 'bk'@'%'`);
    try {
      const e = await as('bk').testConnection().then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(BackstopError);
      expect((e as BackstopError).code).toBe('PERMISSION_DENIED');
      expect((e as BackstopError).message).toBe(
        `User "bk" lacks ${privilege} on all databases of the MySQL/MariaDB server 127.0.0.1:${db.port}, needed to back up every database. Run: GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON *.* TO <that user>;`,
      );
    } finally {
      db.sql(`GRANT ${privilege} ON *.* TO 'bk'@'%'`);
    }
  }
});

test('restoring objects with another account’s DEFINER without SUPER / SET USER: PERMISSION_DENIED naming SET USER; the new database is removed', async () => {
  const e = await as('rs').restore('shop_copy', createReadStream(await dumpShop()), 'logical', { sourceName: 'shop' }).then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(BackstopError);
  expect((e as BackstopError).code).toBe('PERMISSION_DENIED');
  expect((e as BackstopError).message).toContain(
    'The user may not create objects (views, routines, triggers, events) whose DEFINER is another account on the MySQL/MariaDB server',
  );
  expect((e as BackstopError).message).toContain('Fix: GRANT SET USER ON *.* TO <that user>;');
  expect(db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_copy'`).trim()).toBe('0');
});


test('a restore account with ALL on the new database name only (+ SET USER) restores it whole; not allowed to read mysql.user, it still gets a note naming the definer it could not check and the GRANT (there was none: views failing silently)', async () => {
  db.sql(`CREATE USER 'rs_db'@'%' IDENTIFIED BY 'rs_db-pw'; GRANT ALL ON \`shop_copy2\`.* TO 'rs_db'@'%'; GRANT SET USER ON *.* TO 'rs_db'@'%'`);
  try {
    const report = await as('rs_db').restore('shop_copy2', createReadStream(await dumpShop()), 'logical', { sourceName: 'shop' });
    expect(report.notes).toEqual([
      'Views, routines, triggers or events of "shop_copy2" run as \'app\'@\'%\'; "rs_db" may not read the mysql schema, so Backstop could not check that this account exists on this server with privileges on "shop_copy2". Grants name a database, so those held on the original database do not reach this new name, and using the objects fails (error 1449, 1356 or 1142) until they do. Check on this server, and e.g. GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON `shop_copy2`.* TO \'app\'@\'%\'; (an account it lacks: apply the backup\'s ~server/grants.sql first).',
    ]);
    expect(db.sql(`SELECT COUNT(*) FROM item`, 'shop_copy2').trim()).toBe('1');
    // As the note says: the view (its definer without a privilege on the new name) fails until the GRANT.
    expect(() => db.sql(`SELECT COUNT(*) FROM v`, 'shop_copy2')).toThrow(/1356|1142/);
    db.sql(`GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON \`shop_copy2\`.* TO 'app'@'%'`);
    expect(db.sql(`SELECT COUNT(*) FROM v`, 'shop_copy2').trim()).toBe('1');
    expect(db.sql(`SELECT GROUP_CONCAT(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop_copy2' UNION ALL SELECT GROUP_CONCAT(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop_copy2'`).trim()).toBe('p\ntr');
  } finally {
    db.sql(`DROP DATABASE IF EXISTS shop_copy2; DROP USER 'rs_db'@'%'; REVOKE ALL ON \`shop_copy2\`.* FROM 'app'@'%'`);
  }
});
