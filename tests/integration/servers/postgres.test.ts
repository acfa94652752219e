/**
 * The PostgreSQL connector against a real throwaway PostgreSQL 15 server (TCP + scram).
 * Fidelity: Pagila and Chinook are dumped and restored under new names; schema-only dumps,
 * per-table row counts + checksums, sequence positions and the database-level properties
 * (pgDatabaseFidelity: owner, privileges, settings, comment, encoding/locale, object
 * owners and privileges, routine results) must match. Snapshot: a base
 * backup restores into a new data directory that starts and holds the same data.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, restoreBaseBackup, startDataDirectory, type Connector, type RestoreProgress } from '../../../electron/engine/servers/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { chownTree, freePort, rejection, waitFor } from '../../fixtures/servers/common.ts';
import { PG_BIN, pgContentFingerprint, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { pgDatabaseFidelity } from '../../fixtures/servers/pg-fidelity.ts';

/** Pagila routines whose results must not change in a restored copy. */
const PAGILA_CALLS = ['inventory_in_stock(1)', 'inventory_in_stock(2)', 'inventory_held_by_customer(6)', "last_day('2022-02-10')", "_group_concat('a', 'b')"];

const FIXTURES = join(import.meta.dirname, '../../../../shared/fixtures');

let pg: PgServer;

function server(over: Partial<Extract<Server, { kind: 'postgres' }>> = {}): Server {
  return {
    id: 'pg1',
    name: 'test pg',
    kind: 'postgres',
    host: pg.host,
    port: pg.port,
    user: pg.user,
    tls: 'disable',
    passwordRef: 'server.pg1.password',
    createdAt: '',
    updatedAt: '',
    ...over,
  };
}

function connector(over: Partial<Extract<Server, { kind: 'postgres' }>> = {}, password: string | null = pg.password, binDir: string | null = PG_BIN): Connector {
  return connectorFor(server(over), { password, toolPaths: { postgres: binDir } });
}

function databaseExists(name: string): boolean {
  return pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`).trim() === '1';
}

/** Dumps `db` into a temp file through the connector; returns the file. */
async function dumpToFile(c: Connector, db: string, dir: string): Promise<string> {
  const file = join(dir, `${db}.dump`);
  const dump = await c.openDump(db, 'logical');
  await pipeline(dump.stream, createWriteStream(file));
  await dump.done;
  return file;
}

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE pagila');
  pg.loadFile(join(FIXTURES, 'pagila/pagila-schema.sql'), 'pagila');
  pg.loadFile(join(FIXTURES, 'pagila/pagila-data.sql'), 'pagila');
  pg.loadFile(join(FIXTURES, 'chinook/Chinook_PostgreSql.sql'), 'postgres'); // creates "chinook" itself
  pg.psql(`CREATE ROLE limited LOGIN PASSWORD 'limited-pw'`);
  // Database-level properties the fidelity checks must see come back.
  pg.psql(`ALTER DATABASE pagila SET search_path = public, pg_catalog; ALTER DATABASE pagila CONNECTION LIMIT 50; COMMENT ON DATABASE pagila IS 'DVD rental sample';
    REVOKE CONNECT ON DATABASE pagila FROM PUBLIC; GRANT CONNECT ON DATABASE pagila TO limited; ALTER ROLE limited IN DATABASE pagila SET work_mem = '16MB';
    ALTER DATABASE chinook SET "DateStyle" = 'ISO, DMY'; COMMENT ON DATABASE chinook IS 'Digital media store';`);
  pg.psql('GRANT SELECT ON ALL TABLES IN SCHEMA public TO limited; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO limited;', 'pagila');
});

afterAll(async () => {
  await pg?.stop();
});

describe('testConnection', () => {
  test('reports the server version and the tools it will use (tls "prefer" on a server without TLS)', async () => {
    const report = await connector({ tls: 'prefer' }).testConnection();
    expect(report.serverVersion).toMatch(/^PostgreSQL 15\.\d+/);
    expect(report.tools.map((t) => t.name)).toEqual(['psql', 'pg_dump']);
    expect(report.tools[1]?.path).toBe(join(PG_BIN, 'pg_dump'));
    expect(report.warnings).toEqual([]);
  });

  test('wrong password: AUTH_FAILED, and the password is never in the message', async () => {
    const e = await rejection(connector({}, 'wrong-Secret-99').testConnection());
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/rejected the user name or password/);
    expect(e.message).toMatch(/password authentication failed for user "postgres"/);
    expect(e.message).not.toContain('wrong-Secret-99');
  });

  test('a role past its VALID UNTIL date (right password): AUTH_FAILED saying an expired role is refused the same way', async () => {
    pg.psql(`CREATE ROLE expired_backup LOGIN PASSWORD 'exp-Secret-1' VALID UNTIL '2001-01-01'`);
    try {
      const e = await rejection(connector({ user: 'expired_backup' }, 'exp-Secret-1').testConnection());
      expect(e.code).toBe('AUTH_FAILED');
      expect(e.message).toMatch(
        /^The PostgreSQL server 127\.0\.0\.1:\d+ rejected the user name or password\. Check the credentials in the server settings; a role past its VALID UNTIL date is refused the same way \(ALTER ROLE … VALID UNTIL 'infinity'\) \(while /,
      );
      expect(e.message).not.toContain('exp-Secret-1');
    } finally {
      pg.psql('DROP ROLE expired_backup');
    }
  });

  test('server down: UNREACHABLE naming host and port', async () => {
    const port = await freePort(); // nothing listens there
    const e = await rejection(connector({ port }).testConnection());
    expect(e.code).toBe('UNREACHABLE');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.message).toMatch(/Connection refused/);
  });

  test('a role that cannot read every database: PERMISSION_DENIED saying what to grant', async () => {
    const e = await rejection(connector({ user: 'limited' }, 'limited-pw').testConnection());
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toContain('pg_read_all_data');
  });

  test('pg_dump older than the server: TOOL_TOO_OLD naming both versions', async () => {
    const bin = tempDir();
    writeFileSync(join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n', { mode: 0o755 });
    const e = await rejection(connector({}, pg.password, bin).testConnection());
    expect(e.code).toBe('TOOL_TOO_OLD');
    expect(e.message).toMatch(/pg_dump 9\.6\.24/);
    expect(e.message).toMatch(/PostgreSQL 15\.\d+/);
  });
});

describe('listDatabases', () => {
  test('lists user databases (hostile names included), never templates', async () => {
    pg.psql(`CREATE DATABASE "we""ird name"`);
    pg.psql(`CREATE DATABASE "host=evil port=1"`);
    pg.psql(`CREATE DATABASE "Ünïcødé"`);
    try {
      const names = await connector().listDatabases();
      expect(names).toEqual(expect.arrayContaining(['chinook', 'pagila', 'postgres', 'we"ird name', 'host=evil port=1', 'Ünïcødé']));
      expect(names).not.toContain('template0');
      expect(names).not.toContain('template1');
      // A name that looks like connection options is dumped as a name, not parsed as options.
      const dump = await connector().openDump('host=evil port=1', 'logical');
      const chunks: Buffer[] = [];
      for await (const c of dump.stream) chunks.push(c as Buffer);
      await dump.done;
      expect(Buffer.concat(chunks).subarray(0, 5).toString()).toBe('PGDMP');
    } finally {
      pg.psql(`DROP DATABASE "we""ird name"; DROP DATABASE "host=evil port=1"; DROP DATABASE "Ünïcødé";`);
    }
  });
});

describe('a database whose name has a line break', () => {
  test('its backup restores (pg_restore --create refuses the name in its \\connect line), streamed, spooled and under a name with a line break: rows, owner, settings, comment and privileges', async () => {
    // Made under an ordinary name (psql cannot connect to the other), then renamed.
    pg.psql(`CREATE DATABASE broken_name OWNER limited; ALTER DATABASE broken_name SET work_mem = '7MB'; COMMENT ON DATABASE broken_name IS 'two lines'; REVOKE ALL ON DATABASE broken_name FROM PUBLIC`);
    pg.psql(`CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')`, 'broken_name');
    pg.psql(`SELECT format('ALTER DATABASE broken_name RENAME TO %I', E'two\\nlines') \\gexec`);
    const properties = (db: string) =>
      pg.psql(`SELECT pg_get_userbyid(d.datdba), shobj_description(d.oid, 'pg_database'), (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0), d.datacl FROM pg_database d WHERE d.datname = '${db}'`).trim();
    try {
      const file = await dumpToFile(connector(), 'two\nlines', tempDir());
      // Streamed, spooled (2 jobs), and under a new name with a line break of its own.
      for (const [name, jobs] of [['from_broken', 1], ['from_broken_j2', 2], ['from\nbroken', 1]] as const) {
        const report = await connector().restore(name, createReadStream(file), 'logical', { jobs });
        expect(report).toEqual({ database: name, notes: [] });
        expect((await connector().inspectRestored(name, ['"public"."t"'])).counts).toEqual({ '"public"."t"': 1 });
        expect(properties(name)).toBe('limited|two lines|work_mem=7MB|{limited=CTc/limited}');
      }
    } finally {
      pg.psql(`SELECT format('DROP DATABASE IF EXISTS %I', n) FROM unnest(ARRAY[E'two\\nlines', 'from_broken', 'from_broken_j2', E'from\\nbroken']) n \\gexec`);
    }
  });
});

describe('logical backup and restore', () => {
  test('Pagila: dump → restore as a new database is faithful (schema, rows, sequences); progress counts the archive bytes read up to its length', async () => {
    const c = connector();
    const dir = tempDir();
    const file = await dumpToFile(c, 'pagila', dir);
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('PGDMP');
    const progress: RestoreProgress[] = [];
    await c.restore('pagila_restored', createReadStream(file), 'logical', { totalBytes: statSync(file).size, onProgress: (p) => progress.push(p) });
    try {
      expect(pgSchemaDump(pg, 'pagila_restored')).toBe(pgSchemaDump(pg, 'pagila'));
      expect(pgDatabaseFidelity(pg, 'pagila_restored', PAGILA_CALLS)).toEqual(pgDatabaseFidelity(pg, 'pagila', PAGILA_CALLS));
      const source = pgContentFingerprint(pg, 'pagila');
      expect(Object.keys(source).length).toBeGreaterThan(20);
      expect(pgContentFingerprint(pg, 'pagila_restored')).toEqual(source);
      const last = progress.at(-1);
      expect(last?.unit).toBe('bytes');
      expect(last?.total).toBe(statSync(file).size);
      expect(last?.done).toBe(last?.total);
    } finally {
      pg.psql('DROP DATABASE pagila_restored');
    }
  });

  test('Chinook: parallel restore (jobs=2, spooled to a temp file) with no-owner is faithful', async () => {
    const c = connector();
    const dir = tempDir();
    const file = await dumpToFile(c, 'chinook', dir);
    const spool = tempDir();
    await c.restore('chinook copy', createReadStream(file), 'logical', { jobs: 2, noOwner: true, tempDir: spool });
    try {
      expect(pgSchemaDump(pg, 'chinook copy')).toBe(pgSchemaDump(pg, 'chinook'));
      expect(pgDatabaseFidelity(pg, 'chinook copy')).toEqual(pgDatabaseFidelity(pg, 'chinook'));
      expect(pgContentFingerprint(pg, 'chinook copy')).toEqual(pgContentFingerprint(pg, 'chinook'));
    } finally {
      pg.psql('DROP DATABASE "chinook copy"');
    }
  });

  test('globals: a separate server-level stream with the roles', async () => {
    const c = connector();
    expect(c.serverStreams('logical').map((s) => s.name)).toEqual(['globals.sql']);
    const dump = await c.openServerDump('globals.sql');
    let text = '';
    for await (const chunk of dump.stream) text += String(chunk);
    await dump.done;
    expect(text).toContain('CREATE ROLE limited;');
    expect(text).toMatch(/ALTER ROLE limited WITH .*LOGIN.*PASSWORD 'SCRAM-SHA-256/);
  });
});

describe('restore progress', () => {
  test('one ~50 MB table: the progress moves while its COPY runs (the archive bytes pg_restore has read, of the point\'s length), ending at the length', async () => {
    pg.psql('CREATE DATABASE bulk');
    pg.psql(`CREATE TABLE big (id int PRIMARY KEY, pad text); INSERT INTO big SELECT g, repeat(md5(g::text), 15) FROM generate_series(1, 100000) g`, 'bulk');
    const archive = readFileSync(await dumpToFile(connector(), 'bulk', tempDir()));
    expect(archive.length).toBeGreaterThan(45_000_000);
    // The archive arrives in slices; before each, the clock moves past the progress interval, so the
    // first read of what follows may report. What pg_restore is doing is asked the moment a report arrives.
    const SLICES = 8;
    const size = Math.ceil(archive.length / SLICES);
    const seen: Array<RestoreProgress & { copying: string }> = [];
    let reported: (() => void) | null = null;
    const copyingNow = () => pg.psql(`SELECT relid::regclass || ' ' || command || ' ' || type FROM pg_stat_progress_copy WHERE datname = 'bulk copy'`, 'bulk copy').trim();
    const feed = new PassThrough();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const done = connector().restore('bulk copy', feed, 'logical', {
        totalBytes: archive.length,
        onProgress: (p) => {
          seen.push({ ...p, copying: p.done < archive.length ? copyingNow() : '' });
          reported?.();
        },
      });
      done.catch(() => undefined);
      for (let i = 0; i < SLICES; i++) {
        vi.setSystemTime(Date.now() + 1000);
        const next = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no progress reported after slice ${i} of the archive (seen: ${JSON.stringify(seen)})`)), 15_000);
          reported = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        feed.write(archive.subarray(i * size, (i + 1) * size));
        if (i === SLICES - 1) feed.end();
        await Promise.race([next, done.then(() => undefined)]);
        reported = null;
      }
      await done;
    } finally {
      vi.useRealTimers();
      feed.destroy();
    }
    try {
      expect(seen.every((p) => p.unit === 'bytes' && p.total === archive.length)).toBe(true);
      expect(seen.map((p) => p.done)).toEqual([...seen.map((p) => p.done)].sort((a, b) => a - b));
      // Reports that arrived while the one table's data was loading, each further along.
      const duringCopy = seen.filter((p) => p.done > 0 && p.done < archive.length && p.copying === 'big COPY FROM PIPE');
      expect(duringCopy.length).toBeGreaterThanOrEqual(SLICES - 3);
      expect(new Set(duringCopy.map((p) => p.done)).size).toBe(duringCopy.length);
      expect(seen.at(-1)).toMatchObject({ done: archive.length, total: archive.length });
      expect(pg.psql('SELECT count(*), sum(length(pad)) FROM big', 'bulk copy').trim()).toBe('100000|48000000');
    } finally {
      pg.psql('DROP DATABASE "bulk copy"; DROP DATABASE bulk');
    }
  });
});

describe('errors leave nothing half-done', () => {
  test('dumping a database that does not exist: DATABASE_NOT_FOUND; the stream errors instead of ending', async () => {
    const dump = await connector().openDump('no_such_db', 'logical');
    let ended = false;
    dump.stream.on('end', () => (ended = true));
    const streamError = await rejection(pipeline(dump.stream, createWriteStream(join(tempDir(), 'x'))));
    const e = await rejection(dump.done);
    expect(e.code).toBe('DATABASE_NOT_FOUND');
    expect(e.message).toContain('Database "no_such_db" does not exist');
    expect(streamError.code).toBe('DATABASE_NOT_FOUND');
    expect(ended).toBe(false);
  });

  test('database dropped mid-backup: DATABASE_NOT_FOUND, the partial stream never ends cleanly', async () => {
    pg.psql('CREATE DATABASE doomed TEMPLATE pagila');
    const dump = await connector().openDump('doomed', 'logical');
    // Read the first bytes, then stall so pg_dump blocks on the pipe mid-dump.
    const first = await new Promise<Buffer>((resolve) => dump.stream.once('data', (d: Buffer) => resolve(d)));
    dump.stream.pause();
    expect(first.subarray(0, 5).toString()).toBe('PGDMP');
    pg.psql('DROP DATABASE doomed WITH (FORCE)');
    let ended = false;
    dump.stream.on('end', () => (ended = true));
    dump.stream.resume();
    const e = await rejection(dump.done);
    expect(e.code).toBe('DATABASE_NOT_FOUND');
    expect(e.message).toBe('Database "doomed" was dropped while it was being backed up; the partial dump was discarded.');
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toBe(false);
    expect(dump.stream.destroyed).toBe(true);
  });

  test('restore into an existing name: DATABASE_EXISTS, the existing database untouched', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'chinook', tempDir());
    const before = pgContentFingerprint(pg, 'pagila');
    const e = await rejection(c.restore('pagila', createReadStream(file), 'logical'));
    expect(e.code).toBe('DATABASE_EXISTS');
    expect(e.message).toMatch(/already exists/);
    expect(pgContentFingerprint(pg, 'pagila')).toEqual(before);
  });

  test('pg_restore failure (truncated archive): RESTORE_FAILED and the new database is dropped', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'pagila', tempDir());
    const bytes = readFileSync(file);
    const truncated = bytes.subarray(0, Math.floor(bytes.length / 2));
    const e = await rejection(c.restore('half_restored', Readable.from([truncated]), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/restoring into database "half_restored"/);
    expect(databaseExists('half_restored')).toBe(false);
  });

  test('a failing source stream: RESTORE_FAILED and the new database is dropped', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'chinook', tempDir());
    const head = readFileSync(file).subarray(0, 64 * 1024);
    async function* broken(): AsyncGenerator<Buffer> {
      yield head;
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('storage went away');
    }
    const e = await rejection(c.restore('broken_source', Readable.from(broken()), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain('storage went away');
    expect(databaseExists('broken_source')).toBe(false);
  });

  test('canceling a restore: CANCELED and the new database is dropped', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'pagila', tempDir());
    const ac = new AbortController();
    const restoring = c.restore('canceled_restore', createReadStream(file), 'logical', {
      signal: ac.signal,
      onProgress: (p) => p.done > 0 && ac.abort(),
    });
    const e = await rejection(restoring);
    expect(e.code).toBe('CANCELED');
    expect(databaseExists('canceled_restore')).toBe(false);
  });

  test('canceling while CREATE DATABASE waits on the server: the database the server still creates is dropped', async () => {
    const c = connector();
    const file = await dumpToFile(c, 'chinook', tempDir());
    // A session holding a lock CREATE DATABASE … TEMPLATE template0 waits for (COMMENT ON DATABASE
    // takes ShareUpdateExclusiveLock on it) keeps the statement running on the server while the
    // restore is canceled; a killed client would not stop it, so the database appears afterwards.
    const holder = spawn(join(PG_BIN, 'psql'), ['-X', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', "BEGIN; COMMENT ON DATABASE template0 IS 'held by a test'; SELECT pg_sleep(60); ROLLBACK;"], {
      env: { ...process.env, PGPASSWORD: pg.password },
      stdio: 'ignore',
    });
    const released = new Promise((resolve) => holder.on('close', resolve));
    await waitFor('the lock to be held', () => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%held by a test%' AND state = 'active' AND pid <> pg_backend_pid()`).trim() === '1');
    const ac = new AbortController();
    const restoring = rejection(c.restore('canceled_at_create', createReadStream(file), 'logical', { signal: ac.signal }));
    await waitFor('CREATE DATABASE to wait on the lock', () => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%CREATE DATABASE%canceled_at_create%' AND wait_event_type = 'Lock'`).trim() === '1');
    ac.abort();
    // The restore's client is gone by now; the statement still waits. Release the lock: it completes.
    await new Promise((r) => setTimeout(r, 300));
    pg.psql(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%held by a test%' AND pid <> pg_backend_pid()`);
    await released;
    const e = await restoring;
    // However the restore ended, the statement has ended on the server before the check.
    await waitFor('CREATE DATABASE to end on the server', () => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%CREATE DATABASE%canceled_at_create%' AND pid <> pg_backend_pid()`).trim() === '0');
    expect(e.code).toBe('CANCELED');
    expect(databaseExists('canceled_at_create')).toBe(false);
  });

  test('abort: the dump child is killed and the result is CANCELED', async () => {
    const ac = new AbortController();
    const dump = await connector().openDump('pagila', 'logical', { signal: ac.signal });
    await new Promise<void>((resolve) => dump.stream.once('data', () => resolve()));
    dump.stream.pause();
    ac.abort();
    const e = await rejection(dump.done);
    expect(e.code).toBe('CANCELED');
    expect(dump.stream.destroyed).toBe(true);
  });
});

describe('snapshot (cluster-wide base backup)', () => {
  test('base.tar restores into a new data directory that starts and holds the same data', async () => {
    const c = connector();
    expect(c.support('snapshot')).toEqual({ available: true, scope: 'server' });
    expect(c.serverStreams('snapshot').map((s) => s.name)).toEqual(['base.tar']);
    await expect(c.openDump('pagila', 'snapshot')).rejects.toMatchObject({ code: 'VALIDATION' });
    const root = tempDir();
    if (pg.osUser) chownTree(root, pg.osUser);
    const dump = await c.openServerDump('base.tar');
    const target = join(root, 'restored-cluster');
    const owner = pg.osUser ? { name: 'postgres', ...pg.osUser } : null;
    const report = await restoreBaseBackup(dump.stream, target, { toolPaths: { postgres: PG_BIN }, owner });
    await dump.done;
    expect(report.verified).toBe(true);
    expect(report.files).toBeGreaterThan(500);
    // Startable as is: 0700 and, as root, the server's OS user's (every file, not only the folder).
    expect(statSync(target).mode & 0o777).toBe(0o700);
    if (owner) expect([statSync(target).uid, statSync(join(target, 'global', 'pg_control')).uid]).toEqual([owner.uid, owner.uid]);
    const cluster = await startDataDirectory(target, { user: pg.user, password: pg.password, toolPaths: { postgres: PG_BIN } });
    try {
      expect(cluster.databases).toEqual(expect.arrayContaining(['pagila', 'chinook', 'postgres']));
      const restored = connectorFor(server({ port: cluster.port }), { password: pg.password, toolPaths: { postgres: PG_BIN } });
      expect(await restored.listDatabases()).toEqual(await c.listDatabases());
    } finally {
      await cluster.stop();
    }
  });

  test('restoring a snapshot never writes into a non-empty folder', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'busy'));
    writeFileSync(join(root, 'busy', 'keep.txt'), 'precious');
    const e = await rejection(restoreBaseBackup(Readable.from([Buffer.alloc(1024)]), join(root, 'busy')));
    expect(e.code).toBe('DATABASE_EXISTS');
    expect(readFileSync(join(root, 'busy', 'keep.txt'), 'utf8')).toBe('precious');
  });

  test('a truncated base backup: RESTORE_FAILED and the new folder is removed', async () => {
    const dump = await connector().openServerDump('base.tar');
    const chunks: Buffer[] = [];
    for await (const chunk of dump.stream) chunks.push(chunk as Buffer);
    await dump.done;
    const whole = Buffer.concat(chunks);
    const target = join(tempDir(), 'cut');
    const e = await rejection(restoreBaseBackup(Readable.from([whole.subarray(0, Math.floor(whole.length / 3))]), target));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(() => readFileSync(join(target, 'PG_VERSION'))).toThrow();
  });
});
