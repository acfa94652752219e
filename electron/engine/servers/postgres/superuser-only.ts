/**
 * What in a pg_dump archive only a superuser may restore, for a restoring role that is not
 * one (restore-plan.ts decides, before anything is created on the target).
 *
 * Contract (pure; statements as sql-script.ts splits them):
 * - `superuserObject`: a description ("event trigger "audit"", "function public.f(text)
 *   (LANGUAGE c)", "extension "plpython3u"") of a statement only a superuser may run —
 *   CREATE EVENT TRIGGER, CREATE FUNCTION/PROCEDURE in an untrusted language (c, internal,
 *   the pl…u languages), CREATE EXTENSION of one the target server says needs a superuser
 *   and is not trusted — or null.
 * - `settingOf`: the parameter an `ALTER DATABASE … SET name …` or `ALTER ROLE … IN
 *   DATABASE … SET name …` sets, or null.
 */
import { findTopKeyword, identName, isKeyword, sliceText, type Statement } from './sql-script.ts';

const sig = (s: Statement, k: number) => s.tokens[s.sig[k]!];

/** Languages no role but a superuser may create functions in (PostgreSQL's own, untrusted by definition). */
const UNTRUSTED_LANGUAGES = new Set(['c', 'internal', 'plpython3u', 'plpythonu', 'plpython2u', 'plperlu', 'pltclu', 'plsh']);

/**
 * What `s` creates that only a superuser may create, or null. `untrustedExtensions`: the
 * target server's extensions that need a superuser to create (pg_available_extension_versions
 * superuser AND NOT trusted).
 */
export function superuserObject(s: Statement, untrustedExtensions: ReadonlySet<string>): string | null {
  if (!isKeyword(sig(s, 0), 'CREATE')) return null;
  let k = 1;
  if (isKeyword(sig(s, 1), 'OR') && isKeyword(sig(s, 2), 'REPLACE')) k = 3;
  if (isKeyword(sig(s, k), 'EVENT') && isKeyword(sig(s, k + 1), 'TRIGGER')) return `event trigger "${identName(sig(s, k + 2)) ?? '?'}"`;
  if (isKeyword(sig(s, k), 'EXTENSION')) {
    const at = isKeyword(sig(s, k + 1), 'IF') ? k + 4 : k + 1;
    const name = identName(sig(s, at));
    return name && untrustedExtensions.has(name) ? `extension "${name}"` : null;
  }
  if (!isKeyword(sig(s, k), 'FUNCTION') && !isKeyword(sig(s, k), 'PROCEDURE')) return null;
  const lang = findTopKeyword(s, 'LANGUAGE', k + 2);
  const language = lang > 0 ? identName(sig(s, lang + 1))?.toLowerCase() : null;
  if (!language || !UNTRUSTED_LANGUAGES.has(language)) return null;
  const open = s.sig.findIndex((_, j) => j > k && sig(s, j)?.raw === '(');
  let end = open;
  for (let depth = 0; end > 0 && end < s.sig.length; end++) {
    const raw = sig(s, end)!.raw;
    if (raw === '(') depth++;
    else if (raw === ')' && --depth === 0) break;
  }
  const what = isKeyword(sig(s, k), 'FUNCTION') ? 'function' : 'procedure';
  return `${what} ${end > 0 ? sliceText(s, k + 1, end + 1) : (identName(sig(s, k + 1)) ?? '?')} (LANGUAGE ${language})`;
}

/** The parameter set by ALTER DATABASE x SET p … / ALTER ROLE r IN DATABASE x SET p …, or null. */
export function settingOf(s: Statement): string | null {
  if (!isKeyword(sig(s, 0), 'ALTER')) return null;
  let at = -1;
  if (isKeyword(sig(s, 1), 'DATABASE') && isKeyword(sig(s, 3), 'SET')) at = 4;
  else if ((isKeyword(sig(s, 1), 'ROLE') || isKeyword(sig(s, 1), 'USER')) && isKeyword(sig(s, 3), 'IN') && isKeyword(sig(s, 4), 'DATABASE') && isKeyword(sig(s, 6), 'SET')) at = 7;
  if (at < 0) return null;
  // A placeholder parameter is written qualified: SET "app.tenant" / SET app.tenant.
  const first = identName(sig(s, at));
  if (!first) return null;
  return sig(s, at + 1)?.raw === '.' ? `${first}.${identName(sig(s, at + 2)) ?? ''}` : first;
}
