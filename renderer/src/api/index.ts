/**
 * The renderer's only door to the engine. Nothing else in renderer/ may touch
 * `window.backstop` (preload in Electron, the harness in e2e tests).
 *
 * Contract:
 * - `request()` never rejects: it resolves to the command's Result. A bridge that is
 *   missing or that itself throws (a broken IPC channel, a crashed main process) becomes
 *   an INTERNAL failure, so callers handle exactly one shape of error.
 * - `call()` resolves to the command's data, or rejects with an `ApiError` carrying the
 *   engine's code, message and retryable flag unchanged.
 * - Inputs are plain JSON. They are copied before crossing the bridge, so reactive
 *   (Proxy) objects from Pinia/Vue never reach structured clone, which rejects them.
 * - `onEvent()` returns an unsubscribe function; calling it twice is harmless.
 * - `pathForDroppedFile()` asks the bridge (`pathForFile`) for a dropped folder's path on disk. Only the
 *   Electron preload can know it (a web page gets a File without a path); it answers null
 *   when the bridge offers no such function, and callers then ask the user to use the picker.
 */
import type { CommandName, EventName } from '@shared/ipc/channels.ts';
import type { BackstopBridge, CommandArgs, CommandResult, EventPayloads } from '@shared/ipc/contract.ts';
import { fail, type ErrorCode, type Failure, type Result } from '@shared/result.ts';

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable = false) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.retryable = retryable;
  }

  static fromFailure(f: Failure): ApiError {
    return new ApiError(f.code, f.message, f.retryable);
  }

  /** Any thrown value as an ApiError (ApiErrors pass through unchanged). */
  static from(e: unknown): ApiError {
    if (e instanceof ApiError) return e;
    return new ApiError('INTERNAL', 'Backstop could not reach its engine. Restart Backstop; if this keeps happening, the log has details.');
  }
}

function bridge(): BackstopBridge | undefined {
  return typeof window === 'undefined' ? undefined : window.backstop;
}

function isResult(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null || !('ok' in value)) return false;
  const v = value as { ok: unknown; code?: unknown; message?: unknown };
  return v.ok === true || (v.ok === false && typeof v.code === 'string' && typeof v.message === 'string');
}

function plain<T>(input: T): T {
  return input === undefined ? input : (JSON.parse(JSON.stringify(input)) as T);
}

/** Runs a command and resolves to its Result. Never rejects. */
export async function request<K extends CommandName>(name: K, ...args: CommandArgs<K>): Promise<Result<CommandResult<K>>> {
  const b = bridge();
  if (!b) {
    return fail('INTERNAL', 'Backstop’s engine is not connected to this window. Open Backstop from its tray icon.');
  }
  try {
    const fn = b[name] as unknown as (input: unknown) => Promise<unknown>;
    const response = await fn(plain(args[0]));
    if (!isResult(response)) return fail('INTERNAL', `The engine sent an unreadable answer to ${name}.`);
    return response as Result<CommandResult<K>>;
  } catch {
    return fail('INTERNAL', 'Backstop could not reach its engine. Restart Backstop; if this keeps happening, the log has details.');
  }
}

/** Runs a command and resolves to its data; rejects with an ApiError on failure. */
export async function call<K extends CommandName>(name: K, ...args: CommandArgs<K>): Promise<CommandResult<K>> {
  const result = await request(name, ...args);
  if (!result.ok) throw ApiError.fromFailure(result);
  return result.data;
}

/** Subscribes to an engine event. Without a bridge there are no events: a no-op unsubscribe. */
export function onEvent<E extends EventName>(name: E, listener: (payload: EventPayloads[E]) => void): () => void {
  const b = bridge();
  if (!b) return () => {};
  let active = true;
  const off = b.on(name, (payload) => {
    if (active) listener(payload);
  });
  return () => {
    if (!active) return;
    active = false;
    off();
  };
}

/** True when `backstop serve` serves this window to a browser: folders cannot be dropped, dialogs browse the server. */
export function isBrowserShell(): boolean {
  return bridge()?.shell === 'browser';
}

/**
 * The path on disk of a file or folder the user dropped on the window, or null when this
 * window cannot know it (no bridge, or a bridge without `pathForFile`, as in a plain
 * browser). In Electron the preload answers with `webUtils.getPathForFile(file)`.
 */
export function pathForDroppedFile(file: File): string | null {
  const b = bridge();
  if (!b || typeof b.pathForFile !== 'function') return null;
  try {
    const path: unknown = b.pathForFile(file);
    return typeof path === 'string' && path.length > 0 ? path : null;
  } catch {
    return null;
  }
}
