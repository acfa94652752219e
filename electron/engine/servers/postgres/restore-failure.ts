/**
 * What a failed `pg_restore --exit-on-error` says, made readable for a DBA.
 *
 * Contract: a classifier wrapper (pure; the stderr is already scrubbed of secrets).
 * - The server's own error is always quoted: pg_restore's `error:` line is kept, and the
 *   `LINE n:` / caret / `QUERY:` / `CONTEXT: parallel worker` lines that follow it (which
 *   pushed its HINT out of the last few lines a message quotes) are left out; CONTEXT lines stay, and the first line of
 *   `Command was:` without any OPTIONS list. Option values that may be secrets (a user
 *   mapping's password, a connection string's password=) are never quoted.
 * - The classic search_path failure gets its own message: every pg_dump archive restores
 *   with an empty search_path, so a SQL or PL/pgSQL function that names a table, function
 *   or type without its schema fails when a CHECK constraint, an index expression, a
 *   column default or a materialized view calls it during the restore. The message names
 *   the function and the name it could not find, and the fix (on the source, then a new
 *   backup; or by hand for this backup: docs/RESTORE.md). Code: the fallback
 *   (RESTORE_FAILED).
 * - A role that is not a superuser giving an object to a role without CREATE on its schema
 *   (the archive's schema grants come after the owners): PERMISSION_DENIED naming the
 *   object, the role, the schema and the fix.
 * Everything else goes to the connection's classifier unchanged in kind.
 */
import { BackstopError } from '../../../shared/result.ts';
import { stderrDetail, type Classifier, type ToolFailure } from '../child-process.ts';

const NOISE = /^(LINE \d+:|\s*\^\s*$|QUERY:|CONTEXT:\s+parallel worker$)/;

/** Option values pg_dump writes for user mappings and servers (`password 'x'`): never quoted back. */
const SECRET_OPTION = /\b(password|passfile|sslpassword|sslkey|secret|token|api_?key)("?)(\s+)'(?:[^']|'')*'/gi;
/**
 * A libpq connection string's secrets (`password=x`, `password = 'x y'`: a subscription's
 * CONNECTION, a dblink call), also inside an SQL literal, where its quotes are doubled.
 */
const SECRET_CONNINFO = /\b(password|sslpassword)(\s*=\s*)(?:''(?:[^']|'''')*''|'(?:[^'\\]|\\.)*'|(?:[^\s']|'')+)/gi;

/**
 * pg_restore's stderr from its `error:` line on, without the lines that only locate the
 * error in a query. The failed statement (`Command was:`) is cut at its first line and
 * before any OPTIONS list, and option values that may be secrets are blanked, so a user
 * mapping's password never reaches a message.
 */
export function pgRestoreErrorText(stderr: string): string {
  const lines = stderr.split(/\r?\n/);
  const at = lines.findIndex((l) => /^pg_restore: error: /.test(l));
  const blank = (t: string) => t.replace(SECRET_OPTION, "$1$2$3'…'").replace(SECRET_CONNINFO, '$1$2…');
  if (at < 0) return blank(stderr);
  const rest: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim().length === 0 || NOISE.test(l)) continue;
    if (/^Command was: /.test(l)) {
      const options = l.search(/\bOPTIONS\b/i);
      rest.push(options < 0 ? l : `${l.slice(0, options)}OPTIONS (…)`);
      break; // the rest of the statement
    }
    rest.push(l);
  }
  // The error line and the last two lines after it (what stderrDetail quotes).
  return blank([lines[at]!, ...rest.slice(-2)].join('\n'));
}

const NOT_FOUND = /ERROR:\s+(relation|function|type|operator) "?([^"\n]+?)"? does not exist/;
const IN_FUNCTION = /CONTEXT:\s+(?:SQL function "((?:[^"]|"")+)"|PL\/pgSQL function ([^\s(]+)\()/;

/** The search_path failure's explanation, or null when the failure is something else. */
export function searchPathFailure(stderr: string, database: string): BackstopError | null {
  const missing = NOT_FOUND.exec(stderr);
  const fn = IN_FUNCTION.exec(stderr);
  if (!missing || !fn) return null;
  const kind = missing[1]!;
  const name = missing[2]!;
  const func = (fn[1] ?? fn[2] ?? '').replace(/""/g, '"');
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" could not be restored: function "${func}" names ${kind} "${name}" without its schema, and a restore runs with an empty search_path (pg_dump archives always do), so ${kind} "${name}" is not found when the function runs during the restore (a CHECK constraint, index expression, default or materialized view calls it). ` +
      `Fix it on the source and take a new backup: write the schema in the function's body (e.g. public.${name}) or pin it with ALTER FUNCTION ${func} SET search_path = public. ` +
      `To restore this backup as it is, see "A function that names a table without its schema" in docs/RESTORE.md. (${stderrDetail(pgRestoreErrorText(stderr))})`,
  );
}

const OWNER_SCHEMA = /ERROR:\s+permission denied for schema ("(?:[^"]|"")+"|\S+)[\s\S]*?Command was: ALTER ([A-Z ]+?) (.+) OWNER TO ("(?:[^"]|"")+"|[^\s;]+);/;

/**
 * A restoring role that is not a superuser giving an object to a role that may not create in
 * the object's schema (PostgreSQL checks that; the archive's GRANT CREATE ON SCHEMA comes only
 * after every owner is set): the explanation and the fix, or null for anything else.
 */
export function ownerSchemaFailure(stderr: string, database: string): BackstopError | null {
  const m = OWNER_SCHEMA.exec(stderr);
  if (!m) return null;
  const [, schema, kind, object, role] = m;
  return new BackstopError(
    'PERMISSION_DENIED',
    `Database "${database}" could not be restored by a role that is not a superuser: PostgreSQL lets it give ${kind!.toLowerCase()} ${object} to ${role} only when ${role} may create in schema ${schema}, and a backup grants that (GRANT CREATE ON SCHEMA) only after every owner is set. The new database was removed. Fix: restore with a superuser account, skip ownership, or map ${role} to the owner of schema ${schema} (in "public", the database's owner). (${stderrDetail(pgRestoreErrorText(stderr))})`,
  );
}

/** Wraps the connection's classifier for a pg_restore run into `database`. */
export function pgRestoreClassifier(classify: Classifier, database: string): Classifier {
  return (f: ToolFailure) => searchPathFailure(f.stderr, database) ?? ownerSchemaFailure(f.stderr, database) ?? classify({ ...f, stderr: pgRestoreErrorText(f.stderr) });
}
