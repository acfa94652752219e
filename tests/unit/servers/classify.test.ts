/**
 * stderr → error code, on real messages of psql/pg_dump/pg_restore and mysql/mysqldump.
 */
import { describe, expect, test } from 'vitest';
import { classifyMysql, classifyPostgres, myConnectionSlotsFull, pgConnectionSlotsFull } from '../../../electron/engine/servers/classify.ts';
import { scrub, StderrKeeper, stderrDetail } from '../../../electron/engine/servers/child-process.ts';

/**
 * The reference for StderrKeeper, as the contract of child-process.ts words it (64 KB kept: all
 * of a shorter stderr, else its first 16 KB, a cut marker, its end), restated here rather than
 * imported so that the keeper is checked against the contract and not against itself.
 */
function keptStderr(stderr: string): string {
  const max = 64 * 1024;
  if (stderr.length <= max) return stderr;
  const head = max / 4;
  const cut = '\n[…]\n';
  return `${stderr.slice(0, head)}${cut}${stderr.slice(-(max - head - cut.length))}`;
}

const pg = classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'dumping database "shop"', fallback: 'DUMP_FAILED' });
const my = classifyMysql({ server: 'MySQL/MariaDB server db:3306', action: 'dumping database "shop"', fallback: 'DUMP_FAILED' });
const f = (stderr: string, code = 1) => ({ stderr, code, signal: null });

describe('PostgreSQL', () => {
  test.each([
    ['psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?', 'UNREACHABLE'],
    ['pg_dump: error: could not translate host name "nohost" to address: Name or service not known', 'UNREACHABLE'],
    ['psql: error: connection to server at "10.0.0.1", port 5432 failed: timeout expired', 'UNREACHABLE'],
    ['psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up', 'UNREACHABLE'],
    ['psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "postgres"', 'AUTH_FAILED'],
    ['psql: error: connection to server at "127.0.0.1", port 5432 failed: fe_sendauth: no password supplied', 'AUTH_FAILED'],
    ['psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  no pg_hba.conf entry for host "10.1.1.1", user "x", database "y", no encryption', 'AUTH_FAILED'],
    ['pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "shop" does not exist', 'DATABASE_NOT_FOUND'],
    ['ERROR:  database "shop" already exists', 'DATABASE_EXISTS'],
    ['pg_dump: error: query failed: ERROR:  permission denied for table secrets', 'PERMISSION_DENIED'],
    ['pg_basebackup: error: could not connect: FATAL:  must be superuser or replication role to start walsender', 'PERMISSION_DENIED'],
    ['pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 16.2; pg_dump version: 15.18', 'TOOL_TOO_OLD'],
    ['pg_dump: error: Dumping the contents of table "film" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: FATAL:  terminating connection due to administrator command', 'DUMP_FAILED'],
    ["pg_dump: error: query failed: ERROR:  canceling statement due to user request\npg_dump: detail: Query was: LOCK TABLE public.t IN ACCESS SHARE MODE", 'DUMP_FAILED'],
    ['pg_dump: error: something nobody expected', 'DUMP_FAILED'],
    ['psql:<stdin>:2: ERROR:  cannot execute CREATE DATABASE in a read-only transaction', 'READ_ONLY'],
    ['psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "nobody" does not exist', 'AUTH_FAILED'],
    ['pg_restore: error: could not execute query: ERROR:  role "app_owner" does not exist\nCommand was: ALTER TABLE public.t OWNER TO app_owner;', 'DUMP_FAILED'],
  ])('%s → %s', (stderr, code) => {
    const e = pg(f(stderr));
    expect(e.code).toBe(code);
    expect(e.message).toContain('(while dumping database "shop"; exit code 1)');
  });

  test.each([
    ['Error: You must install at least one postgresql-client-<version> package', 1],
    ['psql: error while loading shared libraries: libpq.so.5: cannot open shared object file: No such file or directory', 127],
    ['/usr/local/bin/psql: line 2: /opt/pg/bin/psql: No such file or directory', 127],
  ])('a tool that cannot run is TOOL_MISSING with the install hint, not UNREACHABLE: %s', (stderr, code) => {
    const unreachableFallback = classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'connecting', fallback: 'UNREACHABLE' });
    const e = unreachableFallback(f(stderr, code));
    expect(e.code).toBe('TOOL_MISSING');
    expect(e.message).toMatch(/^The client tools cannot run \(while connecting; exit code \d+\): /);
    expect(e.message).toContain('Install the PostgreSQL client tools or set their folder in Settings.');
    const m = classifyMysql({ server: 'MySQL/MariaDB server db:3306', action: 'connecting', fallback: 'UNREACHABLE' })(f(stderr, code));
    expect(m).toMatchObject({ code: 'TOOL_MISSING', message: expect.stringContaining('Install the MySQL/MariaDB client tools') });
  });

  test('a read-only transaction (Backstop turns a read-only default off, so: a standby) names the standby and the fix', () => {
    const restore = classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'creating database "x"', fallback: 'RESTORE_FAILED' });
    const e = restore(f('psql:<stdin>:9: ERROR:  cannot execute CREATE DATABASE in a read-only transaction', 3));
    expect(e.code).toBe('READ_ONLY');
    expect(e.message).toBe(
      'The PostgreSQL server db:5432 only allows reading in this session: it is a standby (in recovery), where every transaction is read-only, or a setting forces read-only transactions. Restore onto the primary (or promote this server first) (while creating database "x"; exit code 3): psql:<stdin>:9: ERROR:  cannot execute CREATE DATABASE in a read-only transaction',
    );
  });

  test("DEBUG and LOG lines (a role's client_min_messages = debug5) are never quoted: the error is", () => {
    const e = pg(
      f(
        'DEBUG:  CommitTransaction(1) name: unnamed; blockState: STARTED\npsql:<stdin>:1: DEBUG:  StartTransaction(1) name: unnamed\npsql:<stdin>:8: ERROR:  division by zero\npsql:<stdin>:8: LOG:  statement: x\nDEBUG:  proc_exit(0)',
        3,
      ),
    );
    expect(e.message).toBe('Failed on the PostgreSQL server db:5432 (while dumping database "shop"; exit code 3): psql:<stdin>:8: ERROR:  division by zero');
  });

  test('the message quotes the last stderr lines', () => {
    const e = pg(f('line one\nline two\nline three\nline four'));
    expect(e.message).toMatch(/: line two \| line three \| line four$/);
  });

  test('a missing role during a restore says how to fix it', () => {
    const restore = classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'restoring into database "x"', fallback: 'RESTORE_FAILED' });
    const e = restore(f('pg_restore: error: could not execute query: ERROR:  role "app_owner" does not exist'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/Role "app_owner" does not exist .* globals\.sql .* "no owner"/);
  });

  test('a tool killed by a signal says so', () => {
    expect(pg({ stderr: '', code: null, signal: 'SIGKILL' }).message).toContain('signal SIGKILL');
  });

  test('a value too large to write as text (a 600 MB bytea: 1.2 GB as hex) names the table, the 1 GB limit and the fixes', () => {
    // pg_dump 15's stderr for a 600 MB bytea (scripts/bench/large-values.mts 600 pg).
    const e = pg(
      f(
        'pg_dump: error: Dumping the contents of table "files" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: ERROR:  invalid memory alloc request size 1296420547\npg_dump: detail: Command was: COPY public.files (id, body) TO stdout;',
      ),
    );
    expect(e.code).toBe('DUMP_FAILED');
    expect(e.message).toMatch(/^A value in table "files" is too large for PostgreSQL to write as text \(near or over the 1 GB PostgreSQL allocates at once: a bytea is written as hex, twice its size, so one of some 500 MB is too large\), so pg_dump cannot dump it/);
    expect(e.message).toContain('Fix: back up this server with a snapshot task');
    expect(e.message).toContain('invalid memory alloc request size 1296420547');
    // The same server error elsewhere (not a COPY out) stays the general failure.
    expect(pg(f('psql:<stdin>:1: ERROR:  invalid memory alloc request size 1296420547')).message).toMatch(/^Failed on the PostgreSQL server/);
  });
});

describe('MySQL / MariaDB', () => {
  test.each([
    ["ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)", 'UNREACHABLE'],
    ["ERROR 2003 (HY000): Can't connect to MySQL server on '127.0.0.1' (111)", 'UNREACHABLE'],
    ["mysqldump: Got error: 2005: Unknown server host 'nohost' (-2) when trying to connect", 'UNREACHABLE'],
    ["ERROR 1045 (28000): Access denied for user 'backstop'@'localhost' (using password: YES)", 'AUTH_FAILED'],
    ["mysqldump: Got error: 1044: Access denied for user 'x'@'%' to database 'shop' when selecting the database", 'PERMISSION_DENIED'],
    ["mysqldump: Couldn't execute 'SHOW CREATE EVENT': Access denied; you need (at least one of) the EVENT privilege(s) (1227)", 'PERMISSION_DENIED'],
    ["mysqldump: Got error: 1049: Unknown database 'shop' when selecting the database", 'DATABASE_NOT_FOUND'],
    ["ERROR 1007 (HY000) at line 1: Can't create database 'shop'; database exists", 'DATABASE_EXISTS'],
    ['ERROR 1064 (42000) at line 12: You have an error in your SQL syntax', 'DUMP_FAILED'],
  ])('%s → %s', (stderr, code) => {
    expect(my(f(stderr)).code).toBe(code);
  });

  test('a restore refused for naming another DEFINER names the grant to run (MariaDB and MySQL 8.0 wording)', () => {
    for (const stderr of [
      'ERROR 1227 (42000) at line 63: Access denied; you need (at least one of) the SUPER, SET USER privilege(s) for this operation',
      'ERROR 1227 (42000) at line 63: Access denied; you need (at least one of) the SUPER or SET_USER_ID privilege(s) for this operation',
    ]) {
      const e = my(f(stderr));
      expect(e.code).toBe('PERMISSION_DENIED');
      expect(e.message).toContain('whose DEFINER is another account');
      expect(e.message).toContain('Fix: GRANT SET USER ON *.* TO <that user>;');
    }
    // Other 1227s keep the general message.
    expect(my(f("mysqldump: Couldn't execute 'SHOW CREATE EVENT': Access denied; you need (at least one of) the EVENT privilege(s) (1227)")).message).not.toContain('DEFINER');
  });

  test('the database name is quoted from the message', () => {
    expect(my(f("mysqldump: Got error: 1049: Unknown database 'shop' when selecting the database")).message).toContain('Database "shop" does not exist');
  });
});

describe('secrets never reach a message', () => {
  test('scrub and stderrDetail replace every occurrence', () => {
    expect(scrub('pw=hunter2 again hunter2', ['hunter2'])).toBe('pw=*** again ***');
    expect(stderrDetail('a\nconnect with hunter2 failed\n', ['hunter2', null])).toBe('a | connect with *** failed');
  });
});

describe('a tool that echoes a huge statement before its error', () => {
  test('the kept stderr ends with the error line, and the message quotes it after a shortened echo', () => {
    const echoed = `--------------\nINSERT INTO \`blobs\` VALUES (1,0x${'AB'.repeat(500_000)})\n--------------\n\nERROR 2006 (HY000) at line 50: Server has gone away\n`;
    const keeper = new StderrKeeper();
    for (let i = 0; i < echoed.length; i += 8192) keeper.add(echoed.slice(i, i + 8192));
    const kept = keeper.text();
    expect(kept.length).toBeLessThanOrEqual(64 * 1024);
    expect(kept.startsWith('--------------\nINSERT INTO `blobs`')).toBe(true);
    expect(kept.endsWith('ERROR 2006 (HY000) at line 50: Server has gone away\n')).toBe(true);
    expect(kept.match(/\[…\]/g)).toHaveLength(1);
    const detail = stderrDetail(kept);
    expect(detail).toMatch(/^(AB|BA){150}… \| -------------- \| ERROR 2006 \(HY000\) at line 50: Server has gone away$/);
  });
});

describe('a tool that writes a line per object (pg_restore --verbose of 20,000 large objects)', () => {
  test('StderrKeeper keeps exactly what keptStderr of the whole would, whatever the writes', () => {
    const lines = Array.from({ length: 24_000 }, (_, i) => `pg_restore: processing item ${i} BLOB ${100000 + i} postgres\n`);
    const whole = lines.join('');
    for (const writes of [[whole], [whole.slice(0, 70_000), whole.slice(70_000)], ['', 'x'.repeat(64 * 1024)], ['y'.repeat(64 * 1024), 'z'], ['a'.repeat(60_000), 'b'.repeat(300_000), 'c'.repeat(10)]]) {
      const keeper = new StderrKeeper();
      let kept = '';
      for (const w of writes) {
        keeper.add(w);
        kept = keptStderr(kept + w);
        expect(keeper.text()).toBe(kept);
      }
    }
    // Line by line, checked against keptStderr of everything so far at a few points (and at the end).
    const keeper = new StderrKeeper();
    let written = '';
    for (const [i, l] of lines.entries()) {
      keeper.add(l);
      written += l;
      if (i % 5000 === 0 || i === 1500 || i === 1600) expect(keeper.text()).toBe(keptStderr(written));
    }
    expect(keeper.text()).toBe(keptStderr(whole));
    expect(keeper.text().endsWith('pg_restore: processing item 23999 BLOB 123999 postgres\n')).toBe(true);
  });
});

describe('connection slots full (hosting servers): named with the fix, and tried again (child-process.ts retry)', () => {
  test('MySQL/MariaDB: the server\'s max_connections (1040)', () => {
    const failure = f("mariadb-dump: Got error: 1040: \"Too many connections\" when trying to connect", 2);
    expect(myConnectionSlotsFull(failure)).toBe(true);
    expect(my(failure).message).toMatch(/^The MySQL\/MariaDB server db:3306 has no free connection slot: its max_connections sessions are all in use\. Fix: .*raise max_connections \(SET GLOBAL max_connections = …;\) \(while dumping database "shop"; exit code 2\)/);
  });
  test('MySQL/MariaDB: the account\'s MAX_USER_CONNECTIONS (1226) and the global max_user_connections (1203)', () => {
    const account = f(`mariadb-dump: Got error: 1226: "User 'bk' has exceeded the 'max_user_connections' resource (current value: 1)" when trying to connect`, 2);
    expect(myConnectionSlotsFull(account)).toBe(true);
    expect(my(account).message).toMatch(/^User "bk" may have only 1 session at once \(MAX_USER_CONNECTIONS\) and all were in use \(other sessions of that user count\)\. Fix: end other sessions of "bk", or raise the limit \(ALTER USER … WITH MAX_USER_CONNECTIONS 0; for none\)/);
    const global = f("ERROR 1203 (42000): User bk already has more than 'max_user_connections' active connections");
    expect(myConnectionSlotsFull(global)).toBe(true);
    // The hourly limits are not freed by waiting seconds: not tried again.
    expect(myConnectionSlotsFull(f(`ERROR 1226 (42000): User 'bk' has exceeded the 'max_queries_per_hour' resource (current value: 10)`))).toBe(false);
    // A 1040 that is not the error number (a line of a failing statement) is not a full server.
    expect(myConnectionSlotsFull(f("ERROR 1064 (42000) at line 1040: You have an error in your SQL syntax"))).toBe(false);
  });
  test('PostgreSQL: max_connections, its superuser-reserved slots, and CONNECTION LIMITs', () => {
    for (const line of ['FATAL:  sorry, too many clients already', 'FATAL:  remaining connection slots are reserved for non-replication superuser connections', 'FATAL:  too many connections for role "bk"', 'FATAL:  too many connections for database "shop"']) {
      expect(pgConnectionSlotsFull(f(`pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: ${line}`))).toBe(true);
    }
    expect(pg(f('pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients already')).message).toMatch(/^The PostgreSQL server db:5432 has no free connection slot: its max_connections sessions are all in use/);
    expect(pgConnectionSlotsFull(f('pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "bk"'))).toBe(false);
  });
});
