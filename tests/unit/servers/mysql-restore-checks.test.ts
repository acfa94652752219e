/**
 * The MySQL/MariaDB restore checks that need no server (restore-checks.ts): the large-row
 * error naming the fix (the longest line it is given: mysql-dump-tables.test.ts), and the definer
 * notes built from the server's answer (missing accounts, accounts without privileges on
 * the new name, names quoted as SQL), and the error for a view over a view whose definer is
 * missing.
 */
import { describe, expect, it } from 'vitest';
import { BackstopError } from '../../../electron/shared/result.ts';
import { crossDatabaseKeyError, definerNotes, eventDefinerNote, grantsLeftBehindNotes, grantsLeftBehindQuery, missingDefinerError, packetTooLargeError } from '../../../electron/engine/servers/mysql/restore-checks.ts';

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

describe('packetTooLargeError', () => {
  it('names the sizes, the server and the SET GLOBAL to run', () => {
    const e = packetTooLargeError('MySQL/MariaDB server db:3306', 'big', 84_000_000, 16 * 1024 * 1024, new Error('gone away'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain('a statement of 81 MB (a large row), more than that server\'s max_allowed_packet of 16 MB');
    expect(e.message).toContain('The new database was removed. Fix: on that server run SET GLOBAL max_allowed_packet = 1073741824;');
    // Refused before loading (the point's facts knew the length): nothing was created, nothing removed.
    const before = packetTooLargeError('MySQL/MariaDB server db:3306', 'big', 84_000_000, 16 * 1024 * 1024);
    expect(before.message).toContain("more than that server's max_allowed_packet of 16 MB, so it would close the connection while loading it. Nothing was created. Fix: on that server run SET GLOBAL max_allowed_packet = 1073741824;");
    expect(before.message).not.toContain('removed');
    // A replay's statement: the row changes of one statement, which need not be one large row.
    const log = packetTooLargeError('MySQL/MariaDB server db:3306', 'big', 9_000_000, 4 * 1024 * 1024, undefined, 'log');
    expect(log.message).toContain(
      'the stored binary log holds a statement of 9 MB to replay (the row changes of one statement: a large row, or many rows changed by one INSERT … SELECT, UPDATE or DELETE, replayed as one BINLOG statement), more than that server\'s max_allowed_packet of 4 MB, so it would close the connection while loading it. Nothing was created.',
    );
  });
});

describe('grantsLeftBehindNotes', () => {
  it("one note naming the accounts (a role without its host) and the GRANT on the new name; none without rows; names hex-quoted in the query", () => {
    expect(grantsLeftBehindNotes('shop_copy', 'shop', [])).toEqual([]);
    const notes = grantsLeftBehindNotes('shop`copy', 'shop', [
      ['grant', hex('app_ro'), ''],
      ['grant', hex("o'neil"), hex('10.%')],
    ]);
    expect(notes).toEqual([
      `Accounts that hold privileges on "shop" on this server have none on the new name "shop\`copy": 'app_ro', 'o''neil'@'10.%'. Grants name a database, so they stay on the original and were not copied. ` +
        "If applications are to use \"shop`copy\" in its place, grant those accounts on the new name what they hold on the original (SHOW GRANTS FOR 'app_ro'; lists it), e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON `shop``copy`.* TO 'app_ro';",
    ]);
    const q = grantsLeftBehindQuery('shop_copy', "sh'op");
    expect(q).toContain(`X'${Buffer.from("sh'op").toString('hex')}' LIKE Db`);
    expect(q).toContain(`X'${Buffer.from('shop_copy').toString('hex')}' LIKE g.Db`);
    // An account granted on the new name only at routine level already reaches it.
    expect(q).toContain(`p.Db = X'${Buffer.from('shop_copy').toString('hex')}'`);
  });
});

describe('crossDatabaseKeyError', () => {
  const failed = (m: string) => new BackstopError('RESTORE_FAILED', `Failed on the server (while replaying the binary log into database "ca_copy"; exit code 1): ERROR 1452 (23000) at line 39: ${m}`);
  it('names a key into another database (quoted names kept), none for a key inside the restored database or another failure', () => {
    const e = crossDatabaseKeyError('ca', 'ca_copy', '2026-12-06T10:00:00Z', failed('Cannot add or update a child row: a foreign key constraint fails (`ca_copy`.`ch``ild`, CONSTRAINT `k` FOREIGN KEY (`p`) REFERENCES `p-b`.`parent` (`id`))'));
    expect(e?.code).toBe('RESTORE_FAILED');
    expect(e?.message).toContain('its table `ch``ild` has a foreign key into another database, `p-b`.`parent`');
    expect(crossDatabaseKeyError('ca', 'ca_copy', 'x', failed('Cannot add or update a child row: a foreign key constraint fails (`ca_copy`.`child`, CONSTRAINT `k` FOREIGN KEY (`p`) REFERENCES `ca_copy`.`parent` (`id`))'))).toBeNull();
    expect(crossDatabaseKeyError('ca', 'ca_copy', 'x', new BackstopError('RESTORE_FAILED', 'ERROR 1062 (23000): Duplicate entry'))).toBeNull();
    expect(crossDatabaseKeyError('ca', 'ca_copy', 'x', new Error('ERROR 1452 (23000): Cannot add or update a child row: a foreign key constraint fails (`a`.`b`, CONSTRAINT `k` FOREIGN KEY (`p`) REFERENCES `c`.`d` (`id`))'))).toBeNull();
  });
});

describe('eventDefinerNote', () => {
  const row = (name: string, definer: string, status = 'ENABLED') => ['event', hex(name), hex(definer), status];
  const me = ['me', hex('backstop@%'), '', ''];
  it('names the events a replay made the restoring account define, with the ALTER DEFINER keeping their state; none otherwise', () => {
    const before = [row('a', 'root@localhost'), row('b', 'app@%'), row('c', 'app@%'), me];
    const note = eventDefinerNote('shop', before, [row('a', 'backstop@%', 'DISABLED'), row('b', 'app@%'), row('c', 'other@%'), row('new', 'backstop@%'), me]);
    expect(note).toContain("now have the restoring account 'backstop'@'%' as their definer: `a`.");
    expect(note).toContain("Fix: give each event its definer back, keeping its state, e.g. ALTER DEFINER = 'root'@'localhost' EVENT `shop`.`a` DISABLE;");
    expect(eventDefinerNote('shop', before, before)).toBeNull();
  });
});

describe('definerNotes', () => {
  it('one note for missing accounts, one for accounts without privileges here, none for the rest; names quoted', () => {
    const notes = definerNotes('shop-2024.eu', [
      ['definer', hex('app@%'), '0', '0'],
      ["definer", hex("o'brien@10.0.0.%"), '0', '0'],
      ['definer', hex('report@localhost'), '1', '0'],
      ['definer', hex('root@localhost'), '1', '1'],
    ]);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toContain("defined by accounts this server does not have: 'app'@'%', 'o''brien'@'10.0.0.%'. They were restored, but using them fails (error 1449");
    expect(notes[1]).toContain(`run as accounts that have no privileges on "shop-2024.eu" on this server: 'report'@'localhost'.`);
    expect(notes[1]).toContain("GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON `shop-2024.eu`.* TO 'report'@'localhost';");
    expect(notes.join()).not.toContain("'root'");
    expect(definerNotes('shop', [['definer', hex('root@localhost'), '1', '1']])).toEqual([]);
    expect(definerNotes('shop', [])).toEqual([]);
  });
});

describe('missingDefinerError', () => {
  const failed = (detail: string, code: 'RESTORE_FAILED' | 'CANCELED' = 'RESTORE_FAILED') =>
    new BackstopError(code, `Failed on the MySQL/MariaDB server h:1 (while restoring into database "copy"; exit code 1): /*!50001 VIEW \`v_b\` AS select 1 */ | -------------- | ${detail}`);

  it('names the account (quoted as SQL), that nothing was created, and the fix on the new name', () => {
    const e = missingDefinerError('MySQL/MariaDB server h:1', 'new`db', failed("ERROR 1449 (HY000) at line 93: The user specified as a definer ('o'ne'@'%') does not exist"));
    expect(e?.code).toBe('RESTORE_FAILED');
    expect(e?.message).toMatch(/^Database "new`db" cannot be restored on the MySQL\/MariaDB server h:1: the backup has a view that reads another view defined by 'o''ne'@'%', /);
    expect(e?.message).toContain("Nothing was created. Fix: create the account on this server and grant it on the new name what it held on the original first (e.g. CREATE USER 'o''ne'@'%'; GRANT SELECT ON `new``db`.* TO 'o''ne'@'%';), then restore again;");
    expect(e?.message).toMatch(/Server said: ERROR 1449 \(HY000\) at line 93: .*does not exist$/);
  });

  it('leaves every other failure alone', () => {
    expect(missingDefinerError('s', 'd', failed("ERROR 1054 (42S22) at line 9: Unknown column 'shop.items.id' in 'SELECT'"))).toBeNull();
    expect(missingDefinerError('s', 'd', failed("ERROR 1449 (HY000) at line 9: The user specified as a definer ('a'@'b') does not exist", 'CANCELED'))).toBeNull();
    expect(missingDefinerError('s', 'd', new Error('ERROR 1449'))).toBeNull();
  });
});
