/**
 * Applying a PostgreSQL `globals.sql` (pg_dumpall --globals-only: roles, role settings,
 * memberships, tablespaces) to a target server that may already have some of them.
 *
 * Contract:
 * - `parseGlobals` splits the script into statements (single-, E'…'- and dollar-quoted
 *   strings, quoted identifiers, `--` and nested block comments respected; psql
 *   meta-commands such as `\restrict` skipped) and groups them per object: a role (CREATE,
 *   ALTER … WITH, ALTER … [IN DATABASE …] SET/RESET, COMMENT, SECURITY LABEL), a
 *   membership (GRANT role TO role …), a tablespace (CREATE, ALTER, COMMENT, GRANT … ON
 *   TABLESPACE); anything else is kept as a statement of its own. SET lines are the
 *   session prelude of every batch.
 * - `applyGlobals` never stops at the first problem: each object is applied on its own and
 *   reported as created, skipped (exists / the connecting role / member left unchanged),
 *   altered or failed with the server's message (a role only a superuser may make — SUPERUSER,
 *   REPLICATION, BYPASSRLS, a superuser-only setting — also names the fix). A role is created in one transaction with
 *   its attributes, settings and comment, so a failed role leaves nothing behind. Objects
 *   that exist are never changed unless `alterExisting` (then roles get their attributes,
 *   settings and comment, never the source's password); the connecting role is never
 *   changed. A dry run queries the target and reports what would happen, changing nothing.
 * - Every batch may write whatever the role's or the server's default_transaction_read_only
 *   (a standby still refuses: each object fails with the server's message).
 * - Connection problems (UNREACHABLE, AUTH_FAILED) reject; failures of single statements
 *   do not. Messages never contain a password or password hash.
 */
import type { GlobalsApplyReport } from '../../../shared/domain.ts';
import { BackstopError, hasCode } from '../../../shared/result.ts';
import { runTool, type ToolFailure } from '../child-process.ts';
import { conninfoDbname, type PgConnection } from './connection.ts';

export type GlobalsObjectKind = GlobalsObjectResult['kind'];
export type GlobalsAction = GlobalsObjectResult['action'];
/** One role, membership, tablespace or statement (the shared contract's type: the window shows these). */
export type GlobalsObjectResult = GlobalsApplyReport['objects'][number];
export type ApplyGlobalsReport = GlobalsApplyReport;

export interface ApplyGlobalsOptions {
  /** Change roles that exist on the target (attributes, settings, comment; never the password). */
  alterExisting?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
}

interface RoleObject {
  kind: 'role';
  name: string;
  create: string | null;
  /** ALTER ROLE … WITH … (the password clause is dropped when altering an existing role). */
  attributes: string[];
  /** Settings, comment, security labels. */
  rest: string[];
}

interface MembershipObject {
  kind: 'membership';
  role: string;
  member: string;
  grantor: string | null;
  statement: string;
}

interface TablespaceObject {
  kind: 'tablespace';
  name: string;
  create: string | null;
  rest: string[];
}

interface OtherObject {
  kind: 'statement';
  statement: string;
}

export type GlobalsObject = RoleObject | MembershipObject | TablespaceObject | OtherObject;

export interface ParsedGlobals {
  /** SET … statements, run at the start of every batch. */
  prelude: string[];
  objects: GlobalsObject[];
}

/** The index of the quote closing the one at `start` (doubled quotes and, in E'…', backslashes escape); the end of `sql` when unclosed. */
function closingQuote(sql: string, start: number, backslashEscapes: boolean): number {
  const q = sql[start];
  for (let j = start + 1; j < sql.length; j++) {
    if (backslashEscapes && sql[j] === '\\') j++;
    else if (sql[j] === q && sql[j + 1] === q) j++;
    else if (sql[j] === q) return j;
  }
  return sql.length;
}

/** Splits SQL into statements (without the trailing `;`), skipping comments and psql meta-command lines. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  const n = sql.length;
  const atStatementStart = () => cur.trim() === '';
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      cur += ' ';
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      cur += ' ';
      continue;
    }
    if (c === '\\' && atStatementStart()) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === "'" || c === '"') {
      const backslashEscapes = c === "'" && /[Ee]$/.test(cur) && !/[A-Za-z0-9_$][Ee]$/.test(cur);
      const j = closingQuote(sql, i, backslashEscapes);
      cur += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 70));
      if (tag && !/[A-Za-z0-9_]$/.test(cur)) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end < 0 ? n : end + tag[0].length;
        cur += sql.slice(i, stop);
        i = stop;
        continue;
      }
    }
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Words and identifiers of a statement's head: bare words lower-cased, quoted identifiers unquoted (marked). */
function tokens(statement: string, max = 12): { text: string; quoted: boolean; end: number }[] {
  const out: { text: string; quoted: boolean; end: number }[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*)|('(?:[^']|'')*')|(\S))/gy;
  let m: RegExpExecArray | null;
  while (out.length < max && (m = re.exec(statement))) {
    if (m[1] !== undefined) out.push({ text: m[1].replace(/""/g, '"'), quoted: true, end: re.lastIndex });
    else if (m[2] !== undefined) out.push({ text: m[2].toLowerCase(), quoted: false, end: re.lastIndex });
    else out.push({ text: m[3] ?? m[4] ?? '', quoted: false, end: re.lastIndex });
  }
  return out;
}

function is(t: { text: string; quoted: boolean } | undefined, word: string): boolean {
  return !!t && !t.quoted && t.text === word;
}

export function parseGlobals(sql: string): ParsedGlobals {
  const prelude: string[] = [];
  const objects: GlobalsObject[] = [];
  const roles = new Map<string, RoleObject>();
  const tablespaces = new Map<string, TablespaceObject>();
  const role = (name: string): RoleObject => {
    let r = roles.get(name);
    if (!r) {
      r = { kind: 'role', name, create: null, attributes: [], rest: [] };
      roles.set(name, r);
      objects.push(r);
    }
    return r;
  };
  const tablespace = (name: string): TablespaceObject => {
    let t = tablespaces.get(name);
    if (!t) {
      t = { kind: 'tablespace', name, create: null, rest: [] };
      tablespaces.set(name, t);
      objects.push(t);
    }
    return t;
  };
  for (const s of splitStatements(sql)) {
    const t = tokens(s);
    const [a, b, c, d] = t;
    if (is(a, 'set') || (is(a, 'select') && /pg_catalog\.set_config/i.test(s))) {
      prelude.push(s);
    } else if (is(a, 'create') && is(b, 'role') && c) {
      role(c.text).create = s;
    } else if (is(a, 'alter') && is(b, 'role') && c && !is(c, 'all')) {
      if (is(d, 'with') || (d && !is(d, 'set') && !is(d, 'reset') && !is(d, 'in') && !is(d, 'rename'))) role(c.text).attributes.push(s);
      else role(c.text).rest.push(s);
    } else if (is(a, 'comment') && is(b, 'on') && is(c, 'role') && d) {
      role(d.text).rest.push(s);
    } else if (is(a, 'comment') && is(b, 'on') && is(c, 'tablespace') && d) {
      tablespace(d.text).rest.push(s);
    } else if (is(a, 'create') && is(b, 'tablespace') && c) {
      tablespace(c.text).create = s;
    } else if (is(a, 'alter') && is(b, 'tablespace') && c) {
      tablespace(c.text).rest.push(s);
    } else if (is(a, 'grant') && t.some((x, i) => is(x, 'on') && is(t[i + 1], 'tablespace'))) {
      const at = t.findIndex((x, i) => is(x, 'on') && is(t[i + 1], 'tablespace'));
      const name = t[at + 2];
      if (name) tablespace(name.text).rest.push(s);
      else objects.push({ kind: 'statement', statement: s });
    } else if (is(a, 'grant') && b && is(c, 'to') && d) {
      const all = tokens(s, 40);
      const by = all.findIndex((x, i) => is(x, 'granted') && is(all[i + 1], 'by'));
      const comma = all.findIndex((x) => !x.quoted && x.text === ',');
      if (comma >= 0) objects.push({ kind: 'statement', statement: s });
      else objects.push({ kind: 'membership', role: b.text, member: d.text, grantor: by >= 0 ? (all[by + 2]?.text ?? null) : null, statement: s });
    } else if (is(a, 'security') && is(b, 'label')) {
      const on = t.findIndex((x) => is(x, 'on'));
      const what = t[on + 1];
      const name = t[on + 2];
      if (on >= 0 && is(what, 'role') && name) role(name.text).rest.push(s);
      else if (on >= 0 && is(what, 'tablespace') && name) tablespace(name.text).rest.push(s);
      else objects.push({ kind: 'statement', statement: s });
    } else {
      objects.push({ kind: 'statement', statement: s });
    }
  }
  return { prelude, objects };
}

/** ALTER ROLE … WITH … without the PASSWORD clause (for roles that already exist on the target). */
export function withoutPassword(statement: string): string {
  const t = tokens(statement, 5);
  const withAt = t.findIndex((x) => is(x, 'with'));
  const head = withAt >= 0 ? statement.slice(0, t[withAt]!.end) : statement.slice(0, t[2]?.end ?? 0);
  const tail = statement.slice(head.length).replace(/\s+(?:ENCRYPTED\s+|UNENCRYPTED\s+)?PASSWORD\s+(?:'(?:[^']|'')*'|NULL)/gi, '');
  return head + tail;
}

/** Removes anything that looks like a password or hash from text meant for the user. */
function redact(text: string): string {
  return text.replace(/SCRAM-SHA-256\$[^\s'"]*/g, '***').replace(/\bmd5[0-9a-f]{32}\b/g, '***').replace(/(PASSWORD\s+)'(?:[^']|'')*'/gi, "$1'***'");
}

function hexText(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

function label(o: GlobalsObject): string {
  switch (o.kind) {
    case 'role':
      return `role ${o.name}`;
    case 'tablespace':
      return `tablespace ${o.name}`;
    case 'membership':
      return `membership ${o.role} to ${o.member}`;
    case 'statement':
      return `statement "${redact(o.statement.replace(/\s+/g, ' ').slice(0, 60))}"`;
  }
}

interface TargetFacts {
  currentUser: string;
  roles: Set<string>;
  tablespaces: Set<string>;
  memberships: Set<string>;
}

async function targetFacts(conn: PgConnection, signal?: AbortSignal): Promise<TargetFacts> {
  const hex = (expr: string) => `encode(convert_to(${expr}, 'UTF8'), 'hex')`;
  const rows = await conn.query(
    `SELECT 'u', ${hex('current_user')}
     UNION ALL SELECT 'r', ${hex('rolname')} FROM pg_roles
     UNION ALL SELECT 't', ${hex('spcname')} FROM pg_tablespace
     UNION ALL SELECT 'm', ${hex("r.rolname || chr(1) || m.rolname")} FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member`,
    { signal, action: 'reading the roles and tablespaces of the target server', fallback: 'UNREACHABLE' },
  );
  const facts: TargetFacts = { currentUser: '', roles: new Set(), tablespaces: new Set(), memberships: new Set() };
  for (const [k, v] of rows) {
    const text = hexText(v ?? '');
    if (k === 'u') facts.currentUser = text;
    else if (k === 'r') facts.roles.add(text);
    else if (k === 't') facts.tablespaces.add(text);
    else if (k === 'm') facts.memberships.add(text);
  }
  return facts;
}

class StatementFailed extends Error {}

/**
 * A role's failure because only a superuser may give it an attribute (SUPERUSER, REPLICATION,
 * BYPASSRLS) or a setting (log_min_duration_statement, …): the server's message and the fix.
 */
const superuserOnly =
  (role: string) =>
  (_done: number, m: string): string =>
    /must be superuser|permission denied to set parameter/i.test(m)
      ? `${m} — only a superuser may apply this role as it was: apply the roles with a superuser account, or create role ${role} by hand without it and apply again (an existing role is skipped).`
      : m;

/**
 * Runs statements as one psql script (optionally one transaction); a statement's failure →
 * StatementFailed with the server's message. The session may write whatever the role's or
 * the server's default_transaction_read_only, and the prelude (pg_dumpall's SET lines) runs
 * before the transaction opens, so its settings hold inside it (with psql's
 * --single-transaction the transaction would already be read-only).
 */
async function runBatch(conn: PgConnection, prelude: string[], statements: string[], transaction: boolean, signal?: AbortSignal): Promise<void> {
  const body = transaction ? ['BEGIN', ...statements, 'COMMIT'] : statements;
  const script = ['SET default_transaction_read_only = off', ...prelude, ...body].map((s) => `${s};\n`).join('');
  const connectionProblem = conn.classify('applying roles and tablespaces', 'RESTORE_FAILED');
  try {
    await runTool(
      conn.command('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=terse', ...conn.connArgs(), '-d', conninfoDbname('postgres'), '-f', '-']),
      {
        input: script,
        signal,
        classify: (f: ToolFailure) => {
          const c = connectionProblem(f);
          if (c.code === 'UNREACHABLE' || c.code === 'AUTH_FAILED' || c.code === 'DATABASE_NOT_FOUND') return c;
          const m = /(?:ERROR|FATAL):\s+(.*)/.exec(f.stderr);
          return new BackstopError('RESTORE_FAILED', redact((m?.[1] ?? f.stderr.trim().split('\n').at(-1) ?? 'psql failed').trim()));
        },
      },
    );
  } catch (e) {
    if (hasCode(e, 'RESTORE_FAILED')) throw new StatementFailed(e.message);
    throw e;
  }
}

export async function applyGlobals(conn: PgConnection, sql: string, opts: ApplyGlobalsOptions = {}): Promise<ApplyGlobalsReport> {
  const { prelude, objects } = parseGlobals(sql);
  const facts = await targetFacts(conn, opts.signal);
  const dry = opts.dryRun ?? false;
  const results: GlobalsObjectResult[] = [];
  /** Roles that existed before and were left as they are (their memberships are left too). */
  const untouched = new Set<string>();
  const failedRoles = new Set<string>();
  const report = (o: GlobalsObject, action: GlobalsAction, message: string | null = null) => results.push({ kind: o.kind, name: label(o), action, message });
  const attempt = async (o: GlobalsObject, action: GlobalsAction, batches: { statements: string[]; transaction: boolean }[], onFail?: (done: number, m: string) => string): Promise<boolean> => {
    if (dry) {
      report(o, action);
      return true;
    }
    let done = 0;
    try {
      for (const b of batches) {
        if (b.statements.length > 0) await runBatch(conn, prelude, b.statements, b.transaction, opts.signal);
        done++;
      }
      report(o, action);
      return true;
    } catch (e) {
      if (!(e instanceof StatementFailed)) throw e;
      report(o, 'failed', onFail ? onFail(done, e.message) : e.message);
      return false;
    }
  };

  for (const o of objects.filter((x): x is RoleObject => x.kind === 'role')) {
    if (o.name === facts.currentUser) {
      untouched.add(o.name);
      report(o, 'skipped', `the role Backstop connects as is never changed`);
    } else if (facts.roles.has(o.name)) {
      if (!opts.alterExisting) {
        untouched.add(o.name);
        report(o, 'skipped', 'exists on the target; left unchanged (--alter-existing changes it)');
      } else {
        await attempt(o, 'altered', [{ statements: [...o.attributes.map(withoutPassword), ...o.rest], transaction: true }], superuserOnly(o.name));
      }
    } else {
      const create = o.create ?? `CREATE ROLE "${o.name.replace(/"/g, '""')}"`;
      const ok = await attempt(o, 'created', [{ statements: [create, ...o.attributes, ...o.rest], transaction: true }], superuserOnly(o.name));
      if (!ok) failedRoles.add(o.name);
    }
  }

  for (const o of objects.filter((x): x is TablespaceObject => x.kind === 'tablespace')) {
    if (facts.tablespaces.has(o.name)) {
      report(o, 'skipped', 'exists on the target; left unchanged');
      continue;
    }
    const batches = [
      { statements: o.create ? [o.create] : [], transaction: false }, // CREATE TABLESPACE cannot run in a transaction
      { statements: o.rest, transaction: true },
    ];
    await attempt(o, 'created', batches, (done, m) =>
      done === 0
        ? /directory|location|No such file/i.test(m)
          ? `${m} — the LOCATION folder must exist on the target server's machine, empty and owned by the server's OS user; create it (or edit the LOCATION in an extracted globals.sql) and apply again.`
          : m
        : `created, but its owner, settings or privileges failed: ${m}`,
    );
  }

  for (const o of objects.filter((x): x is MembershipObject => x.kind === 'membership')) {
    if (facts.memberships.has(`${o.role}\u0001${o.member}`)) {
      report(o, 'skipped', 'exists on the target');
    } else if (o.member === facts.currentUser) {
      report(o, 'skipped', 'the role Backstop connects as is never changed');
    } else if (untouched.has(o.member)) {
      report(o, 'skipped', `role ${o.member} exists on the target and is left unchanged (--alter-existing adds the membership)`);
    } else if (failedRoles.has(o.role) || failedRoles.has(o.member)) {
      report(o, 'failed', `role ${failedRoles.has(o.role) ? o.role : o.member} could not be created`);
    } else {
      // A grantor the target lacks would fail the GRANT; the membership itself is what matters.
      const grantorMissing = o.grantor !== null && !facts.roles.has(o.grantor) && !objects.some((x) => x.kind === 'role' && x.name === o.grantor && !failedRoles.has(x.name));
      const statement = grantorMissing ? o.statement.replace(/\s+GRANTED\s+BY\s+("(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)\s*$/i, '') : o.statement;
      await attempt(o, 'created', [{ statements: [statement], transaction: true }]);
    }
  }

  for (const o of objects.filter((x): x is OtherObject => x.kind === 'statement')) {
    await attempt(o, 'created', [{ statements: [o.statement], transaction: false }]);
  }
  return { dryRun: dry, objects: results };
}
