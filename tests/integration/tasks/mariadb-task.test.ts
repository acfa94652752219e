/**
 * A server-wide task against a real MariaDB server through the engine's contract: every
 * user database is backed up (system schemas never), snapshot is refused with the reason,
 * and Chinook restores under a new name with the same schema and rows.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { MysqlConnector } from '../../../electron/engine/servers/mysql/connector.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { mariadbFidelity, mariadbFingerprint, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const FIXTURES = join(import.meta.dirname, '../../../../shared/fixtures');
let db: MariadbServer;

beforeAll(async () => {
  db = await startMariadb();
  db.loadFile(join(FIXTURES, 'chinook/Chinook_MySql.sql')); // creates `Chinook`
  db.sql("CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50)); INSERT INTO shop.item (name) VALUES ('lamp'), ('desk');");
});
afterAll(async () => {
  await db?.stop();
});

describe('server-wide MariaDB task', () => {
  it('backs up every user database and restores Chinook under a new name', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'mysql', name: 'maria', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }));
    const check = data(await engine.call('servers.test', { id: server.id }));
    expect(check.serverVersion).toMatch(/MariaDB 10\.11/);
    expect(check.support.snapshot).toMatchObject({ available: false, reason: expect.any(String) });
    // Every table is InnoDB: nothing to warn about.
    expect(check.warnings).toEqual([]);
    const snapshot = await engine.call('tasks.create', {
      name: 'snap',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: backups }],
    });
    expect(snapshot).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('a snapshot backup is not possible for this server') });
    const task = data(
      await engine.call('tasks.create', {
        name: 'logical',
        serverId: server.id,
        type: 'logical',
        schedule: { full: '0 2 * * *', timezone: 'UTC' },
        destinations: [{ kind: 'local', path: backups }],
      }),
    );
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.filter((d) => !d.serverStream).map((d) => d.database).sort()).toEqual(['Chinook', 'shop']);
    // Users, roles and grants are stored once for the server.
    expect(run.databases.filter((d) => d.serverStream).map((d) => [d.database, d.status])).toEqual([['grants.sql', 'success']]);
    const restored = await restoreAndWait(engine, {
      location: { kind: 'local', path: join(backups, encodeDatabaseFolder('Chinook')) },
      pointId: 'latest',
      serverId: server.id,
      database: 'chinook_copy',
    });
    expect(restored).toMatchObject({ status: 'success', database: 'chinook_copy' });
    expect(mariadbFingerprint(db, 'chinook_copy').tables).toEqual(mariadbFingerprint(db, 'Chinook').tables);
    expect(mariadbFingerprint(db, 'chinook_copy').schema).toBe(mariadbFingerprint(db, 'Chinook').schema);
    expect(mariadbFidelity(db, 'chinook_copy')).toEqual(mariadbFidelity(db, 'Chinook'));
  });

  it('a connection test names the databases whose tables have no transactions, with the fix; a run does not look', async () => {
    db.sql(
      "CREATE DATABASE `legacy-ü`; CREATE TABLE `legacy-ü`.hits (id INT PRIMARY KEY) ENGINE=MyISAM; CREATE TABLE `legacy-ü`.hits2 (id INT) ENGINE=MyISAM;" +
        ' CREATE TABLE `legacy-ü`.cache (id INT) ENGINE=Aria; CREATE TABLE shop.sessions (id INT) ENGINE=MEMORY; CREATE TABLE shop.orders (id INT) ENGINE=InnoDB;',
    );
    try {
      const engine = await testEngine({ encoderWorkers: 0 });
      const server = data(await engine.call('servers.create', { kind: 'mysql', name: 'maria', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }));
      const check = data(await engine.call('servers.test', { id: server.id }));
      expect(check.warnings).toHaveLength(1);
      const [warning] = check.warnings;
      expect(warning).toContain('"legacy-ü" (1 Aria table, 2 MyISAM tables), "shop" (1 MEMORY table)');
      expect(warning).not.toMatch(/Chinook|mysql"|information_schema/);
      expect(warning).toMatch(/Fix: convert them to InnoDB \(ALTER TABLE <table> ENGINE=InnoDB\)/);
      // A run's own connection test skips the slower look (its report has no such warning to carry).
      const connector = new MysqlConnector({ kind: 'mysql', host: db.host, port: db.port, user: db.user, tls: 'disable' }, db.password, { binDir: null });
      expect((await connector.testConnection({ listDatabases: true })).warnings).toEqual([]);
    } finally {
      db.sql('DROP DATABASE `legacy-ü`; DROP TABLE shop.sessions, shop.orders;');
    }
  });
});
