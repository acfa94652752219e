import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../electron/engine/events/event-bus.ts';
import type { ActiveRun, TaskStatus } from '../../../electron/shared/domain.ts';
import { createTrayMonitor } from '../../../electron/main/tray-monitor.ts';
import type { TrayView } from '../../../electron/main/tray.ts';

// tray-monitor.ts must not need electron at run time.
vi.mock('electron', () => ({}));

type Reply = { ok: true; data: unknown } | { ok: false; code: string; message: string; retryable: boolean };
const failure = (code: string): Reply => ({ ok: false, code, message: `${code} message`, retryable: false });

function setup() {
  const events = new EventBus((e) => {
    throw e;
  });
  const task = (id: string, name: string, enabled = true) => ({ id, name, enabled, serverId: 's', type: 'logical' });
  const state = {
    tasks: [task('n', 'nightly'), task('w', 'weekly'), task('off', 'old', false)],
    statuses: [] as TaskStatus[],
    runNow: new Map<string, Reply>(),
    failStatus: false,
    paused: false,
    failPause: false,
  };
  const call = vi.fn(async (name: string, payload: unknown): Promise<Reply> => {
    if (name === 'tasks.list') return { ok: true, data: state.tasks };
    if (name === 'tasks.status') return state.failStatus ? failure('INTERNAL') : { ok: true, data: state.statuses };
    if (name === 'tasks.runNow') return state.runNow.get((payload as { id: string }).id) ?? { ok: true, data: { runId: 'r' } };
    if (name === 'scheduler.paused') return { ok: true, data: { paused: state.paused } };
    if (name === 'scheduler.setPaused') {
      if (state.failPause) return failure('INTERNAL');
      state.paused = (payload as { paused: boolean }).paused;
      return { ok: true, data: { paused: state.paused } };
    }
    return failure('INTERNAL');
  });
  const active: ActiveRun[] = [];
  const views: TrayView[] = [];
  const log = { warn: vi.fn(), error: vi.fn() };
  const engine = { call, events, runner: { activeRuns: () => active } };
  const monitor = createTrayMonitor({
    engine: engine as never,
    tray: { update: (v) => views.push(v) },
    log,
    now: () => new Date('2026-03-10T12:00:00Z'),
    refreshMs: 60_000,
    progressMs: 1000,
  });
  const calls = (name: string) => call.mock.calls.filter((c) => c[0] === name);
  return { monitor, events, state, active, views, log, calls };
}

const failedNightly: TaskStatus = {
  taskId: 'n',
  nextFull: null,
  nextIncremental: null,
  running: false,
  lastRun: { runId: 'r1', status: 'partial', startedAt: '2026-03-10T09:00:00Z', endedAt: '2026-03-10T10:00:00Z', databasesOk: 12, databasesFailed: 1 },
  storedBytes: 0,
  staleDatabases: [],
  keyNotExported: false,
};

let s: ReturnType<typeof setup>;
beforeEach(() => {
  vi.useFakeTimers();
  s = setup();
});
afterEach(() => {
  s.monitor.stop();
  vi.useRealTimers();
});

describe('tray monitor', () => {
  it('loads statuses and names and renders state, tooltip and last results', async () => {
    s.state.statuses = [failedNightly];
    await s.monitor.refresh();
    expect(s.views.at(-1)).toEqual({
      state: 'error',
      tooltip: 'Backstop — last backup of nightly failed (1 database failed)',
      paused: false,
      lastResults: ['nightly — ok 12, failed 1 (2 h ago)', 'weekly — never run', 'old — never run'],
    });
  });

  it('reloads after history, tasks, keys and settings change, and periodically', async () => {
    await s.monitor.refresh();
    const before = s.calls('tasks.status').length;
    s.events.emit('history.changed', { runId: 'r', taskId: 'n' });
    await vi.advanceTimersByTimeAsync(0);
    s.events.emit('keys.changed', { keyRefs: [] });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.calls('tasks.status').length).toBe(before + 2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.calls('tasks.status').length).toBe(before + 3);
  });

  it('coalesces a burst of changes into one follow-up refresh', async () => {
    const first = s.monitor.refresh();
    for (let i = 0; i < 5; i++) s.events.emit('history.changed', { runId: `r${i}`, taskId: 'n' });
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(s.calls('tasks.status')).toHaveLength(2);
  });

  it('keeps the last good data and logs when loading fails', async () => {
    s.state.statuses = [failedNightly];
    await s.monitor.refresh();
    s.state.failStatus = true;
    await s.monitor.refresh();
    expect(s.views.at(-1)!.state).toBe('error');
    expect(s.log.warn).toHaveBeenCalledWith(expect.objectContaining({ code: 'INTERNAL' }), expect.any(String));
  });

  it('renders progress at most once a second, with a trailing update', async () => {
    s.active.push({ runId: 'r', taskId: 'n', taskName: 'nightly', kind: 'full', startedAt: '', status: 'running', databases: [{ database: 'sales', phase: 'dumping', bytesRead: 10, expectedBytes: 100, destinations: [] }] });
    const progress = () => s.events.emit('run.progress', { runId: 'r', taskId: 'n', progress: s.active[0]!.databases[0]! });
    progress();
    expect(s.views.at(-1)!.tooltip).toBe('Backing up 1 database — sales 10%');
    const count = s.views.length;
    s.active[0]!.databases[0]!.bytesRead = 20;
    progress();
    s.active[0]!.databases[0]!.bytesRead = 30;
    progress();
    expect(s.views.length).toBe(count);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.views.length).toBe(count + 1);
    expect(s.views.at(-1)!.tooltip).toBe('Backing up 1 database — sales 30%');
  });

  it('Run all starts every enabled task, skipping ones already running, logging real failures', async () => {
    s.state.runNow.set('w', failure('CONFLICT'));
    expect(await s.monitor.runAll()).toEqual({ started: 1, skipped: 1, failed: 0 });
    expect(s.calls('tasks.runNow').map((c) => c[1])).toEqual([{ id: 'n' }, { id: 'w' }]);
    expect(s.log.warn).not.toHaveBeenCalled();
    s.state.runNow.set('n', failure('AUTH_FAILED'));
    expect(await s.monitor.runAll()).toEqual({ started: 0, skipped: 1, failed: 1 });
    expect(s.log.warn).toHaveBeenCalledWith(expect.objectContaining({ taskId: 'n', code: 'AUTH_FAILED' }), expect.any(String));
  });

  it('Pause/Resume goes through the contract (whichever process schedules) and sets the menu state', async () => {
    await s.monitor.togglePause();
    expect(s.calls('scheduler.setPaused').at(-1)?.[1]).toEqual({ paused: true });
    expect(s.views.at(-1)).toMatchObject({ paused: true, state: 'warning' });
    await s.monitor.togglePause();
    expect(s.calls('scheduler.setPaused').at(-1)?.[1]).toEqual({ paused: false });
    expect(s.views.at(-1)).toMatchObject({ paused: false, state: 'idle' });
  });

  it('follows a pause made by another client, reads the state on refresh, and keeps it when a toggle fails', async () => {
    s.events.emit('scheduler.paused', { paused: true });
    expect(s.views.at(-1)).toMatchObject({ paused: true });
    s.state.paused = false;
    await s.monitor.refresh();
    expect(s.views.at(-1)).toMatchObject({ paused: false });
    s.state.failPause = true;
    await s.monitor.togglePause();
    expect(s.views.at(-1)).toMatchObject({ paused: false });
    expect(s.log.error).toHaveBeenCalledWith({ code: 'INTERNAL', message: 'INTERNAL message' }, 'Could not pause the schedules');
  });

  it('does nothing after stop', async () => {
    s.monitor.stop();
    const n = s.views.length;
    s.events.emit('history.changed', { runId: 'r', taskId: 'n' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(s.calls('tasks.status')).toHaveLength(0);
    expect(s.views.length).toBe(n);
  });
});
