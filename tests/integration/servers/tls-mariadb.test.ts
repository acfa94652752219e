/**
 * A MariaDB 10.11 server that requires TLS (require_secure_transport=ON, binary log on; its certificate
 * names `localhost` and is signed by a CA of the test's own), and one that offers no TLS at all:
 * - TLS "prefer" and "require": the connection test, a dump and its restore work (the server takes no
 *   plain connection, so working means encrypted); through the engine and the CLI's restore, a full, a
 *   binary-log incremental (mariadb-binlog --read-from-remote-server) and a restore to a moment;
 * - "disable": MariaDB refuses with "Access denied": the error says a server that takes only encrypted
 *   connections refuses that way, and names the fix;
 * - "verify-full" with the CA file (tlsCaFile → --ssl-ca) by the name the certificate names: works;
 *   without a CA file, with a CA that did not sign the certificate, or to a host name it does not name:
 *   says the certificate could not be verified, names the host and the fix; a restore created nothing;
 * - "require" (and "verify-full") on the server without TLS: refused before any statement ran (the
 *   MariaDB client's --ssl alone falls back to plain text), nothing created; "prefer" connects;
 * - a task file whose server says "verify-full" and a CA file beside it (relative path): `backup` and
 *   `test-restore` pass (the scratch database on the same server, over the same checked connection).
 */
import { copyFileSync, createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, encodeDatabaseFolder, type Connector } from '../../../electron/engine/servers/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { mariadbFidelity, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

let db: MariadbServer;
let plain: MariadbServer;
let dumpDir: string;
let dump: string;

function connector(over: Partial<Extract<Server, { kind: 'mysql' }>>, server = db): Connector {
  const s: Server = { id: 'my1', name: 'tls mariadb', kind: 'mysql', host: server.host, port: server.port, user: server.user, tls: 'require', passwordRef: null, createdAt: '', updatedAt: '', ...over };
  return connectorFor(s, { password: server.password, toolPaths: { mysql: null } });
}

function exists(server: MariadbServer, name: string): boolean {
  return server.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim() === '1';
}

beforeAll(async () => {
  [db, plain] = await Promise.all([startMariadb({ tls: true, binlog: true }), startMariadb()]);
  for (const s of [db, plain]) s.sql("CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50)); INSERT INTO shop.item (name) VALUES ('lamp'), ('desk');");
  dumpDir = mkdtempSync(join(tmpdir(), 'backstop-tls-'));
  dump = join(dumpDir, 'shop.sql');
  const d = await connector({ tls: 'require' }).openDump('shop', 'logical');
  await pipeline(d.stream, createWriteStream(dump));
  await d.done;
});

afterAll(async () => {
  await Promise.all([db?.stop(), plain?.stop()]);
  if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
});

describe('a MariaDB server that requires TLS', () => {
  test('"prefer" and "require" connect (encrypted: the server takes nothing else); a dump made with "require" restores with "prefer"', async () => {
    for (const tls of ['prefer', 'require'] as const) expect((await connector({ tls }).testConnection()).serverVersion).toMatch(/^MariaDB 10\.11\./);
    await connector({ tls: 'prefer' }).restore('shop_copy', createReadStream(dump), 'logical');
    expect(mariadbFidelity(db, 'shop_copy')).toEqual(mariadbFidelity(db, 'shop'));
  });

  test('"disable": MariaDB says "Access denied"; the error says an encrypted-only server refuses that way and names the fix', async () => {
    const e = await rejection(connector({ tls: 'disable' }).testConnection());
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/require_secure_transport=ON, or an account created with REQUIRE SSL\) refuses a plain one the same way, and TLS is "disable": if so, set TLS to "require" \(or "verify-full"\) in the server settings/);
  });

  test('"verify-full" with the CA that signed the certificate, by the name it names: the connection test and a restore work', async () => {
    const c = connector({ host: 'localhost', tls: 'verify-full', tlsCaFile: db.certificates!.ca });
    expect((await c.testConnection()).serverVersion).toMatch(/^MariaDB 10\.11\./);
    await c.restore('shop_verified', createReadStream(dump), 'logical');
    expect(mariadbFidelity(db, 'shop_verified')).toEqual(mariadbFidelity(db, 'shop'));
  });

  test('"verify-full" without a CA file or with one that did not sign the certificate, or to a host it does not name: refused naming host and fix; nothing created', async () => {
    for (const tlsCaFile of [undefined, db.certificates!.otherCa]) {
      const c = connector({ host: 'localhost', tls: 'verify-full', ...(tlsCaFile ? { tlsCaFile } : {}) });
      const e = await rejection(c.testConnection());
      expect(e.code).toBe('AUTH_FAILED');
      const why = tlsCaFile ? 'it was not signed by the CA in .*other-ca\\.crt' : 'it was not signed by a CA this computer trusts, and no CA certificate file is set';
      expect(e.message).toMatch(new RegExp(`^The certificate of the MySQL/MariaDB server localhost:\\d+ could not be verified: ${why} \\(or it has expired\\)\\. .*Fix: set the CA certificate file in the server settings to the CA that signed the server's certificate`));
      const r = await rejection(c.restore('shop_never', createReadStream(dump), 'logical'));
      expect(r).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('could not be verified') });
    }
    // With a CA file, "require" checks the certificate's CA too (not the host name), as documented.
    expect(await rejection(connector({ host: 'localhost', tls: 'require', tlsCaFile: db.certificates!.otherCa }).testConnection())).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('other-ca.crt') });
    expect((await connector({ host: '127.0.0.1', tls: 'require', tlsCaFile: db.certificates!.ca }).testConnection()).serverVersion).toBeTruthy();
    const m = await rejection(connector({ host: '127.0.0.1', tls: 'verify-full', tlsCaFile: db.certificates!.ca }).testConnection());
    expect(m).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/^The certificate of the MySQL\/MariaDB server 127\.0\.0\.1:\d+ could not be verified: its certificate does not name the host "127\.0\.0\.1"/) });
    expect(exists(db, 'shop_never')).toBe(false);
  });
});

describe('a MariaDB server without TLS', () => {
  test('"require" and "verify-full" are refused before any statement ran, naming the fix; a restore creates nothing; "prefer" connects', async () => {
    for (const tls of ['require', 'verify-full'] as const) {
      const e = await rejection(connector({ tls, host: 'localhost', tlsCaFile: db.certificates!.ca }, plain).testConnection());
      expect(e).toMatchObject({
        code: 'UNSUPPORTED',
        message: expect.stringMatching(new RegExp(`^The MySQL/MariaDB server localhost:\\d+ offers no encrypted connection \\(TLS\\), and TLS is "${tls}": nothing was sent over a plain connection\\. Fix: turn TLS on at the server, or set TLS to "prefer"`)),
      });
    }
    const r = await rejection(connector({ tls: 'require' }, plain).restore('shop_plain', createReadStream(dump), 'logical'));
    expect(r.code).toBe('UNSUPPORTED');
    expect(exists(plain, 'shop_plain')).toBe(false);
    expect((await connector({ tls: 'prefer' }, plain).testConnection()).serverVersion).toMatch(/^MariaDB 10\.11\./);
  });
});

describe('through the engine and the CLI', () => {
  test('a server stored with "verify-full" and its CA: full, binary-log incremental and a restore to a moment (server file with tlsCaFile)', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const s = data(await engine.call('servers.create', { kind: 'mysql', name: 'maria', host: 'localhost', port: db.port, user: db.user, password: db.password, tls: 'verify-full', tlsCaFile: db.certificates!.ca }));
    const backups = tempDir();
    const task = data(
      await engine.call('tasks.create', { name: 'shop', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
    );
    expect(await runTask(engine, task.id, 'full')).toMatchObject({ status: 'success', errorCode: null });
    db.sql("INSERT INTO item (name) VALUES ('chair')", 'shop');
    await nextSecond();
    const moment = new Date();
    const atMoment = mariadbFidelity(db, 'shop');
    await nextSecond();
    db.sql("INSERT INTO item (name) VALUES ('shelf')", 'shop');
    const inc = await runTask(engine, task.id, 'incremental');
    expect(inc).toMatchObject({ status: 'success', errorCode: null });
    expect(inc.databases).toContainEqual(expect.objectContaining({ database: 'binlog', status: 'success' }));

    const serverFile = join(tempDir(), 'server.json');
    process.env.TLS_TEST_PASSWORD = db.password;
    writeFileSync(serverFile, JSON.stringify({ kind: 'mysql', host: 'localhost', port: db.port, user: db.user, passwordEnv: 'TLS_TEST_PASSWORD', tls: 'verify-full', tlsCaFile: db.certificates!.ca }));
    await restoreCommand(engine, join(backups, encodeDatabaseFolder('shop')), { asOf: moment, serverFile, database: 'shop_then' });
    expect(mariadbFidelity(db, 'shop_then')).toEqual(atMoment);

    // The CLI names the server file's keys: `tls` when the server refuses the plain connection, `tlsCaFile` (relative to
    // the file's folder) when it does not exist; nothing created either way.
    const folder = join(backups, encodeDatabaseFolder('shop'));
    writeFileSync(serverFile, JSON.stringify({ kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: 'TLS_TEST_PASSWORD', tls: 'disable' }));
    const plainRefused = await rejection(restoreCommand(engine, folder, { asOf: moment, serverFile, database: 'shop_never' }));
    expect(plainRefused).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining(`if so, set \`tls\` to "require" (or "verify-full") in ${serverFile}`) });
    writeFileSync(serverFile, JSON.stringify({ kind: 'mysql', host: 'localhost', port: db.port, user: db.user, passwordEnv: 'TLS_TEST_PASSWORD', tls: 'verify-full', tlsCaFile: 'company-ca.pem' }));
    const noCa = await rejection(restoreCommand(engine, folder, { asOf: moment, serverFile, database: 'shop_never' }));
    expect(noCa).toMatchObject({ code: 'VALIDATION', message: `tlsCaFile: the CA certificate file "${join(serverFile, '..', 'company-ca.pem')}" does not exist. Choose the PEM file of the CA that signed the database server's certificate.` });
    expect(exists(db, 'shop_never')).toBe(false);
  }, 120_000);

  test('a task file with "verify-full" and a CA file beside it: backup and test-restore pass', async () => {
    const dir = tempDir();
    copyFileSync(db.certificates!.ca, join(dir, 'company-ca.pem'));
    process.env.TLS_TEST_PASSWORD = db.password;
    const task = join(dir, 'task.json');
    const server = { kind: 'mysql', host: 'localhost', port: db.port, user: db.user, passwordEnv: 'TLS_TEST_PASSWORD', tls: 'verify-full', tlsCaFile: 'company-ca.pem' };
    writeFileSync(task, JSON.stringify({ name: 'tls', server, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: ['shop_copy', 'shop_verified', 'shop_then'] }));
    const dataDir = join(dir, 'data');
    const backup = await cliInProcess('backup', '--config', task, '--json', '--data-dir', dataDir);
    expect(JSON.parse(backup.out)).toMatchObject({ status: 'success' });
    const tested = await cliInProcess('test-restore', '--config', task, '--json', '--data-dir', dataDir);
    expect(tested.code).toBe(0);
    expect(JSON.parse(tested.out)).toMatchObject({ status: 'success', databases: [{ database: 'shop', status: 'ok' }] });
  }, 60_000);
});
