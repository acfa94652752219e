import { describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../electron/engine/events/event-bus.ts';
import type { Alert } from '../../../electron/shared/domain.ts';
import { alertNotification, installNotifications } from '../../../electron/main/notifications.ts';
import { FakeEmitter } from './fakes.ts';

vi.mock('electron', () => ({}));

class FakeNotification extends FakeEmitter {
  readonly show = vi.fn();
  constructor(readonly options: { title?: string; body?: string }) {
    super();
  }
}

function setup() {
  const events = new EventBus((e) => {
    throw e;
  });
  const shown: FakeNotification[] = [];
  const deps = {
    events,
    enabled: vi.fn(() => true),
    isSupported: vi.fn(() => true),
    create: vi.fn((o: { title?: string; body?: string }) => {
      const n = new FakeNotification(o);
      shown.push(n);
      return n;
    }),
    open: vi.fn(),
    log: { error: vi.fn() },
  };
  const stop = installNotifications(deps);
  return { events, shown, deps, stop };
}

const alert = (kind: Alert['kind'], taskId: string | null = 'task_1'): Alert => ({ kind, taskId, message: `message for ${kind}`, databases: ['sales'] });

describe('notifications', () => {
  it('shows one notification per alert with its message', () => {
    const s = setup();
    s.events.emit('alert', alert('run-failed'));
    expect(s.shown).toHaveLength(1);
    expect(s.shown[0]!.options).toEqual({ title: 'Backup failed', body: 'message for run-failed' });
    expect(s.shown[0]!.show).toHaveBeenCalledTimes(1);
  });

  it('opens the matching view on click', () => {
    const s = setup();
    for (const kind of ['run-failed', 'test-restore-failed', 'new-databases', 'stale-database', 'key-not-exported', 'slot-warning'] as const) s.events.emit('alert', alert(kind));
    s.shown.forEach((n) => n.emit('click'));
    expect(s.deps.open.mock.calls.map((c) => c[0])).toEqual(['/history', '/history', '/tasks/task_1/edit', '/tasks', '/tasks/task_1/edit', '/tasks']);
  });

  it('routes an alert without a task to the task list', () => {
    expect(alertNotification(alert('new-databases', null)).route).toBe('/tasks');
    expect(alertNotification(alert('key-not-exported', 'a b')).route).toBe('/tasks/a%20b/edit');
  });

  it('stays silent when the setting is off or the platform has no notifications', () => {
    const s = setup();
    s.deps.enabled.mockReturnValue(false);
    s.events.emit('alert', alert('run-failed'));
    s.deps.enabled.mockReturnValue(true);
    s.deps.isSupported.mockReturnValue(false);
    s.events.emit('alert', alert('run-failed'));
    expect(s.deps.create).not.toHaveBeenCalled();
  });

  it('logs instead of throwing when the OS refuses, and stops when removed', () => {
    const s = setup();
    s.deps.create.mockImplementationOnce(() => {
      throw new Error('dbus gone');
    });
    expect(() => s.events.emit('alert', alert('run-failed'))).not.toThrow();
    expect(s.deps.log.error).toHaveBeenCalledTimes(1);
    s.stop();
    s.events.emit('alert', alert('run-failed'));
    expect(s.deps.create).toHaveBeenCalledTimes(1);
  });
});
