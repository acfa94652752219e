/**
 * Keeps the tray in step with the engine, and carries out the tray's own actions.
 *
 * Contract:
 * - `refresh()` reloads task statuses and names (`tasks.status`, `tasks.list`) and
 *   renders. It runs at start, every `refreshMs` (staleness grows with time alone), and
 *   after history/tasks/keys/settings change; overlapping requests coalesce into one
 *   follow-up refresh. A failed load is logged and the last good data stays shown.
 * - `run.progress` re-renders from `runner.activeRuns()` at most once per `progressMs`
 *   (plus one trailing render), so a fast backup cannot flood the tray.
 * - `runAll()` starts every enabled task through the contract (`tasks.runNow`); a task
 *   that is already running (CONFLICT) is skipped silently, any other failure is logged.
 * - `togglePause()` pauses or resumes the schedules through the contract
 *   (`scheduler.setPaused`), so it pauses whichever process schedules — the app's engine or
 *   the `backstop agent` the window is a client of — and re-renders the menu label. The
 *   label follows `scheduler.paused` (read on every refresh, and the event from any client).
 * - Nothing here throws into an event listener or timer; `stop()` removes all of it.
 * Who calls: main/index.ts, once the tray exists.
 */
import type { Engine } from '../engine/index.ts';
import type { TaskStatus } from '../shared/domain.ts';
import type { TrayView } from './tray.ts';
import { lastResultLines, trayStatus, type TrayTask } from './tray-state.ts';

export interface TrayMonitorLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface TrayMonitorDeps {
  /** `runner.activeRuns`: the engine's, or the agent's while the window is its client (agent-link.ts). */
  engine: Pick<Engine, 'call' | 'events'> & { runner: Pick<Engine['runner'], 'activeRuns'> };
  tray: { update(view: TrayView): void };
  log: TrayMonitorLog;
  now?: () => Date;
  refreshMs?: number;
  progressMs?: number;
}

export interface TrayMonitor {
  refresh(): Promise<void>;
  render(): void;
  runAll(): Promise<{ started: number; skipped: number; failed: number }>;
  togglePause(): Promise<void>;
  stop(): void;
}

/** `scheduler.changed`: the window switched engines (agent came or went), so who is paused changed too. */
const REFRESH_EVENTS = ['history.changed', 'tasks.changed', 'keys.changed', 'settings.changed', 'scheduler.changed'] as const;

export function createTrayMonitor(deps: TrayMonitorDeps): TrayMonitor {
  const { engine, tray, log } = deps;
  const now = deps.now ?? (() => new Date());
  const progressMs = deps.progressMs ?? 1000;
  let statuses: TaskStatus[] = [];
  let tasks: TrayTask[] = [];
  let stopped = false;
  let paused = false;

  function render(): void {
    if (stopped) return;
    try {
      const status = trayStatus({ activeRuns: engine.runner.activeRuns(), statuses, tasks, paused });
      tray.update({ ...status, paused, lastResults: lastResultLines(statuses, tasks, now()) });
    } catch (e) {
      log.error({ err: e }, 'Updating the tray failed');
    }
  }

  let inFlight: Promise<void> | null = null;
  let again = false;
  async function load(): Promise<void> {
    const [s, t, p] = await Promise.all([engine.call('tasks.status', undefined), engine.call('tasks.list', undefined), engine.call('scheduler.paused', undefined)]);
    if (p.ok) paused = p.data.paused;
    else log.warn({ code: p.code, message: p.message }, 'Tray could not read whether schedules are paused');
    if (s.ok) statuses = s.data;
    else log.warn({ code: s.code, message: s.message }, 'Tray could not load task statuses');
    if (t.ok) tasks = t.data.map(({ id, name, enabled }) => ({ id, name, enabled }));
    else log.warn({ code: t.code, message: t.message }, 'Tray could not load tasks');
    render();
  }
  function refresh(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again && !stopped);
      } catch (e) {
        log.error({ err: e }, 'Tray refresh failed');
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  let lastProgress = -Infinity;
  let trailing: ReturnType<typeof setTimeout> | undefined;
  function onProgress(): void {
    const elapsed = Date.now() - lastProgress;
    if (elapsed >= progressMs) {
      lastProgress = Date.now();
      render();
    } else if (!trailing) {
      trailing = setTimeout(() => {
        trailing = undefined;
        lastProgress = Date.now();
        render();
      }, progressMs - elapsed);
    }
  }

  const offs = [
    ...REFRESH_EVENTS.map((name) => engine.events.on(name, () => void refresh())),
    engine.events.on('run.progress', onProgress),
    engine.events.on('scheduler.paused', (e) => {
      paused = e.paused;
      render();
    }),
  ];
  const timer = setInterval(() => void refresh(), deps.refreshMs ?? 60_000);

  async function runAll(): Promise<{ started: number; skipped: number; failed: number }> {
    const counts = { started: 0, skipped: 0, failed: 0 };
    const list = await engine.call('tasks.list', undefined);
    if (!list.ok) {
      log.error({ code: list.code, message: list.message }, 'Run all: could not list tasks');
      counts.failed++;
      return counts;
    }
    for (const task of list.data.filter((t) => t.enabled)) {
      const r = await engine.call('tasks.runNow', { id: task.id });
      if (r.ok) counts.started++;
      else if (r.code === 'CONFLICT') counts.skipped++;
      else {
        counts.failed++;
        log.warn({ taskId: task.id, code: r.code, message: r.message }, 'Run all: a task could not start');
      }
    }
    render();
    return counts;
  }

  async function togglePause(): Promise<void> {
    const r = await engine.call('scheduler.setPaused', { paused: !paused });
    if (r.ok) paused = r.data.paused;
    else log.error({ code: r.code, message: r.message }, paused ? 'Could not resume the schedules' : 'Could not pause the schedules');
    render();
  }

  return {
    refresh,
    render,
    runAll,
    togglePause,
    stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(trailing);
      for (const off of offs) off();
    },
  };
}
