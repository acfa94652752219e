/**
 * What a PostgreSQL restore must do besides `pg_restore` itself, worked out from the
 * archive before anything is created on the target:
 * - the database-level statements of the archive (`pg_restore --create` of the DATABASE,
 *   DATABASE PROPERTIES, COMMENT/ACL/SECURITY LABEL on DATABASE entries), rewritten for the
 *   NEW database name: CREATE DATABASE (encoding, locale, provider …), owner, settings,
 *   per-role settings, comment, privileges, connection limit — but never IS_TEMPLATE: the
 *   copy of a template database is an ordinary database (a note says how to make it one);
 * - every tablespace the archive names (the database's, its objects'), which the target
 *   must have;
 * - every role the archive names (database owner, object owners — large objects' too —,
 *   grantees and grantors, default privileges, per-role settings, policies, user
 *   mappings), and which of them the target lacks once the user's choices (noOwner,
 *   noPrivileges, roleMap, createRoles) are applied (policies' and user mappings' roles
 *   can only be created; a mapped role still named by them gets a note naming each, and the fix);
 * - with a roleMap, the object-level OWNER / GRANT / REVOKE statements rewritten for the
 *   mapped roles (pg_restore then runs with --no-owner --no-privileges);
 * - subscriptions are never restored (pg_restore --no-subscriptions; a note per subscription
 *   names its publications and slot, never its connection, and how to make one with a slot
 *   of its own): a copy must never use the source's replication slot;
 * - for a restoring role that is not a superuser, an archive with a publication FOR ALL
 *   TABLES or FOR TABLES IN SCHEMA (only a superuser may create one) restores without its
 *   publications (pg_restore --no-publications), a note giving their statements;
 * - the standard_conforming_strings the archive's literals are written for (a source
 *   server with it off writes `'C:\\dir'`), which these statements must run under.
 *
 * Contract: statements are recognised token by token (sql-script.ts), so quoted or odd
 * names, and keywords inside strings or function bodies, never mislead it; the database
 * name is replaced only where the grammar puts it. COPY data is never read (the scripts
 * come from `pg_restore --schema-only`).
 */
import { BackstopError } from '../../../shared/result.ts';
import { quoteIdent } from './connection.ts';
import { settingOf, superuserObject } from './superuser-only.ts';
import { findTopKeyword, identName, isKeyword, renderStatement, sliceText, splitStatements, type Statement, type Token } from './sql-script.ts';

export type RoleUse = 'owner' | 'privilege' | 'setting' | 'policy';

interface RoleRef {
  /** Index into the statement's tokens. */
  token: number;
  name: string;
  use: RoleUse;
  /** For a DBA: "owner of TABLE app.orders", "granted CONNECT on the database". */
  what: string;
}

type Kind = 'create' | 'owner' | 'props' | 'template' | 'setting' | 'acl' | 'policy' | 'mapping' | 'subscription' | 'other';

/** A logical replication subscription of the archive (CREATE SUBSCRIPTION), left out of every restore. */
interface Subscription {
  name: string;
  publications: string[];
  /** The replication slot it names on its publisher (null: slot_name = NONE). */
  slot: string | null;
}

interface Classified {
  stmt: Statement;
  kind: Kind;
  /** Token indices holding the database name (DB-level statements). */
  db: number[];
  roles: RoleRef[];
  subscription?: Subscription;
  /** The publication a statement is about (CREATE/ALTER/COMMENT … PUBLICATION name). */
  publication?: string;
  /** Only a superuser may run it: CREATE PUBLICATION … FOR ALL TABLES, ALTER PUBLICATION … ADD TABLES IN SCHEMA. */
  superuserOnly?: boolean;
}

export interface RestoreChoices {
  noOwner: boolean;
  noPrivileges: boolean;
  roleMap: Record<string, string>;
  createRoles: boolean;
}

export interface RestorePlan {
  /** CREATE DATABASE for the new name, with the archive's encoding and locale. */
  createDatabase: string;
  /** Object-level statements (owners, privileges under a roleMap): run in the new database after pg_restore. */
  objectStatements: string[];
  /** Database-level statements (owner, settings, per-role settings, comment, privileges): run after those. */
  databaseStatements: string[];
  /**
   * For a restoring role that is not a superuser: the database's owner, given before pg_restore
   * runs (PostgreSQL lets it give an object to a role only when that role may create in the
   * object's schema — public's CREATE is the database owner's).
   */
  ownerFirst: string[];
  /** pg_restore flags. */
  pgRestoreArgs: string[];
  /** Roles to create (NOLOGIN) before anything else. */
  createRoles: string[];
  /**
   * How the statements' string literals are written: pg_dump writes them for the source
   * session's standard_conforming_strings (`'C:\\dir'` means C:\dir when it was off), so
   * they must run under the same setting.
   */
  standardConformingStrings: boolean;
  notes: string[];
}

const sig = (s: Statement, k: number) => s.tokens[s.sig[k]!];
const quoteLiteral = (v: string) => `'${v.replace(/'/g, "''")}'`;
/** A valid replication slot name (lower-case letters, digits, underscores; at most 63 bytes) made from `v`. */
const slotName = (v: string) => v.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);

function grantees(s: Statement, from: number, what: string, out: RoleRef[]): void {
  // grantee [, grantee …] [WITH GRANT OPTION | WITH ADMIN OPTION] [GRANTED BY r] [CASCADE | RESTRICT] ;
  for (let k = from; k < s.sig.length; k++) {
    const t = sig(s, k);
    if (t?.kind === 'punct') {
      if (t.raw === ',') continue;
      break;
    }
    if (isKeyword(t, 'GROUP')) continue;
    if (isKeyword(t, 'WITH') || isKeyword(t, 'CASCADE') || isKeyword(t, 'RESTRICT')) break;
    if (isKeyword(t, 'GRANTED') && isKeyword(sig(s, k + 1), 'BY')) {
      const r = identName(sig(s, k + 2));
      if (r) out.push({ token: s.sig[k + 2]!, name: r, use: 'privilege', what: `grantor of privileges on ${what}` });
      break;
    }
    if (isKeyword(t, 'PUBLIC')) continue;
    const name = identName(t);
    if (name) out.push({ token: s.sig[k]!, name, use: 'privilege', what: '' });
  }
}

function classifyGrant(s: Statement, start: number, dbLevel: boolean): Classified {
  const roles: RoleRef[] = [];
  const db: number[] = [];
  const verb = sig(s, start)!.raw.toUpperCase();
  const on = findTopKeyword(s, 'ON', start + 1);
  const to = on < 0 ? -1 : findTopKeyword(s, verb === 'GRANT' ? 'TO' : 'FROM', on + 1);
  if (to < 0) return { stmt: s, kind: 'acl', db, roles };
  const onDatabase = isKeyword(sig(s, on + 1), 'DATABASE');
  if (onDatabase) db.push(s.sig[on + 2]!);
  const object = onDatabase || dbLevel ? 'the database' : sliceText(s, on + 1, to);
  const privs = sliceText(s, start + 1, on);
  grantees(s, to + 1, object, roles);
  for (const r of roles) if (!r.what) r.what = verb === 'GRANT' ? `granted ${privs} on ${object}` : `named in the privileges of ${object}`;
  return { stmt: s, kind: 'acl', db, roles };
}

/** The text of a string literal token ('s1', E's1'). */
const literal = (t: Token | undefined): string | null => (t?.kind === 'string' ? t.raw.replace(/^[Ee]?'|'$/g, '').replace(/''/g, "'") : null);

/** CREATE SUBSCRIPTION s CONNECTION '…' PUBLICATION p [, …] WITH (…, slot_name = 's' | NONE, …): its name, publications and slot. */
function subscriptionOf(s: Statement): Subscription {
  const publications: string[] = [];
  const pub = findTopKeyword(s, 'PUBLICATION', 3);
  for (let k = pub + 1; pub > 0 && k < s.sig.length; k++) {
    const t = sig(s, k);
    if (t?.kind === 'punct' && t.raw === ',') continue;
    if (isKeyword(t, 'WITH') || t?.kind === 'punct') break;
    const name = identName(t);
    if (name) publications.push(name);
  }
  let slot: string | null = identName(sig(s, 2));
  for (let k = findTopKeyword(s, 'WITH', 3) + 1; k > 0 && k < s.sig.length; k++) {
    if (identName(sig(s, k)) === 'slot_name' && sig(s, k + 1)?.raw === '=') {
      const v = sig(s, k + 2);
      slot = isKeyword(v, 'NONE') ? null : (literal(v) ?? identName(v));
      break;
    }
  }
  return { name: identName(sig(s, 2)) ?? '?', publications, slot };
}

function classify(s: Statement, dbLevel: boolean): Classified {
  const t0 = sig(s, 0);
  const none: Classified = { stmt: s, kind: 'other', db: [], roles: [] };
  if (t0?.kind === 'meta') return none;
  // Subscriptions (and their owner, comment, label) are left out of every restore: see planRestore.
  if (isKeyword(t0, 'CREATE') && isKeyword(sig(s, 1), 'SUBSCRIPTION')) return { ...none, kind: 'subscription', subscription: subscriptionOf(s) };
  if (isKeyword(t0, 'ALTER') && isKeyword(sig(s, 1), 'SUBSCRIPTION')) return { ...none, kind: 'subscription' };
  if ((isKeyword(t0, 'COMMENT') || isKeyword(t0, 'SECURITY')) && isKeyword(sig(s, findTopKeyword(s, 'ON', 1) + 1), 'SUBSCRIPTION') && findTopKeyword(s, 'ON', 1) > 0) return { ...none, kind: 'subscription' };
  const c = classifyBody(s, dbLevel);
  if ((isKeyword(t0, 'CREATE') || isKeyword(t0, 'ALTER')) && isKeyword(sig(s, 1), 'PUBLICATION')) {
    c.publication = identName(sig(s, 2)) ?? '?';
    // As pg_dump writes them: CREATE PUBLICATION p FOR ALL TABLES …; ALTER PUBLICATION p ADD TABLES IN SCHEMA s;
    const at = (k: number, ...kws: string[]) => kws.every((kw, i) => isKeyword(sig(s, k + i), kw));
    c.superuserOnly = isKeyword(t0, 'CREATE') ? at(3, 'FOR', 'ALL', 'TABLES') : at(3, 'ADD', 'TABLES', 'IN', 'SCHEMA');
  } else if (isKeyword(t0, 'COMMENT') && isKeyword(sig(s, 1), 'ON') && isKeyword(sig(s, 2), 'PUBLICATION')) {
    c.publication = identName(sig(s, 3)) ?? '?';
  }
  return c;
}

/** Every other statement (classify has dealt with meta-commands and subscriptions). */
function classifyBody(s: Statement, dbLevel: boolean): Classified {
  const n = s.sig.length;
  const t0 = sig(s, 0);
  const none: Classified = { stmt: s, kind: 'other', db: [], roles: [] };
  if (isKeyword(t0, 'CREATE') && isKeyword(sig(s, 1), 'DATABASE')) return { ...none, kind: 'create', db: [s.sig[2]!] };
  if (isKeyword(t0, 'COMMENT') && isKeyword(sig(s, 1), 'ON') && isKeyword(sig(s, 2), 'DATABASE')) return { ...none, kind: 'props', db: [s.sig[3]!] };
  if (isKeyword(t0, 'SECURITY') && isKeyword(sig(s, 1), 'LABEL')) {
    const on = findTopKeyword(s, 'ON', 2);
    if (on > 0 && isKeyword(sig(s, on + 1), 'DATABASE')) return { ...none, kind: 'props', db: [s.sig[on + 2]!] };
    return none;
  }
  if (isKeyword(t0, 'GRANT') || isKeyword(t0, 'REVOKE')) return classifyGrant(s, 0, dbLevel);
  if (isKeyword(t0, 'CREATE') && isKeyword(sig(s, 1), 'POLICY')) {
    // CREATE POLICY p ON t [AS …] [FOR …] TO role [, …] [USING (…)] [WITH CHECK (…)]
    const to = findTopKeyword(s, 'TO', 2);
    const roles: RoleRef[] = [];
    for (let k = to + 1; to > 0 && k < n; k++) {
      const t = sig(s, k);
      if (t?.kind === 'punct') {
        if (t.raw === ',') continue;
        break;
      }
      if (isKeyword(t, 'USING') || isKeyword(t, 'WITH')) break;
      if (['PUBLIC', 'CURRENT_USER', 'SESSION_USER', 'CURRENT_ROLE'].some((kw) => isKeyword(t, kw))) continue;
      const name = identName(t);
      if (name) roles.push({ token: s.sig[k]!, name, use: 'policy', what: `named in POLICY ${sliceText(s, 2, to)}` });
    }
    return { ...none, kind: 'policy', roles };
  }
  if (isKeyword(t0, 'CREATE') && isKeyword(sig(s, 1), 'USER') && isKeyword(sig(s, 2), 'MAPPING') && isKeyword(sig(s, 3), 'FOR')) {
    // CREATE USER MAPPING FOR role SERVER s OPTIONS (…): pg_restore creates it as it is, whatever the choices.
    const t = sig(s, 4);
    const server = identName(sig(s, findTopKeyword(s, 'SERVER', 5) + 1)) ?? '?';
    if (['PUBLIC', 'CURRENT_USER', 'SESSION_USER', 'CURRENT_ROLE', 'USER'].some((kw) => isKeyword(t, kw))) return none;
    const name = identName(t);
    return { ...none, kind: 'mapping', roles: name ? [{ token: s.sig[4]!, name, use: 'policy', what: `has a USER MAPPING for server ${server}` }] : [] };
  }
  if ((isKeyword(t0, 'SET') || isKeyword(t0, 'RESET')) && isKeyword(sig(s, 1), 'SESSION') && isKeyword(sig(s, 2), 'AUTHORIZATION')) {
    const name = isKeyword(t0, 'SET') ? identName(sig(s, 3)) : null;
    const roles: RoleRef[] = name ? [{ token: s.sig[3]!, name, use: 'privilege', what: `grantor of privileges on ${dbLevel ? 'the database' : 'objects'}` }] : [];
    return { ...none, kind: 'acl', roles };
  }
  if (!isKeyword(t0, 'ALTER')) return none;
  if (isKeyword(sig(s, 1), 'DEFAULT') && isKeyword(sig(s, 2), 'PRIVILEGES')) {
    const roles: RoleRef[] = [];
    let k = 3;
    if (isKeyword(sig(s, 3), 'FOR') && (isKeyword(sig(s, 4), 'ROLE') || isKeyword(sig(s, 4), 'USER'))) {
      for (k = 5; k < n; k++) {
        const t = sig(s, k);
        if (t?.kind === 'punct' && t.raw === ',') continue;
        if (isKeyword(t, 'IN') || isKeyword(t, 'GRANT') || isKeyword(t, 'REVOKE')) break;
        const name = identName(t);
        if (name) roles.push({ token: s.sig[k]!, name, use: 'privilege', what: 'has default privileges (ALTER DEFAULT PRIVILEGES FOR ROLE)' });
      }
    }
    const verb = [...Array(n).keys()].find((j) => j >= k && (isKeyword(sig(s, j), 'GRANT') || isKeyword(sig(s, j), 'REVOKE')));
    if (verb !== undefined) {
      const inner = classifyGrant(s, verb, dbLevel);
      for (const r of inner.roles) roles.push({ ...r, what: 'named in default privileges' });
    }
    return { ...none, kind: 'acl', roles };
  }
  if (isKeyword(sig(s, 1), 'ROLE') && isKeyword(sig(s, 3), 'IN') && isKeyword(sig(s, 4), 'DATABASE')) {
    const name = identName(sig(s, 2));
    const roles: RoleRef[] = name ? [{ token: s.sig[2]!, name, use: 'setting', what: 'has settings in the database (ALTER ROLE … IN DATABASE … SET)' }] : [];
    return { ...none, kind: 'setting', db: [s.sig[5]!], roles };
  }
  const isOwner = n >= 5 && isKeyword(sig(s, n - 4), 'OWNER') && isKeyword(sig(s, n - 3), 'TO') && sig(s, n - 1)?.raw === ';';
  if (isKeyword(sig(s, 1), 'DATABASE')) {
    // ALTER DATABASE x IS_TEMPLATE = true: a copy under a new name is an ordinary database (a template cannot be dropped).
    if (dbLevel && isKeyword(t0, 'ALTER') && isKeyword(sig(s, 3), 'IS_TEMPLATE')) return { ...none, kind: 'template', db: [s.sig[2]!] };
    if (isOwner) {
      const name = identName(sig(s, n - 2))!;
      return { ...none, kind: 'owner', db: [s.sig[2]!], roles: [{ token: s.sig[n - 2]!, name, use: 'owner', what: 'owner of the database' }] };
    }
    return { ...none, kind: 'props', db: [s.sig[2]!] };
  }
  if (isOwner) {
    const name = identName(sig(s, n - 2));
    if (name) return { ...none, kind: 'owner', roles: [{ token: s.sig[n - 2]!, name, use: 'owner', what: `owner of ${sliceText(s, 1, n - 4)}` }] };
  }
  return none;
}

/** Which encoding the script's text is in (`SET client_encoding = '…'` near its start). */
export function scriptEncoding(bytes: Buffer): string {
  const m = /SET client_encoding = '([A-Za-z0-9_]+)';/.exec(bytes.subarray(0, 8192).toString('latin1'));
  return m ? m[1]!.toUpperCase() : 'UTF8';
}

const DECODERS: Record<string, string> = {
  LATIN2: 'iso-8859-2',
  LATIN3: 'iso-8859-3',
  LATIN4: 'iso-8859-4',
  LATIN6: 'iso-8859-10',
  LATIN7: 'iso-8859-13',
  LATIN8: 'iso-8859-14',
  LATIN9: 'iso-8859-15',
  LATIN10: 'iso-8859-16',
  ISO_8859_5: 'iso-8859-5',
  ISO_8859_6: 'iso-8859-6',
  ISO_8859_7: 'iso-8859-7',
  ISO_8859_8: 'iso-8859-8',
  KOI8R: 'koi8-r',
  KOI8U: 'koi8-u',
  EUC_JP: 'euc-jp',
  EUC_KR: 'euc-kr',
  EUC_CN: 'gb18030',
  WIN866: 'ibm866',
  WIN874: 'windows-874',
  WIN1250: 'windows-1250',
  WIN1251: 'windows-1251',
  WIN1252: 'windows-1252',
  WIN1253: 'windows-1253',
  WIN1254: 'windows-1254',
  WIN1255: 'windows-1255',
  WIN1256: 'windows-1256',
  WIN1257: 'windows-1257',
  WIN1258: 'windows-1258',
};

/**
 * The script as text. pg_restore writes it in the source database's encoding; the result
 * is sent back with client_encoding UTF8, so the server converts it exactly once.
 */
export function decodeScript(bytes: Buffer): string {
  const enc = scriptEncoding(bytes);
  if (enc === 'UTF8' || enc === 'SQL_ASCII' || !bytes.some((b) => b >= 0x80)) return bytes.toString('utf8');
  if (enc === 'LATIN1') return bytes.toString('latin1');
  const label = DECODERS[enc];
  if (label) {
    try {
      return new TextDecoder(label, { fatal: true }).decode(bytes);
    } catch {
      /* fall through */
    }
  }
  throw new BackstopError('RESTORE_FAILED', `The backup's database-level statements are in encoding ${enc}, which Backstop cannot read; restore it with pg_restore --create by hand.`);
}

export interface PlanInput {
  /** Source database name (the DATABASE entry's tag). */
  sourceDatabase: string;
  /** `pg_restore --create --schema-only -L <database entries> -f -`, decoded. */
  databaseScript: string;
  /** `pg_restore --schema-only -f -` (object level), then the large objects' metadata (largeObjectEntries), decoded. */
  objectScript: string;
  /** Roles the target has. */
  existingRoles: ReadonlySet<string>;
  /** Tablespaces the target has (undefined: not checked). */
  existingTablespaces?: ReadonlySet<string>;
  /** The restoring user (who owns what is not given an owner). */
  restoringUser: string;
  /** Whether it is a superuser (undefined: taken to be one). */
  superuser?: boolean;
  /** Not a superuser: the roles it is a member of (undefined: not checked). */
  memberOf?: ReadonlySet<string>;
  /** Not a superuser: the parameters it may not set (superuser context, no GRANT SET; undefined: not checked). */
  superuserSettings?: ReadonlySet<string>;
  /**
   * Not a superuser: the existing roles whose settings in a database it may set (ALTER ROLE …
   * IN DATABASE … SET) — itself, and with CREATEROLE the roles that are not superusers (on
   * PostgreSQL 16+ only those it has ADMIN OPTION on); undefined: not checked.
   */
  settableRoles?: ReadonlySet<string>;
  /** Not a superuser: the target's extensions only a superuser may create (undefined: not checked). */
  untrustedExtensions?: ReadonlySet<string>;
  serverLabel: string;
  choices: RestoreChoices;
}

function describe(name: string, whats: string[]): string {
  const unique = [...new Set(whats)];
  const shown = unique.slice(0, 3).join('; ');
  return `role "${name}" (${shown}${unique.length > 3 ? `; and ${unique.length - 3} more` : ''})`;
}

/**
 * The tablespaces the archive puts things in: the database's own (CREATE DATABASE …
 * TABLESPACE = x) and the objects' (pg_restore's `SET default_tablespace = x;` before
 * each object not in the database's default), each with what is in it.
 */
function namedTablespaces(create: Classified, objStmts: Classified[]): Map<string, string> {
  const out = new Map<string, string>();
  const s = create.stmt;
  const at = findTopKeyword(s, 'TABLESPACE', 3);
  const dbSpace = at > 0 && sig(s, at + 1)?.raw === '=' ? identName(sig(s, at + 2)) : null;
  if (dbSpace) out.set(dbSpace, 'the database');
  for (const { stmt } of objStmts) {
    if (!isKeyword(sig(stmt, 0), 'SET') || identName(sig(stmt, 1)) !== 'default_tablespace') continue;
    const name = sig(stmt, 2)?.raw === '=' || isKeyword(sig(stmt, 2), 'TO') ? identName(sig(stmt, 3)) : null;
    if (name && !out.has(name)) out.set(name, 'tables or indexes');
  }
  return out;
}

/** The settings that name tablespaces: PostgreSQL accepts any name for them and ignores one it lacks. */
const TABLESPACE_SETTINGS = new Set(['default_tablespace', 'temp_tablespaces']);

/**
 * The tablespaces a database-level setting names (ALTER DATABASE / ALTER ROLE … IN DATABASE …
 * SET default_tablespace or temp_tablespaces TO 'a', 'b'): default_tablespace's value is the
 * name itself; temp_tablespaces is a list of identifiers (unquoted ones fold to lower case).
 */
function settingTablespaces(c: Classified): { setting: string; names: string[] } | null {
  const setting = settingOf(c.stmt);
  if (!setting || !TABLESPACE_SETTINGS.has(setting)) return null;
  const values = c.stmt.sig.map((k) => c.stmt.tokens[k]!).flatMap((t) => literal(t) ?? []);
  const names =
    setting === 'default_tablespace'
      ? values
      : values.flatMap((v) => (v.match(/"(?:[^"]|"")*"|[^,\s]+/g) ?? []).map((n) => (n.startsWith('"') ? n.slice(1, -1).replace(/""/g, '"') : n.toLowerCase())));
  return { setting, names: names.filter((n) => n.length > 0) };
}

/**
 * Works out the restore; throws (nothing created yet) ROLE_MISSING when a named role is
 * absent and no choice covers it, RESTORE_FAILED when a named tablespace is absent.
 */
export function planRestore(input: PlanInput, newDatabase: string): RestorePlan {
  const { choices } = input;
  const dbStmts = splitStatements(input.databaseScript).map((s) => classify(s, true));
  const objStmts = splitStatements(input.objectScript).map((s) => classify(s, false));
  const create = dbStmts.find((c) => c.kind === 'create');
  if (!create) {
    throw new BackstopError('RESTORE_FAILED', 'The backup holds no CREATE DATABASE entry, so its encoding and locale are unknown; it does not look like a pg_dump custom-format archive of one database.');
  }
  if (input.existingTablespaces) {
    const lacking = [...namedTablespaces(create, objStmts)].filter(([name]) => !input.existingTablespaces!.has(name));
    if (lacking.length > 0) {
      const names = lacking.map(([name, what]) => `"${name}" (${what})`).join(', ');
      throw new BackstopError(
        'RESTORE_FAILED',
        `The backup puts things in ${lacking.length === 1 ? 'a tablespace' : 'tablespaces'} that the ${input.serverLabel} lacks: ${names}. Nothing was restored. Create ${lacking.length === 1 ? 'it' : 'them'} on the server first (CREATE TABLESPACE … LOCATION '…'; a logical task's ~server/globals.sql holds the source's: backstop apply-globals), then restore again.`,
      );
    }
  }
  // Objects only a superuser may create: refused before anything is created (other objects may depend on them).
  if (input.superuser === false) {
    const objects = [...new Set(objStmts.flatMap((c) => superuserObject(c.stmt, input.untrustedExtensions ?? new Set()) ?? []))];
    if (objects.length > 0) {
      throw new BackstopError(
        'PERMISSION_DENIED',
        `The backup holds ${objects.length === 1 ? 'an object' : 'objects'} only a superuser may create, and "${input.restoringUser}" is not a superuser: ${objects.slice(0, 10).join(', ')}${objects.length > 10 ? ` and ${objects.length - 10} more` : ''}. Nothing was restored. Restore it with a superuser account of the ${input.serverLabel} (or, there, ALTER ROLE ${quoteIdent(input.restoringUser)} SUPERUSER;).`,
      );
    }
  }
  // Only a superuser may create a publication FOR ALL TABLES or FOR TABLES IN SCHEMA: for anyone else the
  // publications are left out (a note gives the statements) rather than failing the whole restore.
  const superuserPublications = [...new Set(objStmts.filter((c) => c.superuserOnly).map((c) => c.publication!))];
  const skipPublications = input.superuser === false && superuserPublications.length > 0;
  if (skipPublications) for (const c of objStmts) if (c.publication) c.roles = [];
  const mapped = new Map(Object.entries(choices.roleMap));
  const useRoleMap = mapped.size > 0;
  const notes: string[] = [];

  // Which statements are kept, given the choices; a kept statement's roles must exist.
  const keep = (c: Classified): boolean => {
    if (c.kind === 'owner') return !choices.noOwner;
    if (c.kind === 'acl') return !choices.noPrivileges;
    return c.kind !== 'other' && c.kind !== 'template' && c.kind !== 'subscription';
  };
  const needed = new Map<string, string[]>();
  const skippedSettings = new Set<string>();
  const dbKept: Classified[] = [];
  for (const c of dbStmts) {
    if (!keep(c)) continue;
    // Per-role settings of a role the target lacks: skipped along with privileges, unless the roles are created.
    if (c.kind === 'setting' && choices.noPrivileges && !choices.createRoles && c.roles.some((r) => !mapped.has(r.name) && !input.existingRoles.has(r.name))) {
      skippedSettings.add(c.roles[0]!.name);
      continue;
    }
    dbKept.push(c);
  }
  const objKept = objStmts.filter((c) => (c.kind === 'owner' || c.kind === 'acl') && keep(c) && !(skipPublications && c.publication));
  // Appended in place: one role named by every one of 20,000 objects must not copy its list 20,000 times.
  const need = (name: string, whats: readonly string[]): void => {
    let list = needed.get(name);
    if (!list) needed.set(name, (list = []));
    for (const w of whats) list.push(w);
  };
  for (const c of [...dbKept, ...objKept]) for (const r of c.roles) need(r.name, [r.what]);
  // pg_restore creates policies and user mappings as they are: their roles must exist under their own names.
  const policyRoles = new Map<string, string[]>();
  const mappingRoles = new Set<string>();
  for (const c of objStmts) {
    if (c.kind !== 'policy' && c.kind !== 'mapping') continue;
    for (const r of c.roles) {
      const list = policyRoles.get(r.name);
      if (list) list.push(r.what);
      else policyRoles.set(r.name, [r.what]);
      if (c.kind === 'mapping') mappingRoles.add(r.name);
    }
  }
  for (const [name, whats] of policyRoles) if (!input.existingRoles.has(name)) need(name, whats);

  for (const [from, to] of mapped) {
    if (!input.existingRoles.has(to)) {
      throw new BackstopError('ROLE_MISSING', `Role "${from}" is to be mapped to "${to}", but the ${input.serverLabel} has no role "${to}". Nothing was restored. Map it to a role that exists, or create that role first.`);
    }
    const unmappable = policyRoles.get(from);
    if (needed.has(from)) notes.push(`Role "${from}" of the backup was mapped to "${to}".`);
    else if (!unmappable) notes.push(`Role "${from}" is not named by this backup (or its ownership/privileges are skipped): the mapping was not needed.`);
    // pg_restore creates policies and user mappings as they are: say so, or the copy's RLS silently favours the old role.
    if (unmappable) {
      const fixes = [
        ...(unmappable.some((w) => w.startsWith('named in POLICY')) ? [`ALTER POLICY name ON table TO … (its roles, with ${quoteIdent(to)} in place of ${quoteIdent(from)})`] : []),
        ...(mappingRoles.has(from) ? [`CREATE USER MAPPING FOR ${quoteIdent(to)} SERVER … OPTIONS (…)`] : []),
      ];
      notes.push(
        `Role "${from}" still appears, not mapped to "${to}", where a role mapping does not reach (pg_restore creates row-level security policies and user mappings as they are): ${unmappable.join('; ')}. If "${to}" should be named there instead, in the restored database: ${fixes.join('; ')}.`,
      );
    }
  }
  const missing = [...needed.keys()].filter((r) => (!mapped.has(r) || policyRoles.has(r)) && !input.existingRoles.has(r)).sort();
  const inPolicies = missing.filter((r) => policyRoles.has(r));
  if (missing.length > 0 && !choices.createRoles) {
    throw new BackstopError(
      'ROLE_MISSING',
      `The backup names ${missing.length === 1 ? 'a role' : 'roles'} that the ${input.serverLabel} lacks: ${missing.map((r) => describe(r, needed.get(r)!)).join(', ')}. Nothing was restored. Choose one: create the missing roles (without login or privileges), map each to a role that exists, or skip ownership (everything then belongs to "${input.restoringUser}") and/or privileges.${inPolicies.length > 0 ? ` Roles named in row-level security policies${inPolicies.some((r) => mappingRoles.has(r)) ? ' or user mappings' : ''} (${inPolicies.map((r) => `"${r}"`).join(', ')}) can only be created, not mapped or skipped.` : ''}`,
    );
  }
  // Only a member of a role (or a superuser) may give it an object (ALTER … OWNER TO): a role that is not one fails
  // halfway through pg_restore with "must be member of role"; refused here, before anything is created.
  if (input.superuser === false && input.memberOf && !choices.noOwner) {
    const owners = new Map<string, string[]>();
    for (const c of [...dbStmts, ...objStmts]) {
      if (c.kind !== 'owner' || (skipPublications && c.publication)) continue;
      for (const r of c.roles) {
        const role = mapped.get(r.name) ?? r.name;
        if (role === input.restoringUser || input.memberOf.has(role)) continue;
        const list = owners.get(role);
        if (list) list.push(r.what);
        else owners.set(role, [r.what]);
      }
    }
    if (owners.size > 0) {
      const names = [...owners.keys()].sort();
      throw new BackstopError(
        'PERMISSION_DENIED',
        `"${input.restoringUser}" is not a superuser, and only a member of a role may give it objects: the backup's objects are owned by ${names.map((r) => describe(r, owners.get(r)!)).join(', ')}, and "${input.restoringUser}" is not a member of ${names.length === 1 ? 'it' : 'them'}. Nothing was restored. Choose one: skip ownership (everything then belongs to "${input.restoringUser}"), map ${names.length === 1 ? 'that role' : 'each'} to a role "${input.restoringUser}" is a member of, restore with a superuser account, or (as a superuser, for a role that is not one) GRANT ${names.map(quoteIdent).join(', ')} TO ${quoteIdent(input.restoringUser)};`,
      );
    }
  }
  for (const r of missing) notes.push(`Created role "${r}" (NOLOGIN, no privileges): give it LOGIN and a password before using it.`);
  if (dbStmts.some((c) => c.kind === 'template')) {
    notes.push(`The backed-up database was a template (IS_TEMPLATE); "${newDatabase}" was restored as an ordinary database. To make it a template: ALTER DATABASE ${quoteIdent(newDatabase)} IS_TEMPLATE true;`);
  }
  // A copy must never use the source's replication slot: enabled, it would take the changes meant for the
  // source's subscription; dropped (DROP SUBSCRIPTION), it would drop that slot on the publisher. And a database
  // holding a subscription cannot be dropped (DROP DATABASE refuses), so a copy with one could not be removed.
  const subscriptions = objStmts.flatMap((c) => (c.subscription ? [c.subscription] : []));
  for (const sub of subscriptions) {
    const pubs = sub.publications.map((p) => `"${p}"`).join(', ');
    notes.push(
      `Subscription "${sub.name}" (publication${sub.publications.length === 1 ? '' : 's'} ${pubs}${sub.slot ? `, replication slot "${sub.slot}" on its publisher` : ''}) was not restored: a copy must never use the source's replication slot. To replicate into "${newDatabase}", create a subscription with a slot of its own: CREATE SUBSCRIPTION ${quoteIdent(sub.name)} CONNECTION '<the source subscription's connection>' PUBLICATION ${sub.publications.map(quoteIdent).join(', ')} WITH (slot_name = ${quoteLiteral(slotName(`${newDatabase}_${sub.name}`))}, copy_data = false);`,
    );
  }
  if (skipPublications) {
    const names = [...new Set(objStmts.flatMap((c) => (c.publication ? [c.publication] : [])))];
    const statements = objStmts.filter((c) => c.publication && c.kind !== 'owner' && !isKeyword(sig(c.stmt, 0), 'COMMENT')).map((c) => renderStatement(c.stmt, new Map(), true).trim());
    const shown = statements.slice(0, 10).join(' ');
    notes.push(
      `Publication${names.length === 1 ? '' : 's'} ${names.map((p) => `"${p}"`).join(', ')} ${names.length === 1 ? 'was' : 'were'} not restored: "${input.restoringUser}" is not a superuser, and only a superuser may create a publication FOR ALL TABLES or FOR TABLES IN SCHEMA (${superuserPublications.map((p) => `"${p}"`).join(', ')}). A publication sends nothing by itself; to have ${names.length === 1 ? 'it' : 'them'} in "${newDatabase}", run there as a superuser: ${shown}${statements.length > 10 ? ` … and ${statements.length - 10} more (pg_restore --schema-only -f - of the backup lists them)` : ''}`,
    );
  }
  if (choices.noOwner) notes.push(`Ownership not restored: the database and every object in it belong to "${input.restoringUser}".`);
  if (choices.noPrivileges) notes.push('Privileges not restored: no GRANT or REVOKE of the backup was applied to the database or its objects (PUBLIC has the default privileges, e.g. CONNECT).');
  for (const r of [...skippedSettings].sort()) notes.push(`Settings of role "${r}" in the database (ALTER ROLE … IN DATABASE) were not restored: the role does not exist here.`);
  // A name with line breaks: the statements pg_restore makes from the entries' tags (owner, privileges) carry it with
  // spaces instead (archive-header.ts unbreakDatabaseTags), those from pg_dump's text whole.
  const unbroken = input.sourceDatabase.replace(/[\r\n]/g, ' ');
  const isSourceName = (name: string | null): boolean => name === input.sourceDatabase || (unbroken !== input.sourceDatabase && name === unbroken);
  const render = (c: Classified): string => {
    const replace = new Map<number, string>();
    for (const k of c.db) if (isSourceName(identName(c.stmt.tokens[k]))) replace.set(k, quoteIdent(newDatabase));
    for (const r of c.roles) if (mapped.has(r.name)) replace.set(r.token, quoteIdent(mapped.get(r.name)!));
    return renderStatement(c.stmt, replace, true).trim();
  };
  const createSql = render(create);
  if (!/\bTEMPLATE = template0\b/.test(createSql)) {
    throw new BackstopError('RESTORE_FAILED', `The backup's CREATE DATABASE statement is not based on template0: ${createSql}`);
  }
  const pgRestoreArgs: string[] = [];
  if (choices.noOwner || useRoleMap) pgRestoreArgs.push('--no-owner');
  if (choices.noPrivileges || useRoleMap) pgRestoreArgs.push('--no-privileges');
  if (subscriptions.length > 0) pgRestoreArgs.push('--no-subscriptions');
  if (skipPublications) pgRestoreArgs.push('--no-publications');
  const owners = dbKept.filter((c) => c.kind === 'owner');
  // A parameter only a superuser may set (ALTER DATABASE … SET log_min_duration_statement …) is left out, a note giving the statement.
  const superuserSetting = (c: Classified): boolean => input.superuser === false && !!input.superuserSettings?.has(settingOf(c.stmt) ?? '');
  const unsetStmts = dbKept.filter(superuserSetting);
  const unset = unsetStmts.map(render);
  if (unset.length > 0) {
    const params = [...new Set(unsetStmts.map((c) => settingOf(c.stmt)!))];
    notes.push(
      `${unset.length === 1 ? 'A setting' : 'Settings'} of the database ${unset.length === 1 ? 'was' : 'were'} not restored: only a superuser may set ${unset.length === 1 ? 'it' : 'them'}, and "${input.restoringUser}" is not one. To have ${unset.length === 1 ? 'it' : 'them'}, run as a superuser: ${unset.join(' ')} (or, as a superuser, GRANT SET ON PARAMETER ${params.join(', ')} TO ${quoteIdent(input.restoringUser)}; and restore again).`,
    );
  }
  // A role's settings in the database that the restoring role may not set (not itself, no CREATEROLE): left out, a note giving the statements.
  const settable = input.settableRoles;
  const roleSettingDenied = (c: Classified): boolean =>
    input.superuser === false && settable !== undefined && c.kind === 'setting' && !superuserSetting(c) && c.roles.some((r) => !settable.has(mapped.get(r.name) ?? r.name) && !missing.includes(r.name));
  const deniedStmts = dbKept.filter(roleSettingDenied);
  if (deniedStmts.length > 0) {
    const roles = [...new Set(deniedStmts.flatMap((c) => c.roles.map((r) => mapped.get(r.name) ?? r.name)))].sort();
    notes.push(
      `Settings of ${roles.length === 1 ? 'role' : 'roles'} ${roles.map((r) => `"${r}"`).join(', ')} in the database (ALTER ROLE … IN DATABASE) were not restored: "${input.restoringUser}" may set only its own, or with CREATEROLE those of roles that are not superusers (on PostgreSQL 16 and later, only roles it administers). To have them, run as a superuser or a role with CREATEROLE: ${deniedStmts.map(render).join(' ')}`,
    );
  }
  const rest = dbKept.filter((c) => c.kind !== 'owner' && c.kind !== 'create' && !superuserSetting(c) && !roleSettingDenied(c));
  // Settings naming a tablespace the target lacks: restored as they are (PostgreSQL ignores the name until it exists), a note says so.
  if (input.existingTablespaces) {
    const lacking = new Map<string, string[]>();
    const resets: string[] = [];
    for (const c of rest) {
      const named = settingTablespaces(c);
      const absent = named?.names.filter((n) => !input.existingTablespaces!.has(n)) ?? [];
      if (!named || absent.length === 0) continue;
      const role = c.kind === 'setting' ? (c.roles[0] ? (mapped.get(c.roles[0].name) ?? c.roles[0].name) : null) : null;
      for (const n of absent) {
        const list = lacking.get(n) ?? [];
        list.push(role ? `${named.setting} of role "${role}"` : named.setting);
        lacking.set(n, list);
      }
      resets.push(role ? `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(newDatabase)} RESET ${named.setting};` : `ALTER DATABASE ${quoteIdent(newDatabase)} RESET ${named.setting};`);
    }
    if (lacking.size > 0) {
      const names = [...lacking].map(([n, uses]) => `"${n}" (${[...new Set(uses)].join('; ')})`).join(', ');
      const one = lacking.size === 1;
      notes.push(
        `Settings of the database name ${one ? 'a tablespace' : 'tablespaces'} the ${input.serverLabel} lacks: ${names}. They were restored as they are; until ${one ? 'that tablespace exists' : 'those tablespaces exist'}, PostgreSQL ignores ${one ? 'it' : 'them'} there: new tables and indexes go to the database's default tablespace, temporary files to the server's. Create ${one ? 'it' : 'them'} (CREATE TABLESPACE … LOCATION '…'; a logical task's ~server/globals.sql holds the source's: backstop apply-globals), or remove the settings (${[...new Set(resets)].join(' ')}).`,
      );
    }
  }

  // Object ownership before object privileges (grants may name the owner), database last.
  const objectStatements = useRoleMap ? [...objKept.filter((c) => c.kind === 'owner').map(render), ...objKept.filter((c) => c.kind === 'acl').map(render)] : [];
  const databaseStatements = [...owners.map(render), ...rest.map(render)];
  // The archive's own `SET standard_conforming_strings = off;` (pg_restore's prelude of every script).
  const standardConformingStrings = !dbStmts.some((c) => isKeyword(sig(c.stmt, 0), 'SET') && identName(sig(c.stmt, 1)) === 'standard_conforming_strings' && identName(sig(c.stmt, 3)) === 'off');
  const ownerFirst = input.superuser === false ? owners.map(render) : [];
  return { createDatabase: createSql, objectStatements, databaseStatements, ownerFirst, pgRestoreArgs, createRoles: missing, standardConformingStrings, notes };
}

/** The TOC lines of the database-level entries in a `pg_restore --create -l` listing. */
export function databaseEntries(list: string): string[] {
  return list.split('\n').filter((l) => /^\d+; \d+ \d+ (DATABASE |DATABASE PROPERTIES |(COMMENT|ACL|SECURITY LABEL) - DATABASE )/.test(l));
}

/**
 * The TOC lines of the large objects' metadata (BLOB: lo_create and the owner; their
 * comments, privileges, security labels), never their data (the BLOBS entry). pg_restore
 * counts these as data, so `--schema-only` leaves them out; the plan needs their owners
 * and grantees like any object's.
 */
export function largeObjectEntries(list: string): string[] {
  return list.split('\n').filter((l) => /^\d+; \d+ \d+ (BLOB - |(COMMENT|ACL|SECURITY LABEL) - LARGE OBJECT )/.test(l));
}

/** The source database name: the tag of the DATABASE entry, from the statements themselves. */
export function sourceDatabaseName(databaseScript: string): string | null {
  const create = splitStatements(databaseScript).find((s) => isKeyword(s.tokens[s.sig[0]!], 'CREATE') && isKeyword(s.tokens[s.sig[1]!], 'DATABASE'));
  return create ? identName(create.tokens[create.sig[2]!]) : null;
}
