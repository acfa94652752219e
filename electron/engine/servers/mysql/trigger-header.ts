/**
 * The source database's name in a trigger's header, taken out so a database restored under a
 * new name gets its triggers (and never puts them on the source's tables).
 *
 * Why it is there: MariaDB/MySQL keep a trigger's statement as it was written, and
 * mariadb-dump writes it back from SHOW CREATE TRIGGER. A trigger created from another
 * database's session (`CREATE TRIGGER shop.tr BEFORE INSERT ON shop.item …`, the usual way
 * for an admin script) is dumped with those qualified names, so its restore under a new
 * name creates it on the source database's table: "Trigger already exists" on the source
 * server, "Unknown database" where the source is absent, and on a server that has a
 * database of the source's name without that trigger, a trigger silently added to it.
 * (Views, routines and events are written back by the server without their database.)
 *
 * Contract: `unqualifyTrigger(line, source)` takes one complete dump line; when it is a
 * trigger's first line as mariadb-dump writes it (`/*!50003 CREATE*\/ /*!50017 DEFINER=…*\/
 * /*!50003 TRIGGER …`), it returns the line with the source name (bare or backquoted, exact
 * case) removed where it qualifies the trigger's name and the table after ON; anything else
 * (another database's qualifier, a line that is not a trigger header) gives null. The body
 * is never touched.
 */

/** How a trigger's first line starts in a mariadb-dump/mysqldump dump. */
export const TRIGGER_PREFIX = Buffer.from('/*!50003 CREATE*/');

const IDENT = '(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)';
const HEADER = new RegExp(
  `^(/\\*!50003 CREATE\\*/ (?:/\\*!50017 DEFINER=.*?\\*/ )?/\\*!50003 TRIGGER\\s+)(?:(${IDENT})\\s*\\.\\s*)?(${IDENT}\\s+(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+(?:(?:FOLLOWS|PRECEDES)\\s+${IDENT}\\s+)?ON\\s+)(?:(${IDENT})\\s*\\.\\s*)?`,
  'i',
);

/** The name an identifier as written stands for (backquoted: unescaped). */
function nameOf(ident: string): string {
  return ident.startsWith('`') ? ident.slice(1, -1).replace(/``/g, '`') : ident;
}

export function unqualifyTrigger(line: string, source: string): string | null {
  if (!line.startsWith(TRIGGER_PREFIX.toString())) return null;
  const m = HEADER.exec(line);
  if (!m) return null;
  const [whole, start, triggerDb, middle, tableDb] = m;
  const ours = (q: string | undefined) => q !== undefined && nameOf(q) === source;
  if (!ours(triggerDb) && !ours(tableDb)) return null;
  const head = `${start}${triggerDb !== undefined && !ours(triggerDb) ? `${triggerDb}.` : ''}${middle}${tableDb !== undefined && !ours(tableDb) ? `${tableDb}.` : ''}`;
  return head + line.slice(whole!.length);
}
