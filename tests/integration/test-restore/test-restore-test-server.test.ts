/**
 * A named test server for test restores (issue #22) on real PostgreSQL 15 servers: the
 * scratch databases go to the test server only — the source server's databases are the
 * same before and after, and with the source stopped a test restore still passes (so it
 * cannot have restored there) — and are removed; a test server of another kind is
 * VALIDATION naming both kinds (task file and saved task); an unreachable test server fails
 * the run with the server's error and nothing recorded or created; a saved task's test
 * server is used by its test restore after a full, and cannot be deleted while in use.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../../electron/shared/domain.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { freePort } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { scratchRows } from '../../fixtures/scratch-targets.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

interface Doc {
  status: string;
  error?: { code: string; message: string };
  databases: { database: string; status: string; checks: { name: string; ok: boolean; detail: string }[] }[];
}


describe('test restores on a named test server', () => {
  let src: PgServer;
  let test: PgServer;
  beforeAll(async () => {
    [src, test] = await Promise.all([startPostgres(), startPostgres()]);
    src.psql('CREATE DATABASE shop;');
    src.psql('CREATE TABLE items (id int, t text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 120) g;', 'shop');
    process.env.BACKSTOP_TEST_SRC_PASSWORD = src.password;
    process.env.BACKSTOP_TEST_TST_PASSWORD = test.password;
  }, 120_000);
  afterAll(async () => {
    await Promise.all([src?.stop(), test?.stop()]);
  });

  const databases = (pg: PgServer) => pg.psql('SELECT datname FROM pg_database ORDER BY 1').trim();
  const pgFile = (pg: PgServer, env: string) => ({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: env, tls: 'disable' });

  function taskFile(dir: string, extra: Record<string, unknown>): string {
    const path = join(dir, `task-${Math.random().toString(36).slice(2)}.json`);
    const task = { name: 'pg', server: pgFile(src, 'BACKSTOP_TEST_SRC_PASSWORD'), type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: ['postgres'], tools: { binDir: PG_BIN }, ...extra };
    writeFileSync(path, JSON.stringify(task));
    return path;
  }

  it('task file "testServer": scratch databases on the test server only, removed; wrong kind and unreachable refused, nothing left', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    const plain = taskFile(dir, {});
    expect(JSON.parse((await cliInProcess('backup', '--config', plain, '--json', '--data-dir', dataDir)).out).status).toBe('success');

    const onTest = taskFile(dir, { testServer: pgFile(test, 'BACKSTOP_TEST_TST_PASSWORD'), testRestore: { schedule: '0 4 * * 0' } });
    const srcBefore = databases(src);
    const testBefore = databases(test);
    const r = await cliInProcess('test-restore', '--config', onTest, '--json', '--data-dir', dataDir);
    const doc = JSON.parse(r.out) as Doc;
    expect(doc.error).toBeUndefined();
    expect(r.code).toBe(0);
    expect(doc.databases.map((d) => [d.database, d.status, d.checks.map((c) => `${c.name}:${c.ok}`).join(',')])).toEqual([['shop', 'ok', 'restore:true,tables present:true,row counts:true,large objects:true']]);
    expect(databases(src)).toBe(srcBefore);
    expect(databases(test)).toBe(testBefore);
    expect(scratchRows(dataDir)).toEqual([]);

    // Wrong kind: VALIDATION naming both kinds, before anything runs.
    const sqliteFolder = join(dir, 'files');
    mkdirSync(sqliteFolder);
    const wrong = taskFile(dir, { testServer: { kind: 'sqlite', folder: sqliteFolder } });
    const refused = await cliInProcess('test-restore', '--config', wrong, '--json', '--data-dir', dataDir);
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.out).error).toEqual({
      code: 'VALIDATION',
      message: `testServer in ${wrong}: the test server "file-pg-test-server" is a SQLite folder, but this task backs up a PostgreSQL server; a test restore needs a server of the same kind. Choose a PostgreSQL server, or the task's own server.`,
    });

    // A stored server's id means nothing in a task file; a SQLite task has no test server.
    const byId = taskFile(dir, { testRestore: { schedule: '0 4 * * 0', serverId: 'abc' } });
    expect(JSON.parse((await cliInProcess('test-restore', '--config', byId, '--json', '--data-dir', dataDir)).out).error).toEqual({
      code: 'VALIDATION',
      message: `testRestore.serverId in ${byId}: a task file names its test server with "testServer" (a server object shaped like "server"), not a stored server's id.`,
    });
    const sqliteTask = join(dir, 'sqlite-task.json');
    writeFileSync(sqliteTask, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder: sqliteFolder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'b2') }], testServer: { kind: 'sqlite', folder: sqliteFolder } }));
    expect(JSON.parse((await cliInProcess('test-restore', '--config', sqliteTask, '--json', '--data-dir', dataDir)).out).error).toEqual({
      code: 'VALIDATION',
      message: `testServer in ${sqliteTask}: this task backs up a SQLite folder, whose test restores use a temporary local folder; a test server applies to PostgreSQL and MySQL/MariaDB tasks only. Remove it.`,
    });

    // Unreachable test server: the run fails with the server's error; nothing recorded, nothing created.
    const port = await freePort();
    const away = taskFile(dir, { testServer: { ...pgFile(test, 'BACKSTOP_TEST_TST_PASSWORD'), port } });
    const failed = await cliInProcess('test-restore', '--config', away, '--json', '--data-dir', dataDir);
    const failedDoc = JSON.parse(failed.out) as Doc;
    expect(failed.code).toBe(1);
    expect(failedDoc.status).toBe('failed');
    expect(failedDoc.databases).toEqual([]);
    expect(failedDoc.error!.code).toBe('UNREACHABLE');
    expect(failedDoc.error!.message).toMatch(new RegExp(`^The test server, PostgreSQL server "file-pg-test-server" \\(${test.host.replace(/\./g, '\\.')}:${port}\\): `));
    expect(failedDoc.error!.message).toContain(`\`testServer.host\`/\`testServer.port\` in ${away}`);
    expect(scratchRows(dataDir)).toEqual([]);
    expect(databases(src)).toBe(srcBefore);

    // With the source server stopped, the test restore still passes: it never restored to the source.
    await src.stop();
    const alone = await cliInProcess('test-restore', '--config', onTest, '--json', '--data-dir', dataDir);
    expect((JSON.parse(alone.out) as Doc).databases.map((d) => [d.database, d.status])).toEqual([['shop', 'ok']]);
    expect(alone.code).toBe(0);
    expect(databases(test)).toBe(testBefore);
  });
});

describe('a saved task with a test server', () => {
  let src: PgServer;
  let test: PgServer;
  beforeAll(async () => {
    [src, test] = await Promise.all([startPostgres(), startPostgres()]);
    src.psql('CREATE DATABASE ledger;');
    src.psql('CREATE TABLE entries (id int); INSERT INTO entries SELECT generate_series(1, 30);', 'ledger');
  }, 120_000);
  afterAll(async () => {
    await Promise.all([src?.stop(), test?.stop()]);
  });

  it('tasks.create refuses a test server of another kind; a scheduled test restore runs on the test server (source stopped); the test server cannot be deleted while used', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    let clock = new Date('2026-03-02T10:00:00Z');
    const engine = await testEngine({ dataDir: join(dir, 'data'), now: () => clock, encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const source = data(await engine.call('servers.create', { kind: 'postgres', name: 'prod', host: src.host, port: src.port, user: src.user, password: src.password, tls: 'disable' }));
    const tester = data(await engine.call('servers.create', { kind: 'postgres', name: 'scratch box', host: test.host, port: test.port, user: test.user, password: test.password, tls: 'disable' }));
    const folder = join(dir, 'files');
    mkdirSync(folder);
    const files = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const base = { name: 'ledger', serverId: source.id, type: 'logical', schedule: { full: '0 2 1 1 *', timezone: 'UTC' }, excludeDatabases: ['postgres'], destinations: [{ kind: 'local', path: join(dir, 'backups') }] };

    const wrong = await engine.call('tasks.create', { ...base, testRestore: { schedule: '0 4 * * 0', serverId: files.id } });
    expect(wrong).toMatchObject({
      ok: false,
      code: 'VALIDATION',
      message: `testRestore.serverId: the test server "files" is a SQLite folder, but this task backs up a PostgreSQL server; a test restore needs a server of the same kind. Choose a PostgreSQL server, or the task's own server.`,
    });
    const missing = await engine.call('tasks.create', { ...base, testRestore: { schedule: '0 4 * * 0', serverId: 'no-such-server' } });
    expect(missing).toMatchObject({ ok: false, code: 'VALIDATION', message: "testRestore.serverId: no server with id no-such-server; choose a server from the Servers list, or the task's own server." });
    expect(data(await engine.call('tasks.list', undefined))).toEqual([]);

    const task = data(await engine.call('tasks.create', { ...base, testRestore: { schedule: '0 4 * * 0', serverId: tester.id } }));
    expect(task.testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: false, maxMinutes: null, serverId: tester.id });
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const testBefore = test.psql('SELECT datname FROM pg_database ORDER BY 1').trim();

    // The source server is down: a test restore that passes cannot have restored there.
    await src.stop();
    clock = new Date('2026-03-09T12:00:00Z');
    engine.start();
    let proof: Run | undefined;
    for (let i = 0; i < 600 && !proof; i++) {
      await new Promise((r) => setTimeout(r, 100));
      proof = data(await engine.call('history.list', { limit: 10 })).find((r) => r.runKind === 'test-restore' && r.status !== 'running');
    }
    expect(proof).toMatchObject({ status: 'success', runKind: 'test-restore', trigger: 'catch-up' });
    expect(proof!.databases.map((d) => [d.database, d.status])).toEqual([['ledger', 'success']]);
    expect(test.psql('SELECT datname FROM pg_database ORDER BY 1').trim()).toBe(testBefore);

    const del = await engine.call('servers.delete', { id: tester.id });
    expect(del).toMatchObject({ ok: false, code: 'CONFLICT', message: 'Server "scratch box" is the test server of task "ledger"; choose another test server for that task first.' });
  });
});
