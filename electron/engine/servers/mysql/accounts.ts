/**
 * MySQL/MariaDB users, roles and grants: the server-level `grants.sql` stream of a logical
 * task, and applying it to a target server on request.
 *
 * Contracts:
 * - The stream is, per account (roles first), the line `-- backstop-account <kind> <hex user>
 *   <hex host>` then the server's own statements for it: `CREATE USER` (SHOW CREATE USER,
 *   password hashes included, never a plaintext password) or `CREATE ROLE`, then every
 *   `SHOW GRANTS` line, each ending with `;`. System accounts (`mariadb.sys`, `mysql.*`,
 *   `root`, PUBLIC) are left out: every server has its own.
 * - Applying never changes an existing account: an account the target has is skipped (with
 *   why). The others are created first (all of them, so grants between them resolve), then
 *   granted; an account whose creation fails gets no grants, and one whose grants fail is
 *   dropped again, so a failed account leaves nothing behind. A dry run only reports.
 * - Messages never contain a password or hash.
 */
import type { GlobalsObjectResult, ApplyGlobalsReport } from '../postgres/apply-globals.ts';

const MARK = '-- backstop-account ';
const SYSTEM_USERS = new Set(['mariadb.sys', 'root', 'PUBLIC', 'mysql.sys', 'mysql.session', 'mysql.infoschema']);

export interface Account {
  kind: 'user' | 'role';
  user: string;
  host: string;
  statements: string[];
}

type AccountId = Pick<Account, 'kind' | 'user' | 'host'>;

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex').toString('utf8');
const literal = (s: string) => `X'${hex(s)}'`;

/** `user`@`host` (a role: `role`), as the server writes it. */
export function accountName(a: AccountId): string {
  const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;
  return a.kind === 'role' ? q(a.user) : `${q(a.user)}@${q(a.host)}`;
}

/** Whether an account is backed up (not a system account every server has its own of). */
const backedUp = (a: AccountId) => !SYSTEM_USERS.has(a.user) && !a.user.startsWith('mysql.') && a.user !== '';
/** The stream's order: roles first, then by name. */
const streamOrder = (a: AccountId, b: AccountId) => (a.kind === b.kind ? accountName(a).localeCompare(accountName(b)) : a.kind === 'role' ? -1 : 1);

/** The accounts to back up, from `SELECT HEX(User), HEX(Host), is_role FROM mysql.user` rows. */
export function accountsToBackUp(rows: string[][]): AccountId[] {
  return rows
    .map((r) => ({ kind: r[2] === 'Y' ? ('role' as const) : ('user' as const), user: unhex(r[0] ?? ''), host: unhex(r[1] ?? '') }))
    .filter(backedUp)
    .sort(streamOrder);
}

/** A backquoted identifier of the SQL string expression `expr`, built by the server (as accountName does). */
const sqlIdent = (expr: string) => `CONCAT('\`', REPLACE(${expr}, '\`', '\`\`'), '\`')`;

/**
 * MariaDB 10.2.3+ (compound statements outside routines, EXECUTE IMMEDIATE): one batch that
 * lists the accounts and prints, for each one backed up, the same marker row and statements
 * as `accountsQuery` — so reading grants.sql takes one client process instead of two (the
 * list, then its SHOWs). The rows come in the server's order; `accountsScriptOfBatch` puts
 * them in the stream's. Run with `--raw`, as `accountsQuery`.
 */
export const MARIADB_ACCOUNTS_BATCH = `DELIMITER $$
BEGIN NOT ATOMIC
  DECLARE done INT DEFAULT 0;
  DECLARE u, h TEXT CHARACTER SET utf8mb4;
  DECLARE r CHAR(1);
  DECLARE c CURSOR FOR SELECT User, Host, is_role FROM mysql.user
    WHERE User NOT IN (${[...SYSTEM_USERS].map((u) => `'${u}'`).join(', ')}) AND User NOT LIKE 'mysql.%' AND User <> '';
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  OPEN c;
  accounts: LOOP
    FETCH c INTO u, h, r;
    IF done THEN LEAVE accounts; END IF;
    SELECT CONCAT('${MARK}', IF(r = 'Y', 'role', 'user'), ' ', HEX(u), ' ', HEX(h));
    IF r = 'Y' THEN
      SELECT CONCAT('CREATE ROLE ', ${sqlIdent('u')});
      EXECUTE IMMEDIATE CONCAT('SHOW GRANTS FOR ', ${sqlIdent('u')});
    ELSE
      EXECUTE IMMEDIATE CONCAT('SHOW CREATE USER ', ${sqlIdent('u')}, '@', ${sqlIdent('h')});
      EXECUTE IMMEDIATE CONCAT('SHOW GRANTS FOR ', ${sqlIdent('u')}, '@', ${sqlIdent('h')});
    END IF;
  END LOOP;
  CLOSE c;
END$$
DELIMITER ;
`;

/** The stream text from `MARIADB_ACCOUNTS_BATCH`'s rows: each account's rows, in the stream's order (as `accountsScript` of `accountsQuery`'s). */
export function accountsScriptOfBatch(rows: string[][]): string {
  const accounts: { id: AccountId; rows: string[][] }[] = [];
  for (const r of rows) {
    if (r[0]!.startsWith(MARK)) {
      const [kind, user, host] = r[0]!.slice(MARK.length).split(' ');
      accounts.push({ id: { kind: kind === 'role' ? 'role' : 'user', user: unhex(user ?? ''), host: unhex(host ?? '') }, rows: [r] });
    } else accounts.at(-1)?.rows.push(r);
  }
  return accounts
    .filter((a) => backedUp(a.id))
    .sort((a, b) => streamOrder(a.id, b.id))
    .map((a) => accountsScript(a.rows))
    .join('');
}

/** One SQL batch printing, for every account, its marker row and its statements. */
export function accountsQuery(accounts: AccountId[]): string {
  return accounts
    .map((a) => {
      const name = accountName(a);
      const mark = `SELECT CONCAT('${MARK}${a.kind} ', HEX(${literal(a.user)}), ' ', HEX(${literal(a.host)}));`;
      return a.kind === 'role' ? `${mark} SELECT CONCAT('CREATE ROLE ', ${literal(name)}); SHOW GRANTS FOR ${name};` : `${mark} SHOW CREATE USER ${name}; SHOW GRANTS FOR ${name};`;
    })
    .join('\n');
}

/** The stream text from the batch's output rows (one column each). */
export function accountsScript(rows: string[][]): string {
  return rows.map((r) => (r[0]!.startsWith(MARK) ? `${r[0]}\n` : `${r[0]};\n`)).join('');
}

export function parseAccounts(script: string): Account[] {
  const out: Account[] = [];
  const units = statementsOf(script) ?? script.split('\n').filter((l) => l.trim());
  for (const unit of units) {
    if (unit.startsWith(MARK)) {
      const [kind, user, host] = unit.slice(MARK.length).split(' ');
      out.push({ kind: kind === 'role' ? 'role' : 'user', user: unhex(user ?? ''), host: unhex(host ?? ''), statements: [] });
    } else if (out.length > 0) {
      out.at(-1)!.statements.push(unit);
    }
  }
  return out;
}

/**
 * The stream's marker lines and statements (each with its `;`), in order: a statement runs to its `;` outside
 * quotes (backquoted names, '…' and "…" strings), so an account name holding a newline or a
 * `;` stays in one statement. Null when a quote is never closed (a stream cut short, or
 * written by a version that could split a statement): the caller reads it line by line.
 * MySQL's dialect (backslash escapes inside '…' and "…"), hence not sqlite/statement-splitter.ts
 * or postgres/sql-script.ts.
 */
function statementsOf(script: string): string[] | null {
  const units: string[] = [];
  let i = 0;
  while (i < script.length) {
    while (i < script.length && /\s/.test(script[i]!)) i++;
    if (i >= script.length) break;
    if (script.startsWith(MARK, i)) {
      const end = script.indexOf('\n', i);
      units.push(script.slice(i, end < 0 ? script.length : end));
      i = end < 0 ? script.length : end + 1;
      continue;
    }
    const start = i;
    let quote: string | null = null;
    for (; i < script.length; i++) {
      const c = script[i]!;
      if (quote) {
        if (c === '\\' && quote !== '`') i++;
        else if (c === quote) {
          if (script[i + 1] === quote) i++;
          else quote = null;
        }
      } else if (c === '`' || c === "'" || c === '"') quote = c;
      else if (c === ';') break;
    }
    if (quote || i >= script.length) {
      // An unterminated quote, or a last statement without its `;`.
      if (quote) return null;
      units.push(script.slice(start).trimEnd());
      break;
    }
    units.push(script.slice(start, i + 1));
    i++;
  }
  return units;
}

/** What the target needs to answer: which of the accounts exist there. */
export function existingAccountsQuery(accounts: Account[]): string {
  if (accounts.length === 0) return 'SELECT 1 FROM DUAL WHERE FALSE;';
  const pairs = accounts.map((a) => `(${literal(a.user)}, ${literal(a.kind === 'role' ? '' : a.host)})`).join(', ');
  return `SELECT HEX(User), HEX(Host) FROM mysql.user WHERE (User, Host) IN (${pairs});`;
}

export interface AccountRunner {
  /** Runs statements in one session; rejects with the server's message. */
  run(sql: string): Promise<void>;
}

/** Applies the accounts the target lacks (see the header); `existing` holds `user\0host` keys. */
export async function applyAccounts(accounts: Account[], existing: Set<string>, db: AccountRunner, dryRun: boolean): Promise<ApplyGlobalsReport> {
  const results: GlobalsObjectResult[] = [];
  const name = (a: Account) => `${a.kind} ${accountName(a)}`;
  const fresh: Account[] = [];
  // The stored GRANT statements (the CREATE left out): what the window shows.
  const grants = (a: Account) => a.statements.filter((s) => !/^CREATE (USER|ROLE) /.test(s));
  // ... without the password hash MariaDB's SHOW GRANTS prints on the USAGE line.
  const shown = (a: Account) => grants(a).map((s) => s.replace(/ IDENTIFIED (?:BY PASSWORD|(?:VIA|WITH) \S+ (?:USING|AS)) '(?:[^'\\]|\\.|'')*'/g, ''));
  for (const a of accounts) {
    if (existing.has(`${a.user}\0${a.kind === 'role' ? '' : a.host}`)) {
      results.push({ kind: 'role', name: name(a), action: 'skipped', message: 'exists on the target server; existing accounts are never changed', grants: shown(a) });
    } else fresh.push(a);
  }
  if (dryRun) return { dryRun, objects: [...results, ...fresh.map((a) => ({ kind: 'role' as const, name: name(a), action: 'created' as const, message: null, grants: shown(a) }))] };
  const created: Account[] = [];
  for (const a of fresh) {
    const create = a.statements.filter((s) => /^CREATE (USER|ROLE) /.test(s));
    try {
      await db.run(create.join('\n'));
      created.push(a);
    } catch (e) {
      results.push({ kind: 'role', name: name(a), action: 'failed', message: (e as Error).message });
    }
  }
  const granted: Account[] = [];
  for (const a of created) {
    try {
      await db.run(grants(a).join('\n'));
      granted.push(a);
      results.push({ kind: 'role', name: name(a), action: 'created', message: null, grants: shown(a) });
    } catch (e) {
      await db.run(`DROP ${a.kind === 'role' ? 'ROLE' : 'USER'} IF EXISTS ${accountName(a)};`).catch(() => undefined);
      results.push({ kind: 'role', name: name(a), action: 'failed', message: (e as Error).message });
    }
  }
  // CREATE ROLE granted each role to its creator WITH ADMIN OPTION (needed above to grant it on):
  // take that back, the stored grants say who has it.
  for (const a of granted.filter((x) => x.kind === 'role')) await db.run(`REVOKE ${accountName(a)} FROM CURRENT_USER;`).catch(() => undefined);
  return { dryRun, objects: results };
}
