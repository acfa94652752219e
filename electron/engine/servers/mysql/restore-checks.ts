/**
 * What a MySQL/MariaDB restore checks beyond the client's own errors, so a DBA learns the
 * cause and the fix instead of a bare failure or objects that fail later.
 *
 * Contract:
 * - `packetTooLargeError` is the error for a restore that failed with a longer statement
 *   than the server's max_allowed_packet (the dump's longest line, which `DumpTables` of
 *   dump-tables.ts notes as it walks the dump's lines; the server closes the connection and
 *   the client only says "server has gone away"): it names the SET GLOBAL to run. The caller
 *   removes the new database, as for every failed restore. Without a `cause` it is the
 *   refusal made before anything is created, from the longest statement the point's facts
 *   recorded (dump-facts.ts `longestLine`). A binary-log replay uses it too, with the
 *   longest statement it sent (binlog.ts `AccountStatements.longest`).
 * - `definersQuery`/`definerNotes`: after a restore, the accounts that definer-rights
 *   objects (views and routines with SQL SECURITY DEFINER, triggers, events) run as, checked
 *   against mysql.user: missing ones make the objects fail with error 1449; existing ones
 *   without any privilege on the new database name (grants name a database, so those on
 *   the original do not reach a new name) fail with 1356/1142. Each case is one note naming
 *   the accounts and the fix; the restored database is kept (its data is whole). A user
 *   that may not read the mysql schema (a least-privilege restore account) gets one note
 *   naming the definer accounts it could not check (`definerAccountsQuery` /
 *   `uncheckedDefinerNote`, from information_schema only).
 * - `sourceReferencesQuery`/`sourceReferenceNotes`: triggers, routines and events of a database
 *   restored under a new name whose bodies name the original database as a qualifier
 *   (`shop`.log): one note naming them — they still use the original (the dump keeps bodies
 *   as written; only view bodies and trigger headers are rewritten, view-bodies.ts and
 *   trigger-header.ts).
 * - `grantsLeftBehindQuery`/`grantsLeftBehindNotes`: after a restore under a new name, the
 *   accounts and roles that on this server hold privileges on the original name (database,
 *   table or routine grants) but none on the new one: one note naming them and the GRANT to
 *   run — an application switched to the copy gets "Access denied" otherwise. Definers are
 *   left to `definerNotes`; a user that may not read the mysql schema gets no such note.
 * - `eventDefinersQuery`/`eventDefinerNote`: a replay to a moment whose log holds ALTER EVENT
 *   (logged without a DEFINER clause) makes the restoring account those events' definer; the
 *   note names them, their definer before the replay and the ALTER DEFINER to run.
 * - `crossDatabaseKeyError`: a replay to a moment stopped by a foreign key into another
 *   database (1452: the referenced row is not on this server now) becomes the error naming the
 *   key's tables and the fix; any other failure gives null.
 * - `readOnlyError`: a target whose read_only is on (a replica, or a server set read-only) is
 *   refused before anything is created — also for a user whose privileges (SUPER / READ_ONLY
 *   ADMIN) would let it write there: a database written into a replica is one its primary lacks.
 * - `missingDefinerError`: a restore that failed because the server refused to create a view
 *   reading another view whose DEFINER account it lacks (error 1449: such a view cannot be
 *   created while the account is missing, under any name) becomes the error naming that
 *   account and the fix; any other failure gives null.
 */
import { BackstopError } from '../../../shared/result.ts';

/** `@@GLOBAL.read_only` as the client prints it: 0/1, or a word on servers where it is an enumeration. */
export function isReadOnly(value: string | undefined): boolean {
  return value !== undefined && !['0', 'OFF', ''].includes(value.trim().toUpperCase());
}

/** The refusal of a restore onto a read-only server (nothing created yet). */
export function readOnlyError(server: string, database: string): BackstopError {
  return new BackstopError(
    'READ_ONLY',
    `Database "${database}" cannot be restored on the ${server}: it is read-only (read_only=ON), as a replica is, and a database written into a replica is one its primary does not have (a later change of that name on the primary would stop replication). Nothing was created. Restore onto the primary or another server; if this server is meant to take writes, run SET GLOBAL read_only = OFF; there first.`,
  );
}

const mb = (n: number) => `${Math.ceil(n / (1024 * 1024))} MB`;

/**
 * A restore with a statement of `longest` bytes on a server whose max_allowed_packet is
 * `limit`: refused before anything was created (the point's facts, or a decode of the log,
 * knew the length), or failed while loading (`cause`: the server closed the connection; the
 * caller removed the database). `from` 'log': the statement is a binary-log replay's — the row
 * changes of ONE statement (a large row, or many rows changed by one INSERT … SELECT, UPDATE or
 * DELETE), which the replay sends as one `BINLOG '…'` statement.
 */
export function packetTooLargeError(server: string, database: string, longest: number, limit: number, cause?: unknown, from: 'dump' | 'log' = 'dump'): BackstopError {
  const what = cause === undefined ? 'so it would close the connection while loading it. Nothing was created.' : 'so it closed the connection. The new database was removed.';
  const held =
    from === 'log'
      ? `the stored binary log holds a statement of ${mb(longest)} to replay (the row changes of one statement: a large row, or many rows changed by one INSERT … SELECT, UPDATE or DELETE, replayed as one BINLOG statement)`
      : `the backup holds a statement of ${mb(longest)} (a large row)`;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" cannot be restored on the ${server}: ${held}, more than that server's max_allowed_packet of ${mb(limit)}, ${what} Fix: on that server run SET GLOBAL max_allowed_packet = 1073741824; (and set max_allowed_packet=1G in its configuration to keep it after a restart), then restore again.`,
    cause === undefined ? {} : { cause },
  );
}

/** Rows ('definer', HEX(definer), account exists 0/1, has a privilege on the database 0/1) for the definer-rights objects of `database`. */
export function definersQuery(database: string): string {
  const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
  const account = `u.User = SUBSTRING_INDEX(d.DEFINER, '@', 1) AND u.Host = IF(LOCATE('@', d.DEFINER) > 0, SUBSTRING_INDEX(d.DEFINER, '@', -1), '')`;
  return `SELECT 'definer', HEX(d.DEFINER), (SELECT COUNT(*) FROM mysql.user u WHERE ${account}),
      (SELECT COUNT(*) FROM mysql.user u WHERE ${account}
         AND (u.Select_priv = 'Y'
           OR EXISTS (SELECT 1 FROM mysql.db g WHERE g.User = u.User AND g.Host = u.Host AND ${name} LIKE g.Db)
           OR EXISTS (SELECT 1 FROM mysql.tables_priv t WHERE t.User = u.User AND t.Host = u.Host AND t.Db = ${name})))
    FROM (SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${name} AND SECURITY_TYPE = 'DEFINER'
          UNION SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${name} AND SECURITY_TYPE = 'DEFINER'
          UNION SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${name}
          UNION SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${name}) d
    ORDER BY 2;`;
}

/** Rows ('definer', HEX(definer)) of the definer-rights objects of `database`, from information_schema only (no mysql schema needed). */
export function definerAccountsQuery(database: string): string {
  const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
  return `SELECT DISTINCT 'definer', HEX(DEFINER) FROM (SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${name} AND SECURITY_TYPE = 'DEFINER'
          UNION SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${name} AND SECURITY_TYPE = 'DEFINER'
          UNION SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${name}
          UNION SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${name}) d ORDER BY 2;`;
}

/**
 * The note when the restoring user may not read the mysql schema (a least-privilege restore
 * account): the definer accounts of `rows` (definerAccountsQuery) could not be checked, so
 * the DBA is told to check them — never silence about objects that may fail.
 */
export function uncheckedDefinerNote(database: string, user: string, rows: string[][]): string[] {
  const accounts = rows.filter((r) => r[0] === 'definer').map((r) => accountName(Buffer.from(r[1] ?? '', 'hex').toString('utf8')));
  if (accounts.length === 0) return [];
  return [
    `Views, routines, triggers or events of "${database}" run as ${listed(accounts)}; "${user}" may not read the mysql schema, so Backstop could not check that ${accounts.length === 1 ? 'this account exists' : 'these accounts exist'} on this server with privileges on "${database}". Grants name a database, so those held on the original database do not reach this new name, and using the objects fails (error 1449, 1356 or 1142) until they do. Check on this server, and e.g. GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON ${quoted(database)}.* TO ${accounts[0]}; (an account it lacks: apply the backup's ~server/grants.sql first).`,
  ];
}

/**
 * Rows ('names-source', kind, HEX(name)) of the triggers, routines and events of `database`
 * whose body names the database `source` as a qualifier (`source`.x or source.x): restored
 * under a new name they still read and write the source database.
 */
export function sourceReferencesQuery(database: string, source: string): string {
  const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
  const escaped = source.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  const bare = /^[A-Za-z0-9_$]+$/.test(source) ? `|(^|[^A-Za-z0-9_$\`.])${escaped}[[:space:]]*\\.` : '';
  const pattern = `X'${Buffer.from(`\`${escaped.replace(/`/g, '``')}\`[[:space:]]*\\.${bare}`, 'utf8').toString('hex')}'`;
  return `SELECT 'names-source', 'trigger', HEX(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${name} AND ACTION_STATEMENT REGEXP CONVERT(${pattern} USING utf8mb4)
    UNION ALL SELECT 'names-source', LOWER(ROUTINE_TYPE), HEX(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${name} AND ROUTINE_DEFINITION REGEXP CONVERT(${pattern} USING utf8mb4)
    UNION ALL SELECT 'names-source', 'event', HEX(EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${name} AND EVENT_DEFINITION REGEXP CONVERT(${pattern} USING utf8mb4)
    ORDER BY 2, 3;`;
}

/** The note for the rows of `sourceReferencesQuery` (none when no body names the source database). */
export function sourceReferenceNotes(database: string, source: string, rows: string[][]): string[] {
  const objects = rows.filter((r) => r[0] === 'names-source' && r.length === 3).map((r) => `${r[1]} ${quoted(Buffer.from(r[2] ?? '', 'hex').toString('utf8'))}`);
  if (objects.length === 0) return [];
  return [
    `The bodies of ${listed(objects)} in "${database}" appear to name the original database ${quoted(source)} (${quoted(source)}.table): restored as they were written, they still read and write ${quoted(source)}, not "${database}". To have them use the copy, re-create them without the database name (SHOW CREATE … gives their text).`,
  ];
}

function accountName(definer: string): string {
  const lit = (t: string) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  const at = definer.lastIndexOf('@');
  return at < 0 ? lit(definer) : `${lit(definer.slice(0, at))}@${lit(definer.slice(at + 1))}`;
}

function listed(accounts: string[]): string {
  return accounts.length > 10 ? `${accounts.slice(0, 10).join(', ')} and ${accounts.length - 10} more` : accounts.join(', ');
}

function quoted(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** The notes for the rows of `definersQuery` (none when every definer exists with a privilege there). */
export function definerNotes(database: string, rows: string[][]): string[] {
  const found = rows
    .filter((r) => r[0] === 'definer' && r.length === 4)
    .map((r) => ({ account: accountName(Buffer.from(r[1] ?? '', 'hex').toString('utf8')), exists: r[2] !== '0', privileged: r[3] !== '0' }));
  const missing = found.filter((d) => !d.exists).map((d) => d.account);
  const unprivileged = found.filter((d) => d.exists && !d.privileged).map((d) => d.account);
  const notes: string[] = [];
  if (missing.length > 0) {
    notes.push(
      `Views, routines, triggers or events of "${database}" are defined by accounts this server does not have: ${listed(missing)}. They were restored, but using them fails (error 1449, "The user specified as a definer does not exist") until those accounts exist. Fix: create them from the backup's users and grants (in the app: Restore the task's ~server/grants.sql backup, Apply to a server; or backstop apply-globals <backup root>/~server --server server.json), or with CREATE USER on this server.`,
    );
  }
  if (unprivileged.length > 0) {
    notes.push(
      `Views, routines, triggers or events of "${database}" run as accounts that have no privileges on "${database}" on this server: ${listed(unprivileged)}. Grants name a database, so those the accounts hold on the original database do not reach this new name, and using the objects fails (error 1356 or 1142) until they do. Fix: grant them on the new name what they hold on the original, e.g. GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, TRIGGER ON ${quoted(database)}.* TO ${unprivileged[0]};`,
    );
  }
  return notes;
}

/**
 * Rows ('grant', HEX(User), HEX(Host)) of the accounts and roles that, on this server, hold
 * privileges on the database `source` (mysql.db, tables_priv — column grants too —, procs_priv) and
 * none that reach `database` (the new name, in any of those tables; nor SELECT on every database); the definers of its
 * objects are left out (definerNotes names those). A database-level grant names a pattern
 * (`my\_app`, as DBAs escape `_`; `my_ap_`), matched with LIKE as the server matches it.
 */
export function grantsLeftBehindQuery(database: string, source: string): string {
  const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
  const original = `X'${Buffer.from(source, 'utf8').toString('hex')}'`;
  return `SELECT DISTINCT 'grant', HEX(a.User), HEX(a.Host) FROM (
      SELECT User, Host FROM mysql.db WHERE ${original} LIKE Db
      UNION SELECT User, Host FROM mysql.tables_priv WHERE Db = ${original}
      UNION SELECT User, Host FROM mysql.procs_priv WHERE Db = ${original}) a
    WHERE NOT EXISTS (SELECT 1 FROM mysql.user u WHERE u.User = a.User AND u.Host = a.Host AND u.Select_priv = 'Y')
      AND NOT EXISTS (SELECT 1 FROM mysql.db g WHERE g.User = a.User AND g.Host = a.Host AND ${name} LIKE g.Db)
      AND NOT EXISTS (SELECT 1 FROM mysql.tables_priv t WHERE t.User = a.User AND t.Host = a.Host AND t.Db = ${name})
      AND NOT EXISTS (SELECT 1 FROM mysql.procs_priv p WHERE p.User = a.User AND p.Host = a.Host AND p.Db = ${name})
      AND CONCAT(a.User, '@', a.Host) NOT IN (SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${name}
          UNION SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${name}
          UNION SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${name}
          UNION SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${name})
    ORDER BY 2, 3;`;
}

/** The note for the rows of `grantsLeftBehindQuery` (restored as `database` from `source`), or none. */
export function grantsLeftBehindNotes(database: string, source: string, rows: string[][]): string[] {
  const lit = (t: string) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  const accounts = rows
    .filter((r) => r[0] === 'grant' && r.length === 3)
    .map((r) => {
      const [user, host] = [Buffer.from(r[1] ?? '', 'hex').toString('utf8'), Buffer.from(r[2] ?? '', 'hex').toString('utf8')];
      return host === '' ? lit(user) : `${lit(user)}@${lit(host)}`;
    });
  if (accounts.length === 0) return [];
  return [
    `Accounts that hold privileges on "${source}" on this server have none on the new name "${database}": ${listed(accounts)}. Grants name a database, so they stay on the original and were not copied. ` +
      `If applications are to use "${database}" in its place, grant those accounts on the new name what they hold on the original (SHOW GRANTS FOR ${accounts[0]}; lists it), e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON ${quoted(database)}.* TO ${accounts[0]};`,
  ];
}

/** Rows ('event', HEX(name), HEX(definer), STATUS) of the events of `database`, and ('me', HEX(CURRENT_USER()), '', ''): before and after a replay, `eventDefinerNote` compares them. */
export function eventDefinersQuery(database: string): string {
  const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
  return `SELECT 'event', HEX(EVENT_NAME), HEX(DEFINER), STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${name} ORDER BY EVENT_NAME; SELECT 'me', HEX(CURRENT_USER()), '', '';`;
}

/**
 * The note on events of `database` whose definer a replay made the restoring account: the log
 * holds ALTER EVENT statements without a DEFINER clause (the server logs them as typed), and
 * ALTER EVENT makes whoever runs it the definer — on the source that was the account that ran
 * it, which the log does not record. `before`/`after`: rows of `eventDefinersQuery`. Null when none changed.
 */
export function eventDefinerNote(database: string, before: string[][], after: string[][]): string | null {
  const text = (h: string | undefined) => Buffer.from(h ?? '', 'hex').toString('utf8');
  const was = new Map(before.filter((r) => r[0] === 'event').map((r) => [text(r[1]), text(r[2])]));
  const me = text(after.find((r) => r[0] === 'me')?.[1]);
  const changed = after.filter((r) => r[0] === 'event' && was.has(text(r[1])) && was.get(text(r[1])) !== text(r[2]) && text(r[2]) === me).map((r) => text(r[1]));
  if (changed.length === 0) return null;
  const first = changed[0]!;
  const status = after.find((r) => r[0] === 'event' && text(r[1]) === first)?.[3] ?? '';
  const keep = status === 'DISABLED' ? 'DISABLE' : status === 'SLAVESIDE_DISABLED' ? 'DISABLE ON SLAVE' : 'ENABLE';
  return (
    `Events of "${database}" changed by ALTER EVENT in the replayed binary log now have the restoring account ${accountName(me)} as their definer: ${listed(changed.map(quoted))}. ` +
    `ALTER EVENT makes whoever runs it the definer, and the log does not record who ran it on the source (before the replay it was ${accountName(was.get(first)!)} for ${quoted(first)}). ` +
    `Fix: give each event its definer back, keeping its state, e.g. ALTER DEFINER = ${accountName(was.get(first)!)} EVENT ${quoted(database)}.${quoted(first)} ${keep};`
  );
}

const CROSS_DATABASE_KEY = /ERROR 1452 \(23000\)(?: at line \d+)?: Cannot add or update a child row: a foreign key constraint fails \(`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`, CONSTRAINT .* REFERENCES `((?:[^`]|``)+)`\.`((?:[^`]|``)+)`/;

/**
 * The error for a replay of `source`'s binary log into `target` (as of `moment`) the server
 * stopped with 1452 on a foreign key into ANOTHER database: the replay applies one database's
 * changes, so a row the log inserts may reference a row of the other database that this server
 * no longer has (deleted since, or never there on another server). Null for any other failure.
 */
export function crossDatabaseKeyError(source: string, target: string, moment: string, failure: unknown): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED') return null;
  const m = CROSS_DATABASE_KEY.exec(failure.message);
  if (!m) return null;
  const [table, refDb, refTable] = [m[2]!, m[3]!, m[4]!].map((n) => n.replace(/``/g, '`'));
  // A key inside the restored database itself: not this case.
  if (refDb === target) return null;
  const ref = `${quoted(refDb!)}.${quoted(refTable!)}`;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${source}" cannot be restored as of ${moment}: its table ${quoted(table!)} has a foreign key into another database, ${ref}, and the binary log holds a row referencing a row of ${ref} that this server does not have now (a replay applies "${source}"'s changes only; that row was there at the moment, and has been deleted since or never was on this server). The new database "${target}" was removed. ` +
      `Fix: restore a backup point without --as-of (backstop points <location> lists them), or restore as of that moment onto a server whose ${ref} still holds the rows the log references.`,
    { cause: failure },
  );
}

const MISSING_DEFINER = /ERROR 1449 \(HY000\)(?: at line \d+)?: The user specified as a definer \('(.*)'@'(.*?)'\) does not exist/;

/** The error for a restore the server stopped with 1449 (a view over a view whose definer it lacks), or null. */
export function missingDefinerError(server: string, database: string, failure: unknown): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED') return null;
  const m = MISSING_DEFINER.exec(failure.message);
  if (!m) return null;
  const account = `'${m[1]!.replace(/'/g, "''")}'@'${m[2]!.replace(/'/g, "''")}'`;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" cannot be restored on the ${server}: the backup has a view that reads another view defined by ${account}, an account this server does not have, and MariaDB/MySQL refuses to create such a view (error 1449, under any name). Nothing was created. Fix: create the account on this server and grant it on the new name what it held on the original first (e.g. CREATE USER ${account}; GRANT SELECT ON ${quoted(database)}.* TO ${account};), then restore again; or, on the source, give the view an existing definer (ALTER DEFINER = <account> VIEW …) and take a new backup. Server said: ${failure.message.slice(failure.message.indexOf('ERROR 1449'))}`,
    { cause: failure },
  );
}
