/**
 * Deliveries still owed: a notification queued for a channel and not yet delivered or given up
 * (notifications/notifier.ts), kept so that one a closed, killed or rebooted process was still
 * retrying is resumed at the next start instead of lost.
 *
 * Contract: a row holds the payload as it is sent, the channel's kind, id (null: a task file's
 * channel), secret-free target and receiver, a salted fingerprint of its settings, the attempts
 * made and the process trying it — never a URL, token or password. `settle` removes the row and
 * records the delivery's outcome in ONE transaction, so an outcome is recorded once and a
 * delivered row is never resumed; `withdraw` removes a superseded heartbeat's row, recording
 * nothing. `claimAbandoned` takes, oldest first, the rows asked for of processes
 * that are gone (runtime/process-alive.ts; another host's are never taken) for this process — in
 * one IMMEDIATE transaction, so two processes starting together never both take a row. Within one
 * process, the rows of an outbox `release`d (its engine closed) are free too.
 */
import { randomUUID } from 'node:crypto';
import { processGone, THIS_PROCESS, type ProcessIdentity } from '../runtime/process-alive.ts';
import type { Db } from './app-database.ts';
import { inTransaction } from './app-database-errors.ts';
import type { NotificationDelivery, NotificationDeliveriesTable } from './notification-deliveries-table.ts';

/** How far an e-mail got: recipients still to send to, notes on refused ones, whether some got it. */
export interface OutboxProgress {
  to?: string[];
  notes: string[];
  someGotIt: boolean;
}

export interface OutboxEntry {
  id: number;
  queuedAt: string;
  event: string;
  channel: NotificationDelivery['channel'];
  channelId: string | null;
  target: string;
  /** Who receives (an SMTP server, a URL's scheme and host): deliveries to one go one at a time. */
  receiver: string;
  fingerprint: string;
  taskId: string | null;
  runId: string | null;
  /** The NotificationPayload, as JSON. */
  payload: string;
  attempts: number;
  progress: OutboxProgress | null;
}

interface Row {
  id: number;
  queued_at: string;
  event: string;
  channel: NotificationDelivery['channel'];
  channel_id: string | null;
  target: string;
  receiver: string;
  fingerprint: string;
  task_id: string | null;
  run_id: string | null;
  payload: string;
  attempts: number;
  progress: string | null;
  owner: string;
}

function fromRow(r: Row): OutboxEntry {
  let progress: OutboxProgress | null = null;
  try {
    progress = r.progress === null ? null : (JSON.parse(r.progress) as OutboxProgress);
  } catch {
    progress = null;
  }
  return { id: r.id, queuedAt: r.queued_at, event: r.event, channel: r.channel, channelId: r.channel_id, target: r.target, receiver: r.receiver, fingerprint: r.fingerprint, taskId: r.task_id, runId: r.run_id, payload: r.payload, attempts: r.attempts, progress };
}

/** The outboxes open in this process (an engine closed and another opened on the same data dir: the first one's rows are free). */
const OPEN = new Set<string>();

type Owner = ProcessIdentity & { outbox?: string };

function ownerGone(json: string): boolean {
  try {
    const o = JSON.parse(json) as Owner;
    if (o.host === THIS_PROCESS.host && o.pid === THIS_PROCESS.pid && o.token === THIS_PROCESS.token) return !(o.outbox !== undefined && OPEN.has(o.outbox));
    return processGone(o);
  } catch {
    return true;
  }
}

export class NotificationOutboxTable {
  /** This process and this outbox, as its rows name their owner. */
  private readonly owner: string;

  constructor(
    private readonly db: Db,
    private readonly deliveries: NotificationDeliveriesTable,
  ) {
    const id = randomUUID();
    OPEN.add(id);
    this.owner = JSON.stringify({ ...THIS_PROCESS, outbox: id } satisfies Owner);
    this.release = () => OPEN.delete(id);
  }

  /** This outbox is closed: its rows are another's to resume (an engine opened later in this process). */
  readonly release: () => void;

  /** Queues a delivery owed by this process; returns its id. */
  add(e: Omit<OutboxEntry, 'id' | 'attempts' | 'progress'>): number {
    const r = this.db
      .prepare('INSERT INTO notification_outbox (queued_at, event, channel, channel_id, target, receiver, fingerprint, task_id, run_id, payload, attempts, progress, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?)')
      .run(e.queuedAt, e.event, e.channel, e.channelId, e.target, e.receiver, e.fingerprint, e.taskId, e.runId, e.payload, this.owner);
    return Number(r.lastInsertRowid);
  }

  /** The attempts made so far (counted before each is made: one cut by a close still counts) and how far an e-mail got. */
  progress(id: number, attempts: number, progress: OutboxProgress | null): void {
    this.db.prepare('UPDATE notification_outbox SET attempts = ?, progress = ? WHERE id = ?').run(attempts, progress === null ? null : JSON.stringify(progress), id);
  }

  /** The delivery ended (delivered, given up, or not sent): its row goes and its outcome is recorded, together. */
  settle(id: number | null, outcome: NotificationDelivery): void {
    if (id === null) {
      this.deliveries.record(outcome);
      return;
    }
    inTransaction(this.db, () => {
      this.db.prepare('DELETE FROM notification_outbox WHERE id = ?').run(id);
      this.deliveries.record(outcome);
    });
  }

  /** A heartbeat a later one superseded (Notifier.resume): its row goes, and nothing is recorded (the channel's last delivery stays the later one). */
  withdraw(id: number): void {
    this.db.prepare('DELETE FROM notification_outbox WHERE id = ?').run(id);
  }

  /** The rows of processes that are gone that `which` takes, oldest first, now this process's. */
  claimAbandoned(which: (e: OutboxEntry) => boolean): OutboxEntry[] {
    // Nothing owed (the usual start): no write lock taken.
    if (!this.db.prepare('SELECT 1 FROM notification_outbox LIMIT 1').get()) return [];
    return inTransaction(this.db, () => {
      const rows = (this.db.prepare('SELECT * FROM notification_outbox ORDER BY id').all() as Row[]).filter((r) => ownerGone(r.owner)).map(fromRow).filter(which);
      const take = this.db.prepare('UPDATE notification_outbox SET owner = ? WHERE id = ?');
      for (const r of rows) take.run(this.owner, r.id);
      return rows;
    });
  }

  /** Every row owed (any process's), oldest first. */
  list(): OutboxEntry[] {
    return (this.db.prepare('SELECT * FROM notification_outbox ORDER BY id').all() as Row[]).map(fromRow);
  }
}
