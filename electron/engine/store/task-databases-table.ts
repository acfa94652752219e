/**
 * The databases each task has seen, when each last backed up successfully and when a run
 * found it gone from the server: what the "new database picked up", "databases gone" and
 * "stale database" alerts are computed from.
 *
 * Contract: `observe` records first sightings and returns the names never seen before
 * (none on a task's very first run: everything is new then, which is no news). `goneFrom`
 * marks the seen databases missing from the server's list as gone and returns those not
 * already marked (each is announced once); a name on the list again is no longer gone.
 */
import type { Db } from './app-database.ts';
import { inTransaction } from './app-database-errors.ts';

export interface TaskDatabase {
  database: string;
  firstSeenAt: string;
  lastSuccessAt: string | null;
  /** When a run first found it no longer on the server (dropped or renamed); null while it is there. */
  goneAt?: string | null;
}

export class TaskDatabasesTable {
  constructor(private readonly db: Db) {}

  list(taskId: string): TaskDatabase[] {
    return (
      this.db.prepare('SELECT database, first_seen_at, last_success_at, gone_at FROM task_databases WHERE task_id = ? ORDER BY database').all(taskId) as {
        database: string;
        first_seen_at: string;
        last_success_at: string | null;
        gone_at: string | null;
      }[]
    ).map((r) => ({ database: r.database, firstSeenAt: r.first_seen_at, lastSuccessAt: r.last_success_at, goneAt: r.gone_at }));
  }

  /** Marks the task's databases not in `onServer` (the server's whole list) gone at `at`; returns those newly gone. Those on it are no longer gone. */
  goneFrom(taskId: string, onServer: readonly string[], at: string): string[] {
    const present = new Set(onServer);
    const rows = this.list(taskId);
    const gone = rows.filter((d) => !present.has(d.database) && !d.goneAt).map((d) => d.database);
    const back = rows.filter((d) => present.has(d.database) && d.goneAt).map((d) => d.database);
    const mark = this.db.prepare('UPDATE task_databases SET gone_at = ? WHERE task_id = ? AND database = ?');
    inTransaction(this.db, () => {
      for (const d of gone) mark.run(at, taskId, d);
      for (const d of back) mark.run(null, taskId, d);
    });
    return gone;
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
