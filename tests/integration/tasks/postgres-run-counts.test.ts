/**
 * How runs on a real PostgreSQL 15 server are counted and described (issue 17 §5, §6, §10,
 * §13): the globals stream of a logical run and the cluster snapshot are server-level
 * streams in history, in live progress and in the task status (never counted as
 * databases); a snapshot's progress carries an estimated size; a snapshot "incremental"
 * that had to be a full is recorded with both kinds; the last connection test of a saved
 * server is recorded (ok, and a failure with its code); and a database restored into the
 * server is named a restored copy at the next run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, DatabaseProgress } from '../../../electron/shared/domain.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE shop');
  pg.psql("CREATE TABLE item (id serial PRIMARY KEY, note text); INSERT INTO item (note) SELECT 'n' || g FROM generate_series(1, 20000) g", 'shop');
  pg.psql('CREATE DATABASE crm');
});

afterAll(async () => {
  await pg?.stop();
});

async function setup(type: 'logical' | 'snapshot') {
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const backups = tempDir();
  const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
  const task = data(
    await engine.call('tasks.create', {
      name: `whole server ${type}`,
      serverId: server.id,
      type,
      schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' },
      excludeDatabases: ['postgres'],
      destinations: [{ kind: 'local', path: backups }],
    }),
  );
  const progress: DatabaseProgress[] = [];
  const alerts: Alert[] = [];
  engine.events.on('run.progress', ({ progress: p }) => progress.push(p));
  engine.events.on('alert', (a) => alerts.push(a));
  return { engine, backups, server, task, progress, alerts };
}

describe('PostgreSQL runs: databases and server-level streams', () => {
  it('counts the globals of a logical run apart from the databases, everywhere, and names a restored copy at the next run', async () => {
    const { engine, backups, server, task, progress, alerts } = await setup('logical');
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => [d.database, d.serverStream]).sort()).toEqual([
      ['crm', false],
      ['globals.sql', true],
      ['shop', false],
    ]);
    expect(progress.filter((p) => p.database === 'globals.sql').every((p) => p.serverStream === true)).toBe(true);
    expect(progress.filter((p) => p.database === 'shop').every((p) => p.serverStream === false)).toBe(true);
    const status = data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)!;
    expect(status.lastRun).toMatchObject({ databasesOk: 2, databasesFailed: 0, serverStreams: [{ name: 'globals.sql', status: 'success' }] });

    const restored = await restoreAndWait(engine, {
      location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop')) },
      pointId: 'latest',
      serverId: server.id,
      database: 'shop2',
    });
    expect(restored).toMatchObject({ status: 'success', database: 'shop2' });
    const next = await runTask(engine, task.id, 'incremental');
    expect(next.databases.some((d) => d.database === 'shop2' && d.status === 'success')).toBe(true);
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'new-databases', databases: ['shop2'], restored: [{ database: 'shop2', restoredAt: expect.any(String) }] }));
    const after = data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)!;
    expect(after.newDatabases).toEqual([{ database: 'shop2', restoredAt: expect.any(String) }]);
    pg.psql('DROP DATABASE shop2');
    await engine.close();
  });

  it('a snapshot run is one "Whole cluster" stream with an estimated size, and an incremental that had to be a full says so', async () => {
    const { engine, task, progress } = await setup('snapshot');
    const run = await runTask(engine, task.id, 'incremental');
    expect(run.status).toBe('success');
    expect(run.requestedKind).toBe('incremental');
    expect(run.databases).toEqual([expect.objectContaining({ database: 'base.tar', serverStream: true, kind: 'full', kindReason: 'first backup at this destination' })]);
    const dumping = progress.filter((p) => p.database === 'base.tar' && p.phase === 'dumping');
    expect(dumping.length).toBeGreaterThan(0);
    // An estimate (the databases' sizes): the same order of magnitude as the stream.
    const estimate = dumping[0]!.expectedBytes!;
    expect(estimate).toBeGreaterThan(0);
    expect(estimate).toBeGreaterThan(run.databases[0]!.bytesRead / 10);
    expect(estimate).toBeLessThan(run.databases[0]!.bytesRead * 10);
    const status = data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)!;
    expect(status.lastRun).toMatchObject({ databasesOk: 0, databasesFailed: 0, serverStreams: [{ name: 'base.tar', status: 'success' }] });
    await engine.close();
  });

  it('records the last connection test of a saved server: ok, then the failure with its code', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const good = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    expect(good.lastTest).toBeNull();
    data(await engine.call('servers.test', { id: good.id }));
    const tested = data(await engine.call('servers.list', undefined)).find((s) => s.id === good.id)!;
    expect(tested.lastTest).toEqual({ at: expect.any(String), ok: true, code: null, message: null });

    const bad = data(await engine.call('servers.create', { kind: 'postgres', name: 'wrong password', host: pg.host, port: pg.port, user: pg.user, password: 'not-the-password', tls: 'disable' }));
    const answer = await engine.call('servers.test', { id: bad.id });
    expect(answer).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    const failed = data(await engine.call('servers.list', undefined)).find((s) => s.id === bad.id)!;
    expect(failed.lastTest).toMatchObject({ ok: false, code: 'AUTH_FAILED', message: (answer as { message: string }).message });
    expect(failed.lastTest!.message).not.toContain('not-the-password');
    // Editing the server keeps its last test until the next one.
    data(await engine.call('servers.update', { id: bad.id, server: { kind: 'postgres', name: 'renamed', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' } }));
    expect(data(await engine.call('servers.list', undefined)).find((s) => s.id === bad.id)!.lastTest).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    await engine.close();
  });
});
