/**
 * What became of each notification: one row per (event, channel) once delivery ended,
 * delivered or given up after its retries.
 *
 * Contract: rows hold the channel's kind and secret-free target (`describeTarget`), never
 * a URL path, token or password; newest first.
 */
import type { Db } from './app-database.ts';

export interface NotificationDelivery {
  at: string;
  event: string;
  channel: 'webhook' | 'heartbeat' | 'email';
  target: string;
  taskId: string | null;
  runId: string | null;
  status: 'delivered' | 'failed';
  attempts: number;
  error: string | null;
}

export class NotificationDeliveriesTable {
  constructor(private readonly db: Db) {}

  record(d: NotificationDelivery): void {
    this.db
      .prepare('INSERT INTO notification_deliveries (at, event, channel, target, task_id, run_id, status, attempts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(d.at, d.event, d.channel, d.target, d.taskId, d.runId, d.status, d.attempts, d.error);
  }

  list(limit = 100): NotificationDelivery[] {
    const rows = this.db.prepare('SELECT * FROM notification_deliveries ORDER BY id DESC LIMIT ?').all(limit) as {
      at: string;
      event: string;
      channel: NotificationDelivery['channel'];
      target: string;
      task_id: string | null;
      run_id: string | null;
      status: NotificationDelivery['status'];
      attempts: number;
      error: string | null;
    }[];
    return rows.map((r) => ({ at: r.at, event: r.event, channel: r.channel, target: r.target, taskId: r.task_id, runId: r.run_id, status: r.status, attempts: r.attempts, error: r.error }));
  }
}
