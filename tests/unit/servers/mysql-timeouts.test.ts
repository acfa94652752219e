/**
 * timeouts.ts: which tool failures are a connection the server closed (then named with the
 * server's timeouts), and the errors that name them.
 */
import { describe, expect, it } from 'vitest';
import { classifyMysql } from '../../../electron/engine/servers/classify.ts';
import { couldBeTimeout, cutByServer, endedError, noticingCuts, parseTimeouts, timeoutError } from '../../../electron/engine/servers/mysql/timeouts.ts';

const classify = noticingCuts(classifyMysql({ server: 'MySQL/MariaDB server db:3306', action: 'dumping database "shop"', fallback: 'DUMP_FAILED' }));

describe('noticingCuts / cutByServer', () => {
  it('a lost connection (2013), a gone server (2006), and a dump tool that exits with an error saying nothing are cuts', () => {
    for (const stderr of ["mariadb-dump: Error 2013: Lost connection to server during query when dumping table `big` at row: 139", 'ERROR 2006 (HY000) at line 12: Server has gone away', 'mysqldump: Got error: 2013: Lost connection to MySQL server during query when using LOCK TABLES', 'ERROR 2013 (HY000) at line 7', '', '  \n']) {
      expect(cutByServer(classify({ stderr, code: 2, signal: null }))).toBe(true);
    }
  });

  it('other failures, a tool killed by a signal, and errors of another classifier are not', () => {
    expect(cutByServer(classify({ stderr: 'ERROR 1064 (42000) at line 3: You have an error in your SQL syntax', code: 1, signal: null }))).toBe(false);
    expect(cutByServer(classify({ stderr: "ERROR 1045 (28000): Access denied for user 'x'@'y' (using password: YES)", code: 1, signal: null }))).toBe(false);
    // The numbers inside data are not the client's error numbers.
    expect(cutByServer(classify({ stderr: "ERROR 1062 (23000) at line 40: Duplicate entry '2013-2006' for key 'PRIMARY'", code: 1, signal: null }))).toBe(false);
    expect(cutByServer(classify({ stderr: '', code: null, signal: 'SIGTERM' }))).toBe(false);
    const plain = classifyMysql({ server: 's', action: 'a', fallback: 'DUMP_FAILED' });
    expect(cutByServer(plain({ stderr: 'ERROR 2006 (HY000): Server has gone away', code: 1, signal: null }))).toBe(false);
    expect(cutByServer(new Error('Lost connection'))).toBe(false);
  });
});

describe('timeoutError', () => {
  const cut = classify({ stderr: 'mariadb-dump: Error 2013: Lost connection to server during query', code: 2, signal: null });
  const t = parseTimeouts(['5', '10', '30'])!;

  it('a dump: DUMP_FAILED naming net_write_timeout and wait_timeout with their values, the fix, and the tool\'s words', () => {
    const e = timeoutError('MySQL/MariaDB server db:3306', 'dump', 'shop', t, cut);
    expect(e.code).toBe('DUMP_FAILED');
    expect(e.message).toContain('net_write_timeout allows (5 s on this server)');
    expect(e.message).toContain('wait_timeout (10 s)');
    expect(e.message).toContain('Fix: on that server run SET GLOBAL net_write_timeout = 600; SET GLOBAL wait_timeout = 28800;');
    expect(e.message).toMatch(/\(while dumping database "shop"; exit code 2\): mariadb-dump: Error 2013: Lost connection to server during query$/);
  });

  it('a restore: RESTORE_FAILED naming wait_timeout and net_read_timeout and the fix', () => {
    const e = timeoutError('MySQL/MariaDB server db:3306', 'restore', 'shop_copy', t, cut);
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain('wait_timeout (10 s on this server)');
    expect(e.message).toContain('net_read_timeout (30 s)');
    expect(e.message).toContain('The new database was removed. Fix: on that server run SET GLOBAL wait_timeout = 28800; SET GLOBAL net_read_timeout = 600;');
  });

  it('parseTimeouts wants three numbers', () => {
    expect(parseTimeouts(['60', '28800', '30'])).toEqual({ netWrite: 60, wait: 28800, netRead: 30 });
    expect(parseTimeouts(['60', '28800'])).toBeNull();
    expect(parseTimeouts(undefined)).toBeNull();
    expect(parseTimeouts(['x', '1', '2'])).toBeNull();
  });
});

describe('couldBeTimeout / endedError', () => {
  const t = parseTimeouts(['5', '10', '30'])!;

  it('a timeout can only have closed a connection that lived at least as long as the shortest one that applies', () => {
    // A dump: net_write_timeout (5 s) or wait_timeout (10 s).
    expect(couldBeTimeout('dump', t, 4_999)).toBe(false);
    expect(couldBeTimeout('dump', t, 5_000)).toBe(true);
    // A restore: wait_timeout (10 s) or net_read_timeout (30 s).
    expect(couldBeTimeout('restore', t, 9_999)).toBe(false);
    expect(couldBeTimeout('restore', t, 10_000)).toBe(true);
  });

  it('sooner than that: ended on purpose (KILL, a restart), run it again; no timeout to raise', () => {
    const cut = classify({ stderr: 'mariadb-dump: Error 2013: Lost connection to server during query', code: 2, signal: null });
    const dump = endedError('MySQL/MariaDB server db:3306', 'dump', 'shop', cut);
    expect(dump.code).toBe('DUMP_FAILED');
    expect(dump.message).toMatch(
      /^The MySQL\/MariaDB server db:3306 ended the connection of the dump of database "shop" before any of its timeouts could have: an administrator ended it \(KILL\), or the server was restarted\. Nothing of this dump was stored; earlier backups are unchanged\. Fix: run the task again once the server accepts connections\. \(while dumping database "shop"; exit code 2\): mariadb-dump: Error 2013/,
    );
    const restore = endedError('MySQL/MariaDB server db:3306', 'restore', 'shop_copy', cut);
    expect(restore.code).toBe('RESTORE_FAILED');
    expect(restore.message).toContain('ended the connection of the restore into database "shop_copy" before any of its timeouts could have');
    expect(`${dump.message} ${restore.message}`).not.toMatch(/SET GLOBAL/);
  });
});
