/**
 * A task's pre/post commands (`hooks`) as the editor shows them: each command an argv list
 * typed one item per line (program first, then each argument; never a shell string), a
 * timeout and what a failure does.
 *
 * Contract: `hooksOf` returns undefined when neither command is entered (the task then has
 * no `hooks`), else the engine's TaskHooks. Lines are taken verbatim (only a trailing \r is
 * dropped, and blank lines are ignored); the program line is trimmed. A command loaded from
 * a task and left unchanged is saved as the exact argv it was (even an argument holding a
 * line break). `hooksProblem` checks the schema's limits (up to 100 items of up to 4096
 * characters, timeout 1–86400 s, checked only when a command is entered).
 */
import { TaskHooks } from '@shared/domain.ts';
import { wholeOf, type WholeField } from './task-draft';

export type HookPolicy = TaskHooks['onFailure'];

/** The schema's bounds: 1 to 86400 seconds, up to 100 argv items of up to 4096 characters. */
const TIMEOUT = TaskHooks.shape.timeoutSeconds.unwrap();
const MIN_TIMEOUT = TIMEOUT.minValue ?? 1;
const MAX_TIMEOUT = TIMEOUT.maxValue ?? 86400;

export interface HooksDraft {
  /** One argv item per line. */
  pre: string;
  post: string;
  timeoutSeconds: WholeField;
  onFailure: HookPolicy;
  /** The task's stored hooks, so an unchanged command keeps its exact argv. */
  loaded?: TaskHooks;
}

export function emptyHooks(): HooksDraft {
  return { pre: '', post: '', timeoutSeconds: 300, onFailure: 'fail' };
}

export function hooksDraft(h: TaskHooks | undefined): HooksDraft {
  if (!h) return emptyHooks();
  return { pre: (h.pre ?? []).join('\n'), post: (h.post ?? []).join('\n'), timeoutSeconds: h.timeoutSeconds, onFailure: h.onFailure, loaded: h };
}

/** The argv typed in a command field ([] when it is empty). */
export function argvOf(text: string, loaded: string[] | null | undefined): string[] {
  if (loaded && text === loaded.join('\n')) return [...loaded];
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (lines.length > 0) lines[0] = lines[0]!.trim();
  return lines;
}

/** What is wrong with the hooks, by field; empty when they can be saved. */
export function hooksProblems(d: HooksDraft): { pre?: string; post?: string; timeout?: string } {
  const out: { pre?: string; post?: string; timeout?: string } = {};
  for (const phase of ['pre', 'post'] as const) {
    const argv = argvOf(d[phase], d.loaded?.[phase]);
    if (argv.length > 100) out[phase] = 'A command can have at most 100 lines (the program and 99 arguments).';
    else if (argv.some((a) => a.length > 4096)) out[phase] = 'Each line can be at most 4096 characters.';
  }
  // The timeout only matters (and is only checked) when there is a command to stop.
  if (!hooksOf(d)) return out;
  const t = wholeOf(d.timeoutSeconds);
  if (t === null || t === '' || t < MIN_TIMEOUT || t > MAX_TIMEOUT) out.timeout = `Enter the timeout as whole seconds from ${MIN_TIMEOUT} to ${MAX_TIMEOUT} (${MAX_TIMEOUT / 3600} hours).`;
  return out;
}

/** The task's `hooks` for a valid draft; undefined when neither command is entered. */
export function hooksOf(d: HooksDraft): TaskHooks | undefined {
  const pre = argvOf(d.pre, d.loaded?.pre);
  const post = argvOf(d.post, d.loaded?.post);
  if (pre.length === 0 && post.length === 0) return undefined;
  const t = wholeOf(d.timeoutSeconds);
  return { pre: pre.length ? pre : null, post: post.length ? post : null, timeoutSeconds: typeof t === 'number' && t > 0 ? t : 300, onFailure: d.onFailure };
}
