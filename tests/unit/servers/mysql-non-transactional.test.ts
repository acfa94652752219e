/** The restore's words on a dump's tables without transactions: the note naming them, and the error for a moment replay that applied one of their changes twice. */
import { describe, expect, test } from 'vitest';
import { BackstopError } from '../../../electron/shared/result.ts';
import { nonTransactionalNote, nonTransactionalTablesQuery, replayedTwiceError } from '../../../electron/engine/servers/mysql/non-transactional.ts';

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

describe('nonTransactionalNote', () => {
  test('none for InnoDB tables and tables of unknown engine', () => {
    expect(nonTransactionalNote('shop', [{ name: 'orders', engine: 'InnoDB' }, { name: 'x', engine: null }])).toBeNull();
  });

  test('names each such table with its engine as the server spells it, whatever case the dump used; several get "likewise for the others"', () => {
    const note = nonTransactionalNote('shop', [
      { name: 'orders', engine: 'InnoDB' },
      { name: 'odd `name`', engine: 'MyISAM' },
      { name: 'cache', engine: 'ARIA' },
      { name: 'sessions', engine: 'memory' },
    ]);
    expect(note).toBe(
      'Tables of "shop" without transactions were read by the backup when it reached them, not at its snapshot like the other tables: `odd ``name``` (MyISAM), `cache` (Aria), `sessions` (MEMORY). ' +
        'If the application wrote to them while the backup ran, their rows may not match the rest of the database (rows of changes the other tables lack, or lacking changes they have). ' +
        'Check those tables before using this copy; so that the next backups are consistent, convert them to InnoDB on the source (ALTER TABLE `odd ``name``` ENGINE=InnoDB; and likewise for the others) or run the task when nothing writes to them.',
    );
  });

  test('names ten and counts the rest', () => {
    const note = nonTransactionalNote('big', Array.from({ length: 13 }, (_, i) => ({ name: `t${i}`, engine: 'MyISAM' })));
    expect(note).toContain('`t9` (MyISAM) and 3 more. ');
    expect(note).not.toContain('`t10`');
  });
});

describe('replayedTwiceError', () => {
  const rows = [[hex('ledger'), 'MyISAM']];
  const failure = (text: string) => new BackstopError('RESTORE_FAILED', `Failed on the MySQL/MariaDB server 127.0.0.1:3306 (while replaying the binary log into database "b2"; exit code 1): ' | -------------- | ${text}`);

  test('a duplicate key (1062) or a missing row (1032) in a database with such tables: RESTORE_FAILED naming them, what the server said and the fix', () => {
    for (const said of ["Duplicate entry '930' for key 'PRIMARY'", "Can't find record in 'ledger'"]) {
      const code = said.startsWith('Dup') ? '1062 (23000)' : '1032 (HY000)';
      const e = replayedTwiceError('bank', 'b2', '2026-12-06T09:00:00Z', rows, failure(`ERROR ${code} at line 28: ${said}`));
      expect(e?.code).toBe('RESTORE_FAILED');
      expect(e?.message).toBe(
        `Database "bank" cannot be restored as of 2026-12-06T09:00:00Z: replaying the binary log on its dump stopped on a change the dump already holds (the server said: "${said}"). ` +
          'Its tables without transactions, `ledger` (MyISAM), were read by the dump after the log position it recorded, while something wrote to them, so the log\'s first changes to them are in the dump already. The new database "b2" was removed. ' +
          'Fix: restore a backup point without --as-of (backstop points <location> lists them), or a moment after a full taken when nothing wrote to those tables; so that later moments restore, convert them to InnoDB on the source (ALTER TABLE `ledger` ENGINE=InnoDB;).',
      );
    }
  });

  test('null for another failure, for a database without such tables, and for a cancel', () => {
    const dup = failure("ERROR 1062 (23000) at line 28: Duplicate entry '1' for key 'PRIMARY'");
    expect(replayedTwiceError('bank', 'b2', 'T', rows, failure('ERROR 1146 (42S02) at line 3: Table b2.x does not exist'))).toBeNull();
    expect(replayedTwiceError('bank', 'b2', 'T', [], dup)).toBeNull();
    expect(replayedTwiceError('bank', 'b2', 'T', [[hex('orders'), 'InnoDB']], dup)).toBeNull();
    expect(replayedTwiceError('bank', 'b2', 'T', rows, new BackstopError('CANCELED', "ERROR 1062 (23000): Duplicate entry '1'"))).toBeNull();
    expect(replayedTwiceError('bank', 'b2', 'T', rows, new Error("ERROR 1062 (23000): Duplicate entry '1'"))).toBeNull();
  });

  test('the tables query names the database in hex and lists the engines without transactions', () => {
    expect(nonTransactionalTablesQuery('bänk')).toContain(`TABLE_SCHEMA = X'${Buffer.from('bänk', 'utf8').toString('hex')}'`);
    expect(nonTransactionalTablesQuery('b')).toContain("ENGINE IN ('MyISAM', 'Aria', 'MEMORY', 'CSV', 'ARCHIVE', 'MRG_MyISAM')");
  });
});
