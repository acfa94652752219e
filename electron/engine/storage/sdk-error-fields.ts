/**
 * Reading cloud SDK errors without trusting their shape, for the kinds' classifiers
 * (s3-errors.ts, azure-errors.ts): a property of an unknown value, a non-empty string, the
 * errno-style code somewhere down a `cause` chain (SDKs wrap socket errors), an endpoint
 * as `scheme://host[:port]` (never user info, path or query) and secrets cut out of a text.
 */

export function prop(e: unknown, name: string): unknown {
  return typeof e === 'object' && e !== null ? (e as Record<string, unknown>)[name] : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Node's errno-style codes (ENOTFOUND, ERR_SOCKET_…, UND_ERR_…). */
export const ERRNO_CODE = /^(E[A-Z_]+|ERR_[A-Z_]+|UND_ERR_[A-Z_]+)$/;

/** The first code matching `pattern` in `e` or its causes (five deep), with the host it names. */
export function errnoOf(e: unknown, pattern: RegExp = ERRNO_CODE): { code: string; host?: string } | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = prop(cur, 'cause'), depth++) {
    const code = str(prop(cur, 'code'));
    if (code && pattern.test(code)) return { code, host: str(prop(cur, 'hostname')) };
  }
  return undefined;
}

/** `scheme://host[:port]` of an endpoint URL, without any user info, path or query; null if unset or unparsable. */
export function publicEndpoint(endpoint: string | null): string | null {
  if (!endpoint) return null;
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}
