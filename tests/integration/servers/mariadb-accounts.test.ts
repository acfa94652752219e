/**
 * MariaDB users, roles and grants against two real MariaDB 10.11 servers: a task run
 * stores them (`~server/grants.sql`, password hashes only); applied to a fresh server they
 * create the accounts it lacks, an existing account is skipped and left as it was, a login
 * with the restored user works and has exactly its grants; without GRANT OPTION every
 * account fails with what is needed and none is left; a dry run changes nothing, and
 * --alter-existing is refused. MariaDB's grants.sql is read in one client process (accounts
 * listed and SHOWn in one batch), identical to the two-step read MySQL keeps.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { runApplyGlobals, type ApplyGlobalsJobSpec } from '../../../electron/engine/restore/run-apply-globals.ts';
import { runRestore } from '../../../electron/engine/restore/run-restore.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { MysqlConnector, oneBatchAccounts, type MysqlServer } from '../../../electron/engine/servers/mysql/connector.ts';
import { accountName, parseAccounts } from '../../../electron/engine/servers/mysql/accounts.ts';

let source: MariadbServer;
let fresh: MariadbServer;

const SETUP_DB = 'CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(20));';

beforeAll(async () => {
  [source, fresh] = await Promise.all([startMariadb(), startMariadb()]);
  source.sql(
    `${SETUP_DB}
     CREATE ROLE app_ro; GRANT SELECT ON shop.* TO app_ro; GRANT SELECT ON \`shop\\_archive\`.* TO app_ro;
     CREATE USER 'web'@'%' IDENTIFIED BY 'web-Secret-1'; GRANT app_ro TO 'web'@'%'; SET DEFAULT ROLE app_ro FOR 'web'@'%';
     GRANT INSERT ON shop.item TO 'web'@'%';
     CREATE USER 'ops'@'localhost' IDENTIFIED BY 'ops-Secret-1'; GRANT PROCESS ON *.* TO 'ops'@'localhost';`,
  );
  // The target already has an "ops" account of its own, and the database (restored first).
  fresh.sql(`${SETUP_DB} CREATE USER 'ops'@'localhost' IDENTIFIED BY 'other-Secret-2'; GRANT RELOAD ON *.* TO 'ops'@'localhost';`);
}, 60_000);

afterAll(async () => {
  await Promise.all([source?.stop(), fresh?.stop()]);
});

function target(db: MariadbServer): Server {
  return { id: 't', name: 'fresh', kind: 'mysql', host: db.host, port: db.port, user: db.user, tls: 'disable', passwordRef: 'x', createdAt: '', updatedAt: '' };
}

/** Runs SQL as `user` over TCP (a real login). */
function loginSql(db: MariadbServer, user: string, password: string, sql: string): string {
  return execFileSync('mariadb', ['--no-defaults', '--protocol=TCP', `--host=${db.host}`, `--port=${db.port}`, `--user=${user}`, '--batch', '--skip-column-names', '--skip-ssl'], {
    input: sql,
    encoding: 'utf8',
    env: { ...process.env, MYSQL_PWD: password },
  });
}

describe('MariaDB users, roles and grants', () => {
  it('are backed up with every run and create exactly the missing accounts on a fresh server', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'mysql', name: 'src', host: source.host, port: source.port, user: source.user, password: source.password, tls: 'disable' }));
    const task = data(
      await engine.call('tasks.create', { name: 'acc', serverId: server.id, type: 'logical', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
    );
    const run = await runTask(engine, task.id, 'full');
    expect(run.databases.find((d) => d.database === 'grants.sql')).toMatchObject({ status: 'success', serverStream: true });
    const folder = join(backups, '~server', 'grants.sql');
    const repo = await openRepository(new LocalBackend(folder), { key: null, workers: 0 });
    const chunks: Buffer[] = [];
    for await (const c of await repo.readPoint((await repo.listPoints())[0]!.id)) chunks.push(c as Buffer);
    const stored = Buffer.concat(chunks).toString('utf8');
    expect(stored).toContain('CREATE USER `web`@`%` IDENTIFIED BY PASSWORD');
    expect(stored).not.toContain('web-Secret-1');

    // Restoring the accounts as if they were a database is refused: nothing is created, no account touched.
    const options = { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null };
    const asDatabase = { op: 'restore' as const, restoreId: 'r', location: { kind: 'local' as const, path: folder }, pointId: 'latest', server: target(fresh), password: fresh.password };
    const refused = await rejection(runRestore({ ...asDatabase, toolPaths: {}, database: 'grants_db', keyBase64: null, credentials: null, options }, new AbortController().signal, () => {}));
    expect(refused).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('users, roles and grants, not a database. Create them on a server with `backstop apply-globals') });
    expect(fresh.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'grants_db'").trim()).toBe('0');

    const spec = (over: Partial<ApplyGlobalsJobSpec> = {}): ApplyGlobalsJobSpec => ({
      op: 'apply-globals',
      location: { kind: 'local', path: folder },
      pointId: 'latest',
      server: target(fresh),
      password: fresh.password,
      toolPaths: {},
      keyBase64: null,
      credentials: null,
      alterExisting: false,
      dryRun: false,
      ...over,
    });
    const dry = await runApplyGlobals(spec({ dryRun: true }), new AbortController().signal);
    // "backstop" is the account both test servers connect with.
    expect(dry.objects.map((o) => [o.name, o.action])).toEqual([
      ['user `backstop`@`%`', 'skipped'],
      ['user `ops`@`localhost`', 'skipped'],
      ['role `app_ro`', 'created'],
      ['user `web`@`%`', 'created'],
    ]);
    expect(fresh.sql("SELECT COUNT(*) FROM mysql.user WHERE User IN ('web', 'app_ro')").trim()).toBe('0');

    // A connecting user without GRANT OPTION: each account fails, naming what is needed, and none is left behind.
    const denied = await runApplyGlobals(spec(), new AbortController().signal);
    expect(denied.objects.filter((o) => o.action === 'failed').map((o) => o.name)).toEqual(['role `app_ro`', 'user `web`@`%`']);
    expect(denied.objects.find((o) => o.name === 'role `app_ro`')!.message).toMatch(/^User "backstop" may not create this account or grant its privileges .*WITH GRANT OPTION .*Server said: ERROR 1045/);
    expect(fresh.sql("SELECT COUNT(*) FROM mysql.user WHERE User IN ('web', 'app_ro')").trim()).toBe('0');

    fresh.sql("GRANT ALL PRIVILEGES ON *.* TO 'backstop'@'%' WITH GRANT OPTION;");
    const report = await runApplyGlobals(spec(), new AbortController().signal);
    expect(report.objects).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'role', name: 'role `app_ro`', action: 'created', message: null }),
        expect.objectContaining({ kind: 'role', name: 'user `web`@`%`', action: 'created', message: null }),
        expect.objectContaining({ kind: 'role', name: 'user `ops`@`localhost`', action: 'skipped', message: 'exists on the target server; existing accounts are never changed' }),
      ]),
    );
    // The restored login works, with exactly the source's grants and default role.
    expect(loginSql(fresh, 'web', 'web-Secret-1', 'SELECT CURRENT_ROLE(); SHOW GRANTS;')).toBe(loginSql(source, 'web', 'web-Secret-1', 'SELECT CURRENT_ROLE(); SHOW GRANTS;'));
    expect(fresh.sql("SHOW GRANTS FOR app_ro")).toBe(source.sql('SHOW GRANTS FOR app_ro'));
    loginSql(fresh, 'web', 'web-Secret-1', "INSERT INTO shop.item VALUES (1, 'lamp'); SELECT * FROM shop.item;");
    expect(() => loginSql(fresh, 'web', 'web-Secret-1', 'DELETE FROM shop.item;')).toThrow(/DELETE command denied/);
    // The existing account is untouched: its own password and grants.
    expect(fresh.sql("SHOW GRANTS FOR 'ops'@'localhost'")).toContain('GRANT RELOAD ON *.*');
    expect(fresh.sql("SHOW GRANTS FOR 'ops'@'localhost'")).not.toContain('PROCESS');
    // Applying again: everything exists, nothing changes.
    expect((await runApplyGlobals(spec(), new AbortController().signal)).objects.every((o) => o.action === 'skipped')).toBe(true);

    const e = await rejection(runApplyGlobals(spec({ alterExisting: true }), new AbortController().signal));
    expect(e).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('Changing existing MySQL/MariaDB accounts (--alter-existing) is not supported') });
    await engine.close();
  }, 120_000);

  it("from the window's contract (restore.applyGlobals): lists the stored accounts with their grants, creates only on request, refuses a database folder and a server of another kind", async () => {
    const other = await startMariadb();
    const engine = await testEngine({ encoderWorkers: 0 });
    try {
      other.sql(`${SETUP_DB} GRANT ALL PRIVILEGES ON *.* TO 'backstop'@'%' WITH GRANT OPTION;`);
      const backups = tempDir();
      const src = data(await engine.call('servers.create', { kind: 'mysql', name: 'src2', host: source.host, port: source.port, user: source.user, password: source.password, tls: 'disable' }));
      const tgt = data(await engine.call('servers.create', { kind: 'mysql', name: 'other', host: other.host, port: other.port, user: other.user, password: other.password, tls: 'disable' }));
      const sqlite = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder: tempDir() }));
      const task = data(
        await engine.call('tasks.create', { name: 'acc2', serverId: src.id, type: 'logical', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
      );
      expect((await runTask(engine, task.id, 'full')).status).toBe('success');
      const location = { kind: 'local' as const, path: join(backups, '~server', 'grants.sql') };
      const accounts = () => other.sql("SELECT COUNT(*) FROM mysql.user WHERE User IN ('web', 'app_ro')").trim();

      // The preview (dryRun is the default): every stored account with its GRANT statements, never a password hash; nothing changed.
      const preview = data(await engine.call('restore.applyGlobals', { location, serverId: tgt.id }));
      expect(preview.dryRun).toBe(true);
      const web = preview.objects.find((o) => o.name === 'user `web`@`%`')!;
      expect(web).toMatchObject({ action: 'created', grants: expect.arrayContaining([expect.stringContaining('GRANT INSERT ON `shop`.`item` TO `web`@`%`'), expect.stringContaining('GRANT `app_ro` TO `web`@`%`')]) });
      expect(JSON.stringify(preview)).not.toMatch(/PASSWORD|\*[0-9A-F]{40}/);
      expect(accounts()).toBe('0');

      // A database folder is not accounts; a SQLite server takes none: refused, nothing created.
      const dbFolder = await engine.call('restore.applyGlobals', { location: { kind: 'local', path: join(backups, 'shop') }, serverId: tgt.id, dryRun: false });
      expect(dbFolder).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('not the server-wide globals') });
      const wrongKind = await engine.call('restore.applyGlobals', { location, serverId: sqlite.id, dryRun: false });
      expect(wrongKind).toMatchObject({ ok: false, code: 'VALIDATION', message: 'MySQL/MariaDB users, roles and grants apply to a MySQL/MariaDB server, not to a sqlite server.' });
      expect(accounts()).toBe('0');

      // Applied on request: the login works with exactly its grants and default role.
      const applied = data(await engine.call('restore.applyGlobals', { location, serverId: tgt.id, dryRun: false }));
      expect(applied.objects.filter((o) => o.action === 'created').map((o) => o.name)).toEqual(['role `app_ro`', 'user `ops`@`localhost`', 'user `web`@`%`']);
      expect(applied.objects.filter((o) => o.action === 'failed')).toEqual([]);
      expect(loginSql(other, 'web', 'web-Secret-1', 'SELECT CURRENT_ROLE(); SHOW GRANTS;')).toBe(loginSql(source, 'web', 'web-Secret-1', 'SELECT CURRENT_ROLE(); SHOW GRANTS;'));
      expect(() => loginSql(other, 'web', 'web-Secret-1', 'DELETE FROM shop.item;')).toThrow(/DELETE command denied/);
    } finally {
      await engine.close();
      await other.stop();
    }
  }, 120_000);

  it('MariaDB reads grants.sql in one client process (one connection), stream identical to the list-then-SHOW read, odd names included', async () => {
    source.sql(
      "CREATE ROLE 'r`q'; GRANT app_ro TO 'r`q'; CREATE USER 'a\\\\b'@'h`st' IDENTIFIED BY 'x'; GRANT 'r`q' TO 'a\\\\b'@'h`st'; " +
        "CREATE USER 'ünï'@'%'; GRANT SELECT ON `shop\\_archive`.* TO 'ünï'@'%'; CREATE USER 'root'@'elsewhere';",
    );
    try {
      const connector = new MysqlConnector(target(source) as MysqlServer, source.password, { binDir: null });
      const { serverVersion } = await connector.testConnection();
      expect(oneBatchAccounts(serverVersion)).toBe(true);
      const connections = () => Number(source.sql("SHOW GLOBAL STATUS LIKE 'Connections'").trim().split('\t')[1]);
      const read = async (version: string | undefined) => {
        const before = connections();
        const dump = await connector.openServerDump('grants.sql', { serverVersion: version });
        const chunks: Buffer[] = [];
        for await (const c of dump.stream) chunks.push(c as Buffer);
        // Each connections() is a connection of its own: the reading one counts itself.
        return { script: Buffer.concat(chunks).toString('utf8'), connections: connections() - before - 1 };
      };
      const twoStep = await read(undefined);
      const oneBatch = await read(serverVersion);
      expect(twoStep.connections).toBe(2);
      expect(oneBatch.connections).toBe(1);
      expect(oneBatch.script).toBe(twoStep.script);
      // Roles first, then by name; the system accounts (root@anywhere, mariadb.sys) left out.
      expect(parseAccounts(oneBatch.script).map((a) => accountName(a))).toEqual(['`app_ro`', '`r``q`', '`a\\b`@`h``st`', '`backstop`@`%`', '`ops`@`localhost`', '`ünï`@`%`', '`web`@`%`']);
      expect(oneBatch.script).toContain('GRANT SELECT ON `shop\\_archive`.* TO `ünï`@`%`;');
      expect(oneBatch.script).toContain('GRANT `r``q` TO `a\\b`@`h``st`;');
      // A server the version does not say is MariaDB 10.2.3+ (MySQL, or unknown) keeps the two-step read.
      expect([oneBatchAccounts('MySQL 8.0.36'), oneBatchAccounts('MariaDB 10.2.2'), oneBatchAccounts('MariaDB 11.4.2'), oneBatchAccounts(undefined)]).toEqual([false, false, true, false]);
    } finally {
      source.sql("DROP ROLE 'r`q'; DROP USER 'a\\\\b'@'h`st'; DROP USER 'ünï'@'%'; DROP USER 'root'@'elsewhere';");
    }
  }, 60_000);

  it('account names holding a tab, a newline, a `;` or quotes are stored whole, by both reads, and created whole on a fresh server', async () => {
    // In the SQL below (MariaDB string literals), \\t is a tab and \\n a newline.
    const accounts = ["'tab\\there'@'%'", "'nl\\nhere;x'@'h\\tst'", "'q\\'u\"o'@'%'"];
    const setup = [
      "CREATE ROLE 'r\\to;le'; GRANT SELECT ON shop.* TO 'r\\to;le';",
      ...accounts.map((a) => `CREATE USER ${a} IDENTIFIED BY 'Odd-Secret-1'; GRANT INSERT ON shop.item TO ${a}; GRANT 'r\\to;le' TO ${a};`),
    ].join(' ');
    const drop = `DROP ROLE IF EXISTS 'r\\to;le'; ${accounts.map((a) => `DROP USER IF EXISTS ${a};`).join(' ')}`;
    source.sql(setup);
    try {
      const connector = new MysqlConnector(target(source) as MysqlServer, source.password, { binDir: null });
      const { serverVersion } = await connector.testConnection();
      const read = async (version: string | undefined) => {
        const dump = await connector.openServerDump('grants.sql', { serverVersion: version });
        const chunks: Buffer[] = [];
        for await (const c of dump.stream) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      };
      const oneBatch = await read(serverVersion);
      expect(await read(undefined)).toBe(oneBatch);
      const stored = parseAccounts(oneBatch);
      const odd = stored.filter((a) => /[\t\n;'"]/.test(a.user));
      expect(odd.map((a) => [a.kind, a.user, a.host])).toEqual([
        ['role', 'r\to;le', ''],
        ['user', 'nl\nhere;x', 'h\tst'],
        ['user', 'q\'u"o', '%'],
        ['user', 'tab\there', '%'],
      ]);
      // Each account's statements are whole: its CREATE and every grant, each naming it.
      for (const a of odd) {
        expect(a.statements.length).toBe(a.kind === "role" ? 3 : 4);
        for (const statement of a.statements) expect(statement).toContain(accountName(a));
      }

      fresh.sql(`GRANT ALL PRIVILEGES ON *.* TO 'backstop'@'%' WITH GRANT OPTION; ${drop}`);
      const onFresh = new MysqlConnector(target(fresh) as MysqlServer, fresh.password, { binDir: null });
      const report = await onFresh.applyAccounts(oneBatch, { dryRun: false });
      expect(report.objects.filter((o) => o.action === 'failed')).toEqual([]);
      for (const a of ["'r\\to;le'", ...accounts]) expect(fresh.sql(`SHOW GRANTS FOR ${a}`)).toBe(source.sql(`SHOW GRANTS FOR ${a}`));
      // The restored login works with its own password.
      expect(loginSql(fresh, 'tab\there', 'Odd-Secret-1', 'SELECT CURRENT_USER();').trim()).toBe('tab\\there@%');
    } finally {
      source.sql(drop);
      fresh.sql(drop);
    }
  }, 60_000);
});
