/**
 * What a notification says: the event names, their categories, and the one payload every
 * channel renders (the webhook's JSON body as documented in docs/NOTIFICATIONS.md).
 *
 * Contract: the event list is open. Every `alert` kind the engine emits is an event of the
 * same name; `registerNotificationEvent` lets other parts (test restores, replication
 * slots, disk space) add theirs with a category, and an unregistered name is a "warning".
 * A payload carries names, statuses, codes and messages only: never a secret.
 */
import { hostname } from 'node:os';
import type { RunStatus } from '../../shared/domain.ts';

/** failure: something did not get backed up; warning: needs a look; success: a run went fine (heartbeats, opt-in elsewhere). */
export type NotificationCategory = 'failure' | 'warning' | 'success';

const EVENTS = new Map<string, NotificationCategory>([
  ['run-succeeded', 'success'],
  // "Send test" in Settings.
  ['test', 'success'],
  ['run-failed', 'failure'],
  ['database-failed', 'failure'],
  ['test-restore-failed', 'failure'],
  ['stale-database', 'warning'],
  ['new-databases', 'warning'],
  ['databases-gone', 'warning'],
  ['key-not-exported', 'warning'],
  ['slot-warning', 'warning'],
  ['disk-warning', 'warning'],
  ['points-missing', 'warning'],
  ['notification-failed', 'warning'],
  ['clock-warning', 'warning'],
]);

/** Adds an event (or changes its category). Names are lower-case words joined by hyphens. */
export function registerNotificationEvent(name: string, category: NotificationCategory): void {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) throw new Error(`bad notification event name ${name}`);
  EVENTS.set(name, category);
}

export function notificationEvents(): string[] {
  return [...EVENTS.keys()];
}

export function categoryOf(event: string): NotificationCategory {
  return EVENTS.get(event) ?? 'warning';
}

/**
 * A channel's `on` filter: categories ("failure", "warning", "success", "all") and event
 * names. Without one: every failure and warning except database-failed, which repeats per
 * database what run-failed already lists (so a run with 50 failed databases is one mail).
 */
export function wants(on: readonly string[] | undefined, event: string): boolean {
  if (!on) return event !== 'database-failed' && categoryOf(event) !== 'success';
  return on.includes('all') || on.includes(event) || on.includes(categoryOf(event));
}

export interface NotificationDatabase {
  name: string;
  status: 'success' | 'failed' | 'canceled' | 'skipped' | 'warning';
  destination?: string;
  error?: { code: string; message: string };
}

/** The documented payload (webhook JSON body; e-mail and chat presets render it as text). */
export interface NotificationPayload {
  event: string;
  category: NotificationCategory;
  task: string;
  taskId: string;
  runId: string | null;
  /** The run's status for run events; "warning"/"failed" for the others. */
  status: RunStatus | 'warning';
  message: string;
  databases: NotificationDatabase[];
  startedAt: string;
  finishedAt: string;
  host: string;
}

export function payload(p: Omit<NotificationPayload, 'category' | 'host'> & { host?: string }): NotificationPayload {
  return { ...p, category: categoryOf(p.event), host: p.host ?? hostname() };
}

/** One line for chat and e-mail subjects. */
export function headline(p: NotificationPayload): string {
  const mark = p.category === 'failure' ? 'FAILED' : p.category === 'success' ? 'OK' : 'WARNING';
  return `[Backstop ${mark}] ${p.message}`;
}

/** Order of the database list in text: what needs a look first, so a cut list still names it. */
const STATUS_ORDER: Record<NotificationDatabase['status'], number> = { failed: 0, canceled: 1, warning: 2, skipped: 3, success: 4 };

/** E-mail and heartbeat bodies: well under what any mail server or monitor takes. */
export const TEXT_MAX = 32_000;

/**
 * A plain-text rendering: headline, then one line per database — failed ones first — cut to
 * `maxChars` (a run of 5,000 databases is not a megabyte mail nor over a chat's limit): the
 * lines that do not fit become "… and N more databases (F failed)".
 */
export function plainText(p: NotificationPayload, maxChars = TEXT_MAX): string {
  const lines = [headline(p), '', `Task: ${p.task}`, `Host: ${p.host}`, `Event: ${p.event}`, `Started: ${p.startedAt}`, `Finished: ${p.finishedAt}`];
  if (p.runId) lines.push(`Run: ${p.runId}`);
  if (p.databases.length) {
    lines.push('', 'Databases:');
    const dbs = [...p.databases].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
    // Room kept for the "… and N more" line.
    const budget = maxChars - 64;
    let used = lines.join('\n').length;
    let shown = 0;
    for (const d of dbs) {
      const line = `- ${d.name}${d.destination ? ` → ${d.destination}` : ''}: ${d.status}${d.error ? ` (${d.error.code}: ${d.error.message})` : ''}`;
      if (used + 1 + line.length > budget) break;
      lines.push(line);
      used += 1 + line.length;
      shown++;
    }
    const rest = dbs.slice(shown);
    if (rest.length) {
      const failed = rest.filter((d) => d.status === 'failed').length;
      lines.push(`… and ${rest.length} more database${rest.length === 1 ? '' : 's'}${failed ? ` (${failed} failed)` : ''}`);
    }
  }
  const text = lines.join('\n');
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}
