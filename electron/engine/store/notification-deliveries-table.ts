/**
 * What became of each notification: one row per (event, channel) once delivery ended,
 * delivered or given up after its retries.
 *
 * Contract: rows hold the channel's kind and secret-free target (`describeTarget`), never
 * a URL path, token or password, and the Settings channel's id when it was one; newest first.
 * `last` is a channel's newest row: by id for a Settings channel, else by kind and target.
 * `runOutcomeDeliveredAfter` tells whether a later run's outcome of a task reached a channel.
 */
import type { Db } from './app-database.ts';

export interface NotificationDelivery {
  at: string;
  event: string;
  channel: 'webhook' | 'heartbeat' | 'email';
  /** The Settings channel (null: a task file's). */
  channelId: string | null;
  target: string;
  taskId: string | null;
  runId: string | null;
  status: 'delivered' | 'failed';
  attempts: number;
  error: string | null;
}

interface Row {
  at: string;
  event: string;
  channel: NotificationDelivery['channel'];
  channel_id: string | null;
  target: string;
  task_id: string | null;
  run_id: string | null;
  status: NotificationDelivery['status'];
  attempts: number;
  error: string | null;
}

function fromRow(r: Row): NotificationDelivery {
  return { at: r.at, event: r.event, channel: r.channel, channelId: r.channel_id, target: r.target, taskId: r.task_id, runId: r.run_id, status: r.status, attempts: r.attempts, error: r.error };
}

export class NotificationDeliveriesTable {
  constructor(private readonly db: Db) {}

  record(d: NotificationDelivery): void {
    this.db
      .prepare('INSERT INTO notification_deliveries (at, event, channel, channel_id, target, task_id, run_id, status, attempts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(d.at, d.event, d.channel, d.channelId, d.target, d.taskId, d.runId, d.status, d.attempts, d.error);
  }

  /** The newest row of a channel: a Settings channel by its id, a task file's by kind and target. */
  last(c: { channelId: string | null; channel: NotificationDelivery['channel']; target: string }): NotificationDelivery | null {
    const row =
      c.channelId !== null
        ? this.db.prepare('SELECT * FROM notification_deliveries WHERE channel_id = ? ORDER BY id DESC LIMIT 1').get(c.channelId)
        : this.db.prepare('SELECT * FROM notification_deliveries WHERE channel_id IS NULL AND channel = ? AND target = ? ORDER BY id DESC LIMIT 1').get(c.channel, c.target);
    return row ? fromRow(row as Row) : null;
  }

  /**
   * Whether a run's outcome (`run-succeeded`/`run-failed`) of `taskId` was delivered to the channel
   * (matched as `last` does) after `since` (an ISO time): a heartbeat owed from before is stale then.
   */
  runOutcomeDeliveredAfter(c: { channelId: string | null; channel: NotificationDelivery['channel']; target: string }, taskId: string, since: string): boolean {
    const outcome = "task_id = ? AND status = 'delivered' AND event IN ('run-succeeded', 'run-failed') AND at > ?";
    const row =
      c.channelId !== null
        ? this.db.prepare(`SELECT 1 FROM notification_deliveries WHERE channel_id = ? AND ${outcome} LIMIT 1`).get(c.channelId, taskId, since)
        : this.db.prepare(`SELECT 1 FROM notification_deliveries WHERE channel_id IS NULL AND channel = ? AND target = ? AND ${outcome} LIMIT 1`).get(c.channel, c.target, taskId, since);
    return row !== undefined;
  }

  /** A run's deliveries, oldest first, among the newest `window` rows (what a run just sent; no scan of the whole table). */
  forRun(runId: string, window = 1000): NotificationDelivery[] {
    return (this.db.prepare('SELECT * FROM (SELECT * FROM notification_deliveries ORDER BY id DESC LIMIT ?) WHERE run_id = ? ORDER BY id').all(window, runId) as Row[]).map(fromRow);
  }

  list(limit = 100): NotificationDelivery[] {
    return (this.db.prepare('SELECT * FROM notification_deliveries ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map(fromRow);
  }
}
