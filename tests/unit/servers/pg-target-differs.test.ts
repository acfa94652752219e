/** localeMissingError / collationMissingError / lockSlotsError: which failures of a restore onto a differing server they explain, and how. */
import { describe, expect, test } from 'vitest';
import { BackstopError } from '../../../electron/shared/result.ts';
import { collationMissingError, localeMissingError, lockSlotsError } from '../../../electron/engine/servers/postgres/target-differs.ts';
import { pgRestoreErrorText } from '../../../electron/engine/servers/postgres/restore-failure.ts';

const failed = (m: string) => new BackstopError('RESTORE_FAILED', `Failed on the S (while x; exit code 1): ${m}`);

describe('localeMissingError', () => {
  test("the database's LC_COLLATE (older servers' wording): before anything was created", () => {
    const e = localeMissingError('S', 'd', failed('ERROR:  invalid LC_COLLATE locale name: "sv_SE.UTF-8"'), false);
    expect(e?.code).toBe('RESTORE_FAILED');
    expect(e?.message).toMatch(/^Database "d" cannot be restored on the S: the backup uses the locale "sv_SE\.UTF-8" as the database's own locale \(LC_COLLATE\), .* Nothing was created\. .*locale-gen/);
  });
  test('a quoted collation name; other failures and cancels are not explained', () => {
    const e = localeMissingError('S', 'd', failed(`ERROR:  could not create locale "x": No such file | Command was: CREATE COLLATION "My App"."Nö" (provider = libc, locale = 'x');`), true);
    expect(e?.message).toContain('the locale "x" in collation "My App"."Nö", which');
    expect(e?.message).toContain('The new database was removed.');
    expect(localeMissingError('S', 'd', failed('ERROR:  relation "t" does not exist'), true)).toBeNull();
    expect(localeMissingError('S', 'd', new BackstopError('CANCELED', 'invalid locale name: "x"'), true)).toBeNull();
  });
});

describe('collationMissingError', () => {
  test('a pg_catalog collation the target never imported: named, with the template0 import; other failures not', () => {
    const e = collationMissingError('S', 'd', failed('ERROR:  collation "pg_catalog.sv_SE" for encoding "UTF8" does not exist | Command was: CREATE TABLE public.t ('), true);
    expect(e?.message).toMatch(/^Database "d" cannot be restored on the S: the backup uses collation "pg_catalog\.sv_SE", which that server lacks\. .* The new database was removed\. Fix: /);
    expect(e?.message).toContain("connected to template0: SELECT pg_import_system_collations('pg_catalog');");
    expect(collationMissingError('S', 'd', failed('ERROR:  invalid locale name: "x"'), true)).toBeNull();
  });
});

describe('lockSlotsError', () => {
  test('only out of shared memory with the max_locks_per_transaction hint', () => {
    expect(lockSlotsError('S', 'd', failed('ERROR:  out of shared memory | HINT:  You might need to increase max_locks_per_transaction.'), true)?.message).toContain('ALTER SYSTEM SET max_locks_per_transaction = 1024;');
    expect(lockSlotsError('S', 'd', failed('ERROR:  out of shared memory | HINT:  You might need to increase max_pred_locks_per_transaction.'), true)).toBeNull();
  });
  test("pg_restore's parallel-worker CONTEXT line no longer pushes the hint out of the quoted text", () => {
    const stderr = 'pg_restore: error: could not execute query: ERROR:  out of shared memory\nHINT:  You might need to increase max_locks_per_transaction.\nCONTEXT:  parallel worker\nCommand was: REFRESH MATERIALIZED VIEW public.total;\n';
    expect(pgRestoreErrorText(stderr)).toContain('HINT:  You might need to increase max_locks_per_transaction.');
  });
});
