/**
 * The last schedule slot each task has handled (run or deliberately skipped). The
 * scheduler's catch-up compares it with now; it is written before a due run starts, so
 * a crash during the run does not make the same slot run again on the next start.
 */
import type { Db } from './app-database.ts';

/** Backup schedules, or the test-restore schedules (issue #22), each in its own table. */
export type ScheduleStateName = 'schedule_state' | 'test_restore_schedule_state';

export class ScheduleStateTable {
  constructor(
    private readonly db: Db,
    private readonly table: ScheduleStateName = 'schedule_state',
  ) {}

  lastSlot(taskId: string): Date | null {
    const row = this.db.prepare(`SELECT last_slot_at FROM ${this.table} WHERE task_id = ?`).get(taskId) as { last_slot_at: string } | undefined;
    return row ? new Date(row.last_slot_at) : null;
  }

  setLastSlot(taskId: string, slot: Date): void {
    this.db
      .prepare(`INSERT INTO ${this.table} (task_id, last_slot_at) VALUES (?, ?) ON CONFLICT(task_id) DO UPDATE SET last_slot_at = excluded.last_slot_at`)
      .run(taskId, slot.toISOString());
  }
}
