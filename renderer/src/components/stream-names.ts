/**
 * Names a person understands for the server-level streams of a PostgreSQL server, which the
 * engine stores under their file names in the reserved server folder.
 * Contract: 'globals.sql' → 'Server globals (roles, tablespaces)', 'base.tar' → 'Whole cluster';
 * anything else (a database name) is returned unchanged.
 */
const DISPLAY_NAMES: Record<string, string> = {
  'globals.sql': 'Server globals (roles, tablespaces)',
  'base.tar': 'Whole cluster',
};

export function streamDisplayName(folderOrStream: string): string {
  return DISPLAY_NAMES[folderOrStream] ?? folderOrStream;
}
