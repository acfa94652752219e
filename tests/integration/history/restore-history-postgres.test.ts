/**
 * PostgreSQL restores in History (issue #24 item 5), with two real PostgreSQL 15 servers
 * and the CLI in process: the run names the target server by host (never its password),
 * the new database and the bytes; a restore onto an existing database is a failed run with
 * DATABASE_EXISTS and nothing is created or changed; the password is nowhere in the app
 * database file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let source: PgServer;
let target: PgServer;
let dir: string;
let dataDir: string;
let location: string;
let targetFile: string;

const cli = (...argv: string[]) => cliInProcess(...argv, '--data-dir', dataDir);

const databases = (pg: PgServer) => pg.psql('SELECT datname FROM pg_database ORDER BY datname').trim().split('\n').map((s) => s.trim());

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres(), startPostgres()]);
  source.psql('CREATE DATABASE shop;');
  source.psql('CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 1000);', 'shop');
  target.psql('CREATE DATABASE taken;');
  target.psql('CREATE TABLE keep (v text); INSERT INTO keep VALUES (\'precious\');', 'taken');
  dir = mkdtempSync(join(tmpdir(), 'backstop-hist-pg-'));
  dataDir = join(dir, 'data');
  process.env.BACKSTOP_TEST_HIST_PG_PASSWORD = source.password;
  const server = (pg: PgServer) => ({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_HIST_PG_PASSWORD', tls: 'disable' });
  const task = join(dir, 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'pg', server: server(source), type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } }));
  targetFile = join(dir, 'target.json');
  writeFileSync(targetFile, JSON.stringify(server(target)));
  const backup = await cli('backup', '--config', task, '--json');
  expect(JSON.parse(backup.out).status).toBe('success');
  location = join(dir, 'backups', encodeDatabaseFolder('shop'));
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PostgreSQL restores in History', () => {
  it('records the target server by host and the new database; a taken name fails with DATABASE_EXISTS and changes nothing; no password anywhere', async () => {
    const ok = await cli('restore', location, '--point', 'latest', '--server', targetFile, '--database', 'shop_copy', '--no-owner', '--json');
    expect(ok.code, ok.out + ok.err).toBe(0);
    expect(target.psql('SELECT count(*) FROM orders', 'shop_copy').trim()).toBe('1000');

    const before = databases(target);
    const taken = await cli('restore', location, '--point', 'latest', '--server', targetFile, '--database', 'taken', '--no-owner', '--json');
    expect(taken.code).toBe(1);
    const error = (JSON.parse(taken.out) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('DATABASE_EXISTS');
    expect(databases(target)).toEqual(before);
    expect(target.psql('SELECT v FROM keep', 'taken').trim()).toBe('precious');

    const runs = JSON.parse((await cli('history', '--kind', 'restore', '--json')).out) as Run[];
    expect(runs).toHaveLength(2);
    const [failed, done] = runs;
    const server = { name: expect.any(String), kind: 'postgres', host: target.host };
    // "latest" is recorded as the point it meant.
    const pointId = done!.databases[0]!.pointId!;
    expect(pointId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(done).toMatchObject({ status: 'success', trigger: 'cli', restore: { origin: 'cli', scope: 'database', source: location, point: pointId, asOf: null, server }, databases: [{ database: 'shop_copy', restoredAs: 'shop_copy', status: 'success' }] });
    expect(done!.databases[0]!.bytesRead).toBeGreaterThan(0);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'DATABASE_EXISTS', restore: { server }, databases: [{ restoredAs: 'taken', status: 'failed', errorCode: 'DATABASE_EXISTS' }] });
    // The error recorded is the one the CLI printed, minus its file terms at most: it names the database.
    expect(failed!.errorMessage).toContain('"taken"');

    // The password is in no recorded run, and nowhere in the app database's files.
    const all = (await cli('history', '--json')).out;
    expect(all).not.toContain(source.password);
    for (const f of ['backstop.db', 'backstop.db-wal']) {
      const p = join(dataDir, f);
      if (existsSync(p)) expect(readFileSync(p).includes(Buffer.from(source.password))).toBe(false);
    }
  }, 120_000);
});
