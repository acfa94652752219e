/**
 * `backstop restore-server` (issue #22) of real PostgreSQL and MariaDB servers with several
 * databases, hostile names among them: every restored database is identical to its source
 * (table checksums), roles (PostgreSQL) and users and grants (MariaDB) are applied only with --with-server-level, an existing name is
 * never touched, a failed database does not stop the others, and a re-run skips what is
 * done and redoes what an interrupted run left half-restored.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { spawn } from 'node:child_process';
import { CLI_BIN, cliInProcess } from '../../fixtures/cli.ts';
import { mariadbFingerprint, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { PG_BIN, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

interface Doc {
  status?: string;
  databases: { database: string; restoredAs: string; status: string; error?: { code: string; message: string } }[];
  serverLevel?: { status: string; detail: string };
  notes: string[];
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function restoreServer(dataDir: string, ...args: string[]): Promise<{ code: number; doc: Doc }> {
  const r = await cliInProcess('restore-server', ...args, '--json', '--data-dir', dataDir);
  return { code: r.code, doc: JSON.parse(r.out) as Doc };
}

/**
 * A temp folder with `task.json` (a nightly logical task of `source` to `<dir>/backups`, password in `env`),
 * `target.json`, and one backup run; the caller removes the folder.
 */
async function backedUp(source: { kind: string; host: string; port: number; user: string; password: string }, target: typeof source, env: string, extra: Record<string, unknown> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'backstop-rs-'));
  process.env[env] = source.password;
  const server = (s: typeof source) => ({ kind: s.kind, host: s.host, port: s.port, user: s.user, passwordEnv: env, tls: 'disable' });
  writeFileSync(join(dir, 'task.json'), JSON.stringify({ name: 'task', server: server(source), type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], ...extra }));
  writeFileSync(join(dir, 'target.json'), JSON.stringify(server(target)));
  const b = await cliInProcess('backup', '--config', join(dir, 'task.json'), '--json', '--data-dir', join(dir, 'data'));
  expect(JSON.parse(b.out).status).toBe('success');
  return dir;
}

/** `backedUp` for a PostgreSQL source (the `postgres` database left out). */
const pgBackedUp = (source: PgServer, target: PgServer) =>
  backedUp({ kind: 'postgres', ...source }, { kind: 'postgres', ...target }, 'BACKSTOP_TEST_PG_PASSWORD', { excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } });

async function stopAll(servers: ({ stop(): Promise<void> } | undefined)[], dir: string | undefined): Promise<void> {
  await Promise.all(servers.map((s) => s?.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}

const byName = (doc: Doc) => Object.fromEntries(doc.databases.map((d) => [d.database, d]));

describe('restore-server: PostgreSQL', () => {
  let source: PgServer;
  let target: PgServer;
  let dir: string;
  const NAMES = ['plain', '../x', `it's "q"`, 'with space', 'ünï cødé', 'owned'];

  /** md5 of every user table's rows (ordered), by table: one psql session (\\gexec runs the query per table listed), not one per table. */
  const checksums = (pg: PgServer, db: string): Record<string, string> => {
    const out = pg.psql(
      `SELECT format($f$SELECT json_build_array(%L, (SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM %s x))$f$, t, t)
       FROM (SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) s ORDER BY t \\gexec`,
      db,
    );
    return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as [string, string]));
  };
  const exists = (pg: PgServer, db: string) => pg.psql(`SELECT count(*) FROM pg_database WHERE datname = ${lit(db)}`).trim() === '1';

  beforeAll(async () => {
    [source, target] = await Promise.all([startPostgres(), startPostgres()]);
    source.psql('CREATE ROLE app LOGIN;');
    for (const n of NAMES) {
      source.psql(`CREATE DATABASE ${ident(n)}${n === 'owned' ? ' OWNER app' : ''};`);
      source.psql(`CREATE SCHEMA "S ""1"""; CREATE TABLE "S ""1""".items (id int PRIMARY KEY, v text); INSERT INTO "S ""1""".items SELECT g, md5(g::text) || ${lit(n)} FROM generate_series(1, 300) g; CREATE TABLE public.one (x numeric); INSERT INTO public.one VALUES (1.5);`, n);
    }
    target.psql(`CREATE DATABASE "r_with space"; `);
    target.psql('CREATE TABLE keep (marker text); INSERT INTO keep VALUES (\'mine\');', 'r_with space');
    dir = await pgBackedUp(source, target);
  }, 300_000);

  afterAll(() => stopAll([source, target], dir));

  it('restores every database under a prefix; roles only when asked; never over an existing name; a re-run completes only what was missing', { timeout: 600_000 }, async () => {
    const dataDir = join(dir, 'data');
    const args = [join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'r_', '--jobs', '2'];
    const first = await restoreServer(dataDir, ...args);
    expect(first.code).toBe(1);
    const d1 = byName(first.doc);
    expect(Object.keys(d1).sort()).toEqual([...NAMES].sort());
    expect(d1['with space']).toMatchObject({ restoredAs: 'r_with space', status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(d1['with space']!.error!.message).toContain('a restore never overwrites a database');
    expect(target.psql('SELECT marker FROM keep', 'r_with space').trim()).toBe('mine');
    expect(d1.owned).toMatchObject({ status: 'failed', error: { code: 'ROLE_MISSING' } });
    expect(d1.owned!.error!.message).toContain('--with-server-level');
    expect(exists(target, 'r_owned')).toBe(false);
    expect(target.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'app'").trim()).toBe('0');
    expect(first.doc.serverLevel).toBeUndefined();
    for (const n of ['plain', '../x', `it's "q"`, 'ünï cødé']) {
      expect(d1[n]).toMatchObject({ restoredAs: `r_${n}`, status: 'ok' });
      expect(checksums(target, `r_${n}`)).toEqual(checksums(source, n));
    }

    // An interrupted run: "r_../x" half-restored (rows missing) and still marked started.
    target.psql('DELETE FROM "S ""1""".items WHERE id > 10;', 'r_../x');
    const db = new Database(join(dataDir, 'backstop.db'));
    expect(db.prepare("UPDATE server_restores SET state = 'started' WHERE database = 'r_../x'").run().changes).toBe(1);
    db.close();

    const second = await restoreServer(dataDir, ...args, '--with-server-level');
    const d2 = byName(second.doc);
    expect(second.doc.serverLevel).toMatchObject({ status: 'ok' });
    expect(target.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'app'").trim()).toBe('1');
    expect(d2.owned).toMatchObject({ status: 'ok' });
    expect(target.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'r_owned'").trim()).toBe('app');
    expect(checksums(target, 'r_owned')).toEqual(checksums(source, 'owned'));
    expect(d2['../x']).toMatchObject({ status: 'ok' });
    expect(second.doc.notes).toContain('"r_../x" was left half-restored by an interrupted run; it was dropped and restored again.');
    expect(checksums(target, 'r_../x')).toEqual(checksums(source, '../x'));
    for (const n of ['plain', `it's "q"`, 'ünï cødé']) expect(d2[n]).toMatchObject({ status: 'skipped' });
    expect(d2['with space']).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(second.code).toBe(1);

    // --only and a suffix: just the one that could not go under the prefix.
    const third = await restoreServer(dataDir, join(dir, 'backups'), '--server', join(dir, 'target.json'), '--suffix', '_2', '--only', 'with space');
    expect(third.code).toBe(0);
    expect(third.doc.databases).toEqual([expect.objectContaining({ database: 'with space', restoredAs: 'with space_2', status: 'ok' })]);
    expect(checksums(target, 'with space_2')).toEqual(checksums(source, 'with space'));
  });

  it('--with-server-level creates roles with their password hashes, settings and memberships, and names a role the target already has as left unchanged', { timeout: 300_000 }, async () => {
    source.psql("CREATE ROLE qa_group NOLOGIN; CREATE ROLE qa_owner LOGIN PASSWORD 'secret1' CONNECTION LIMIT 3 IN ROLE qa_group; ALTER ROLE qa_owner SET work_mem = '3MB'; CREATE ROLE qa_taken LOGIN CREATEDB PASSWORD 'src';");
    target.psql('CREATE ROLE qa_taken NOLOGIN;');
    const d2 = await pgBackedUp(source, target);
    try {
      const r = await restoreServer(join(d2, 'data'), join(d2, 'backups'), '--server', join(d2, 'target.json'), '--prefix', 'g_', '--only', 'plain', '--with-server-level');
      expect(r.code).toBe(0);
      expect(r.doc.status).toBe('success');
      const roles = (pg: PgServer) =>
        pg.psql("SELECT a.rolname, a.rolcanlogin, a.rolcreatedb, a.rolconnlimit, r.rolconfig, a.rolpassword FROM pg_authid a JOIN pg_roles r USING (oid) WHERE a.rolname IN ('qa_group', 'qa_owner') ORDER BY 1; SELECT r.rolname, m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member WHERE m.rolname LIKE 'qa_%';");
      expect(roles(target)).toBe(roles(source));
      expect(roles(target)).toMatch(/qa_owner\|t\|f\|3\|\{work_mem=3MB\}\|SCRAM-SHA-256\$/);
      // The target's own qa_taken is untouched (still NOLOGIN, no CREATEDB, no password), and the DBA is told so by name.
      expect(target.psql("SELECT rolcanlogin, rolcreatedb, rolpassword IS NULL FROM pg_authid WHERE rolname = 'qa_taken'").trim()).toBe('f|f|t');
      expect(r.doc.serverLevel!.status).toBe('ok');
      expect(r.doc.serverLevel!.detail).toMatch(/^roles and tablespaces: \d+ created, \d+ already there \(skipped, left unchanged: [^)]*role qa_taken[^)]*\)\. Roles left unchanged keep the target's attributes, settings, memberships and password; `backstop apply-globals .+\/~server --server … --alter-existing` gives them the stored ones \(never the password\)$/);
      expect(r.doc.serverLevel!.detail).not.toMatch(/secret1|SCRAM/);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });

  it('rejects a usage error before anything is restored (exit 2), and --only names an unknown database as VALIDATION', { timeout: 120_000 }, async () => {
    const dataDir = join(dir, 'data');
    const none = await restoreServer(dataDir, join(dir, 'backups'), '--server', join(dir, 'target.json'));
    expect(none.code).toBe(2);
    const two = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'a', '--suffix', 'b', '--json', '--data-dir', dataDir);
    expect(two.code).toBe(2);
    expect(JSON.parse(two.out)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: 'restore-server needs exactly one of --prefix P, --suffix S or --original-names. Run "backstop --help".' } });
    const before = target.psql('SELECT count(*) FROM pg_database').trim();
    const unknown = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'z_', '--only', 'plain,nope', '--json', '--data-dir', dataDir);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.out).error.code).toBe('VALIDATION');
    expect(JSON.parse(unknown.out).error.message).toContain('--only names "nope"');
    expect(target.psql('SELECT count(*) FROM pg_database').trim()).toBe(before);
  });
});

describe('restore-server: MariaDB', () => {
  let source: MariadbServer;
  let target: MariadbServer;
  let dir: string;
  const NAMES = ['plain', `it's "q"`, 'with space', 'ünï'];
  const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;

  beforeAll(async () => {
    [source, target] = await Promise.all([startMariadb(), startMariadb()]);
    source.sql("CREATE USER 'app'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON `plain`.* TO 'app'@'%';");
    for (const n of NAMES) {
      source.sql(`CREATE DATABASE ${q(n)}; CREATE TABLE ${q(n)}.items (id INT PRIMARY KEY, v VARCHAR(80)); INSERT INTO ${q(n)}.items SELECT seq, CONCAT(MD5(seq), ${lit(n)}) FROM mysql.seq_1_to_200; CREATE TABLE ${q(n)}.\`we ird\` (x DECIMAL(5,2)); INSERT INTO ${q(n)}.\`we ird\` VALUES (1.25), (NULL);`);
    }
    target.sql('CREATE DATABASE `plain`; CREATE TABLE `plain`.keep (m VARCHAR(10)); INSERT INTO `plain`.keep VALUES (\'mine\');');
    const maria = (s: MariadbServer) => ({ kind: 'mysql', ...s });
    dir = await backedUp(maria(source), maria(target), 'BACKSTOP_TEST_MARIA_PASSWORD');
  }, 300_000);

  afterAll(() => stopAll([source, target], dir));

  it('restores under the original names where free, identical to the source; an existing one is untouched; users only when asked; a re-run skips', { timeout: 600_000 }, async () => {
    const dataDir = join(dir, 'data');
    const args = [join(dir, 'backups'), '--server', join(dir, 'target.json'), '--original-names'];
    const first = await restoreServer(dataDir, ...args);
    expect(first.code).toBe(1);
    const d1 = byName(first.doc);
    expect(d1.plain).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(target.sql('SELECT m FROM `plain`.keep').trim()).toBe('mine');
    for (const n of NAMES.filter((x) => x !== 'plain')) {
      expect(d1[n]).toMatchObject({ restoredAs: n, status: 'ok' });
      expect(mariadbFingerprint(target, n)).toEqual(mariadbFingerprint(source, n));
    }
    expect(target.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'app'").trim()).toBe('0');

    // --with-server-level applies the users, roles and grants every run stored in ~server/grants.sql:
    // refused, naming the account and the fix, while the target's user may not create accounts…
    const second = await restoreServer(dataDir, ...args, '--with-server-level');
    expect(second.doc.serverLevel).toEqual({ status: 'failed', detail: expect.stringMatching(/^users, roles and grants: 0 created, \d+ already there \(skipped, left unchanged: [^)]*\), 1 failed \(user `app`@`%`: .*needs CREATE USER/) });
    for (const n of NAMES.filter((x) => x !== 'plain')) expect(byName(second.doc)[n]).toMatchObject({ status: 'skipped' });
    expect(target.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'app'").trim()).toBe('0');
    // …and created once it may.
    target.sql(`GRANT ALL PRIVILEGES ON *.* TO ${lit(target.user)}@'%' WITH GRANT OPTION`);
    const third = await restoreServer(dataDir, ...args, '--with-server-level');
    expect(third.doc.serverLevel).toEqual({ status: 'ok', detail: expect.stringMatching(/^users, roles and grants: 1 created, \d+ already there \(skipped, left unchanged: [^)]*\)$/) });
    expect(target.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'app' AND Host = '%'").trim()).toBe('1');

    expect(third.doc.notes).toEqual([]);

    // Under another name, the stored grant on `plain`.* is not the copy's: said, naming the account.
    const copy = await restoreServer(dataDir, join(dir, 'backups'), '--server', join(dir, 'target.json'), '--suffix', '_copy', '--only', 'plain', '--with-server-level');
    expect(copy.code).toBe(0);
    expect(copy.doc.notes).toEqual([
      'The stored grants name the original databases and were applied to those names: "plain" (held by user `app`@`%`) — not on "plain_copy". Grant the restored copies by hand (GRANT … ON `<restored name>`.* TO …) if they are to be used the same way, and check that a grant on the original name gives no access it should not (a database of that name on this server).',
    ]);
    expect(target.sql("SHOW GRANTS FOR 'app'@'%'")).not.toContain('plain_copy');
    expect(mariadbFingerprint(target, 'plain_copy')).toEqual(mariadbFingerprint(source, 'plain'));
  });

  it('--with-server-level carries each account\'s auth plugin and hash; one whose plugin the target lacks fails naming the INSTALL SONAME to run, never its hash, and is created once loaded', { timeout: 300_000 }, async () => {
    source.sql("INSTALL SONAME 'auth_ed25519'; CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('x-Secret-1'); CREATE USER 'nat'@'%' IDENTIFIED WITH mysql_native_password USING PASSWORD('y'); CREATE USER 'sock'@'localhost' IDENTIFIED VIA unix_socket;");
    const d2 = await backedUp({ kind: 'mysql', ...source }, { kind: 'mysql', ...target }, 'BACKSTOP_TEST_MARIA_PASSWORD');
    const accounts = (m: MariadbServer) => m.sql("SELECT User, Host, plugin, authentication_string FROM mysql.user WHERE User IN ('ed', 'nat', 'sock') ORDER BY User");
    const hash = source.sql("SELECT authentication_string FROM mysql.user WHERE User = 'ed'").trim();
    try {
      const args = [join(d2, 'backups'), '--server', join(d2, 'target.json'), '--suffix', '_p', '--only', 'ünï', '--with-server-level'];
      const first = await restoreServer(join(d2, 'data'), ...args);
      expect(first.code).toBe(1);
      expect(first.doc.status).toBe('partial');
      expect(first.doc.serverLevel!.status).toBe('failed');
      expect(first.doc.serverLevel!.detail).toContain("1 failed (user `ed`@`%`: The account uses the authentication plugin \"ed25519\", which the MySQL/MariaDB server");
      expect(first.doc.serverLevel!.detail).toContain("has not loaded: load it there (INSTALL SONAME 'auth_ed25519';) and run again. Server said: ERROR 1524");
      expect(first.doc.serverLevel!.detail).not.toContain(hash);
      expect(target.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'ed'").trim()).toBe('0');
      expect(accounts(target)).toBe(accounts(source).split('\n').filter((l) => !l.startsWith('ed\t')).join('\n'));

      target.sql("INSTALL SONAME 'auth_ed25519'");
      const second = await restoreServer(join(d2, 'data'), ...args);
      expect(second.code).toBe(0);
      expect(second.doc.serverLevel).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^users, roles and grants: 1 created, /) });
      expect(accounts(target)).toBe(accounts(source));
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });
});

describe('restore-server: kill -9 in the middle', () => {
  let source: PgServer;
  let target: PgServer;
  let dir: string;
  beforeAll(async () => {
    [source, target] = await Promise.all([startPostgres(), startPostgres()]);
    source.psql('CREATE DATABASE a; CREATE DATABASE big;');
    source.psql('CREATE TABLE t AS SELECT 1 AS x;', 'a');
    source.psql('CREATE TABLE rows AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 400000) g;', 'big');
    dir = await pgBackedUp(source, target);
  }, 300_000);

  afterAll(() => stopAll([source, target], dir));

  it('a re-run after the real process was killed completes only what was missing', { timeout: 600_000 }, async () => {
    const dataDir = join(dir, 'data');
    const args = ['restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'k_', '--jobs', '1'];
    const child = spawn(process.execPath, [CLI_BIN, ...args, '--json', '--data-dir', dataDir], { stdio: 'ignore', env: process.env });
    const exited = new Promise((r) => child.once('exit', r));
    const has = (db: string) => target.psql(`SELECT count(*) FROM pg_database WHERE datname = ${lit(db)}`).trim() === '1';
    // Looked for every 50 ms through one psql session (pgSession), not a psql start per look.
    const session = pgSession(target);
    let started = false;
    try {
      for (let i = 0; i < 2400 && !started; i++) {
        await new Promise((r) => setTimeout(r, 50));
        started = (await session.ask(`SELECT count(*) FROM pg_database WHERE datname = ${lit('k_big')}`)).trim() === '1';
      }
    } finally {
      await session.close();
    }
    expect(started).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(has('k_a')).toBe(true);

    const again = await restoreServer(dataDir, ...args.slice(1));
    expect(again.code).toBe(0);
    expect(byName(again.doc)).toMatchObject({ a: { status: 'skipped' }, big: { status: 'ok' } });
    expect(again.doc.notes).toContain('"k_big" was left half-restored by an interrupted run; it was dropped and restored again.');
    const sum = (pg: PgServer, db: string) => pg.psql('SELECT count(*), md5(string_agg(v, \',\' ORDER BY id)) FROM rows', db).trim();
    expect(sum(target, 'k_big')).toBe(sum(source, 'big'));
  });
});
