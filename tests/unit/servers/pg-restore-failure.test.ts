/** restore-failure.ts: pg_restore's own error stays in the message; the search_path failure is named. */
import { describe, expect, test } from 'vitest';
import { classifyPostgres } from '../../../electron/engine/servers/classify.ts';
import { pgRestoreClassifier, pgRestoreErrorText, searchPathFailure } from '../../../electron/engine/servers/postgres/restore-failure.ts';

const COPY_FAILED = `pg_restore: processing data for table "public.checked"
pg_restore: while PROCESSING TOC:
pg_restore: from TOC entry 3347; 0 16393 TABLE DATA checked postgres
pg_restore: error: COPY failed for table "checked": ERROR:  relation "limits" does not exist
LINE 1: SELECT v FROM limits WHERE k = 'max'
                      ^
QUERY:  SELECT v FROM limits WHERE k = 'max'
CONTEXT:  SQL function "lim" during startup
COPY checked, line 1: "3"`;

describe('pgRestoreErrorText', () => {
  test("keeps the error line and the two lines after it that are not the query's location", () => {
    expect(pgRestoreErrorText(COPY_FAILED)).toBe(`pg_restore: error: COPY failed for table "checked": ERROR:  relation "limits" does not exist\nCONTEXT:  SQL function "lim" during startup\nCOPY checked, line 1: "3"`);
  });

  test('stderr without an error line is left as it is', () => {
    expect(pgRestoreErrorText('pg_restore: [archiver] unexpected end of file\n')).toBe('pg_restore: [archiver] unexpected end of file\n');
  });

  test('the classifier quotes the server error that the last three lines alone would lose', () => {
    const classify = pgRestoreClassifier(classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'restoring into database "x"', fallback: 'RESTORE_FAILED' }), 'x');
    const e = classify({ stderr: 'pg_restore: error: could not execute query: ERROR:  syntax error at or near "x"\nLINE 1: x\n        ^\nCommand was: x;', code: 1, signal: null });
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toBe('Failed on the PostgreSQL server db:5432 (while restoring into database "x"; exit code 1): pg_restore: error: could not execute query: ERROR:  syntax error at or near "x" | Command was: x;');
  });
});

describe("a user mapping's password", () => {
  // What pg_restore writes when a user mapping fails (its options, one a line, after the statement's first line).
  const MAPPING_FAILED = `pg_restore: from TOC entry 3349; 0 0 USER MAPPING USER MAPPING fdw_user SERVER remote postgres
pg_restore: error: could not execute query: ERROR:  role "fdw_user" does not exist
Command was: CREATE USER MAPPING FOR fdw_user SERVER remote OPTIONS (
    password 'Sup3r-Secret',
    "user" 'u'
);

`;
  test('never reaches the message: the failed statement is quoted up to its OPTIONS only', () => {
    const classify = pgRestoreClassifier(classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'restoring into database "x"', fallback: 'RESTORE_FAILED' }), 'x');
    const e = classify({ stderr: MAPPING_FAILED, code: 1, signal: null });
    expect(e.message).not.toContain('Sup3r');
    expect(e.message).toContain('ERROR:  role "fdw_user" does not exist | Command was: CREATE USER MAPPING FOR fdw_user SERVER remote OPTIONS (…)');
  });

  test('nor does one on a single line, or in stderr without an error line', () => {
    expect(pgRestoreErrorText(`pg_restore: error: could not execute query: ERROR:  x\nCommand was: ALTER SERVER s OPTIONS (SET password 'p''w');`)).not.toContain("p''w");
    expect(pgRestoreErrorText(`WARNING: x\nHINT: password 'p4ss' and "password" 'p5ss'`)).toBe(`WARNING: x\nHINT: password '…' and "password" '…'`);
  });

  test("a connection string's password (a subscription's CONNECTION, a dblink call) is blanked, quoted or not", () => {
    const text = pgRestoreErrorText(
      `pg_restore: error: could not execute query: ERROR:  must be superuser to create subscriptions\nCommand was: CREATE SUBSCRIPTION s CONNECTION 'host=h user=u password=s3cr''et sslpassword = ''k e y'' dbname=d' PUBLICATION p WITH (connect = false);`,
    );
    expect(text).toBe(
      `pg_restore: error: could not execute query: ERROR:  must be superuser to create subscriptions\nCommand was: CREATE SUBSCRIPTION s CONNECTION 'host=h user=u password=… sslpassword = … dbname=d' PUBLICATION p WITH (connect = false);`,
    );
  });
});

describe('searchPathFailure', () => {
  test('a relation missing inside a SQL function: names the function, the relation and the fix', () => {
    const e = searchPathFailure(COPY_FAILED, 'copy');
    expect(e?.code).toBe('RESTORE_FAILED');
    expect(e?.message).toMatch(/^Database "copy" could not be restored: function "lim" names relation "limits" without its schema, .* ALTER FUNCTION lim SET search_path = public\. /);
  });

  test('a relation missing outside any function is not this failure', () => {
    expect(searchPathFailure('pg_restore: error: could not execute query: ERROR:  relation "public.t" does not exist\nCommand was: ALTER TABLE public.t OWNER TO x;', 'copy')).toBeNull();
  });
});
