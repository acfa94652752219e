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
  HistoryQuery,
  Id,
  PointKind,
  KeyExportMethod,
  KeyRef,
  ServerInput,
  SettingsPatch,
  TaskInput,
  type ActiveRun,
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
  'tasks.list': None,
  'tasks.create': TaskInput,
  'tasks.update': z.strictObject({ id: Id, task: TaskInput }),
  'tasks.delete': ById,
  /** Without `kind`: full when the task has a full schedule, else incremental (which starts a chain with a full). */
  'tasks.runNow': z.strictObject({ id: Id, kind: PointKind.optional() }),
  'tasks.cancel': ById,
  'runs.active': None,
  'history.list': HistoryQuery.default({ limit: 100 }),
  'keys.list': None,
  'keys.generate': None,
  /** The only command whose input is a secret: a key the user pastes. Never logged or echoed. */
  'keys.import': z.strictObject({ key: z.string().min(1).max(200) }),
  'keys.reveal': z.strictObject({ keyRef: KeyRef }),
  'keys.markExported': z.strictObject({ keyRef: KeyRef, method: KeyExportMethod }),
  'keys.saveToFile': z.strictObject({ keyRef: KeyRef, path: z.string().min(1).max(4096), taskName: z.string().min(1).max(120) }),
  'keys.recoverySheet': z.strictObject({ keyRef: KeyRef, taskName: z.string().min(1).max(120) }),
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
  'tasks.runNow': { runId: string };
  'tasks.cancel': { canceled: boolean };
  'runs.active': ActiveRun[];
  'history.list': Run[];
  'keys.list': KeyInfo[];
  'keys.generate': KeyInfo;
  'keys.import': KeyInfo;
  /** The key as base64, for the key panel's copy/show. An explicit user action; never in an event. */
  'keys.reveal': { key: string };
  'keys.markExported': KeyInfo;
  'keys.saveToFile': KeyInfo;
  /** A printable HTML recovery sheet (contains the key). */
  'keys.recoverySheet': { html: string };
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
};

// Type-level check: CommandResults and EventPayloads name exactly the channels in channels.ts.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _commandsComplete: Exact<keyof CommandResults, CommandName> = true;
const _eventsComplete: Exact<keyof EventPayloads, EventName> = true;
void _commandsComplete;
void _eventsComplete;
