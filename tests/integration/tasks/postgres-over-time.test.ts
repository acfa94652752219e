/**
 * A PostgreSQL logical task over time, through the engine's contract and the CLI's restore,
 * against one real PostgreSQL 15 server: a database dropped and created again under its name
 * (another oid) goes on in its folder — every point is a whole dump, so each restores as it was
 * (the old rows from before, the new ones after); a database renamed (ALTER DATABASE … RENAME)
 * is said once as gone, its old folder keeps its points (restorable under any name) and the new
 * name starts with a full; the server reached at a new address (same server, `localhost`
 * instead of 127.0.0.1) starts new chains with a full whose reason names both addresses.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliInProcess as cli } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { pointIds } from '../../fixtures/points.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';

let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE crm');
  pg.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old')", 'crm');
});

afterAll(async () => {
  await pg?.stop();
});

describe('a PostgreSQL task over time', () => {
  it('a database created again under its name goes on, a renamed one is said gone and starts anew, a new address starts new chains saying why', { timeout: 120_000 }, async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const backups = tempDir();
    const { serverId, taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['postgres', 'restored_old', 'restored_new', 'restored_renamed'],
    });
    const row = (run: Awaited<ReturnType<typeof runTask>>, database: string) => run.databases.find((d) => d.database === database);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const oldOid = pg.psql("SELECT oid FROM pg_database WHERE datname = 'crm'").trim();

    // Dropped and created again: another database (oid) under the name.
    pg.psql('DROP DATABASE crm');
    pg.psql('CREATE DATABASE crm');
    pg.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('new')", 'crm');
    expect(pg.psql("SELECT oid FROM pg_database WHERE datname = 'crm'").trim()).not.toBe(oldOid);
    const again = await runTask(engine, taskId, 'incremental');
    expect(row(again, 'crm')).toMatchObject({ status: 'success', kind: 'incremental', pointId: expect.any(String) });
    const crmPoints = await pointIds(backups, 'crm');
    expect(crmPoints).toHaveLength(2);
    const [first, second] = crmPoints;
    const serverFile = join(tempDir(), 'server.json');
    process.env.PG_OVER_TIME_PASSWORD = pg.password;
    writeFileSync(serverFile, JSON.stringify({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'PG_OVER_TIME_PASSWORD', tls: 'disable' }));
    const folder = join(backups, encodeDatabaseFolder('crm'));
    for (const [point, name] of [[first!, 'restored_old'], [second!, 'restored_new']] as const) {
      const r = await cli('restore', folder, '--point', point, '--server', serverFile, '--database', name, '--data-dir', tempDir(), '--json');
      expect(r.code, r.err || r.out).toBe(0);
    }
    expect(pg.psql('SELECT v FROM t', 'restored_old').trim()).toBe('old');
    expect(pg.psql('SELECT v FROM t', 'restored_new').trim()).toBe('new');

    // Renamed.
    pg.psql('ALTER DATABASE crm RENAME TO crm_2026');
    const renamed = await runTask(engine, taskId, 'incremental');
    expect(row(renamed, 'crm')).toMatchObject({ status: 'skipped', errorMessage: expect.stringContaining('the database "crm" is no longer on the server (dropped or renamed)') });
    expect(row(renamed, 'crm_2026')).toMatchObject({ status: 'success', kind: 'full', kindReason: 'first backup at this destination' });
    expect(await pointIds(backups, 'crm')).toEqual(crmPoints);
    const r = await cli('restore', folder, '--point', 'latest', '--server', serverFile, '--database', 'restored_renamed', '--data-dir', tempDir(), '--json');
    expect(r.code, r.err || r.out).toBe(0);
    expect(pg.psql('SELECT v FROM t', 'restored_renamed').trim()).toBe('new');

    // The same server at a new address: new chains, each full saying why.
    data(await engine.call('servers.update', { id: serverId, server: { kind: 'postgres', name: 'pg', host: 'localhost', port: pg.port, user: pg.user, tls: 'disable' } }));
    const moved = await runTask(engine, taskId, 'incremental');
    expect(moved.status).toBe('success');
    expect(row(moved, 'crm_2026')).toMatchObject({
      status: 'success',
      kind: 'full',
      kindReason: `the newest chain in this folder was written from postgres://${pg.user}@${pg.host}:${pg.port}, not from postgres://${pg.user}@localhost:${pg.port}: a new chain starts (the earlier points stay restorable)`,
    });
    await engine.close();
  });
});
