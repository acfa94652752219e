/**
 * `backstop apply-globals` against two real PostgreSQL 15 servers: roles (login with a
 * password, nologin, membership, a role setting, a comment) and a tablespace are backed up
 * by a logical task (globals.sql in `<root>/~server`) and applied to a fresh server, which
 * then has the same roles, attributes, memberships and settings; the connecting role is
 * skipped and reported; an existing role is left alone unless --alter-existing (and never
 * gets the source's password); a dry run changes nothing; a failing object is reported
 * while the rest are applied.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { applyGlobals } from '../../../electron/engine/servers/postgres/apply-globals.ts';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { cli } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data } from '../../fixtures/runs.ts';

const PASSWORD_ENV = 'BACKSTOP_TEST_GLOBALS_PASSWORD';
let source: PgServer;
let root: string;
let dataDir: string;
let tablespaceDir: string;
let scratch: string;

function serverFile(pg: PgServer): string {
  const file = join(tempDir(), 'server.json');
  writeFileSync(file, JSON.stringify({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: PASSWORD_ENV, tls: 'disable' }));
  return file;
}

/** Role attributes, settings, comment and memberships as comparable text. */
function roles(pg: PgServer, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    out[n] = pg
      .psql(
        `SELECT concat_ws(' | ', r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil,
           array_to_string(r.rolconfig, ','), shobj_description(r.oid, 'pg_authid'),
           (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid))
         FROM pg_roles r WHERE r.rolname = '${n}'`,
      )
      .trim();
  }
  return out;
}

function passwordHash(pg: PgServer, role: string): string {
  return pg.psql(`SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`).trim();
}

beforeAll(async () => {
  source = await startPostgres();
  source.psql(`CREATE ROLE app_owner NOLOGIN`);
  source.psql(`CREATE ROLE web LOGIN PASSWORD 'web-pw' CONNECTION LIMIT 7 VALID UNTIL '2031-01-01 00:00:00+00'`);
  source.psql(`CREATE ROLE "Report Reader" LOGIN PASSWORD 'rr-pw' CREATEDB`);
  source.psql(`GRANT app_owner TO web`);
  source.psql(`GRANT app_owner TO "Report Reader" WITH ADMIN OPTION`);
  source.psql(`ALTER ROLE web SET work_mem TO '64MB'`);
  source.psql(`ALTER ROLE web SET search_path TO app, public`);
  source.psql(`COMMENT ON ROLE web IS 'the web app''s login; $1 and "quotes"'`);
  scratch = mkdtempSync(join(tmpdir(), 'backstop-globals-'));
  tablespaceDir = join(scratch, 'ts');
  mkdirSync(tablespaceDir);
  if (source.osUser) chownTree(scratch, source.osUser);
  source.psql(`CREATE TABLESPACE fast OWNER app_owner LOCATION '${tablespaceDir}'`);
  root = join(scratch, 'backups');
  dataDir = join(scratch, 'data');
  const task = join(scratch, 'task.json');
  writeFileSync(
    task,
    JSON.stringify({
      name: 'pg',
      server: { kind: 'postgres', host: source.host, port: source.port, user: source.user, passwordEnv: PASSWORD_ENV, tls: 'disable' },
      type: 'logical',
      schedule: { full: '0 2 * * *' },
      destinations: [{ kind: 'local', path: root }],
      excludeDatabases: ['postgres'],
      tools: { binDir: PG_BIN },
    }),
  );
  process.env[PASSWORD_ENV] = source.password;
  const r = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
  expect(r.code, r.out).toBe(0);
});

afterAll(async () => {
  delete process.env[PASSWORD_ENV];
  await source?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('backstop apply-globals', () => {
  it('creates the roles, settings and memberships on a fresh server; the connecting role and a tablespace whose folder is in use are reported', async () => {
    const target = await startPostgres();
    try {
      const file = serverFile(target);
      const dry = await cli('apply-globals', join(root, SERVER_FOLDER), '--server', file, '--dry-run', '--data-dir', dataDir, '--json');
      expect(dry.code, dry.out).toBe(0);
      const plan = JSON.parse(dry.out);
      expect({ ...plan, created: [...plan.created].sort() }).toEqual({
        dryRun: true,
        created: ['role app_owner', 'role Report Reader', 'role web', 'tablespace fast', 'membership app_owner to Report Reader', 'membership app_owner to web'].sort(),
        skipped: ['role postgres'],
        altered: [],
        failed: [],
      });
      expect(target.psql(`SELECT count(*) FROM pg_roles WHERE rolname IN ('web', 'app_owner', 'Report Reader')`).trim()).toBe('0');

      const r = await cli('apply-globals', join(root, SERVER_FOLDER, 'globals.sql'), '--server', file, '--point', 'latest', '--data-dir', dataDir, '--json');
      const doc = JSON.parse(r.out);
      expect(doc.skipped).toEqual(['role postgres']);
      expect(doc.created.sort()).toEqual(['membership app_owner to Report Reader', 'membership app_owner to web', 'role Report Reader', 'role app_owner', 'role web'].sort());
      // The source's tablespace folder is in use by the source (same machine): the failure is the server's, reported, and the rest applied.
      expect(doc.failed).toEqual([{ name: 'tablespace fast', message: expect.stringMatching(/already in use as a tablespace|directory/) }]);
      expect(r.code).toBe(1);
      expect(roles(target, ['web', 'app_owner', 'Report Reader'])).toEqual(roles(source, ['web', 'app_owner', 'Report Reader']));
      expect(roles(target, ['web']).web).toContain('work_mem=64MB,search_path=app, public');
      expect(passwordHash(target, 'web')).toBe(passwordHash(source, 'web'));
      expect(target.psql(`SELECT admin_option FROM pg_auth_members WHERE roleid = 'app_owner'::regrole AND member = '"Report Reader"'::regrole`).trim()).toBe('t');
      expect(r.out).not.toMatch(/SCRAM-SHA-256/);

      // Applying again: everything exists now.
      const again = JSON.parse((await cli('apply-globals', join(root, SERVER_FOLDER), '--server', file, '--data-dir', dataDir, '--json')).out);
      expect(again.created).toEqual([]);
      expect(again.skipped).toEqual(expect.arrayContaining(['role web', 'role app_owner', 'membership app_owner to web']));
    } finally {
      await target.stop();
    }
  });

  it('leaves an existing role unchanged without --alter-existing, changes it with it (never its password)', async () => {
    const target = await startPostgres();
    try {
      target.psql(`CREATE ROLE web NOLOGIN CONNECTION LIMIT 1 PASSWORD 'target-pw'`);
      const before = roles(target, ['web']);
      const hash = passwordHash(target, 'web');
      const file = serverFile(target);
      const plain = await cli('apply-globals', join(root, SERVER_FOLDER), '--server', file, '--data-dir', dataDir);
      expect(plain.out).toMatch(/skipped {6}role web — exists on the target; left unchanged \(--alter-existing changes it\)/);
      expect(plain.out).toMatch(/skipped {6}membership app_owner to web — role web exists on the target and is left unchanged/);
      expect(roles(target, ['web'])).toEqual(before);

      const dry = JSON.parse((await cli('apply-globals', join(root, SERVER_FOLDER), '--server', file, '--alter-existing', '--dry-run', '--data-dir', dataDir, '--json')).out);
      // The first run created the other two roles, so they exist now as well.
      expect(dry.altered.sort()).toEqual(['role Report Reader', 'role app_owner', 'role web']);
      expect(roles(target, ['web'])).toEqual(before);

      const alter = JSON.parse((await cli('apply-globals', join(root, SERVER_FOLDER), '--server', file, '--alter-existing', '--data-dir', dataDir, '--json')).out);
      expect(alter.altered.sort()).toEqual(['role Report Reader', 'role app_owner', 'role web']);
      expect(alter.created).toEqual(['membership app_owner to web']);
      expect(roles(target, ['web'])).toEqual(roles(source, ['web']));
      expect(passwordHash(target, 'web')).toBe(hash);
    } finally {
      await target.stop();
    }
  });

  it("from the window's contract (restore.applyGlobals): a preview changes nothing; applying creates the roles; an existing role changes only with alterExisting", async () => {
    const target = await startPostgres();
    try {
      target.psql(`CREATE ROLE web NOLOGIN CONNECTION LIMIT 1`);
      const engine = await testEngine({ encoderWorkers: 0 });
      data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
      const srv = data(await engine.call('servers.create', { kind: 'postgres', name: 'target', host: target.host, port: target.port, user: target.user, password: target.password, tls: 'disable' }));
      const location = { kind: 'local' as const, path: join(root, SERVER_FOLDER, 'globals.sql') };
      const before = roles(target, ['web']);
      const preview = data(await engine.call('restore.applyGlobals', { location, serverId: srv.id }));
      expect(preview.dryRun).toBe(true);
      expect(preview.objects.find((o) => o.name === 'role web')).toMatchObject({ action: 'skipped' });
      expect(preview.objects.find((o) => o.name === 'role app_owner')).toMatchObject({ action: 'created' });
      expect(target.psql(`SELECT count(*) FROM pg_roles WHERE rolname IN ('app_owner', 'Report Reader')`).trim()).toBe('0');

      const applied = data(await engine.call('restore.applyGlobals', { location, serverId: srv.id, dryRun: false }));
      expect(applied.objects.filter((o) => o.kind === 'role' && o.action === 'created').map((o) => o.name).sort()).toEqual(['role Report Reader', 'role app_owner']);
      expect(roles(target, ['app_owner', 'Report Reader'])).toEqual(roles(source, ['app_owner', 'Report Reader']));
      expect(roles(target, ['web'])).toEqual(before);

      const altered = data(await engine.call('restore.applyGlobals', { location, serverId: srv.id, dryRun: false, alterExisting: true }));
      expect(altered.objects.find((o) => o.name === 'role web')).toMatchObject({ action: 'altered' });
      expect(roles(target, ['web'])).toEqual(roles(source, ['web']));
    } finally {
      await target.stop();
    }
  });

  it('refuses a location that is not the globals, naming the command to use for the other', async () => {
    const target = await startPostgres();
    try {
      const r = await cli('apply-globals', root, '--server', serverFile(target), '--data-dir', dataDir, '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out).error.code).toBe('NOT_A_BACKUP');
      const restore = await cli('restore', join(root, SERVER_FOLDER, 'globals.sql'), '--point', 'latest', '--server', serverFile(target), '--database', 'x', '--data-dir', dataDir, '--json');
      expect(JSON.parse(restore.out).error).toEqual({
        code: 'VALIDATION',
        message: 'This folder holds server-wide globals (roles, tablespaces), not a database. Apply them to a server with `backstop apply-globals <this folder> --server server.json` (it skips roles the server already has).',
      });
      expect(target.psql(`SELECT count(*) FROM pg_database WHERE datname = 'x'`).trim()).toBe('0');
    } finally {
      await target.stop();
    }
  });

  it('a role whose statements fail is reported with the server message and leaves nothing behind; the rest are applied', async () => {
    const target = await startPostgres();
    try {
      const conn = new PgConnection({ kind: 'postgres', host: target.host, port: target.port, user: target.user, tls: 'disable' }, target.password, { binDir: PG_BIN });
      const sql = [
        'SET standard_conforming_strings = on;',
        'CREATE ROLE broken;',
        "ALTER ROLE broken WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c2VjcmV0:aGFzaA==';",
        "ALTER ROLE broken SET no_such_parameter TO 'x';",
        'CREATE ROLE fine;',
        'ALTER ROLE fine WITH NOLOGIN;',
        'GRANT fine TO broken;',
        "CREATE TABLESPACE nowhere LOCATION '/nonexistent/backstop-ts';",
      ].join('\n');
      const report = await applyGlobals(conn, sql);
      expect(report.objects).toEqual([
        { kind: 'role', name: 'role broken', action: 'failed', message: 'unrecognized configuration parameter "no_such_parameter"' },
        { kind: 'role', name: 'role fine', action: 'created', message: null },
        { kind: 'tablespace', name: 'tablespace nowhere', action: 'failed', message: expect.stringContaining('the LOCATION folder must exist on the target server') },
        { kind: 'membership', name: 'membership fine to broken', action: 'failed', message: 'role broken could not be created' },
      ]);
      expect(report.objects[2]!.message).toContain('/nonexistent/backstop-ts');
      expect(JSON.stringify(report)).not.toContain('c2VjcmV0');
      expect(target.psql(`SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('broken', 'fine')`).trim()).toBe('fine');
      expect(target.psql(`SELECT count(*) FROM pg_tablespace WHERE spcname = 'nowhere'`).trim()).toBe('0');
    } finally {
      await target.stop();
    }
  });
});
