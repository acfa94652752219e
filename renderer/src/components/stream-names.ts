/**
 * Names a person understands for server-level streams (the `~server/<stream>` folders):
 * "globals.sql" → "Server globals (roles, tablespaces)", "base.tar" → "Whole cluster";
 * MySQL/MariaDB: "grants.sql" → "Server users, roles and grants", "binlog" → "Binary log (incrementals)".
 *
 * Contract: the one place the window maps stream names to display names (History, the
 * chart selector, Restore). Accepts a bare stream name, a `~server/<stream>` folder or a
 * path/URL ending in one; anything else (a database name, a database folder) comes back
 * unchanged. Pure; no I/O.
 */

const SERVER_FOLDER = '~server';

const STREAM_NAMES: Record<string, string> = {
  'globals.sql': 'Server globals (roles, tablespaces)',
  'base.tar': 'Whole cluster',
  'grants.sql': 'Server users, roles and grants',
  binlog: 'Binary log (incrementals)',
};

/** The display name of a server-level stream, or the input unchanged for a database. */
export function streamDisplayName(folderOrStream: string): string {
  const trimmed = folderOrStream.replace(/[\\/]+$/, '');
  const parts = trimmed.split(/[\\/]/);
  const last = parts.at(-1) ?? '';
  const name = STREAM_NAMES[last];
  if (name === undefined) return folderOrStream;
  // A bare stream name, or one inside the server folder; never a database that happens to be called "base.tar".
  if (parts.length === 1 || parts.at(-2) === SERVER_FOLDER) return name;
  return folderOrStream;
}
