/**
 * The `backstop` commands for a PostgreSQL task's server-level folder (`<root>/~server`),
 * end to end against real PostgreSQL 15 servers: a cluster snapshot restores into a new
 * data directory (both location forms) that belongs to the server's OS user, has mode
 * 0700, and starts with exactly the command the notes print; options that name a database
 * or server are refused; a non-empty folder is never written into. A source whose
 * configuration lives outside its data directory (Debian) restores startable too.
 */
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { chownTree, unprivilegedUser } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { cli } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const PASSWORD_ENV = 'BACKSTOP_TEST_PG_PASSWORD';
const osUser = unprivilegedUser('postgres');
let pg: PgServer;
let debian: PgServer;

/** Backs up `server` with a task of `type`; returns the task's destination root and data dir. */
async function backUp(server: PgServer, type: 'snapshot' | 'logical', into?: { root: string; dataDir: string; excludeDatabases: string[] }): Promise<{ root: string; dataDir: string }> {
  const root = into?.root ?? tempDir();
  const dataDir = into?.dataDir ?? tempDir();
  const task = join(tempDir(), 'task.json');
  writeFileSync(
    task,
    JSON.stringify({
      name: 'pg',
      server: { kind: 'postgres', host: server.host, port: server.port, user: server.user, passwordEnv: PASSWORD_ENV, tls: 'disable' },
      type,
      schedule: { full: '0 2 * * *' },
      destinations: [{ kind: 'local', path: root }],
      excludeDatabases: into?.excludeDatabases ?? [],
      tools: { binDir: PG_BIN },
    }),
  );
  process.env[PASSWORD_ENV] = server.password;
  const r = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
  expect(r.code, r.out).toBe(0);
  return { root, dataDir };
}

/** A folder the server's OS user can enter, for restored data directories. */
function reachableParent(): string {
  const dir = tempDir();
  if (osUser) chownTree(dir, osUser);
  return dir;
}

function step(notes: string[], label: string): string {
  const line = notes.find((n) => n.startsWith(`${label}: `));
  expect(line, `a "${label}:" note in ${JSON.stringify(notes)}`).toBeDefined();
  return line!.slice(label.length + 2);
}

/** Starts the restored cluster with the printed command, runs `sql` through the printed psql, stops it. */
function startQueryStop(notes: string[], database: string, sql: string): string {
  const start = step(notes, 'Start it');
  const stop = step(notes, 'Stop it');
  const connect = step(notes, 'Connect').replace(/ \(as a role.*$/, '').replace(/-d postgres$/, `-d ${database}`);
  try {
    execSync(start, { cwd: '/tmp', stdio: 'pipe' });
    return execSync(`${connect} -X -A -t -c "${sql}"`, { cwd: '/tmp', encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } finally {
    try {
      execSync(stop, { cwd: '/tmp', stdio: 'pipe' });
    } catch {
      /* it did not start */
    }
  }
}

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE shop');
  pg.psql("CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 250) g", 'shop');
  debian = await startPostgres({ configOutsideDataDir: true });
  debian.psql('CREATE DATABASE books');
  debian.psql("CREATE TABLE title (name text); INSERT INTO title VALUES ('Dune'), ('Emma')", 'books');
});

afterAll(async () => {
  delete process.env[PASSWORD_ENV];
  await pg?.stop();
  await debian?.stop();
});

describe('restore of a PostgreSQL cluster snapshot', () => {
  it('restores <root>/~server into a new data directory owned by the server user (0700) that starts with the printed command', async () => {
    const { root, dataDir } = await backUp(pg, 'snapshot');
    const points = await cli('points', join(root, SERVER_FOLDER), '--data-dir', dataDir, '--json');
    expect(points.code, points.out).toBe(0);
    expect(JSON.parse(points.out)).toEqual([expect.objectContaining({ kind: 'full', type: 'snapshot' })]);

    const target = join(reachableParent(), 'restored');
    const r = await cli('restore', join(root, SERVER_FOLDER), '--point', 'latest', '--folder', target, '--data-dir', dataDir, '--json');
    expect(r.code, r.out).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc).toEqual({ database: null, path: target, notes: expect.any(Array) });
    const st = statSync(target);
    expect(st.mode & 0o777).toBe(0o700);
    if (osUser) {
      expect([st.uid, st.gid]).toEqual([osUser.uid, osUser.gid]);
      expect(statSync(join(target, 'base')).uid).toBe(osUser.uid);
      expect(doc.notes).toContain('The data directory belongs to the OS user "postgres" and has mode 0700.');
      expect(step(doc.notes, 'Start it')).toMatch(/^runuser -u postgres -- \/\S*\/pg_ctl -D \S+ -o "-p \d+ -k \/tmp" -l \S+ start$/);
    }
    expect(doc.notes[0]).toContain('PostgreSQL 15 cluster (PG_VERSION 15)');
    expect(doc.notes.join('\n')).toMatch(/must not share a port with a running server/);
    expect(startQueryStop(doc.notes, 'shop', 'SELECT count(*) FROM orders')).toBe('250');

    // The text output prints the same notes.
    const text = await cli('restore', join(root, SERVER_FOLDER, 'base.tar'), '--point', 'latest', '--folder', join(reachableParent(), 'again'), '--data-dir', dataDir);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^Restored the cluster into .*again\.\nnote: Restored a PostgreSQL 15 cluster/);
    expect(text.out).toContain('note: Start it: ');
  });

  it('restores the stream folder <root>/~server/base.tar too, and says when the server user cannot reach the folder', async () => {
    const { root, dataDir } = await backUp(pg, 'snapshot');
    const parent = tempDir(); // 0700 root's: the postgres OS user cannot enter it
    const target = join(parent, 'cluster');
    const r = await cli('restore', join(root, SERVER_FOLDER, 'base.tar'), '--point', 'latest', '--folder', target, '--data-dir', dataDir, '--json');
    expect(r.code, r.out).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.path).toBe(target);
    expect(existsSync(join(target, 'PG_VERSION'))).toBe(true);
    if (osUser) expect(doc.notes.join('\n')).toContain(`The OS user "postgres" cannot enter ${parent}`);
  });

  it('refuses --database and --server for a cluster snapshot, and a missing --folder, writing nothing', async () => {
    const { root, dataDir } = await backUp(pg, 'snapshot');
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: PASSWORD_ENV, tls: 'disable' }));
    const parent = tempDir();
    const target = join(parent, 'never');
    for (const extra of [['--database', 'copy'], ['--server', serverFile], ['--server', serverFile, '--database', 'copy']]) {
      const r = await cli('restore', join(root, SERVER_FOLDER), '--point', 'latest', '--folder', target, ...extra, '--data-dir', dataDir, '--json');
      expect(r.code).toBe(2);
      expect(JSON.parse(r.out).error).toEqual({
        code: 'MALFORMED_REQUEST',
        message:
          'A cluster snapshot restores the whole cluster into a new data directory: use --folder DIR, or take one database out of it with --source-database NAME --server server.json --database NEW. Run "backstop --help".',
      });
    }
    const noFolder = await cli('restore', join(root, SERVER_FOLDER, 'base.tar'), '--point', 'latest', '--data-dir', dataDir, '--json');
    expect(noFolder.code).toBe(2);
    expect(JSON.parse(noFolder.out).error).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('restore needs --folder DIR') });
    const badUser = await cli('restore', join(root, SERVER_FOLDER), '--point', 'latest', '--folder', target, '--os-user', 'no-such-user-here', '--data-dir', dataDir, '--json');
    expect(badUser.code).toBe(1);
    expect(JSON.parse(badUser.out).error).toEqual({
      code: 'VALIDATION',
      message: 'There is no OS user "no-such-user-here" on this machine to own the restored data directory; give an existing user with --os-user (the one your PostgreSQL server runs as).',
    });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('never writes into a non-empty --folder', async () => {
    const { root, dataDir } = await backUp(pg, 'snapshot');
    const busy = tempDir();
    writeFileSync(join(busy, 'keep.txt'), 'precious');
    mkdirSync(join(busy, 'sub'));
    const r = await cli('restore', join(root, SERVER_FOLDER), '--point', 'latest', '--folder', busy, '--data-dir', dataDir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error).toEqual({ code: 'DATABASE_EXISTS', message: `"${busy}" already exists and is not an empty folder; choose a new folder for the restored cluster.` });
    expect(readdirSync(busy).sort()).toEqual(['keep.txt', 'sub']);
    expect(readdirSync(join(busy, 'sub'))).toEqual([]);
    expect(readFileSync(join(busy, 'keep.txt'), 'utf8')).toBe('precious');
  });

  it('a source that keeps its configuration outside the data directory (Debian) restores startable: Backstop writes the missing files and says so', async () => {
    const { root, dataDir } = await backUp(debian, 'snapshot');
    const target = join(reachableParent(), 'from-debian');
    const r = await cli('restore', join(root, SERVER_FOLDER), '--point', 'latest', '--folder', target, '--data-dir', dataDir, '--json');
    expect(r.code, r.out).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.notes.join('\n')).toContain('The backup held no postgresql.conf, pg_hba.conf, pg_ident.conf');
    expect(readFileSync(join(target, 'postgresql.conf'), 'utf8')).toContain('Written by Backstop');
    if (osUser) expect(statSync(join(target, 'pg_hba.conf')).uid).toBe(osUser.uid);
    expect(startQueryStop(doc.notes, 'books', 'SELECT string_agg(name, \',\' ORDER BY name) FROM title')).toBe('Dune,Emma');
  });

  it('points on a server folder with two streams names both', async () => {
    const snap = await backUp(pg, 'snapshot');
    // A logical run of the same server into the same root adds globals.sql next to base.tar.
    await backUp(pg, 'logical', { ...snap, excludeDatabases: ['shop', 'postgres'] });
    const folder = join(snap.root, SERVER_FOLDER);
    const r = await cli('points', folder, '--data-dir', snap.dataDir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error).toEqual({
      code: 'NOT_A_BACKUP',
      message: `${folder} is a task's server-level folder; it holds ${join(folder, 'base.tar')} (the PostgreSQL cluster snapshot), ${join(folder, 'globals.sql')} (the PostgreSQL roles and tablespaces). Choose one of them.`,
    });
    // restore knows which one it needs.
    const target = join(reachableParent(), 'picked');
    const restore = await cli('restore', folder, '--point', 'latest', '--folder', target, '--data-dir', snap.dataDir, '--json');
    expect(restore.code, restore.out).toBe(0);
    expect(execFileSync('cat', [join(target, 'PG_VERSION')], { encoding: 'utf8' }).trim()).toBe('15');
  });
});
