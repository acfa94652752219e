/**
 * PostgreSQL 15 with the credentials and addresses DBAs really have: a password from a password
 * manager holding every character that breaks a pgpass line, a conninfo string, a URI or a shell
 * (' " \ # ; : @ % $ ` space, a leading -, =, non-ASCII and an emoji, 64 random characters), role
 * names with a space, a `-` (also leading), upper case and non-ASCII, a database named with @ : %;
 * addresses 127.0.0.1, localhost, ::1 and the server's socket folder (as psql takes it). All found
 * working (the password travels only in PGPASSWORD, names only as separate arguments or quoted
 * conninfo values); this file keeps them so:
 * - the connection test on each address; a logical task's full and incremental, a restore into a new
 *   database over ::1 (server file), a task file's backup and test restore over the socket folder;
 * - a snapshot task's base backup and WAL incremental (pg_basebackup, pg_receivewal) over ::1;
 * - the password in no tool's command line, data dir, output or history.
 * Slips refused naming the fix (they failed only as a host that does not resolve): PostgreSQL's socket
 * file instead of its folder, a port typed after the host (db1:5433), an IPv6 address in brackets.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { findSecrets, watchCommandLines } from '../../fixtures/reliability/secrets-scan.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const ROLE = 'Backup Ops-ü';
const DASH_ROLE = '-dash';
const PASSWORD = `-'"\\#;:@%$\` =pässwörd😀Zq8vT3nLw0aPx7Rk2Ue9Ys4Jd6Hb1Cf5Gm3Ni8Qo0Vt2Xr7Lp4Ka9Wz6Ey1`;
const DB = 'shop@eu:10%';
let pg: PgServer;

const sqlLit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

beforeAll(async () => {
  pg = await startPostgres({ settings: ['listen_addresses=127.0.0.1,::1'] });
  pg.psql(`CREATE ROLE "${ROLE}" LOGIN SUPERUSER REPLICATION PASSWORD ${sqlLit(PASSWORD)}; CREATE ROLE "${DASH_ROLE}" LOGIN PASSWORD ${sqlLit(PASSWORD)} IN ROLE pg_read_all_data`);
  pg.psql(`CREATE DATABASE "${DB}" OWNER "${ROLE}"`);
  pg.psql("CREATE TABLE item (id serial PRIMARY KEY, name text); INSERT INTO item (name) VALUES ('lamp'), ('desk');", DB);
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

test('logical: connection test on every address; full, incremental, restore into a new database, task file backup and test restore; the password nowhere', async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const check = (host: string, user = ROLE) => engine.call('servers.test', { server: { kind: 'postgres', name: 'odd', host, port: pg.port, user, password: PASSWORD, tls: 'prefer' } });
  for (const host of ['127.0.0.1', 'localhost', '::1', pg.socketDir]) expect(await check(host), host).toMatchObject({ ok: true });
  expect(await check('127.0.0.1', DASH_ROLE)).toMatchObject({ ok: true });

  const s = data(await engine.call('servers.create', { kind: 'postgres', name: 'odd', host: 'localhost', port: pg.port, user: ROLE, password: PASSWORD, tls: 'prefer' }));
  const backups = tempDir();
  const task = data(
    await engine.call('tasks.create', { name: 'odd', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
  );
  const watch = watchCommandLines(ROLE);
  expect(await runTask(engine, task.id, 'full')).toMatchObject({ status: 'success', errorCode: null });
  pg.psql("INSERT INTO item (name) VALUES ('chair')", DB);
  expect(await runTask(engine, task.id, 'incremental')).toMatchObject({ status: 'success', errorCode: null });

  const serverFile = join(tempDir(), 'server.json');
  process.env.ODD_PG_PASSWORD = PASSWORD;
  writeFileSync(serverFile, JSON.stringify({ kind: 'postgres', host: '::1', port: pg.port, user: ROLE, passwordEnv: 'ODD_PG_PASSWORD' }));
  await restoreCommand(engine, join(backups, encodeDatabaseFolder(DB)), { point: 'latest', serverFile, database: `${DB} copy` });
  expect(pgContentFingerprint(pg, `${DB} copy`)).toEqual(pgContentFingerprint(pg, DB));

  const dir = tempDir();
  const taskFile = join(dir, 'task.json');
  const server = { kind: 'postgres', host: pg.socketDir, port: pg.port, user: ROLE, passwordEnv: 'ODD_PG_PASSWORD' };
  writeFileSync(taskFile, JSON.stringify({ name: 'odd', server, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: [`${DB} copy`] }));
  const backup = await cliInProcess('backup', '--config', taskFile, '--json', '--data-dir', join(dir, 'data'));
  expect(JSON.parse(backup.out)).toMatchObject({ status: 'success' });
  const tested = await cliInProcess('test-restore', '--config', taskFile, '--json', '--data-dir', join(dir, 'data'));
  expect(JSON.parse(tested.out)).toMatchObject({ status: 'success', databases: expect.arrayContaining([expect.objectContaining({ database: DB, status: 'ok' })]) });
  const commandLines = watch.stop();
  expect(commandLines.length).toBeGreaterThan(0); // tools were seen running (a tiny dump may end between two looks)
  const history = JSON.stringify(data(await engine.call('history.list', { limit: 100 })));
  const texts = { backup: backup.out + backup.err, tested: tested.out + tested.err, history, commandLines: commandLines.join('\n') };
  expect(findSecrets({ password: PASSWORD }, [engine.dataDir, join(dir, 'data')], texts)).toEqual([]);
}, 180_000);

test('snapshot over ::1: base backup and WAL incremental', async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const s = data(await engine.call('servers.create', { kind: 'postgres', name: 'odd', host: '::1', port: pg.port, user: ROLE, password: PASSWORD, tls: 'prefer' }));
  const task = data(
    await engine.call('tasks.create', { name: 'cluster', serverId: s.id, type: 'snapshot', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: tempDir() }] }),
  );
  const watch = watchCommandLines(ROLE);
  expect(await runTask(engine, task.id, 'full')).toMatchObject({ status: 'success', errorCode: null });
  pg.psql("INSERT INTO item (name) VALUES ('shelf')", DB);
  const inc = await runTask(engine, task.id, 'incremental');
  expect(inc).toMatchObject({ status: 'success', errorCode: null });
  expect(inc.databases).toContainEqual(expect.objectContaining({ kind: 'incremental', status: 'success' }));
  const commandLines = watch.stop();
  expect(commandLines.length).toBeGreaterThan(0);
  expect(findSecrets({ password: PASSWORD }, [engine.dataDir], { commandLines: commandLines.join('\n') })).toEqual([]);
}, 180_000);

test('host slips: the socket FILE instead of its folder (what MariaDB takes), a port after the host, an IPv6 address in brackets: refused naming the fix when tested, saved or read from a task file; nothing saved or written', async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const file = join(pg.socketDir, `.s.PGSQL.${pg.port}`);
  const server = { kind: 'postgres', name: 'odd', host: file, port: pg.port, user: ROLE, password: PASSWORD, tls: 'prefer' } as const;
  const message = `host: "${file}" is a socket file; for PostgreSQL give the folder that holds it ("${pg.socketDir}"), as psql -h takes it — the port picks .s.PGSQL.<port> in that folder.`;
  for (const answer of [await engine.call('servers.test', { server }), await engine.call('servers.create', server)]) expect(answer).toMatchObject({ ok: false, code: 'VALIDATION', message });
  expect(data(await engine.call('servers.list', undefined))).toEqual([]);
  const dir = tempDir();
  const taskFile = join(dir, 'task.json');
  const fileServer = { kind: 'postgres', host: file, port: pg.port, user: ROLE, passwordEnv: 'ODD_PG_PASSWORD' };
  writeFileSync(taskFile, JSON.stringify({ name: 'odd', server: fileServer, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
  const cli = await cliInProcess('backup', '--config', taskFile, '--json', '--data-dir', join(dir, 'data'));
  expect(cli.code).toBe(1);
  expect(JSON.parse(cli.out)).toMatchObject({ error: { code: 'VALIDATION', message } });
  expect(existsSync(join(dir, 'backups'))).toBe(false);

  // A port typed after the host, an IPv6 address in URL brackets: refused naming the fix (the tools said only that the name does not resolve, retried as an outage).
  const slips: [string, string][] = [
    [`localhost:${pg.port}`, `host: must not carry the port ("localhost:${pg.port}"): give the host alone (localhost) and put ${pg.port} in the port field`],
    [`[::1]:${pg.port}`, `host: must not carry the port ("[::1]:${pg.port}"): give the host alone (::1) and put ${pg.port} in the port field`],
    ['[::1]', 'host: must be an IPv6 address without brackets (::1, as the database tools take it)'],
  ];
  for (const [host, text] of slips) {
    for (const answer of [await engine.call('servers.test', { server: { ...server, host } }), await engine.call('servers.create', { ...server, host })]) {
      expect(answer, host).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: expect.stringContaining(text) });
    }
  }
  writeFileSync(taskFile, JSON.stringify({ name: 'odd', server: { ...fileServer, host: `localhost:${pg.port}` }, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
  const slipped = await cliInProcess('backup', '--config', taskFile, '--json', '--data-dir', join(dir, 'data'));
  expect(slipped.code).toBe(2);
  expect(JSON.parse(slipped.out)).toMatchObject({ error: { code: 'MALFORMED_REQUEST', message: expect.stringContaining(slips[0]![1]) } });
  expect(data(await engine.call('servers.list', undefined))).toEqual([]);
  expect(existsSync(join(dir, 'backups'))).toBe(false);
});
