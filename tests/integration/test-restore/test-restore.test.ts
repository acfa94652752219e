/**
 * `backstop test-restore` (issue #22) on real SQLite, PostgreSQL and MariaDB backups: the
 * facts recorded at backup time (tables, rows per table) are in each point's manifest; a
 * good backup passes every check; a point whose recorded row count differs from its data
 * fails and names the table; scratch targets are always removed — also a leftover a
 * crashed run recorded — and a look-alike name the test restore did not create is never
 * touched, nor the scratch database of a test restore still running in another process; a SQLite
 * backup holding a damaged index fails integrity_check though the restore rebuilds it. Also: a MariaDB trigger does not fire while its dump is restored, and PostgreSQL row-level
 * security (FORCE, a policy hiding every row) does not make the check under-count for a BYPASSRLS role.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { spawn } from 'node:child_process';
import { CLI_BIN, cliInProcess } from '../../fixtures/cli.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { PG_BIN, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { scratchRows } from '../../fixtures/scratch-targets.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

interface Doc {
  runId: string;
  status: string;
  error?: { code: string; message: string };
  leftoversRemoved?: string[];
  databases: { database: string; status: string; durationMs: number; checks: { name: string; ok: boolean; detail: string }[] }[];
}

async function testRestore(task: string, dataDir: string): Promise<{ code: number; doc: Doc }> {
  const r = await cliInProcess('test-restore', '--config', task, '--json', '--data-dir', dataDir);
  return { code: r.code, doc: JSON.parse(r.out) as Doc };
}

async function backup(task: string, dataDir: string): Promise<void> {
  const r = await cliInProcess('backup', '--config', task, '--json', '--data-dir', dataDir);
  expect(JSON.parse(r.out).status).toBe('success');
}

/** A point's recorded facts. */
async function facts(folder: string): Promise<unknown> {
  const repo = await openRepository(new LocalBackend(folder), { workers: 0 });
  return (await repo.listPoints()).at(-1)!.meta.facts;
}

/** Writes a new latest point with the same dump but `tables` as its recorded row counts (the checksums all match). */
async function pointWithFacts(folder: string, tables: Record<string, number>, extra: { largeObjects?: number } = {}): Promise<void> {
  const repo = await openRepository(new LocalBackend(folder), { workers: 0 });
  const latest = (await repo.listPoints()).at(-1)!;
  const stream = await repo.readPoint(latest.id);
  const { facts: recorded, ...meta } = latest.meta as { facts: { method: string } };
  await repo.writePoint(stream, {
    database: latest.database,
    serverIdentity: latest.serverIdentity,
    engineVersion: latest.engineVersion,
    dumpToolVersion: latest.dumpToolVersion,
    kind: 'full',
    backupType: latest.backupType,
    chunking: latest.chunking.kind === 'fixed' ? { kind: 'fixed', size: latest.chunking.size } : { kind: 'cdc' },
    meta: { ...(meta as Record<string, string>), facts: { method: recorded.method, tables, ...extra } },
  });
}

/** Writes `<dir>/task.json`: a nightly logical task of `server` (password in `passwordEnv`) to `<dir>/backups`. */
function logicalTask(dir: string, name: string, server: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const task = join(dir, 'task.json');
  writeFileSync(task, JSON.stringify({ name, server: { ...server, tls: 'disable' }, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], ...extra }));
  return task;
}

const names = (dir: string) => readdirSync(dir).sort();

describe('test restores of SQLite backups', () => {
  it('records facts, passes on a good backup, fails naming the table on a wrong count, removes every scratch folder', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const folder = join(dir, 'server');
    mkdirSync(folder);
    const dataDir = join(dir, 'data');
    const hostile = 'we "ird" ünï.db';
    for (const [file, rows] of [['shop.db', 3], [hostile, 2]] as const) {
      const db = new Database(join(folder, file));
      db.exec(`CREATE TABLE "or""ders" (id INTEGER PRIMARY KEY, note TEXT); CREATE TABLE empty (x);`);
      for (let i = 0; i < rows; i++) db.prepare('INSERT INTO "or""ders" (note) VALUES (?)').run(`n${i}`);
      db.close();
    }
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], testRestore: { schedule: '0 4 * * 0' } }));
    await backup(task, dataDir);
    const shopFolder = join(dir, 'backups', encodeDatabaseFolder('shop.db'));
    expect(await facts(shopFolder)).toEqual({ method: 'sqlite-snapshot', tables: { 'or"ders': 3, empty: 0 } });

    const good = await testRestore(task, dataDir);
    expect(good.code).toBe(0);
    expect(good.doc.status).toBe('success');
    expect(good.doc.databases.map((d) => d.database).sort()).toEqual(['shop.db', hostile].sort());
    for (const d of good.doc.databases) {
      expect(d.status).toBe('ok');
      expect(d.durationMs).toBeGreaterThanOrEqual(0);
      expect(d.checks.map((c) => [c.name, c.ok])).toEqual([['restore', true], ['integrity_check', true], ['tables present', true], ['row counts', true]]);
    }
    expect(names(join(dataDir, 'test-restores'))).toEqual([]);
    expect(scratchRows(dataDir)).toEqual([]);

    // A point whose recorded count differs from its (intact, checksummed) data.
    await pointWithFacts(shopFolder, { 'or"ders': 4, empty: 0 });
    const bad = await testRestore(task, dataDir);
    expect(bad.code).toBe(1);
    expect(bad.doc.status).toBe('failed');
    const shop = bad.doc.databases.find((d) => d.database === 'shop.db')!;
    expect(shop.status).toBe('failed');
    expect(shop.checks.find((c) => c.name === 'row counts')).toEqual({ name: 'row counts', ok: false, detail: 'table or"ders: 4 rows recorded at backup time, 3 rows restored' });
    expect(bad.doc.databases.find((d) => d.database === hostile)!.status).toBe('ok');
    expect(names(join(dataDir, 'test-restores'))).toEqual([]);

    // History keeps the run as a test restore with its checks.
    const history = await cliInProcess('history', '--json', '--data-dir', dataDir);
    const runs = JSON.parse(history.out) as { runKind?: string; status: string; databases: { database: string; checks?: unknown[]; durationMs?: number; errorMessage: string | null }[] }[];
    expect(runs[0]).toMatchObject({ runKind: 'test-restore', status: 'partial' });
    expect(runs[0]!.databases.find((d) => d.database === 'shop.db')).toMatchObject({ errorMessage: 'row counts: table or"ders: 4 rows recorded at backup time, 3 rows restored', durationMs: expect.any(Number) });
    expect(runs.find((r) => r.runKind === undefined)).toBeDefined(); // the backup run stays a backup
  });

  it('a database of 3,000 tables keeps its row counts in the point (compressed) and its test restore compares every one', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const folder = join(dir, 'server');
    mkdirSync(folder);
    const dataDir = join(dir, 'data');
    const db = new Database(join(folder, 'tenants.db'));
    db.exec('BEGIN');
    for (let i = 0; i < 3000; i++) db.exec(`CREATE TABLE tenant_${i}_order_lines_archive (id INTEGER PRIMARY KEY); INSERT INTO tenant_${i}_order_lines_archive VALUES ${Array.from({ length: i % 4 }, (_, k) => `(${k})`).join(',') || '(0)'};`);
    db.exec('COMMIT');
    db.close();
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'tenants', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    await backup(task, dataDir);
    const pointFolder = join(dir, 'backups', encodeDatabaseFolder('tenants.db'));
    const recorded = (await facts(pointFolder)) as Record<string, unknown>;
    expect(recorded).toMatchObject({ method: 'sqlite-snapshot', tablesZstd: expect.any(String) });

    const good = await testRestore(task, dataDir);
    expect(good.doc.status).toBe('success');
    expect(good.doc.databases[0]!.checks.find((c) => c.name === 'row counts')).toEqual({ name: 'row counts', ok: true, detail: '5250 rows in 3000 tables, as recorded at backup time' });

    // One count of the 3,000 differs from the (intact) data: named.
    const tables = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`tenant_${i}_order_lines_archive`, Math.max(i % 4, 1)]));
    await pointWithFacts(pointFolder, { ...tables, tenant_2999_order_lines_archive: 9 });
    const bad = await testRestore(task, dataDir);
    expect(bad.doc.status).toBe('failed');
    expect(bad.doc.databases[0]!.checks.find((c) => c.name === 'row counts')).toEqual({ name: 'row counts', ok: false, detail: 'table tenant_2999_order_lines_archive: 9 rows recorded at backup time, 3 rows restored' });
  });

  it('a backup holding a damaged index (the source\'s damage, copied) fails integrity_check naming it, though the restore rebuilds the index', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const folder = join(dir, 'server');
    mkdirSync(folder);
    const dataDir = join(dir, 'data');
    const db = new Database(join(folder, 'shop.db'));
    // The index's entries are of column v, its definition now says w: quick_check (the backup's) passes, integrity_check does not.
    db.exec(`CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT, w TEXT); CREATE INDEX item_w ON item (v);
      INSERT INTO item (v, w) VALUES ('a', 'z'), ('b', 'y'), ('c', 'x');
      PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'CREATE INDEX item_w ON item (w)' WHERE name = 'item_w'; PRAGMA writable_schema = OFF;`);
    db.close();
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    await backup(task, dataDir);
    const { code, doc } = await testRestore(task, dataDir);
    expect(code).toBe(1);
    expect(doc.status).toBe('failed');
    const shop = doc.databases[0]!;
    expect(shop.status).toBe('failed');
    expect(shop.checks.map((c) => [c.name, c.ok])).toEqual([['restore', true], ['integrity_check', false], ['tables present', true], ['row counts', true]]);
    expect(shop.checks[1]!.detail).toBe(
      'the backup\'s copy failed PRAGMA integrity_check (row 1 missing from index item_w; row 2 missing from index item_w; row 3 missing from index item_w): a restore rebuilds index "item_w" from its table\'s rows (REINDEX) — the source database has the same damage: run REINDEX on it',
    );
    expect(names(join(dataDir, 'test-restores'))).toEqual([]);
    expect(scratchRows(dataDir)).toEqual([]);
  });

  it('a task file with a bad testRestore schedule is refused (exit 2, names the field)', async () => {
    const dir = tempDir();
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'x', server: { kind: 'sqlite', folder: dir }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: dir }], testRestore: { when: 'weekly' } }));
    const r = await cliInProcess('test-restore', '--config', task, '--json', '--data-dir', join(dir, 'data'));
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error.code).toBe('MALFORMED_REQUEST');
    expect(JSON.parse(r.out).error.message).toContain('testRestore');
  });

  it('a task with no backups yet fails with NOT_FOUND saying to run a backup first', async () => {
    const dir = tempDir();
    const task = join(dir, 'task.json');
    mkdirSync(join(dir, 'backups'));
    writeFileSync(task, JSON.stringify({ name: 'x', server: { kind: 'sqlite', folder: dir }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    const { code, doc } = await testRestore(task, join(dir, 'data'));
    expect(code).toBe(1);
    expect(doc.status).toBe('failed');
    expect(doc.error).toEqual({ code: 'NOT_FOUND', message: `local:${join(dir, 'backups')} holds no database backups of task "x" yet: run a backup first.` });
    expect(doc.databases).toEqual([]);
  });
});

describe('test restores of a destination with server-level streams only', () => {
  it('a cluster snapshot with no points yet is NOT_FOUND saying to run a backup first; nothing is created', async () => {
    const dir = tempDir();
    await initRepository(new LocalBackend(join(dir, 'backups', '~server', 'base.tar')));
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'cluster', server: { kind: 'sqlite', folder: dir }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    const { code, doc } = await testRestore(task, join(dir, 'data'));
    expect(code).toBe(1);
    expect(doc.error).toEqual({ code: 'NOT_FOUND', message: 'The cluster snapshot of task "cluster" holds no restore points yet: run a backup first.' });
    expect(doc.databases).toEqual([]);
    expect(scratchRows(join(dir, 'data'))).toEqual([]);
  });
});

describe('test restores of PostgreSQL backups', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    pg.psql(`CREATE DATABASE shop; CREATE DATABASE "we ""ird"" db";`);
    pg.psql(`CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."line ""items""" (id int, t text); INSERT INTO "Sales"."line ""items""" SELECT g, E'x\\ny' FROM generate_series(1, 250) g; CREATE TABLE public.empty (x int); SELECT lo_from_bytea(0, convert_to('scan ' || g, 'UTF8')) FROM generate_series(1, 3) g;`, 'shop');
    pg.psql(`CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);`, 'we "ird" db');
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const scratchDatabases = () => pg.psql(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%' ORDER BY 1`).trim();

  it('passes on good backups, names the table whose count differs, removes scratch databases (also a crashed run\'s), never a look-alike', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    process.env.BACKSTOP_TEST_PG_PASSWORD = pg.password;
    const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD' };
    const task = logicalTask(dir, 'pg', server, { excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } });
    await backup(task, dataDir);
    const shopFolder = join(dir, 'backups', encodeDatabaseFolder('shop'));
    expect(await facts(shopFolder)).toEqual({ method: 'pg-custom-stream', tables: { '"Sales"."line ""items"""': 250, '"public"."empty"': 0 }, largeObjects: 3 });

    const good = await testRestore(task, dataDir);
    expect(good.doc.error).toBeUndefined();
    expect(good.doc.databases.flatMap((d) => d.checks.filter((c) => !c.ok))).toEqual([]);
    expect(good.code).toBe(0);
    expect(good.doc.databases.map((d) => [d.database, d.status, d.checks.map((c) => `${c.name}:${c.ok}`).join(',')])).toEqual([
      ['shop', 'ok', 'restore:true,tables present:true,row counts:true,large objects:true'],
      ['we "ird" db', 'ok', 'restore:true,tables present:true,row counts:true,large objects:true'],
    ]);
    expect(good.doc.databases[0]!.checks[2]!.detail).toBe('250 rows in 2 tables, as recorded at backup time');
    expect(good.doc.databases[0]!.checks[3]!.detail).toBe('3 large objects, as recorded at backup time');
    expect(scratchDatabases()).toBe('');

    // A crashed run's leftover (recorded before it was created), and a look-alike nobody recorded.
    pg.psql('CREATE DATABASE backstop_test_20260101000000_deadbeef; CREATE DATABASE backstop_test_not_ours;');
    const db = new Database(join(dataDir, 'backstop.db'));
    db.prepare('INSERT INTO scratch_targets (target, name, created_at) VALUES (?, ?, ?)').run(`postgres://${pg.host}:${pg.port}`, 'backstop_test_20260101000000_deadbeef', new Date().toISOString());
    db.close();
    await pointWithFacts(shopFolder, { '"Sales"."line ""items"""': 249, '"public"."empty"': 0, '"public"."gone"': 1 }, { largeObjects: 4 });
    const bad = await testRestore(task, dataDir);
    expect(bad.code).toBe(1);
    expect(bad.doc.leftoversRemoved).toEqual(['backstop_test_20260101000000_deadbeef']);
    const shop = bad.doc.databases.find((d) => d.database === 'shop')!;
    expect(shop.checks.filter((c) => !c.ok)).toEqual([
      { name: 'tables present', ok: false, detail: 'missing after the restore: table "public"."gone"' },
      { name: 'row counts', ok: false, detail: 'table "Sales"."line ""items""": 249 rows recorded at backup time, 250 rows restored' },
      { name: 'large objects', ok: false, detail: '4 large objects recorded at backup time, 3 large objects restored' },
    ]);
    expect(scratchDatabases()).toBe('backstop_test_not_ours');
    expect(scratchRows(dataDir)).toEqual([]);
  });

  it('a role that may read everything but not create databases (and reads only, by default): the restore check fails with PERMISSION_DENIED quoting the server, and no false "could not be removed" for a database never created', { timeout: 120_000 }, async () => {
    // A read-only default alone no longer stops a restore (Backstop's sessions turn it off: postgres-settings.test.ts).
    pg.psql(`CREATE ROLE ro_tester LOGIN NOCREATEDB PASSWORD 'ro-Secret-1'; GRANT pg_read_all_data TO ro_tester; ALTER ROLE ro_tester SET default_transaction_read_only = on`);
    // pg_read_all_data does not cover large objects (such a backup is refused, naming them): granted one by one.
    pg.psql(`DO $$ DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO ro_tester', o); END LOOP; END $$`, 'shop');
    const scratchBefore = scratchDatabases();
    try {
      const dir = tempDir();
      const dataDir = join(dir, 'data');
      process.env.BACKSTOP_TEST_PG_PASSWORD = 'ro-Secret-1';
      const task = logicalTask(dir, 'pg-ro', { kind: 'postgres', host: pg.host, port: pg.port, user: 'ro_tester', passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD' }, { excludeDatabases: ['postgres', 'backstop_test_not_ours', 'we "ird" db'], tools: { binDir: PG_BIN } });
      await backup(task, dataDir); // reading works for a read-only role
      const run = await testRestore(task, dataDir);
      expect(run.code).toBe(1);
      const shop = run.doc.databases.find((d) => d.database === 'shop')!;
      expect(shop.checks.map((c) => `${c.name}:${c.ok}`)).toEqual(['restore:false']);
      expect(shop.checks[0]!.detail).toMatch(/^PERMISSION_DENIED: Role "ro_tester" may not create databases on the PostgreSQL server .*, and a restore creates database "backstop_test_[^"]*"\. Fix: as a superuser run ALTER ROLE "ro_tester" CREATEDB; or restore with an account that may create databases\. Nothing was created\.$/);
      expect(scratchDatabases()).toBe(scratchBefore);
      expect(scratchRows(dataDir)).toEqual([]);
    } finally {
      process.env.BACKSTOP_TEST_PG_PASSWORD = pg.password;
      pg.psql('DROP OWNED BY ro_tester', 'shop');
      pg.psql('DROP ROLE ro_tester');
    }
  });

  it('a table whose row-level security hides every row from its owner (FORCE): the backup role reads past it (BYPASSRLS) and the check counts every row', { timeout: 120_000 }, async () => {
    pg.psql(`CREATE ROLE rls_tester LOGIN CREATEDB BYPASSRLS PASSWORD 'rls-Secret-1'; GRANT pg_read_all_data TO rls_tester; CREATE DATABASE rls OWNER rls_tester;`);
    pg.psql(`SET ROLE rls_tester; CREATE TABLE secrets (id int, who text); INSERT INTO secrets SELECT g, 'u' || g FROM generate_series(1, 5) g; ALTER TABLE secrets ENABLE ROW LEVEL SECURITY; ALTER TABLE secrets FORCE ROW LEVEL SECURITY; CREATE POLICY nobody ON secrets USING (false);`, 'rls');
    try {
      const dir = tempDir();
      const dataDir = join(dir, 'data');
      process.env.BACKSTOP_TEST_PG_PASSWORD = 'rls-Secret-1';
      const task = logicalTask(dir, 'pg-rls', { kind: 'postgres', host: pg.host, port: pg.port, user: 'rls_tester', passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD' }, { excludeDatabases: ['postgres', 'shop', 'backstop_test_not_ours', 'we "ird" db'], tools: { binDir: PG_BIN } });
      await backup(task, dataDir);
      expect(await facts(join(dir, 'backups', encodeDatabaseFolder('rls')))).toMatchObject({ tables: { '"public"."secrets"': 5 } });
      const run = await testRestore(task, dataDir);
      expect(run.doc.databases.map((d) => [d.database, d.checks.filter((c) => !c.ok)])).toEqual([['rls', []]]);
      expect(run.code).toBe(0);
      expect(scratchRows(dataDir)).toEqual([]);
    } finally {
      process.env.BACKSTOP_TEST_PG_PASSWORD = pg.password;
      pg.psql('DROP DATABASE rls');
      pg.psql('DROP ROLE rls_tester');
    }
  });
});

describe('test restores: kill -9 in the middle', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    pg.psql('CREATE DATABASE big;');
    pg.psql(`CREATE TABLE rows AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 400000) g;`, 'big');
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('the scratch database a killed test restore left is removed by the next run', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    process.env.BACKSTOP_TEST_PG_PASSWORD = pg.password;
    const task = logicalTask(dir, 'pg', { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD' }, { excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } });
    await backup(task, dataDir);
    const scratch = () => pg.psql(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'`).trim();

    // The shipped command in its own process, killed once its scratch database exists.
    const child = spawn(process.execPath, [CLI_BIN, 'test-restore', '--config', task, '--json', '--data-dir', dataDir], { stdio: 'ignore', env: process.env });
    const exited = new Promise((r) => child.once('exit', r));
    // Looked for every 50 ms through one psql session (pgSession), not a psql start per look.
    const session = pgSession(pg);
    let left = '';
    try {
      for (let i = 0; i < 1200 && !left; i++) {
        await new Promise((r) => setTimeout(r, 50));
        left = (await session.ask(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'`)).trim();
      }
    } finally {
      await session.close();
    }
    expect(left).toMatch(/^backstop_test_\d{14}_[0-9a-f]{8}$/);
    child.kill('SIGKILL');
    await exited;
    expect(scratchRows(dataDir)).toEqual([{ target: `postgres://${pg.host}:${pg.port}`, name: left }]);

    const next = await testRestore(task, dataDir);
    expect(next.doc.leftoversRemoved).toEqual([left]);
    expect(next.code).toBe(0);
    expect(next.doc.databases.map((d) => [d.database, d.status])).toEqual([['big', 'ok']]);
    expect(scratch()).toBe('');
    expect(scratchRows(dataDir)).toEqual([]);
  });

  it('a test restore started beside a running one (CLI beside the app) leaves the running one\'s scratch database alone: both pass', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    process.env.BACKSTOP_TEST_PG_PASSWORD = pg.password;
    const task = logicalTask(dir, 'pg', { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD' }, { excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } });
    await backup(task, dataDir);

    // The first run in its own process, seen once its scratch database exists (it is then mid-restore).
    const child = spawn(process.execPath, [CLI_BIN, 'test-restore', '--config', task, '--json', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'ignore'], env: process.env });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const session = pgSession(pg);
    let first = '';
    try {
      for (let i = 0; i < 1200 && !first; i++) {
        await new Promise((r) => setTimeout(r, 50));
        first = (await session.ask(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'`)).trim();
      }
    } finally {
      await session.close();
    }
    expect(first).toMatch(/^backstop_test_\d{14}_[0-9a-f]{8}$/);

    const second = await testRestore(task, dataDir);
    expect(second.doc.leftoversRemoved ?? []).toEqual([]);
    expect(second.doc.databases.map((d) => [d.database, d.status])).toEqual([['big', 'ok']]);
    expect(await exited).toBe(0);
    const firstDoc = JSON.parse(out) as Doc;
    expect(firstDoc.databases.map((d) => [d.database, d.status, d.checks.filter((c) => !c.ok)])).toEqual([['big', 'ok', []]]);
    expect(pg.psql(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'`).trim()).toBe('');
    expect(scratchRows(dataDir)).toEqual([]);
  });
});

describe('test restores of MariaDB backups', () => {
  let maria: MariadbServer;
  beforeAll(async () => {
    maria = await startMariadb();
    maria.sql("CREATE DATABASE shop; CREATE TABLE shop.`it``em` (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO shop.`it``em` VALUES (1, 'a (b), ''c'';'), (2, 'x\\\\'), (3, NULL); CREATE TABLE shop.empty (x INT);");
  });
  afterAll(async () => {
    await maria?.stop();
  });

  it('records facts from the dump stream and passes CHECK TABLE, tables and row counts; scratch removed', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    process.env.BACKSTOP_TEST_MARIA_PASSWORD = maria.password;
    const task = logicalTask(dir, 'maria', { kind: 'mysql', host: maria.host, port: maria.port, user: maria.user, passwordEnv: 'BACKSTOP_TEST_MARIA_PASSWORD' });
    await backup(task, dataDir);
    expect(await facts(join(dir, 'backups', encodeDatabaseFolder('shop')))).toEqual({ method: 'mysql-sql-stream', tables: { 'it`em': 3, empty: 0 }, longestLine: expect.any(Number) as number });
    const { code, doc } = await testRestore(task, dataDir);
    expect(code).toBe(0);
    expect(doc.databases).toHaveLength(1);
    expect(doc.databases[0]!.checks.map((c) => `${c.name}:${c.ok}`)).toEqual(['restore:true', 'CHECK TABLE:true', 'tables present:true', 'row counts:true']);
    expect(maria.sql("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'backstop\\_test\\_%'").trim()).toBe('');
  });

  it('a trigger that writes another table on INSERT does not fire while the dump is restored: row counts pass as recorded', { timeout: 300_000 }, async () => {
    maria.sql(
      "CREATE DATABASE audited; CREATE TABLE audited.orders (id INT PRIMARY KEY); CREATE TABLE audited.audit (n INT); CREATE TRIGGER audited.orders_ai AFTER INSERT ON audited.orders FOR EACH ROW INSERT INTO audited.audit VALUES (NEW.id); INSERT INTO audited.orders VALUES (1), (2), (3); DELETE FROM audited.audit WHERE n = 2;",
    );
    try {
      const dir = tempDir();
      const dataDir = join(dir, 'data');
      process.env.BACKSTOP_TEST_MARIA_PASSWORD = maria.password;
      const task = logicalTask(dir, 'maria', { kind: 'mysql', host: maria.host, port: maria.port, user: maria.user, passwordEnv: 'BACKSTOP_TEST_MARIA_PASSWORD' }, { excludeDatabases: ['shop'] });
      await backup(task, dataDir);
      expect(await facts(join(dir, 'backups', encodeDatabaseFolder('audited')))).toMatchObject({ tables: { orders: 3, audit: 2 } });
      const { code, doc } = await testRestore(task, dataDir);
      expect(doc.databases.map((d) => [d.database, d.checks.filter((c) => !c.ok)])).toEqual([['audited', []]]);
      expect(code).toBe(0);
    } finally {
      maria.sql('DROP DATABASE audited;');
    }
  });
});
