/**
 * Contract commands for restore, verification, the first-run demo, and the native
 * dialogs (which only the Electron shell can answer; it replaces these handlers).
 */
import { join } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import { createSampleDatabases } from '../demo/sample-databases.ts';
import type { EventBus } from '../events/event-bus.ts';
import { parseKey } from '../keys/index.ts';
import type { ManifestCache } from '../repository/index.ts';
import { inspectBackupFolder, listBackupFolders } from '../restore/backup-folder.ts';
import type { RestoreService } from '../restore/restore-service.ts';
import type { ServerRestoreService } from '../restore/server-restore-service.ts';
import type { ServersTable, TasksTable } from '../store/index.ts';
import type { Handlers } from './dispatch.ts';
import { localTimeZone } from '../scheduler/local-time-zone.ts';

type RestoreHandlers = Pick<
  Handlers,
  'restore.inspect' | 'restore.start' | 'restore.applyGlobals' | 'restore.cancel' | 'restore.active' | 'restore.folders' | 'restore.verify' | 'restore.serverPlan' | 'restore.serverStart' | 'restore.serverCancel' | 'restore.serverActive' | 'dialog.chooseFolder' | 'dialog.saveFile' | 'demo.setup'
>;

export interface RestoreHandlerDeps {
  restores: RestoreService;
  serverRestores: ServerRestoreService;
  findKey: (fingerprint: string) => Promise<Buffer | null>;
  /** The app's local cache, which a remote folder's manifests are read through. */
  manifestCache: ManifestCache | null;
  servers: ServersTable;
  tasks: TasksTable;
  events: EventBus;
  dataDir: string;
  now: () => Date;
}

const noDialog = (): never => {
  throw new BackstopError('VALIDATION', 'Native dialogs are available only in the Backstop window; type the path instead.');
};

export const DEMO_SERVER_NAME = 'Sample databases';
export const DEMO_TASK_NAME = 'Sample databases — nightly';

export function createRestoreHandlers(deps: RestoreHandlerDeps): RestoreHandlers {
  return {
    'restore.inspect': async ({ location, key }) =>
      inspectBackupFolder(location, key ? parseKey(key) : null, deps.findKey, await deps.restores.credentialsFor(location), deps.manifestCache),
    'restore.start': ({ location, pointId, asOf, sourceDatabase, serverId, database, key, options }) =>
      deps.restores.start({ location, pointId, serverId, database, ...(key ? { key } : {}), ...(asOf ? { asOf } : {}), ...(sourceDatabase ? { sourceDatabase } : {}), options }),
    'restore.applyGlobals': ({ location, pointId, serverId, key, alterExisting, dryRun }) =>
      deps.restores.applyGlobals({ location, pointId, serverId, ...(key ? { key } : {}), alterExisting, dryRun }),
    'restore.cancel': ({ restoreId }) => ({ canceled: deps.restores.cancel(restoreId) }),
    'restore.active': () => deps.restores.running(),
    'restore.folders': async ({ destination }) => listBackupFolders(destination, await deps.restores.credentialsFor(destination)),
    'restore.verify': ({ location, pointId, key }) => deps.restores.verify(location, pointId ?? null, key),
    'restore.serverPlan': (input) => deps.serverRestores.plan(input),
    'restore.serverStart': (input) => deps.serverRestores.start(input),
    'restore.serverCancel': ({ serverRestoreId }) => ({ canceled: deps.serverRestores.cancel(serverRestoreId) }),
    'restore.serverActive': () => deps.serverRestores.running(),
    'dialog.chooseFolder': noDialog,
    'dialog.saveFile': noDialog,
    'demo.setup': () => {
      const folder = join(deps.dataDir, 'samples');
      const backups = join(deps.dataDir, 'sample-backups');
      createSampleDatabases(folder);
      const stamp = deps.now().toISOString();
      const server = deps.servers.list().find((s) => s.name === DEMO_SERVER_NAME) ?? deps.servers.insert({ kind: 'sqlite', name: DEMO_SERVER_NAME, folder }, null, stamp);
      const timezone = localTimeZone();
      const task =
        deps.tasks.list().find((t) => t.name === DEMO_TASK_NAME) ??
        deps.tasks.insert(
          {
            name: DEMO_TASK_NAME,
            serverId: server.id,
            type: 'snapshot',
            schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone },
            retention: { minAgeDays: 14, keepLast: 3 },
            encryption: { mode: 'none' },
            destinations: [{ kind: 'local', path: backups }],
            excludeDatabases: [],
            enabled: true,
          },
          stamp,
        );
      deps.events.emit('servers.changed', { ids: [server.id] });
      deps.events.emit('tasks.changed', { ids: [task.id] });
      return { serverId: server.id, taskId: task.id, folder, backups };
    },
  };
}
