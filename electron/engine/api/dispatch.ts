/**
 * The handler table and the one dispatch function every shell uses.
 *
 * Contract: `dispatch` never throws and never rejects. It answers an unknown command or
 * a payload that does not match the contract's schema with MALFORMED_REQUEST (the message
 * names the offending fields, never their values, which may be secrets), runs the handler
 * with the parsed input, and turns anything the handler throws into a Failure
 * (BackstopError → its code; anything else → INTERNAL, reported to `onInternalError`).
 * Electron main (after its sender check), the e2e harness and the CLI all call this.
 */
import { COMMANDS, commandInputs, type CommandName, type CommandParsedInput, type CommandResponse, type CommandResult } from '../../shared/ipc/index.ts';
import { fail, ok, toFailure, BackstopError, type Failure } from '../../shared/result.ts';

export type Handlers = {
  [K in CommandName]: (input: CommandParsedInput<K>) => Promise<CommandResult<K>> | CommandResult<K>;
};

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && (COMMANDS as readonly string[]).includes(name);
}

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
}

const MAX_PART = 200;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const MAX_KEYS = 5;

/** "unknown keys a, b, c, d, e and 9995 more": the first few caller-chosen key names, each clipped. */
function unknownKeys(keys: readonly string[]): string {
  const named = keys.slice(0, MAX_KEYS).map((k) => `"${clip(k, 40)}"`).join(', ');
  const rest = keys.length > MAX_KEYS ? ` and ${keys.length - MAX_KEYS} more` : '';
  return `unknown key${keys.length === 1 ? '' : 's'} ${named}${rest}`;
}

/**
 * Describes schema issues by path and rule only: values are never echoed back, and the
 * answer stays short whatever the payload (at most `limit` issues of ≤ 200 characters; an
 * issue of unknown keys names the first five and how many more).
 */
export function describeIssues(issues: readonly ZodLikeIssue[], limit = 5): string {
  const parts = issues.slice(0, limit).map((i) => {
    const rule = clip(i.code === 'unrecognized_keys' && Array.isArray(i.keys) ? unknownKeys(i.keys) : i.message, MAX_PART);
    // An issue of the whole request (e.g. its unknown keys) names no field.
    return i.path.length ? `${clip(i.path.slice(0, 8).map(String).join('.'), 80)}: ${rule}` : rule;
  });
  if (issues.length > limit) parts.push(`and ${issues.length - limit} more`);
  return parts.join('; ');
}

export async function dispatch<K extends CommandName>(
  handlers: Handlers,
  name: K,
  payload: unknown,
  onInternalError: (e: unknown, command: string) => void = () => {},
): Promise<CommandResponse<K>> {
  if (!isCommandName(name)) {
    return fail('MALFORMED_REQUEST', `Unknown command "${String(name).slice(0, 64)}".`) as Failure;
  }
  const parsed = commandInputs[name].safeParse(payload);
  if (!parsed.success) {
    return fail('MALFORMED_REQUEST', `Invalid request for ${name}: ${describeIssues(parsed.error.issues)}`);
  }
  try {
    const handler = handlers[name] as (input: unknown) => Promise<CommandResult<K>> | CommandResult<K>;
    return ok(await handler(parsed.data));
  } catch (e) {
    if (!(e instanceof BackstopError)) onInternalError(e, name);
    return toFailure(e);
  }
}
