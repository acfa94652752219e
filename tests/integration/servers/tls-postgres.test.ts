/**
 * A PostgreSQL 15 server that requires TLS (ssl=on, pg_hba.conf hostssl only; its certificate names
 * `localhost` and is signed by a CA of the test's own), as a DBA's networked or cloud server is:
 * - TLS "prefer" and "require": the connection test, a logical backup and its restore work (the server
 *   takes no plain connection, so working means encrypted); a snapshot task's full (pg_basebackup) and
 *   WAL incremental (pg_receivewal) through the engine, with the server stored with "require";
 * - "disable": refused, and the error says the server takes only encrypted connections and names the fix;
 * - "verify-full" with the CA file (tlsCaFile → PGSSLROOTCERT) by the name the certificate names: works;
 *   without a CA file, with a CA that did not sign the certificate, or to a host name the certificate does
 *   not name: the error says so, names the host and the fix, and a restore created nothing;
 * - tlsCaFile that does not exist or holds no certificate: VALIDATION when the server is saved;
 * - a server without TLS: "require" and "verify-full" refused (UNSUPPORTED naming the fix), nothing created.
 */
import { copyFileSync, createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector } from '../../../electron/engine/servers/index.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;
let dump: string;
let dumpDir: string;

function connector(over: Partial<Extract<Server, { kind: 'postgres' }>>, on = pg): Connector {
  const server: Server = { id: 'pg1', name: 'tls pg', kind: 'postgres', host: on.host, port: on.port, user: pg.user, tls: 'require', passwordRef: null, createdAt: '', updatedAt: '', ...over };
  return connectorFor(server, { password: pg.password, toolPaths: { postgres: PG_BIN } });
}

function databaseExists(name: string, on = pg): boolean {
  return on.psql(`SELECT count(*) FROM pg_database WHERE datname = '${name}'`).trim() === '1';
}

beforeAll(async () => {
  pg = await startPostgres({ tls: true });
  pg.psql('CREATE DATABASE shop');
  pg.psql("CREATE TABLE item (id serial PRIMARY KEY, name text); INSERT INTO item (name) VALUES ('lamp'), ('desk'), ('chair');", 'shop');
  dumpDir = mkdtempSync(join(tmpdir(), 'backstop-tls-'));
  dump = join(dumpDir, 'shop.dump');
  const d = await connector({ tls: 'require' }).openDump('shop', 'logical');
  await pipeline(d.stream, createWriteStream(dump));
  await d.done;
});

afterAll(async () => {
  await pg?.stop();
  if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
});

describe('a PostgreSQL server that requires TLS', () => {
  test('"prefer" and "require" connect (encrypted: the server takes nothing else); a backup made with "require" restores with "prefer"', async () => {
    for (const tls of ['prefer', 'require'] as const) expect((await connector({ tls }).testConnection()).serverVersion).toMatch(/^PostgreSQL 15\./);
    await connector({ tls: 'prefer' }).restore('shop copy', createReadStream(dump), 'logical');
    expect(pgContentFingerprint(pg, 'shop copy')).toEqual(pgContentFingerprint(pg, 'shop'));
  });

  test('"disable": refused, saying the server takes no plain connection and that TLS must be "require"', async () => {
    const e = await rejection(connector({ tls: 'disable' }).testConnection());
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/accepts no plain \(unencrypted\) connection from this host .*TLS is "disable"\. Fix: set TLS to "require" \(or "verify-full"\) in the server settings/);
    expect(e.message).not.toMatch(/rejected the user name or password/);
  });

  test('"verify-full" with the CA that signed the certificate, by the name it names: the connection test and a restore work', async () => {
    const c = connector({ host: 'localhost', tls: 'verify-full', tlsCaFile: pg.certificates!.ca });
    expect((await c.testConnection()).serverVersion).toMatch(/^PostgreSQL 15\./);
    await c.restore('shop verified', createReadStream(dump), 'logical');
    expect(pgContentFingerprint(pg, 'shop verified')).toEqual(pgContentFingerprint(pg, 'shop'));
  });

  test('"verify-full" without a CA file: says no CA certificate was given and names the setting', async () => {
    const e = await rejection(connector({ host: 'localhost', tls: 'verify-full' }).testConnection());
    expect(e).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/TLS "verify-full" verifies the PostgreSQL server localhost:\d+'s certificate, and no CA certificate was given .*Fix: set the CA certificate file in the server settings/) });
  });

  test('"verify-full" with a CA that did not sign the certificate, or to a host name it does not name: refused naming host and fix; a restore creates nothing', async () => {
    const wrongCa = connector({ host: 'localhost', tls: 'verify-full', tlsCaFile: pg.certificates!.otherCa });
    const e = await rejection(wrongCa.testConnection());
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/The certificate of the PostgreSQL server localhost:\d+ could not be verified: it was not signed by the CA in .*other-ca\.crt \(or it has expired\)\. .*Fix: set the CA certificate file in the server settings to the CA that signed the server's certificate/);
    const r = await rejection(wrongCa.restore('never made', createReadStream(dump), 'logical'));
    expect(r).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('could not be verified') });
    expect(databaseExists('never made')).toBe(false);

    // With a CA file, "require" checks the certificate's CA too (not the host name), as documented.
    expect(await rejection(connector({ host: 'localhost', tls: 'require', tlsCaFile: pg.certificates!.otherCa }).testConnection())).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('other-ca.crt') });
    expect((await connector({ host: '127.0.0.1', tls: 'require', tlsCaFile: pg.certificates!.ca }).testConnection()).serverVersion).toBeTruthy();
    const wrongName = connector({ host: '127.0.0.1', tls: 'verify-full', tlsCaFile: pg.certificates!.ca });
    const m = await rejection(wrongName.testConnection());
    expect(m).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/could not be verified: its certificate is for "localhost", not for the host name "127\.0\.0\.1" Backstop connected to\. .*connect by a host name the certificate names/) });
  });
});

describe('a PostgreSQL server without TLS', () => {
  test('"require" and "verify-full" are refused naming the fix, and a restore creates nothing; "prefer" connects', async () => {
    const plain = await startPostgres();
    try {
      for (const tls of ['require', 'verify-full'] as const) {
        const e = await rejection(connector({ tls, tlsCaFile: pg.certificates!.ca }, plain).restore('never made', createReadStream(dump), 'logical'));
        expect(e).toMatchObject({
          code: 'UNSUPPORTED',
          message: expect.stringMatching(new RegExp(`^The PostgreSQL server 127\\.0\\.0\\.1:\\d+ offers no encrypted connection \\(TLS\\), and TLS is "${tls}": nothing was sent over a plain connection\\. Fix: turn TLS on at the server, or set TLS to "prefer"`)),
        });
      }
      expect(databaseExists('never made', plain)).toBe(false);
      expect((await connector({ tls: 'prefer' }, plain).testConnection()).serverVersion).toMatch(/^PostgreSQL 15\./);
    } finally {
      await plain.stop();
    }
  });
});

describe('through the engine', () => {
  test('tlsCaFile that does not exist, or holds no certificate: VALIDATION naming it when saved', async () => {
    const engine = await testEngine();
    const input = { kind: 'postgres' as const, name: 'pg', host: 'localhost', port: pg.port, user: pg.user, password: pg.password, tls: 'verify-full' as const };
    const missing = await engine.call('servers.create', { ...input, tlsCaFile: join(tempDir(), 'nope.crt') });
    expect(missing).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringMatching(/^tlsCaFile: the CA certificate file ".*nope\.crt" does not exist\. Choose the PEM file of the CA/) });
    const notPem = join(tempDir(), 'ca.txt');
    writeFileSync(notPem, 'not a certificate\n');
    const bad = await engine.call('servers.create', { ...input, tlsCaFile: notPem });
    expect(bad).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('holds no PEM certificate') });
    expect(data(await engine.call('servers.list', {}))).toEqual([]);
  });

  test('servers add with a tlsCaFile relative to the server file stores its absolute path; servers export writes it back', async () => {
    const dir = tempDir();
    copyFileSync(pg.certificates!.ca, join(dir, 'company-ca.pem'));
    const file = join(dir, 'pg.json');
    writeFileSync(file, JSON.stringify({ name: 'cloud', kind: 'postgres', host: 'localhost', port: pg.port, user: pg.user, tls: 'verify-full', tlsCaFile: 'company-ca.pem' }));
    const dataDir = join(dir, 'data');
    expect((await cliInProcess('servers', 'add', '--config', file, '--json', '--data-dir', dataDir)).code).toBe(0);
    const out = join(dir, 'out.json');
    expect((await cliInProcess('servers', 'export', 'cloud', '--out', out, '--data-dir', dataDir)).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ name: 'cloud', tls: 'verify-full', tlsCaFile: join(dir, 'company-ca.pem') });
  });

  test('a snapshot task on a server stored with "verify-full" and its CA: full (pg_basebackup) and WAL incremental (pg_receivewal) succeed', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const s = data(
      await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: 'localhost', port: pg.port, user: pg.user, password: pg.password, tls: 'verify-full', tlsCaFile: pg.certificates!.ca }),
    );
    expect(s).toMatchObject({ tls: 'verify-full', tlsCaFile: pg.certificates!.ca });
    const task = data(
      await engine.call('tasks.create', { name: 'cluster', serverId: s.id, type: 'snapshot', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: tempDir() }] }),
    );
    const full = await runTask(engine, task.id, 'full');
    expect(full).toMatchObject({ status: 'success', errorCode: null });
    pg.psql("INSERT INTO item (name) VALUES ('shelf')", 'shop');
    const inc = await runTask(engine, task.id, 'incremental');
    expect(inc).toMatchObject({ status: 'success', errorCode: null });
    expect(inc.databases).toContainEqual(expect.objectContaining({ kind: 'incremental', status: 'success' }));
  }, 120_000);
});
