/**
 * A dump ended by a DBA's DDL (mariadb-dump / mysqldump stderr, as the real tools print it)
 * → SCHEMA_CHANGED naming the table; every other failure keeps its own code. The same
 * cases on a real server: tests/integration/tasks/maintenance-during-backup-mariadb.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { classifyMysql } from '../../../electron/engine/servers/classify.ts';
import { noticingSchemaChanges } from '../../../electron/engine/servers/mysql/schema-changed.ts';

const classify = noticingSchemaChanges('shop', classifyMysql({ server: 'MySQL/MariaDB server db:3306', action: 'dumping database "shop"', fallback: 'DUMP_FAILED' }));
const f = (stderr: string, code = 2) => ({ stderr, code, signal: null });

describe('a dump ended by DDL after its snapshot', () => {
  test.each([
    ['mariadb-dump: Error 1412: Table definition has changed, please retry transaction when dumping table `z_orders` at row: 0', 'z_orders'],
    ['mysqldump: Error 1412: Table definition has changed, please retry transaction when dumping table `odd``name` at row: 0', 'odd`name'],
    ["Error: Couldn't read status information for table z_orders ()\nmariadb-dump: Couldn't execute 'show create table `z_orders`': Table 'shop.z_orders' doesn't exist (1146)", 'z_orders'],
    ["mysqldump: Error 1146: Table 'shop.gone' doesn't exist when dumping table `gone` at row: 0", 'gone'],
  ])('%s', (stderr, table) => {
    const e = classify(f(stderr));
    expect(e.code).toBe('SCHEMA_CHANGED');
    expect(e.message).toBe(
      `Table \`${table}\` of database "shop" was changed (ALTER, TRUNCATE, RENAME or DROP TABLE) while it was being backed up, after the backup's snapshot, so it could not be read consistently; nothing was stored and the earlier points are untouched. Run the backup again once the maintenance is done (the next scheduled run also takes it).`,
    );
    expect(e.retryable).toBe(true);
  });

  test('other failures keep their code', () => {
    expect(classify(f("mariadb-dump: Got error: 1049: Unknown database 'shop' when selecting the database")).code).toBe('DATABASE_NOT_FOUND');
    expect(classify(f('mariadb-dump: Got error: 2013: Lost connection to server during query when dumping table `t` at row: 10')).code).toBe('UNREACHABLE');
    expect(classify(f('mariadb-dump: Error 1030: Got error 28 "No space left on device" from storage engine when dumping table `t` at row: 3')).code).toBe('DUMP_FAILED');
  });
});
