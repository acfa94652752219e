/**
 * Real database servers backed up to each newer remote kind (Azure on Azurite, SFTP on a
 * throwaway OpenSSH sshd, FTPS on ftp-srv), each kind alone as the task's destination:
 * a server-wide PostgreSQL 15 task and a MariaDB 10.11 task, databases with hostile names
 * (`../x`, quotes, Unicode) stored as object names at the destination; each database is
 * found again by the restore browser and restored from the remote into a new database
 * whose per-table checksums equal the source's; the destination secret never reaches the
 * app database, logs, history or events. SFTP needs a password user (root, as in CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandInput } from '../../../electron/shared/ipc/contract.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { remoteFolder, remoteTask, secretsLeaked, useRemote, type RemoteKindName } from '../../fixtures/remote-task.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { mariadbFingerprint, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { pgContentFingerprint, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

const HOSTILE = ['../x', `it's "quoted"`, 'ünïcødé 数据'];
const pgIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const myIdent = (s: string) => `\`${s.replace(/`/g, '``')}\``;
let pg: PgServer;
let maria: MariadbServer;

beforeAll(async () => {
  [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
  for (const [i, name] of HOSTILE.entries()) {
    pg.psql(`CREATE DATABASE ${pgIdent(name)}`);
    pg.psql(`CREATE TABLE ledger (id serial PRIMARY KEY, amount numeric(12,2), note text); INSERT INTO ledger (amount, note) SELECT g * ${i + 1}.25, 'row ' || g || ' of ${name.replace(/'/g, "''")}' FROM generate_series(1, 2000) g`, name);
    maria.sql(`CREATE DATABASE ${myIdent(name)} CHARACTER SET utf8mb4`);
    maria.sql(`CREATE TABLE ledger (id INT AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(12,2), note VARCHAR(200)); INSERT INTO ledger (amount, note) SELECT seq * ${i + 1}.25, CONCAT('row ', seq) FROM seq_1_to_2000`, name);
  }
}, 120_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop()]);
});

describe.each(['azure', 'sftp', 'ftp'] as RemoteKindName[])('PostgreSQL and MariaDB backed up to %s', (kind) => {
  const { enabled, remote } = useRemote(kind);

  /** A server-wide task of `server` to the remote alone; each hostile database restored from it into a new one and compared. */
  async function eachDatabaseRestores(server: CommandInput<'servers.create'>, same: (source: string, target: string) => void, drop: (target: string) => void, excludeDatabases?: string[]) {
    const t = await remoteTask(remote(), { server, excludeDatabases });
    const run = await runTask(t.engine, t.taskId, 'full');
    expect(run.status, JSON.stringify(run.databases)).toBe('success');
    expect(run.databases.filter((d) => !d.serverStream).map((d) => [d.database, d.destination.split(':')[0]]).sort()).toEqual(HOSTILE.map((h) => [h, kind]).sort());
    for (const [i, name] of HOSTILE.entries()) {
      const target = `back_${kind}_${i}`;
      const location = await remoteFolder(t, name);
      expect(data(await t.engine.call('restore.inspect', { location })).database).toBe(name);
      const restored = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: target });
      expect(restored, name).toMatchObject({ status: 'success', database: target });
      same(name, target);
      drop(target);
    }
    expect(await secretsLeaked(remote(), t)).toEqual([]);
  }

  it.runIf(enabled)('a PostgreSQL server: every database (hostile names too) restores from the remote with equal checksums', async () => {
    await eachDatabaseRestores(
      { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' },
      (source, target) => {
        expect(pgContentFingerprint(pg, target), source).toEqual(pgContentFingerprint(pg, source));
        expect(pgSchemaDump(pg, target), source).toBe(pgSchemaDump(pg, source));
      },
      (target) => pg.psql(`DROP DATABASE ${target}`),
      ['postgres'],
    );
  }, 240_000);

  it.runIf(enabled)('a MariaDB server: every database (hostile names too) restores from the remote with equal checksums', async () => {
    await eachDatabaseRestores(
      { kind: 'mysql', name: 'maria', host: maria.host, port: maria.port, user: maria.user, password: maria.password, tls: 'disable' },
      (source, target) => {
        const original = mariadbFingerprint(maria, source);
        expect(original.tables.ledger, source).toMatch(/^2000\t/);
        expect(mariadbFingerprint(maria, target), source).toEqual(original);
      },
      (target) => maria.sql(`DROP DATABASE ${target}`),
    );
  }, 240_000);
});
