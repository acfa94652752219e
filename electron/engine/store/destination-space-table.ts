/**
 * The free space last measured at each remote destination of a stored task (SFTP: after
 * every job that wrote there, backup/run-job.ts), for the disk warning (health-monitor.ts).
 * A local destination is measured when it is checked instead, so it has no row here.
 * Rows go with their task.
 */
import type { Db } from './app-database.ts';

export interface MeasuredSpace {
  freeBytes: number;
  measuredAt: string;
}

export class DestinationSpaceTable {
  constructor(private readonly db: Db) {}

  record(taskId: string, destination: string, freeBytes: number, measuredAt: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO destination_space (task_id, destination, free_bytes, measured_at) VALUES (?, ?, ?, ?)')
      .run(taskId, destination, Math.max(0, Math.floor(freeBytes)), measuredAt);
  }

  /** The last measurement of each of the task's destinations, by destination id. */
  forTask(taskId: string): Map<string, MeasuredSpace> {
    const rows = this.db.prepare('SELECT destination, free_bytes, measured_at FROM destination_space WHERE task_id = ?').all(taskId) as { destination: string; free_bytes: number; measured_at: string }[];
    return new Map(rows.map((r) => [r.destination, { freeBytes: r.free_bytes, measuredAt: r.measured_at }]));
  }
}
