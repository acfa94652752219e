/**
 * The engine's implementation of every contract command.
 *
 * Contract: handlers receive input already parsed by the contract schema (dispatch does
 * that), check meaning, and either return the result or throw a BackstopError. Writes
 * emit the matching `*.changed` event after they are committed. Secrets given in an
 * input go to the keychain before the row referencing them is written; if the row
 * cannot be written the secret is removed again, so neither is left half-done.
 */
import { randomUUID } from 'node:crypto';
import { BackstopError } from '../../shared/result.ts';
import type { AppInfo, PointKind, SchedulerOwnerInfo, ServerInputParsed, Task, TaskInputParsed } from '../../shared/domain.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';
import type { EventBus } from '../events/event-bus.ts';
import { parseKey, verifyTaskKey, type KeyService } from '../keys/index.ts';
import { checkLocalFolder, createLocalFolder, loadCredentials } from '../destinations/index.ts';
import { credentialRefs } from '../destinations/forget-secrets.ts';
import type { SecretStore } from '../secrets/index.ts';
import { checkServerInput } from '../servers/check-server-input.ts';
import { connectorFor, serverPassword } from '../servers/index.ts';
import { ownsSlot, releaseTaskSlot } from '../tasks/task-slot.ts';
import { staleServer, staleTask, type HistoryTable, type ServersTable, type SettingsTable, type TasksTable } from '../store/index.ts';
import { checkTaskInput } from '../tasks/check-task-input.ts';
import { checkTaskKey } from '../tasks/check-task-key.ts';
import { deleteTask } from '../tasks/delete-task.ts';
import { checkTestServer } from '../test-restore/test-server.ts';
import type { Handlers } from './dispatch.ts';
import { createKeyHandlers } from './key-handlers.ts';
import { createRestoreHandlers, type RestoreHandlerDeps } from './restore-handlers.ts';
import { createDestinationHandlers, releaseSecrets, type DestinationHandlerDeps } from './destination-handlers.ts';
import { createNotificationHandlers, type NotificationHandlerDeps } from './notification-handlers.ts';
import { createServerHandlers } from './server-handlers.ts';
import { createStatusHandlers, type StatusDeps } from './task-status-handlers.ts';
import { createDatabaseListHandlers } from './database-list-handlers.ts';

export interface HandlerContext {
  info: () => AppInfo;
  servers: ServersTable;
  tasks: TasksTable;
  settings: SettingsTable;
  history: HistoryTable;
  secrets: SecretStore;
  keys: KeyService;
  events: EventBus;
  now: () => Date;
  runNow: (taskId: string, kind: PointKind | undefined, databases?: string[]) => Promise<{ runId: string }>;
  runner: TaskRunner;
  status: Omit<StatusDeps, 'tasks' | 'history' | 'settings' | 'keys' | 'runner' | 'now' | 'secrets'>;
  restore: Omit<RestoreHandlerDeps, 'servers' | 'tasks' | 'events' | 'now'>;
  destinations: DestinationHandlerDeps;
  notifications: NotificationHandlerDeps;
  /** Who holds the data dir's scheduler lock (scheduler/scheduler-lock.ts). */
  schedulerOwner: () => SchedulerOwnerInfo;
  /** The engine's task scheduler: paused and resumed by the tray, in whichever process schedules. */
  scheduler: { readonly isPaused: boolean; pause(): void; resume(): void };
}

export function passwordRefFor(serverId: string): string {
  return `server.${serverId}.password`;
}

export function createHandlers(ctx: HandlerContext): Handlers {
  const stamp = () => ctx.now().toISOString();
  const releaseSlot = async (task: Task): Promise<boolean> => {
    const server = ctx.servers.get(task.serverId);
    if (!ownsSlot(task, server)) return false;
    if (ctx.runner.isRunning(task.id)) throw new BackstopError('CONFLICT', `Task "${task.name}" is running; cancel the run (or wait for it to finish) first.`);
    return releaseTaskSlot(task, server, await serverPassword(ctx.secrets, server), ctx.settings.get().toolPaths, ctx.info().dataDir);
  };

  /** Runs `write` after storing the input's password (if any); undoes the secret when `write` fails. */
  async function withPassword<T>(id: string, input: ServerInputParsed, keepRef: string | null, write: (ref: string | null) => T): Promise<T> {
    const password = 'password' in input ? input.password : undefined;
    if (input.kind === 'sqlite') return write(null);
    if (password === undefined) return write(keepRef);
    const ref = passwordRefFor(id);
    const previous = keepRef ? await ctx.secrets.get(keepRef) : null;
    await ctx.secrets.set(ref, password);
    try {
      return write(ref);
    } catch (e) {
      if (previous !== null) await ctx.secrets.set(ref, previous);
      else await ctx.secrets.delete(ref);
      throw e;
    }
  }

  /** A backup type the server kind cannot do is refused with the reason (e.g. MySQL snapshots). */
  function checkBackupType(input: { serverId: string; type: 'logical' | 'snapshot' }): void {
    const support = connectorFor(ctx.servers.get(input.serverId)).support(input.type);
    if (!support.available) throw new BackstopError('VALIDATION', `type: a ${input.type} backup is not possible for this server: ${support.reason}`);
  }

  /** A named test server must exist and be of the task's server's kind (VALIDATION naming both kinds). */
  function checkTestServerInput(input: TaskInputParsed): void {
    const id = input.testRestore?.serverId;
    if (!id || id === input.serverId) return;
    const test = ctx.servers.list().find((s) => s.id === id);
    if (!test) throw new BackstopError('VALIDATION', `testRestore.serverId: no server with id ${id}; choose a server from the Servers list, or the task's own server.`);
    checkTestServer(ctx.servers.get(input.serverId), test, 'testRestore.serverId');
  }

  return {
    'app.info': () => ctx.info(),
    'scheduler.owner': () => ctx.schedulerOwner(),
    'scheduler.paused': () => ({ paused: ctx.scheduler.isPaused }),
    'scheduler.setPaused': ({ paused }) => {
      if (paused !== ctx.scheduler.isPaused) {
        if (paused) ctx.scheduler.pause();
        else ctx.scheduler.resume();
        ctx.events.emit('scheduler.paused', { paused });
      }
      return { paused: ctx.scheduler.isPaused };
    },
    'settings.get': () => ctx.settings.get(),
    'settings.set': (patch) => {
      const next = ctx.settings.patch(patch);
      ctx.events.emit('settings.changed', next);
      return next;
    },

    'servers.list': () => ctx.servers.list(),
    'servers.create': async (input) => {
      checkServerInput(input);
      const id = randomUUID();
      const server = await withPassword(id, input, null, (ref) => ctx.servers.insert(input, ref, stamp(), id));
      ctx.events.emit('servers.changed', { ids: [server.id] });
      return server;
    },
    'servers.update': async ({ id, server: input, basedOn }) => {
      const existing = ctx.servers.get(id);
      // Before the password is stored; the update checks it again atomically.
      if (basedOn !== undefined && existing.updatedAt !== basedOn) throw staleServer(existing);
      checkServerInput(input);
      const keepRef = existing.kind === 'sqlite' ? null : existing.passwordRef;
      const server = await withPassword(id, input, keepRef, (ref) => ctx.servers.update(id, input, ref, stamp(), basedOn));
      ctx.events.emit('servers.changed', { ids: [id] });
      return server;
    },
    'servers.delete': async ({ id }) => {
      const removed = ctx.servers.delete(id);
      if (removed.kind !== 'sqlite' && removed.passwordRef) await ctx.secrets.delete(removed.passwordRef);
      ctx.events.emit('servers.changed', { ids: [id] });
      return { id };
    },

    'tasks.list': () => ctx.tasks.list(),
    'tasks.create': async (input) => {
      checkTaskInput(input);
      checkBackupType(input);
      checkTestServerInput(input);
      await checkTaskKey(input, ctx.keys);
      const task = ctx.tasks.insert(input, stamp());
      ctx.events.emit('tasks.changed', { ids: [task.id] });
      return task;
    },
    'tasks.update': async ({ id, task: input, basedOn }) => {
      checkTaskInput(input);
      checkBackupType(input);
      checkTestServerInput(input);
      await checkTaskKey(input, ctx.keys);
      const before = ctx.tasks.get(id);
      // Checked before anything irreversible (the slot below); the update checks it again atomically.
      if (basedOn !== undefined && before.updatedAt !== basedOn) throw staleTask(before);
      const server = ctx.servers.get(before.serverId);
      // A PostgreSQL snapshot task that stops being one (or moves to another server) drops its slot first.
      if (ownsSlot(before, server) && (input.type !== 'snapshot' || input.serverId !== before.serverId)) await releaseSlot(before);
      const task = ctx.tasks.update(id, input, stamp(), basedOn);
      ctx.events.emit('tasks.changed', { ids: [id] });
      // A destination the edit removed (or gave a new keychain entry) takes its secret with it.
      await releaseSecrets(ctx.destinations, credentialRefs(before.destinations));
      return task;
    },
    'tasks.runNow': ({ id, kind, databases }) => ctx.runNow(id, kind, databases),
    'tasks.cancel': ({ id }) => {
      ctx.tasks.get(id);
      return { canceled: ctx.runner.cancel(id) };
    },
    'runs.active': () => ctx.runner.activeRuns(),
    'tasks.delete': async ({ id }) => {
      const before = ctx.tasks.get(id);
      const deleted = await deleteTask({ tasks: ctx.tasks, isRunning: (t) => ctx.runner.isRunning(t), events: ctx.events, releaseServerResources: (t) => releaseSlot(t).then(() => undefined) }, id);
      // Its backups stay (restorable by entering the destination's secret again); its secrets go unless another task uses them.
      await releaseSecrets(ctx.destinations, credentialRefs(before.destinations));
      return deleted;
    },

    'destinations.checkFolder': ({ path }) => checkLocalFolder(path),
    'destinations.createFolder': ({ path }) => createLocalFolder(path),

    'history.list': (query) => ctx.history.list(query),
    ...createKeyHandlers(ctx.keys, ctx.events),
    'keys.verify': async ({ taskId, key }) => {
      const task = ctx.tasks.get(taskId);
      if (task.encryption.mode !== 'key') throw new BackstopError('VALIDATION', `Task "${task.name}" does not encrypt its backups; there is no key to verify.`);
      const bytes = key ? parseKey(key) : await ctx.keys.key(task.encryption.keyRef);
      return verifyTaskKey(task, bytes, await loadCredentials(ctx.secrets, task.destinations));
    },
    ...createServerHandlers({ servers: ctx.servers, settings: ctx.settings, secrets: ctx.secrets, events: ctx.events, now: ctx.now }),
    ...createStatusHandlers({
      ...ctx.status,
      tasks: ctx.tasks,
      history: ctx.history,
      settings: ctx.settings,
      keys: ctx.keys,
      runner: ctx.runner,
      secrets: ctx.secrets,
      now: ctx.now,
    }),
    ...createDatabaseListHandlers({ tasks: ctx.tasks, servers: ctx.servers, history: ctx.history, taskDatabases: ctx.status.taskDatabases, settings: ctx.settings, now: ctx.now }),
    ...createRestoreHandlers({ ...ctx.restore, servers: ctx.servers, tasks: ctx.tasks, events: ctx.events, now: ctx.now }),
    ...createDestinationHandlers(ctx.destinations),
    ...createNotificationHandlers(ctx.notifications),
  };
}
