/**
 * `backstop restore` of a PostgreSQL database onto a server that lacks its roles: the
 * ROLE_MISSING message names the flags; --map-role is validated (exit 2); --create-roles,
 * --map-role and --no-owner/--no-privileges restore, and their notes are printed (text) or
 * returned in the one JSON document (--json).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../electron/cli/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let source: PgServer;
let target: PgServer;
let dir: string;
let location: string;
let dataDir: string;
let targetFile: string;

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--data-dir', dataDir], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const exists = (pg: PgServer, db: string) => pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${db}'`).trim() === '1';

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres(), startPostgres()]);
  source.psql(`CREATE ROLE web LOGIN; CREATE DATABASE shop OWNER web; ALTER DATABASE shop SET search_path = app, public; REVOKE CONNECT ON DATABASE shop FROM PUBLIC;`);
  source.psql('CREATE SCHEMA app AUTHORIZATION web; CREATE TABLE app.orders (id int); INSERT INTO app.orders VALUES (7); ALTER TABLE app.orders OWNER TO web;', 'shop');
  dir = mkdtempSync(join(tmpdir(), 'backstop-cli-pg-'));
  dataDir = join(dir, 'data');
  process.env.BACKSTOP_TEST_PG_PASSWORD = source.password;
  const server = (pg: PgServer) => ({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD', tls: 'disable' });
  const task = join(dir, 'task.json');
  writeFileSync(
    task,
    JSON.stringify({ name: 'pg', server: server(source), type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } }),
  );
  targetFile = join(dir, 'target.json');
  writeFileSync(targetFile, JSON.stringify(server(target)));
  const backup = await cli('backup', '--config', task, '--json');
  expect(JSON.parse(backup.out).status).toBe('success');
  location = join(dir, 'backups', encodeDatabaseFolder('shop'));
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const restore = (...extra: string[]) => cli('restore', location, '--point', 'latest', '--server', targetFile, ...extra);

describe('backstop restore: roles the target lacks', () => {
  it('fails with ROLE_MISSING naming the role and the flags; nothing is created', async () => {
    const r = await restore('--database', 'shop');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^backstop: ROLE_MISSING: The backup names a role that the PostgreSQL server 127\.0\.0\.1:\d+ lacks: role "web" \(owner of the database; owner of SCHEMA app; owner of TABLE app\.orders\)\./);
    expect(r.err).toContain('On the command line: --create-roles, --map-role OLD=NEW (repeatable), --no-owner, --no-privileges.');
    expect(exists(target, 'shop')).toBe(false);
  });

  it('rejects a malformed --map-role with exit 2 (MALFORMED_REQUEST)', async () => {
    for (const bad of ['web', '=x', 'web=']) {
      const r = await restore('--database', 'shop', '--map-role', bad, '--json');
      expect(r.code).toBe(2);
      expect(JSON.parse(r.out)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: `--map-role "${bad}" must look like OLD=NEW (a role named by the backup = a role on the target server). Run "backstop --help".` } });
    }
    const twice = await restore('--database', 'shop', '--map-role', 'web=a', '--map-role', 'web=b');
    expect(twice.code).toBe(2);
    expect(twice.err).toContain('--map-role names role "web" twice.');
  });

  it('--no-owner prints the note; --json --create-roles returns one document with the notes', { timeout: 300_000 }, async () => {
    const text = await restore('--database', 'shop_a', '--no-owner');
    expect(text.code).toBe(0);
    expect(text.out).toBe('Restored into shop_a.\nnote: Ownership not restored: the database and every object in it belong to "postgres".');
    expect(target.psql('SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = \'shop_a\'').trim()).toBe('postgres');

    const json = await restore('--database', 'shop_b', '--create-roles', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ database: 'shop_b', path: null, notes: ['Created role "web" (NOLOGIN, no privileges): give it LOGIN and a password before using it.'] });
    expect(target.psql('SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = \'shop_b\'').trim()).toBe('web');

    target.psql('CREATE ROLE shop_owner');
    const mapped = await restore('--database', 'shop_c', '--map-role', 'web=shop_owner');
    expect(mapped.code).toBe(0);
    expect(mapped.out).toContain('note: Role "web" of the backup was mapped to "shop_owner".');
    expect(target.psql(`SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'orders'`, 'shop_c').trim()).toBe('shop_owner');
    expect(target.psql('SELECT id FROM orders', 'shop_c').trim()).toBe('7');
  });
});

describe('backstop restore: errors name the server file keys to change', () => {
  it('an unreachable target says which keys of the server file to check, not "the server settings"', async () => {
    const down = join(dir, 'down.json');
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    writeFileSync(down, JSON.stringify({ kind: 'postgres', host: '127.0.0.1', port: 1, user: 'postgres', passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD', tls: 'disable' }));
    const r = await cli('restore', location, '--point', 'latest', '--server', down, '--database', 'shop_down', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('UNREACHABLE');
    expect(doc.error.message).toContain(`\`host\`/\`port\` in ${down}`);
    expect(doc.error.message).not.toMatch(/server settings/i);
  });
});
