/**
 * Native notifications for engine alerts (failed runs, new databases picked up, stale
 * databases, keys never exported).
 *
 * Contract: every `alert` event becomes one OS notification while `enabled()` is true
 * (the `notifications` setting) and the platform supports them; otherwise it is dropped.
 * Clicking a notification calls `open(route)` with the renderer route of the matching
 * view (`alertNotification`). Shown notifications are held until clicked or closed:
 * Electron drops the click handler of a notification that was garbage-collected.
 * Who calls: main/index.ts, once.
 */
import type { NotificationConstructorOptions } from 'electron';
import type { EventBus } from '../engine/index.ts';
import type { Alert } from '../shared/domain.ts';

export interface NotificationLike {
  on(event: 'click' | 'close', listener: () => void): unknown;
  show(): void;
}

export interface NotifierDeps {
  events: Pick<EventBus, 'on'>;
  enabled: () => boolean;
  isSupported: () => boolean;
  create: (options: NotificationConstructorOptions) => NotificationLike;
  /** Shows the window on a renderer route, e.g. "/history". */
  open: (route: string) => void;
  log: { error(obj: object, msg: string): void };
}

export interface AlertNotification {
  title: string;
  body: string;
  route: string;
}

/** Title, text and the view a click opens, per alert kind. */
export function alertNotification(alert: Alert): AlertNotification {
  const taskRoute = alert.taskId ? `/tasks/${encodeURIComponent(alert.taskId)}/edit` : '/tasks';
  switch (alert.kind) {
    case 'run-failed':
      return { title: 'Backup failed', body: alert.message, route: '/history' };
    case 'test-restore-failed':
      return { title: 'Test restore failed', body: alert.message, route: '/history' };
    case 'slot-warning':
      return { title: 'Replication slot holding back WAL', body: alert.message, route: '/tasks' };
    case 'disk-warning':
      return { title: 'Backup disk nearly full', body: alert.message, route: taskRoute };
    case 'notification-failed':
      return { title: 'Notifications are not getting through', body: alert.message, route: '/settings' };
    case 'points-missing':
      return { title: 'Restore points missing from a backup folder', body: alert.message, route: '/history' };
    case 'clock-warning':
      return { title: "This computer's clock is behind its backups", body: alert.message, route: '/history' };
    case 'new-databases':
      return { title: alert.restored?.length ? 'Restored copy picked up by a backup task' : 'New databases picked up', body: alert.message, route: alert.restored?.length ? '/tasks' : taskRoute };
    case 'databases-gone':
      return { title: 'Databases gone from the server', body: alert.message, route: taskRoute };
    case 'stale-database':
      return { title: 'Database not backed up recently', body: alert.message, route: '/tasks' };
    case 'key-not-exported':
      return { title: 'Encryption key not saved anywhere else', body: alert.message, route: taskRoute };
  }
}

export function installNotifications(deps: NotifierDeps): () => void {
  const live = new Set<NotificationLike>();
  return deps.events.on('alert', (alert) => {
    if (!deps.enabled() || !deps.isSupported()) return;
    try {
      const { title, body, route } = alertNotification(alert);
      const n = deps.create({ title, body });
      live.add(n);
      n.on('click', () => {
        live.delete(n);
        deps.open(route);
      });
      n.on('close', () => live.delete(n));
      n.show();
    } catch (e) {
      deps.log.error({ err: e, kind: alert.kind }, 'Showing a notification failed');
    }
  });
}
