/**
 * The typed IPC contract: every command as name → zod input schema → result type,
 * every event as name → payload type.
 *
 * Who may call: main registers one handler per command (main/ipc), preload exposes one
 * function per command, renderer/src/api is the only caller; the CLI and the e2e harness
 * dispatch through the same handler table (engine/api). Inputs are parsed with these
 * schemas at the boundary; a payload that does not parse is answered with
 * MALFORMED_REQUEST and never reaches the engine.
 */
import { z } from 'zod';
import type { CommandName, EventName } from './channels.ts';
import {
  BackupLocation,
  Destination,
  HistoryQuery,
  Id,
  PointId,
  Retention,
  S3Destination,
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
  type NotificationChannelSetting,
  type ActiveRun,
  type RetentionPreview,
  type S3ProbeReport,
  type ServerCheck,
  type TaskStatus,
  type ToolInfo,
  type BackupFolderInfo,
  type BackupFolderChoice,
  type RestoreProgressInfo,
  type RestoreResult,
  type VerifySummary,
  type Alert,
  type AppInfo,
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

export const commandInputs = {
  'app.info': None,
  'settings.get': None,
  'settings.set': SettingsPatch.strict(),
  'servers.list': None,
  'servers.create': ServerInput,
  'servers.update': z.strictObject({ id: Id, server: ServerInput }),
  'servers.delete': ById,
  /** Test a saved server (`id`) or one being edited (`server`): version, client tools, what fails. */
  'servers.test': z.union([z.strictObject({ id: Id }), z.strictObject({ server: ServerInput })]),
  /** The server's user databases, listed live (for the exclude list). */
  'servers.databases': ById,
  /** Client tools found (settings folders, PATH, usual locations) and their versions. */
  'tools.detect': None,
  'tasks.list': None,
  'tasks.create': TaskInput,
  'tasks.update': z.strictObject({ id: Id, task: TaskInput }),
  'tasks.delete': ById,
  /** Without `kind`: full when the task has a full schedule, else incremental (which starts a chain with a full). */
  'tasks.status': None,
  /** The next runs of a schedule in its time zone (VALIDATION for a bad cron or zone). */
  'schedule.preview': z.strictObject({ schedule: Schedule, count: z.number().int().min(1).max(20).default(5) }),
  /** What retention would delete now at each destination of a task (with `retention` overriding the saved policy). */
  'retention.preview': z.strictObject({ taskId: Id, retention: Retention.optional() }),
  /** Stores S3 credentials in the keychain; returns the reference a destination keeps. */
  's3.saveCredentials': z.strictObject({
    accessKeyId: z.string().min(1).max(256),
    secretAccessKey: z.string().min(1).max(1024),
    sessionToken: z.string().min(1).max(4096).optional(),
    credentialsRef: z.string().min(1).max(200).optional(),
  }),
  /** Writes, reads, lists and deletes a probe object; says exactly what failed. */
  's3.test': z.strictObject({ destination: S3Destination }),
  /** The database folders under a task destination's root (the S3 restore browser). */
  's3.listFolders': z.strictObject({ destination: S3Destination }),
  /** `databases`: back up just these (names as the server lists them); VALIDATION for one the server lacks or the task excludes. */
  'tasks.runNow': z.strictObject({ id: Id, kind: PointKind.optional(), databases: z.array(z.string().min(1).max(256)).min(1).max(1000).optional() }),
  'tasks.cancel': ById,
  /** Creates (no id) or updates a Settings notification channel; `url` (webhook, heartbeat) goes to the keychain, required when creating one. */
  'notifications.saveChannel': z.strictObject({
    channel: NotificationChannelInput,
    url: z.string().url().max(4096).optional(),
  }),
  'notifications.deleteChannel': ById,
  /** The SMTP server for e-mail channels (null removes it); `password` goes to the keychain. */
  'notifications.saveSmtp': z.strictObject({ smtp: SmtpSetting.nullable(), password: z.string().min(1).max(1024).optional() }),
  /** Sends a test message through one channel now (with the retries) and says what became of it. */
  'notifications.test': ById,
  'runs.active': None,
  'history.list': HistoryQuery.default({ limit: 100 }),
  /** Reads a database's backup folder: its true name, encryption, restore points. `key` (base64) for a key not in the keychain. */
  'restore.inspect': z.strictObject({ location: BackupLocation, key: z.string().min(1).max(200).optional() }),
  /** Restores one point into a NEW database on a server; progress and the result arrive as events. */
  'restore.start': z.strictObject({
    location: BackupLocation,
    pointId: z.union([z.literal('latest'), PointId]),
    serverId: Id,
    database: z.string().trim().min(1).max(255),
    key: z.string().min(1).max(200).optional(),
    options: RestoreOptions.default({ jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null }),
  }),
  'restore.cancel': z.strictObject({ restoreId: Id }),
  /** The restorable folders under a destination root, local or S3 (database folders and `~server` streams); a `~server` folder lists its streams. */
  'restore.folders': z.strictObject({ destination: Destination }),
  /** Reads every chunk of one point (or all) and checks it; names the point and pack that fail. */
  'restore.verify': z.strictObject({ location: BackupLocation, pointId: PointId.optional(), key: z.string().min(1).max(200).optional() }),
  /** Native dialogs: answered by the Electron shell (null when the user cancels). */
  'dialog.chooseFolder': z.strictObject({ title: z.string().max(200), defaultPath: z.string().max(4096).optional() }),
  'dialog.saveFile': z.strictObject({ title: z.string().max(200), defaultPath: z.string().max(4096).optional() }),
  /** First run: a folder of sample SQLite databases, a server for it and a ready task with a local destination. */
  'demo.setup': None,
  'keys.list': None,
  'keys.generate': None,
  /** The only command whose input is a secret: a key the user pastes. Never logged or echoed. */
  'keys.import': z.strictObject({ key: z.string().min(1).max(200) }),
  'keys.reveal': z.strictObject({ keyRef: KeyRef }),
  'keys.markExported': z.strictObject({ keyRef: KeyRef, method: KeyExportMethod }),
  'keys.saveToFile': z.strictObject({ keyRef: KeyRef, path: z.string().min(1).max(4096), taskName: z.string().min(1).max(120) }),
  'keys.recoverySheet': z.strictObject({ keyRef: KeyRef, taskName: z.string().min(1).max(120) }),
  /** Proves a key (given, or the task's from the keychain) opens the task's newest restore point at each destination. */
  'keys.verify': z.strictObject({ taskId: Id, key: z.string().min(1).max(200).optional() }),
  /** Whether a local destination's root folder exists (the editor asks before saving a task with a missing one). Creates nothing. */
  'destinations.checkFolder': z.strictObject({ path: z.string().trim().min(1).max(4096) }),
  /** Creates a local destination's root folder (and missing parents), after the user confirmed; an existing folder is left as it is. */
  'destinations.createFolder': z.strictObject({ path: z.string().trim().min(1).max(4096) }),
} as const satisfies Record<CommandName, z.ZodType>;

/** What each command returns on success. */
export interface CommandResults {
  'app.info': AppInfo;
  'settings.get': Settings;
  'settings.set': Settings;
  'servers.list': Server[];
  'servers.create': Server;
  'servers.update': Server;
  'servers.delete': { id: string };
  'tasks.list': Task[];
  'tasks.create': Task;
  'tasks.update': Task;
  'tasks.delete': { id: string };
  'servers.test': ServerCheck;
  'servers.databases': string[];
  'tools.detect': ToolInfo[];
  'tasks.status': TaskStatus[];
  'schedule.preview': { at: string; kind: 'full' | 'incremental' }[];
  'retention.preview': RetentionPreview[];
  's3.saveCredentials': { credentialsRef: string };
  's3.test': S3ProbeReport;
  's3.listFolders': { folder: string; database: string | null }[];
  'tasks.runNow': { runId: string };
  'tasks.cancel': { canceled: boolean };
  'notifications.saveChannel': NotificationChannelSetting;
  'notifications.deleteChannel': { deleted: boolean };
  'notifications.saveSmtp': SmtpSetting | null;
  'notifications.test': { delivered: boolean; attempts: number; error: string | null };
  'runs.active': ActiveRun[];
  'history.list': Run[];
  'restore.inspect': BackupFolderInfo;
  'restore.start': { restoreId: string };
  'restore.cancel': { canceled: boolean };
  'restore.folders': BackupFolderChoice[];
  'restore.verify': VerifySummary;
  'dialog.chooseFolder': { path: string | null };
  'dialog.saveFile': { path: string | null };
  'demo.setup': { serverId: string; taskId: string; folder: string; backups: string };
  'keys.list': KeyInfo[];
  'keys.generate': KeyInfo;
  'keys.import': KeyInfo;
  /** The key as base64, for the key panel's copy/show. An explicit user action; never in an event. */
  'keys.reveal': { key: string };
  'keys.markExported': KeyInfo;
  'keys.saveToFile': KeyInfo;
  /** A printable HTML recovery sheet (contains the key). */
  'keys.recoverySheet': { html: string };
  'keys.verify': { destination: string; ok: boolean; database: string | null; pointId: string | null; error: { code: string; message: string } | null }[];
  'destinations.checkFolder': { path: string; exists: boolean };
  'destinations.createFolder': { path: string; created: boolean };
}

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
  /** The shell asks the window to show a view (a notification or tray item was clicked), e.g. "/history". */
  'app.navigate': { route: string };
}

export type CommandInput<K extends CommandName> = z.input<(typeof commandInputs)[K]>;
export type CommandParsedInput<K extends CommandName> = z.output<(typeof commandInputs)[K]>;
export type CommandResult<K extends CommandName> = CommandResults[K];
export type CommandResponse<K extends CommandName> = Result<CommandResults[K]>;

/** The surface preload exposes as `window.backstop` (and the e2e harness mirrors). */
export type BackstopBridge = {
  readonly [K in CommandName]: (input: CommandInput<K>) => Promise<CommandResponse<K>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
  /** The file-system path of a dropped File ('' when it has none); absent outside Electron. */
  pathForFile?: (file: File) => string;
};

// Type-level check: CommandResults and EventPayloads name exactly the channels in channels.ts.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _commandsComplete: Exact<keyof CommandResults, CommandName> = true;
const _eventsComplete: Exact<keyof EventPayloads, EventName> = true;
void _commandsComplete;
void _eventsComplete;
