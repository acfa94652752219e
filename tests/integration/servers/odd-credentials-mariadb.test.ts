/**
 * MariaDB 10.11 with the credentials and addresses DBAs really have: a password from a password
 * manager holding every character that breaks an option file, a shell or a URI (' " \ # ; : @ % $ `
 * space, a leading -, =, non-ASCII and an emoji, 64 random characters), an account name with a space,
 * a `-`, upper case and non-ASCII, a database named with @ : %; addresses 127.0.0.1, localhost, ::1
 * and the server's Unix socket:
 * - the connection test passes on each address; over the socket TLS does not apply (even "require");
 *   a socket path where no server listens says it cannot reach it, naming the path; the socket's folder
 *   (PostgreSQL's form) is refused when tested or saved, naming the file to give;
 * - full and binary-log incremental over the socket, restore to a moment over ::1, backup and test
 *   restore of a task file over TCP: all pass; the password is in no tool's command line, in no data
 *   dir, output or history;
 * - restore to a moment into a new name with a space in it ("… copy"): mariadb-binlog --rewrite-db keeps
 *   only the name's first word, so the replay went into the SOURCE database (bringing back a row deleted
 *   there after the moment); now refused before anything is created, naming the fix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { findSecrets, watchCommandLines } from '../../fixtures/reliability/secrets-scan.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

const USER = 'Backup Ops-ü';
const PASSWORD = `-'"\\#;:@%$\` =pässwörd😀Zq8vT3nLw0aPx7Rk2Ue9Ys4Jd6Hb1Cf5Gm3Ni8Qo0Vt2Xr7Lp4Ka9Wz6Ey1`;
const DB = 'shop@eu:10%';
let db: MariadbServer;

/** A MariaDB string literal. */
const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const exists = (name: string): boolean => db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${lit(name)}`).trim() === '1';
const names = (database: string): string => db.sql('SELECT GROUP_CONCAT(name ORDER BY id) FROM item', database).trim();

beforeAll(async () => {
  db = await startMariadb({ binlog: true, args: ['--bind-address=127.0.0.1,::1'] });
  db.sql(`CREATE USER ${lit(USER)}@'%' IDENTIFIED BY ${lit(PASSWORD)}; GRANT ALL ON *.* TO ${lit(USER)}@'%' WITH GRANT OPTION;
    CREATE DATABASE \`${DB}\`; CREATE TABLE \`${DB}\`.item (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50)); INSERT INTO \`${DB}\`.item (name) VALUES ('lamp'), ('desk');`);
}, 120_000);

afterAll(async () => {
  await db?.stop();
});

test('the connection test passes on 127.0.0.1, localhost, ::1 and the Unix socket (TLS not applied there); a socket where no server listens is named', async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  const check = (host: string, tls = 'prefer') => engine.call('servers.test', { server: { kind: 'mysql', name: 'odd', host, port: db.port, user: USER, password: PASSWORD, tls } });
  for (const host of ['127.0.0.1', 'localhost', '::1', db.socket]) expect(await check(host), host).toMatchObject({ ok: true });
  // A socket carries no TLS (as libpq ignores sslmode on one): "require" does not refuse it as a plain connection.
  expect(await check(db.socket, 'require')).toMatchObject({ ok: true });
  const missing = join(tempDir(), 'mysqld.sock');
  const r = await check(missing);
  expect(r).toMatchObject({ ok: false, code: 'UNREACHABLE', message: expect.stringContaining(missing) });
  // The socket's folder (what psql takes for PostgreSQL) is named as such, with the file to give instead; nothing saved.
  const folder = join(db.socket, '..');
  const message = `host: "${folder}" is a folder; for MySQL/MariaDB give the path of the server's socket file itself (e.g. "${join(folder, 'mysqld.sock')}"; SHOW VARIABLES LIKE 'socket' names it).`;
  expect(await check(folder)).toMatchObject({ ok: false, code: 'VALIDATION', message });
  expect(await engine.call('servers.create', { kind: 'mysql', name: 'odd', host: folder, port: db.port, user: USER, password: PASSWORD, tls: 'prefer' })).toMatchObject({ ok: false, code: 'VALIDATION', message });
  expect(data(await engine.call('servers.list', undefined))).toEqual([]);
});

test('full and log incremental over the socket, restore to a moment over ::1, task file backup and test restore: the password in no command line or data dir', async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  const s = data(await engine.call('servers.create', { kind: 'mysql', name: 'odd', host: db.socket, port: db.port, user: USER, password: PASSWORD, tls: 'prefer' }));
  const backups = tempDir();
  const task = data(
    await engine.call('tasks.create', { name: 'odd', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
  );
  const watch = watchCommandLines(`--user=${USER}`);
  expect(await runTask(engine, task.id, 'full')).toMatchObject({ status: 'success', errorCode: null });
  db.sql("INSERT INTO item (name) VALUES ('chair')", DB);
  await nextSecond();
  const moment = new Date();
  const atMoment = mariadbFidelity(db, DB);
  await nextSecond();
  // After the moment the source loses "chair": a replay applied to the source itself would bring it back there.
  db.sql("INSERT INTO item (name) VALUES ('shelf'); DELETE FROM item WHERE name = 'chair';", DB);
  const inc = await runTask(engine, task.id, 'incremental');
  expect(inc).toMatchObject({ status: 'success', errorCode: null });
  expect(inc.databases).toContainEqual(expect.objectContaining({ database: 'binlog', status: 'success' }));

  const serverFile = join(tempDir(), 'server.json');
  process.env.ODD_MY_PASSWORD = PASSWORD;
  writeFileSync(serverFile, JSON.stringify({ kind: 'mysql', host: '::1', port: db.port, user: USER, passwordEnv: 'ODD_MY_PASSWORD' }));
  const folder = join(backups, encodeDatabaseFolder(DB));
  const refused = await rejection(restoreCommand(engine, folder, { asOf: moment, serverFile, database: `${DB} copy` }));
  expect(refused.code).toBe('RESTORE_FAILED');
  expect(refused.message).toMatch(
    /^Database "shop@eu:10%" cannot be restored as of .* into "shop@eu:10% copy": the new name holds a space, and mariadb-binlog's --rewrite-db keeps only the part before it \("shop@eu:10%"\), so the replay would apply the log's changes to the source database "shop@eu:10%" itself \(on its own server\), not to the new one\. Nothing was created\. Fix: choose a new name without spaces \(e\.g\. with _ instead\), or restore a backup point without --as-of/,
  );
  expect(exists(`${DB} copy`)).toBe(false);
  expect(names(DB)).toBe('lamp,desk,shelf');
  await restoreCommand(engine, folder, { asOf: moment, serverFile, database: `${DB}_copy` });
  expect(mariadbFidelity(db, `${DB}_copy`)).toEqual(atMoment);
  expect(names(DB)).toBe('lamp,desk,shelf');

  const dir = tempDir();
  const taskFile = join(dir, 'task.json');
  const server = { kind: 'mysql', host: '127.0.0.1', port: db.port, user: USER, passwordEnv: 'ODD_MY_PASSWORD' };
  writeFileSync(taskFile, JSON.stringify({ name: 'odd', server, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: [`${DB}_copy`] }));
  const backup = await cliInProcess('backup', '--config', taskFile, '--json', '--data-dir', join(dir, 'data'));
  expect(JSON.parse(backup.out)).toMatchObject({ status: 'success' });
  const tested = await cliInProcess('test-restore', '--config', taskFile, '--json', '--data-dir', join(dir, 'data'));
  expect(JSON.parse(tested.out)).toMatchObject({ status: 'success', databases: [{ database: DB, status: 'ok' }] });
  const commandLines = watch.stop();
  expect(commandLines.length).toBeGreaterThan(0); // tools were seen running (a tiny dump may end between two looks)
  const history = JSON.stringify(data(await engine.call('history.list', { limit: 100 })));
  const texts = { backup: backup.out + backup.err, tested: tested.out + tested.err, history, commandLines: commandLines.join('\n') };
  expect(findSecrets({ password: PASSWORD }, [engine.dataDir, join(dir, 'data')], texts)).toEqual([]);
}, 180_000);
