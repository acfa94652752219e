/**
 * Slot care: how much WAL each PostgreSQL snapshot task's replication slot holds back on
 * its server, and a warning (what to do) when that passes the `slotWarnGiB` setting — the
 * server keeps every segment the task has not received, so a task that stops running fills
 * the server's disk. The window (task card) and the tray show it through `tasks.status`.
 *
 * Contract: `check()` asks each server that has snapshot tasks one query per task (never
 * writes, never throws: a server that cannot be asked keeps no entry for its tasks, their
 * run failures say why) and emits `tasks.changed` with the ids whose warning appeared,
 * changed or cleared, so the window and the tray refresh, and one `slot-warning` alert
 * per warning that appeared (desktop notification, the task's channels). `hold(taskId)` is the last answer.
 * `stop()` ends checking and waits for a check in flight (the engine's close awaits it
 * before closing the database and the log).
 * Who calls: engine/index.ts — at start, every `SLOT_CHECK_MS`, and after each run.
 */
import type { Server, Task, TaskStatus } from '../../shared/domain.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logging/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import { serverPassword } from '../servers/index.ts';
import type { ServersTable, SettingsTable, TasksTable } from '../store/index.ts';
import { ownsSlot, taskWalSource } from './task-slot.ts';

export const SLOT_CHECK_MS = 15 * 60_000;

export type SlotHold = NonNullable<TaskStatus['slot']>;

export interface SlotWatchDeps {
  tasks: TasksTable;
  servers: ServersTable;
  settings: SettingsTable;
  secrets: SecretStore;
  events: EventBus;
  dataDir: string;
  now: () => Date;
  logger?: Pick<Logger, 'warn'>;
}

const size = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(n / 1024 ** 2)} MiB`);

/** What the window and the tray say about a slot holding back `heldBytes` (null below the limit). */
export function slotWarning(task: Pick<Task, 'name'>, server: Pick<Server, 'name'>, slot: string, heldBytes: number, limitGiB: number): string | null {
  if (heldBytes <= limitGiB * 1024 ** 3) return null;
  return (
    `Replication slot "${slot}" of task "${task.name}" holds back ${size(heldBytes)} of WAL on ${server.name} (warning above ${limitGiB} GiB): ` +
    `the server keeps it until the task's next backup receives it, and its disk fills otherwise. Run the task now, or find out why its runs fail. ` +
    `If the task is no longer needed, delete it (that drops the slot) or drop the slot on the server: SELECT pg_drop_replication_slot('${slot}');`
  );
}

export class SlotWatch {
  private holds = new Map<string, SlotHold>();
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: SlotWatchDeps) {}

  hold(taskId: string): SlotHold | undefined {
    return this.holds.get(taskId);
  }

  /** One check at a time; a call during a check waits for it. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.checkAll().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async checkAll(): Promise<void> {
    const { tasks, servers, settings, secrets, events, dataDir, now, logger } = this.deps;
    const next = new Map<string, SlotHold>();
    const { slotWarnGiB, toolPaths } = settings.get();
    for (const task of tasks.list()) {
      if (this.stopped) return;
      let server: Server;
      try {
        server = servers.get(task.serverId);
      } catch {
        continue;
      }
      if (!ownsSlot(task, server)) continue;
      try {
        const source = taskWalSource(task, server, await serverPassword(secrets, server), toolPaths, dataDir);
        const state = await source.slotState();
        if (!state) continue;
        next.set(task.id, { name: source.slot, heldBytes: state.heldBytes, checkedAt: now().toISOString(), warning: slotWarning(task, server, source.slot, state.heldBytes, slotWarnGiB) });
      } catch (e) {
        if (this.stopped) return;
        logger?.warn({ err: e, taskId: task.id }, 'the replication slot of a snapshot task could not be checked');
      }
    }
    if (this.stopped) return;
    const changed = [...new Set([...this.holds.keys(), ...next.keys()])].filter((id) => (this.holds.get(id)?.warning ?? null) !== (next.get(id)?.warning ?? null));
    // A warning that appears (not one that stays, grows or clears) is an alert: the desktop
    // notification and the task's notification channels say it once.
    const raised = changed.filter((id) => !this.holds.get(id)?.warning && next.get(id)?.warning);
    this.holds = next;
    if (changed.length > 0) events.emit('tasks.changed', { ids: changed });
    for (const id of raised) events.emit('alert', { kind: 'slot-warning', taskId: id, message: next.get(id)!.warning!, databases: [] });
  }
}
