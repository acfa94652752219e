/**
 * The databases each task has seen and when each last backed up successfully: what
 * "new database picked up" and "stale database" alerts are computed from.
 *
 * Contract: `observe` records first sightings and returns the names never seen before
 * (none on a task's very first run: everything is new then, which is no news).
 */
import type { Db } from './app-database.ts';
import { inTransaction } from './app-database-errors.ts';

export interface TaskDatabase {
  database: string;
  firstSeenAt: string;
  lastSuccessAt: string | null;
}

export class TaskDatabasesTable {
  constructor(private readonly db: Db) {}

  list(taskId: string): TaskDatabase[] {
    return (
      this.db.prepare('SELECT database, first_seen_at, last_success_at FROM task_databases WHERE task_id = ? ORDER BY database').all(taskId) as {
        database: string;
        first_seen_at: string;
        last_success_at: string | null;
      }[]
    ).map((r) => ({ database: r.database, firstSeenAt: r.first_seen_at, lastSuccessAt: r.last_success_at }));
  }

  observe(taskId: string, databases: readonly string[], at: string): string[] {
    const known = new Set(this.list(taskId).map((d) => d.database));
    const fresh = databases.filter((d) => !known.has(d));
    const insert = this.db.prepare('INSERT OR IGNORE INTO task_databases (task_id, database, first_seen_at) VALUES (?, ?, ?)');
    inTransaction(this.db, () => {
      for (const d of fresh) insert.run(taskId, d, at);
    });
    return known.size === 0 ? [] : fresh;
  }

  markSuccess(taskId: string, database: string, at: string): void {
    this.db
      .prepare(
        `INSERT INTO task_databases (task_id, database, first_seen_at, last_success_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(task_id, database) DO UPDATE SET last_success_at = excluded.last_success_at`,
      )
      .run(taskId, database, at, at);
  }
}
