/**
 * Databases that Backstop itself created by restoring a backup, per server: what lets a
 * task run tell "a new database appeared" from "a restored copy appeared" (issue 17 §13).
 *
 * Contract: the restore service records a database only after its restore succeeded;
 * recording the same name again (dropped and restored anew) replaces the date. Rows go
 * with their server. Never holds a secret.
 */
import type { Db } from './app-database.ts';

export interface RestoredDatabase {
  database: string;
  restoredAt: string;
  pointId: string | null;
}

export class RestoredDatabasesTable {
  constructor(private readonly db: Db) {}

  record(serverId: string, database: string, restoredAt: string, pointId: string | null): void {
    this.db
      .prepare(
        `INSERT INTO restored_databases (server_id, database, restored_at, point_id) VALUES (?, ?, ?, ?)
         ON CONFLICT(server_id, database) DO UPDATE SET restored_at = excluded.restored_at, point_id = excluded.point_id`,
      )
      .run(serverId, database, restoredAt, pointId);
  }

  /** The restored databases of a server, by name. */
  forServer(serverId: string): Map<string, RestoredDatabase> {
    const rows = this.db.prepare('SELECT database, restored_at, point_id FROM restored_databases WHERE server_id = ?').all(serverId) as {
      database: string;
      restored_at: string;
      point_id: string | null;
    }[];
    return new Map(rows.map((r) => [r.database, { database: r.database, restoredAt: r.restored_at, pointId: r.point_id }]));
  }
}
