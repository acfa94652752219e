/**
 * A mariadb-dump / mysqldump failure caused by a DBA's DDL during the dump, named as such.
 *
 * Contract: `noticingSchemaChanges(database, classify)` wraps a dump's classifier. A dump
 * runs in one --single-transaction snapshot; a table changed after that snapshot and
 * before the tool reads it ends the tool with
 * - ERROR 1412 "Table definition has changed" (TRUNCATE, or an ALTER TABLE that rebuilds
 *   the table), or
 * - ERROR 1146 "doesn't exist" on a table the tool itself listed (RENAME TABLE, DROP TABLE).
 * Both become SCHEMA_CHANGED (retryable): the message names the table and the database,
 * says nothing was stored, and that running the backup again (after the maintenance) takes
 * it. No automatic retry: the maintenance may still be running, and a retry re-dumps the
 * whole database. Anything else is left to `classify`. An ALTER TABLE done in place
 * (instant ADD COLUMN) raises no error: the tool dumps the new definition with the
 * snapshot's rows, a state the database had right after the ALTER (docs/RESTORE.md).
 */
import { BackstopError } from '../../../shared/result.ts';
import type { Classifier } from '../child-process.ts';

const NAME = '`((?:[^`]|``)*)`';
const CHANGED = [
  new RegExp(`\\b1412\\b[^\\n]*?Table definition has changed[^\\n]*?when dumping table ${NAME}`, 'i'),
  new RegExp(`show create table ${NAME}'?: Table '[^\\n]*' doesn't exist \\(1146\\)`, 'i'),
  new RegExp(`\\b1146\\b[^\\n]*?when dumping table ${NAME}`, 'i'),
];

export function noticingSchemaChanges(database: string, classify: Classifier): Classifier {
  return (f) => {
    const e = classify(f);
    if (e.code !== 'DUMP_FAILED') return e;
    const hit = CHANGED.map((r) => r.exec(f.stderr)).find(Boolean) ?? (/\b1412\b|Table definition has changed/i.test(f.stderr) ? ['', ''] : null);
    if (!hit) return e;
    const table = hit[1] ? `Table \`${hit[1].replace(/``/g, '`')}\`` : 'A table';
    return new BackstopError(
      'SCHEMA_CHANGED',
      `${table} of database "${database}" was changed (ALTER, TRUNCATE, RENAME or DROP TABLE) while it was being backed up, after the backup's snapshot, so it could not be read consistently; nothing was stored and the earlier points are untouched. Run the backup again once the maintenance is done (the next scheduled run also takes it).`,
      { cause: e },
    );
  };
}
