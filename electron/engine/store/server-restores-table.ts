/**
 * Progress of whole-server restores per target database: 'started' is written before the
 * database is created, 'done' once it is complete. A re-run of the same restore skips a
 * database whose target name is 'done' and still exists, and drops-and-redoes one left
 * 'started' by a killed run (it is Backstop's own half-restored copy); a name with no row
 * here is never touched. `target` identifies the server (serverTarget()).
 */
import type { Db } from './app-database.ts';

export type ServerRestoreState = 'started' | 'done';

export class ServerRestoresTable {
  constructor(private readonly db: Db) {}

  mark(target: string, database: string, source: string, pointId: string | null, state: ServerRestoreState, at: string): void {
    this.db
      .prepare(
        `INSERT INTO server_restores (target, database, source, point_id, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(target, database) DO UPDATE SET source = excluded.source, point_id = excluded.point_id, state = excluded.state, updated_at = excluded.updated_at`,
      )
      .run(target, database, source, pointId, state, at);
  }

  forget(target: string, database: string): void {
    this.db.prepare('DELETE FROM server_restores WHERE target = ? AND database = ?').run(target, database);
  }

  get(target: string, database: string): { source: string; pointId: string | null; state: ServerRestoreState } | null {
    const row = this.db.prepare('SELECT source, point_id, state FROM server_restores WHERE target = ? AND database = ?').get(target, database) as
      | { source: string; point_id: string | null; state: ServerRestoreState }
      | undefined;
    return row ? { source: row.source, pointId: row.point_id, state: row.state } : null;
  }
}
