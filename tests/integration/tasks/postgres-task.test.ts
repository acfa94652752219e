/**
 * Server-wide tasks against a real PostgreSQL 15 server, through the engine's contract,
 * with the password in the real OS keychain: every database is backed up (one excluded,
 * one created between runs, one with a hostile name), globals go to the reserved server
 * folder, restores into new databases are faithful, a cluster snapshot restores to a
 * data directory, and an unreachable server or a wrong password fail the run clearly.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { PG_BIN, pgContentFingerprint, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const FIXTURES = join(import.meta.dirname, '../../../../shared/fixtures');
const HOSTILE = '../x y "quoted"';
let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE pagila');
  pg.loadFile(join(FIXTURES, 'pagila/pagila-schema.sql'), 'pagila');
  pg.loadFile(join(FIXTURES, 'pagila/pagila-data.sql'), 'pagila');
  pg.psql('CREATE DATABASE sales');
  pg.psql("CREATE TABLE invoice (id serial PRIMARY KEY, amount numeric(12,2), note text); INSERT INTO invoice (amount, note) SELECT g * 1.5, 'n' || g FROM generate_series(1, 5000) g", 'sales');
  pg.psql('CREATE DATABASE scratch');
  pg.psql(`CREATE DATABASE "${HOSTILE.replace(/"/g, '""')}"`);
  pg.psql('CREATE TABLE t (v text); INSERT INTO t VALUES (\'hostile but fine\')', HOSTILE);
});

afterAll(async () => {
  await pg?.stop();
});

async function setup(type: 'logical' | 'snapshot' = 'logical', password = pg.password) {
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const backups = tempDir();
  const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password, tls: 'disable' }));
  const task = data(
    await engine.call('tasks.create', {
      name: 'whole server',
      serverId: server.id,
      type,
      schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' },
      excludeDatabases: ['scratch', 'postgres'],
      destinations: [{ kind: 'local', path: backups }],
    }),
  );
  return { engine, backups, server, task };
}

describe('server-wide PostgreSQL task', () => {
  it('backs up every database but the excluded, picks up a new one, and restores faithfully', async () => {
    const { engine, backups, server, task } = await setup();
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => d.database).sort()).toEqual([HOSTILE, 'globals.sql', 'pagila', 'sales'].sort());
    expect(readdirSync(backups).sort()).toEqual([SERVER_FOLDER, encodeDatabaseFolder(HOSTILE), encodeDatabaseFolder('pagila'), encodeDatabaseFolder('sales')].sort());
    expect(existsSync(join(backups, SERVER_FOLDER, encodeDatabaseFolder('globals.sql'), 'backstop.repo'))).toBe(true);

    pg.psql('CREATE DATABASE late');
    pg.psql('CREATE TABLE hello (x int); INSERT INTO hello VALUES (42)', 'late');
    pg.psql("INSERT INTO invoice (amount, note) VALUES (99.99, 'after the full')", 'sales');
    const inc = await runTask(engine, task.id, 'incremental');
    expect(inc.status).toBe('success');
    const byDb = Object.fromEntries(inc.databases.map((d) => [d.database, d]));
    expect(byDb.late).toMatchObject({ kind: 'full', kindReason: 'first backup at this destination' });
    expect(byDb.sales).toMatchObject({ kind: 'incremental' });

    for (const [source, target] of [
      ['pagila', 'pagila_restored'],
      ['sales', 'sales_restored'],
      [HOSTILE, 'hostile_restored'],
    ] as const) {
      const result = await restoreAndWait(engine, {
        location: { kind: 'local', path: join(backups, encodeDatabaseFolder(source)) },
        pointId: 'latest',
        serverId: server.id,
        database: target,
      });
      expect(result, source).toMatchObject({ status: 'success', database: target });
      expect(pgContentFingerprint(pg, target)).toEqual(pgContentFingerprint(pg, source));
      expect(pgSchemaDump(pg, target)).toBe(pgSchemaDump(pg, source));
    }
    // Restoring over an existing database is refused and leaves it as it was.
    const before = pgContentFingerprint(pg, 'sales');
    const clash = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('sales')) }, pointId: 'latest', serverId: server.id, database: 'sales' });
    expect(clash).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(pgContentFingerprint(pg, 'sales')).toEqual(before);
    pg.psql('DROP DATABASE late');
  });

  it('takes a cluster snapshot into the server folder and restores it as a new data directory', async () => {
    const { engine, backups, server, task } = await setup('snapshot');
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => d.database)).toEqual(['base.tar']);
    const target = join(tempDir(), 'restored-cluster');
    if (pg.osUser) chownTree(join(target, '..'), pg.osUser);
    const result = await restoreAndWait(engine, {
      location: { kind: 'local', path: join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar')) },
      pointId: 'latest',
      serverId: server.id,
      database: 'cluster copy',
      options: { folder: target },
    });
    // The restore ran in the repository worker: ownership and next steps come from the engine, not the CLI.
    expect(result).toMatchObject({ status: 'success', path: target, database: 'restored-cluster' });
    expect(existsSync(join(target, 'PG_VERSION'))).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    if (pg.osUser) expect([statSync(target).uid, statSync(join(target, 'global')).uid]).toEqual([pg.osUser.uid, pg.osUser.uid]);
    expect(result.notes.find((n) => n.startsWith('Start it: '))).toMatch(new RegExp(`pg_ctl -D ${target} -o "-p \\d+ -k /tmp" -l ${target}/startup.log start$`));
  });

  it('fails the run with AUTH_FAILED for a wrong password and UNREACHABLE for a server that is down', async () => {
    const wrong = await setup('logical', 'not-the-password');
    const run = await runTask(wrong.engine, wrong.task.id, 'full');
    expect(run).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', databases: [] });
    expect(run.errorMessage).not.toContain('not-the-password');

    const down = await setup();
    data(await down.engine.call('servers.update', { id: down.server.id, server: { kind: 'postgres', name: 'pg', host: '127.0.0.1', port: 9, user: pg.user, tls: 'disable' } }));
    const run2 = await runTask(down.engine, down.task.id, 'full');
    expect(run2).toMatchObject({ status: 'failed', errorCode: 'UNREACHABLE' });
    expect(readdirSync(down.backups)).toEqual([]);
  });
});
