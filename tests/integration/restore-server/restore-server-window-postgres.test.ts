/**
 * Whole-server restore through the contract on a real PostgreSQL 15 server: the plan of
 * the original names on the source server itself marks every database as taken (and the
 * restore refuses them, leaving them untouched); under a prefix every database, including
 * one with a hostile name, comes back identical to its source (table checksums), and
 * server-level content is not applied unless asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverRestoreAndWait } from '../../fixtures/restores.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

describe('whole-server restore from the window onto PostgreSQL', () => {
  it('marks original names taken on the source server, refuses them, and restores every database identically under a prefix', { timeout: 180_000 }, async () => {
    const engine = await testEngine();
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const names = ['shop', 'we"ird db'];
    for (const n of names) {
      pg.psql(`CREATE DATABASE "${n.replace(/"/g, '""')}"`);
      pg.psql(`CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 200) g;`, n);
    }
    const backups = tempDir();
    const { serverId, taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const before = Object.fromEntries(names.map((n) => [n, pgContentFingerprint(pg, n)]));
    const input = { destination: { kind: 'local' as const, path: backups }, taskId, serverId, only: names };

    const original = data(await engine.call('restore.serverPlan', { ...input, naming: { original: true } }));
    expect(original.databases.map((d) => [d.database, d.status, d.error?.code])).toEqual(names.map((n) => [n, 'exists', 'DATABASE_EXISTS']));
    const refused = await serverRestoreAndWait(engine, { ...input, naming: { original: true } });
    expect(refused.databases.map((d) => [d.status, d.error?.code])).toEqual([['failed', 'DATABASE_EXISTS'], ['failed', 'DATABASE_EXISTS']]);
    for (const n of names) expect(pgContentFingerprint(pg, n)).toEqual(before[n]);

    const plan = data(await engine.call('restore.serverPlan', { ...input, naming: { prefix: 'copy_' } }));
    expect(plan.databases.map((d) => [d.restoredAs, d.status])).toEqual(names.map((n) => [`copy_${n}`, 'ready']));
    const done = await serverRestoreAndWait(engine, { ...input, naming: { prefix: 'copy_' } });
    expect(done.error).toBeNull();
    expect(done.serverLevel).toBeNull();
    expect(done.databases.map((d) => d.status)).toEqual(['ok', 'ok']);
    for (const n of names) expect(pgContentFingerprint(pg, `copy_${n}`)).toEqual(before[n]);
  });
});
