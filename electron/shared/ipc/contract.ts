/**
 * The typed IPC contract: every command defined once, in `commands` (its zod input schema
 * and its result type side by side), every event as name → payload type. The command
 * names (`COMMANDS`, `CommandName`), the input schemas (`commandInputs`) and the result
 * types (`CommandResults`) are all derived from that one table.
 *
 * Who may call: main registers one handler per command (main/ipc), preload exposes one
 * function per command, renderer/src/api is the only caller; the CLI and the e2e harness
 * dispatch through the same handler table (engine/api). Inputs are parsed with these
 * schemas at the boundary; a payload that does not parse is answered with
 * MALFORMED_REQUEST and never reaches the engine.
 *
 * Adding a command is one entry in `commands` (and its handler in engine/api); nothing else
 * lists commands. How, and how to convert a branch written the old way: ./README.md.
 */
import { z } from 'zod';
import type { EventName } from './channels.ts';
import { ServerRestoreInput, ServerRestoreStartInput, type ActiveServerRestore, type ServerRestoreFinished, type ServerRestorePlan, type ServerRestoreProgress } from '../server-restore.ts';
import {
  BackupLocation,
  KeyText,
  Destination,
  HistoryQuery,
  Id,
  PointId,
  Retention,
  DestinationSecret,
  Schedule,
  RestoreOptions,
  PointKind,
  KeyExportMethod,
  KeyRef,
  ServerInput,
  SettingsPatch,
  TaskInput,
  NotificationChannelInput,
  SmtpSetting,
  EmailAddress,
  type NotificationChannelSetting,
  type ChannelDelivery,
  type ActiveRun,
  type RetentionPreview,
  type ProbeReport,
  type ServerCheck,
  type TaskStatus,
  type DatabaseOverview,
  type ToolInfo,
  type BackupFolderInfo,
  type BackupFolderChoice,
  type RestoreProgressInfo,
  type RestoreResult,
  type ActiveRestore,
  type VerifySummary,
  type GlobalsApplyReport,
  type Alert,
  type AppInfo,
  type SchedulerOwnerInfo,
  type DatabaseProgress,
  type KeyInfo,
  type Run,
  type Server,
  type Settings,
  type Task,
} from '../domain.ts';
import type { Result } from '../result.ts';

const None = z.union([z.undefined(), z.null(), z.strictObject({})]).transform(() => undefined);
const ById = z.strictObject({ id: Id });

/**
 * A command's result type, carried by its table entry for the compiler only: `returns<T>()`
 * is the same empty object at run time whatever T is (handlers' results are not checked
 * at run time; the engine produces them).
 */
declare const RESULT: unique symbol;
export interface Returns<T> {
  readonly [RESULT]: T;
}
const RETURNS = Object.freeze({});
export function returns<T>(): Returns<T> {
  return RETURNS as Returns<T>;
}

/** One command: the schema its input is parsed with, and what it returns on success. */
export interface CommandSpec {
  readonly input: z.ZodType;
  readonly result: Returns<unknown>;
}

/** Every command, defined once. Order is the order of COMMANDS (the preload, main's handler registration). */
export const commands = {
  'app.info': { input: None, result: returns<AppInfo>() },
  /** Which process schedules this data dir's tasks (the app or `backstop agent`); one at a time. */
  'scheduler.owner': { input: None, result: returns<SchedulerOwnerInfo>() },
  /** Whether this engine's schedules are paused (the tray's "Pause schedules"; runs started by hand still run). */
  'scheduler.paused': { input: None, result: returns<{ paused: boolean }>() },
  /** Pauses or resumes this engine's schedules (slots missed while paused are caught up once on resume); answers the new state and emits `scheduler.paused`. */
  'scheduler.setPaused': { input: z.strictObject({ paused: z.boolean() }), result: returns<{ paused: boolean }>() },
  'settings.get': { input: None, result: returns<Settings>() },
  'settings.set': { input: SettingsPatch.strict(), result: returns<Settings>() },
  'servers.list': { input: None, result: returns<Server[]>() },
  'servers.create': { input: ServerInput, result: returns<Server>() },
  /** `basedOn`: the `updatedAt` the edit started from; STALE (nothing saved) when the server changed since. Without it the edit replaces what is stored. */
  'servers.update': { input: z.strictObject({ id: Id, server: ServerInput, basedOn: z.string().optional() }), result: returns<Server>() },
  'servers.delete': { input: ById, result: returns<{ id: string }>() },
  /** Test a saved server (`id`) or one being edited (`server`): version, client tools, what fails. */
  'servers.test': { input: z.union([z.strictObject({ id: Id }), z.strictObject({ server: ServerInput })]), result: returns<ServerCheck>() },
  /** The server's user databases, listed live (for the exclude list). */
  'servers.databases': { input: ById, result: returns<string[]>() },
  /** Client tools found (settings folders, PATH, usual locations) and their versions. */
  'tools.detect': { input: None, result: returns<ToolInfo[]>() },
  'tasks.list': { input: None, result: returns<Task[]>() },
  'tasks.create': { input: TaskInput, result: returns<Task>() },
  /**
   * `basedOn`: the `updatedAt` of the stored task the edit started from. When the task has
   * changed since (another window, the command line), nothing is saved: STALE.
   * Without it the edit replaces whatever is stored (configuration files, scripts).
   */
  'tasks.update': { input: z.strictObject({ id: Id, task: TaskInput, basedOn: z.string().optional() }), result: returns<Task>() },
  'tasks.delete': { input: ById, result: returns<{ id: string }>() },
  /** Without `kind`: full when the task has a full schedule, else incremental (which starts a chain with a full). */
  'tasks.status': { input: None, result: returns<TaskStatus[]>() },
  /** Every database of every task (excluded ones left out), from recorded data only: no server connection. */
  'databases.list': { input: None, result: returns<DatabaseOverview[]>() },
  /** The next runs of a schedule in its time zone (VALIDATION for a bad cron or zone). */
  'schedule.preview': { input: z.strictObject({ schedule: Schedule, count: z.number().int().min(1).max(20).default(5) }), result: returns<{ at: string; kind: 'full' | 'incremental' }[]>() },
  /** What retention would delete now at each destination of a task (with `retention` overriding the saved policy). */
  'retention.preview': { input: z.strictObject({ taskId: Id, retention: Retention.optional() }), result: returns<RetentionPreview[]>() },
  /** Stores a destination's secret in the keychain (replacing `credentialsRef` when given); returns the reference the destination keeps. */
  'destinations.saveCredentials': {
    input: z.strictObject({ secret: DestinationSecret, credentialsRef: z.string().min(1).max(200).optional() }),
    result: returns<{ credentialsRef: string }>(),
  },
  /** Removes a destination secret from the keychain that no task uses (CONFLICT when one does): a refused task file's, a remote folder only browsed. */
  'destinations.forgetCredentials': {
    input: z.strictObject({ credentialsRef: z.string().regex(/^(s3|azure|ftp|sftp)\.[A-Za-z0-9-]{1,64}$/) }),
    result: returns<{ credentialsRef: string }>(),
  },
  /** "Test connection": writes, reads, lists and deletes a probe object at the destination's root; says exactly what failed. */
  'destinations.test': { input: z.strictObject({ destination: Destination }), result: returns<ProbeReport>() },
  /** `databases`: back up just these (names as the server lists them); VALIDATION for one the server lacks or the task excludes. */
  'tasks.runNow': {
    input: z.strictObject({ id: Id, kind: PointKind.optional(), databases: z.array(z.string().min(1).max(256)).min(1).max(1000).optional() }),
    result: returns<{ runId: string }>(),
  },
  'tasks.cancel': { input: ById, result: returns<{ canceled: boolean }>() },
  /** Creates (no id) or updates a Settings notification channel; `url` (webhook, heartbeat) goes to the keychain, required when creating one. */
  'notifications.saveChannel': {
    input: z.strictObject({ channel: NotificationChannelInput, url: z.string().url().max(4096).optional() }),
    result: returns<NotificationChannelSetting>(),
  },
  'notifications.deleteChannel': { input: ById, result: returns<{ deleted: boolean }>() },
  /** The SMTP server for e-mail channels (null removes it); `password` goes to the keychain. */
  'notifications.saveSmtp': {
    input: z.strictObject({ smtp: SmtpSetting.nullable(), password: z.string().min(1).max(1024).optional() }),
    result: returns<SmtpSetting | null>(),
  },
  /** Sends a test message through one channel now (with the retries) and says what became of it. */
  'notifications.test': { input: ById, result: returns<{ delivered: boolean; attempts: number; error: string | null }>() },
  /** The SMTP server of Settings and whether its password is in the keychain (the password itself is never returned). */
  'notifications.smtp': { input: None, result: returns<{ smtp: SmtpSetting | null; passwordSaved: boolean }>() },
  /** Sends a test mail to `to` through the SMTP server e-mail channels use now (with the retries) and says what became of it. */
  'notifications.testSmtp': { input: z.strictObject({ to: EmailAddress }), result: returns<{ delivered: boolean; attempts: number; error: string | null }>() },
  /** Each Settings channel's last delivery (by channel id; a channel nothing was sent to yet is absent): secret-free. */
  'notifications.deliveries': { input: None, result: returns<Record<string, ChannelDelivery>>() },
  'runs.active': { input: None, result: returns<ActiveRun[]>() },
  'history.list': { input: HistoryQuery.default({ limit: 100 }), result: returns<Run[]>() },
  /** Reads a database's backup folder: its true name, encryption, restore points. `key` (base64) for a key not in the keychain. */
  'restore.inspect': { input: z.strictObject({ location: BackupLocation, key: KeyText.optional() }), result: returns<BackupFolderInfo>() },
  /**
   * Restores one point into a NEW database on a server; progress and the result arrive as events.
   * `asOf` (ISO) restores to that moment instead of `pointId` (OUT_OF_RANGE outside `restore.inspect`'s
   * `momentRanges`); `sourceDatabase` takes one database out of a PostgreSQL cluster backup into `database`.
   */
  'restore.start': {
    input: z.strictObject({
      location: BackupLocation,
      pointId: z.union([z.literal('latest'), PointId]).default('latest'),
      asOf: z.string().datetime({ offset: true }).optional(),
      sourceDatabase: z.string().trim().min(1).max(255).optional(),
      serverId: Id,
      database: z.string().trim().min(1).max(255),
      key: KeyText.optional(),
      options: RestoreOptions.default({ jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null }),
    }),
    result: returns<{ restoreId: string }>(),
  },
  /**
   * Applies a backup's server-level accounts (`~server/globals.sql`: PostgreSQL roles and tablespaces;
   * `~server/grants.sql`: MySQL/MariaDB users, roles and grants) to a server: only what the server lacks is
   * created; existing ones are changed only with `alterExisting` (PostgreSQL only). `dryRun` changes nothing.
   */
  'restore.applyGlobals': {
    input: z.strictObject({
      location: BackupLocation,
      pointId: z.union([z.literal('latest'), PointId]).default('latest'),
      serverId: Id,
      key: KeyText.optional(),
      alterExisting: z.boolean().default(false),
      dryRun: z.boolean().default(true),
    }),
    result: returns<GlobalsApplyReport>(),
  },
  'restore.cancel': { input: z.strictObject({ restoreId: Id }), result: returns<{ canceled: boolean }>() },
  /** The one-database restores running now, with their latest progress (a reloaded window finds the one it started). */
  'restore.active': { input: None, result: returns<ActiveRestore[]>() },
  /** The restorable folders under a destination root, local or S3 (database folders and `~server` streams); a `~server` folder lists its streams. */
  'restore.folders': { input: z.strictObject({ destination: Destination }), result: returns<BackupFolderChoice[]>() },
  /** Reads every chunk of one point (or all) and checks it; names the point and pack that fail. */
  'restore.verify': { input: z.strictObject({ location: BackupLocation, pointId: PointId.optional(), key: KeyText.optional() }), result: returns<VerifySummary>() },
  /** Whole server: what `restore.serverStart` would do (points, target names, names already taken, estimated time); touches nothing. */
  'restore.serverPlan': { input: ServerRestoreInput, result: returns<ServerRestorePlan>() },
  /** Whole server: starts restoring; `restore.serverProgress` per database and one `restore.serverFinished` follow. */
  'restore.serverStart': { input: ServerRestoreStartInput, result: returns<{ serverRestoreId: string }>() },
  /** Stops a whole-server restore: running databases are canceled and cleaned up, the rest not started (CANCELED; a re-run completes them). */
  'restore.serverCancel': { input: z.strictObject({ serverRestoreId: Id }), result: returns<{ canceled: boolean }>() },
  /** The whole-server restores running now, with each database's latest state (a reloaded window finds the one it started; `restore.active` lists one-database restores). */
  'restore.serverActive': { input: None, result: returns<ActiveServerRestore[]>() },
  /** Native dialogs: answered by the Electron shell (null when the user cancels). */
  'dialog.chooseFolder': { input: z.strictObject({ title: z.string().max(200), defaultPath: z.string().max(4096).optional() }), result: returns<{ path: string | null }>() },
  'dialog.saveFile': { input: z.strictObject({ title: z.string().max(200), defaultPath: z.string().max(4096).optional() }), result: returns<{ path: string | null }>() },
  /** First run: a folder of sample SQLite databases, a server for it and a ready task with a local destination. */
  'demo.setup': { input: None, result: returns<{ serverId: string; taskId: string; folder: string; backups: string }>() },
  'keys.list': { input: None, result: returns<KeyInfo[]>() },
  'keys.generate': { input: None, result: returns<KeyInfo>() },
  /** The only command whose input is a secret: a key the user pastes. Never logged or echoed. */
  'keys.import': { input: z.strictObject({ key: KeyText }), result: returns<KeyInfo>() },
  /** The key as base64, for the key panel's copy/show. An explicit user action; never in an event. */
  'keys.reveal': { input: z.strictObject({ keyRef: KeyRef }), result: returns<{ key: string }>() },
  'keys.markExported': { input: z.strictObject({ keyRef: KeyRef, method: KeyExportMethod }), result: returns<KeyInfo>() },
  'keys.saveToFile': { input: z.strictObject({ keyRef: KeyRef, path: z.string().min(1).max(4096), taskName: z.string().min(1).max(120) }), result: returns<KeyInfo>() },
  /** A printable HTML recovery sheet (contains the key). */
  'keys.recoverySheet': { input: z.strictObject({ keyRef: KeyRef, taskName: z.string().min(1).max(120) }), result: returns<{ html: string }>() },
  /** Proves a key (given, or the task's from the keychain) opens the task's newest restore point at each destination. */
  'keys.verify': { input: z.strictObject({ taskId: Id, key: KeyText.optional() }), result: returns<{ destination: string; ok: boolean; database: string | null; pointId: string | null; error: { code: string; message: string } | null }[]>() },
  /** Whether a local destination's root folder exists (the editor asks before saving a task with a missing one). Creates nothing. */
  'destinations.checkFolder': { input: z.strictObject({ path: z.string().trim().min(1).max(4096) }), result: returns<{ path: string; exists: boolean }>() },
  /** Creates a local destination's root folder (and missing parents), after the user confirmed; an existing folder is left as it is. */
  'destinations.createFolder': { input: z.strictObject({ path: z.string().trim().min(1).max(4096) }), result: returns<{ path: string; created: boolean }>() },

} as const satisfies Record<string, CommandSpec>;

type Commands = typeof commands;
export type CommandName = keyof Commands;

/** Every command name, in table order (derived from `commands`). */
export const COMMANDS = Object.freeze(Object.keys(commands)) as readonly CommandName[];

/** Each command's input schema (derived from `commands`). */
export const commandInputs = Object.freeze(Object.fromEntries(COMMANDS.map((name) => [name, commands[name].input]))) as {
  readonly [K in CommandName]: Commands[K]['input'];
};

/** What each command returns on success (derived from `commands`). */
export type CommandResults = {
  [K in CommandName]: Commands[K]['result'] extends Returns<infer R> ? R : never;
};

/** Payload of each event. */
export interface EventPayloads {
  'servers.changed': { ids: string[] };
  'tasks.changed': { ids: string[] };
  'settings.changed': Settings;
  'history.changed': { runId: string; taskId: string };
  'keys.changed': { keyRefs: string[] };
  'run.progress': { runId: string; taskId: string; progress: DatabaseProgress };
  'alert': Alert;
  'restore.progress': RestoreProgressInfo;
  'restore.finished': RestoreResult;
  'restore.serverProgress': ServerRestoreProgress;
  'restore.serverFinished': ServerRestoreFinished;
  /** The shell asks the window to show a view (a notification or tray item was clicked), e.g. "/history". */
  'app.navigate': { route: string };
  /** The window switched between being a client of the agent and using the app's own engine (who schedules changed). */
  'scheduler.changed': SchedulerOwnerInfo;
  /** The schedules were paused or resumed (by any client of this engine). */
  'scheduler.paused': { paused: boolean };
}

export type CommandInput<K extends CommandName> = z.input<(typeof commandInputs)[K]>;
export type CommandParsedInput<K extends CommandName> = z.output<(typeof commandInputs)[K]>;
export type CommandResult<K extends CommandName> = CommandResults[K];
export type CommandResponse<K extends CommandName> = Result<CommandResults[K]>;
/** A typed call's arguments: the input may be left out when its schema accepts `undefined`. */
export type CommandArgs<K extends CommandName> = undefined extends CommandInput<K> ? [input?: CommandInput<K>] : [input: CommandInput<K>];

/** The surface preload exposes as `window.backstop` (and the e2e harness mirrors). */
export type BackstopBridge = {
  readonly [K in CommandName]: (input: CommandInput<K>) => Promise<CommandResponse<K>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
  /** The file-system path of a dropped File ('' when it has none); absent outside Electron. */
  pathForFile?: (file: File) => string;
  /** 'browser' when the window is served by `backstop serve` (no native dialogs, no dropped folders); absent in Electron. */
  shell?: 'browser';
};

// Type-level check: EventPayloads names exactly the events in channels.ts.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _eventsComplete: Exact<keyof EventPayloads, EventName> = true;
void _eventsComplete;
