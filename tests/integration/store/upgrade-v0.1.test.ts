/**
 * Upgrading from the first release (0.1.0, commit 6e40d49): what that release really wrote
 * (tests/fixtures/upgrade-v0.1 — its app database with six stored tasks, a key and History, a
 * task file run by its CLI, and format-1 backup folders of a tiny PostgreSQL, MariaDB and SQLite
 * database, encrypted and not; see its README) copied back to the paths it was made at and opened
 * by this Backstop against real servers: the app database migrates with every task, run and key;
 * every point verifies and restores with its rows and database-level properties (an old MariaDB
 * dump, which did not record the database's character set, says so instead of silently taking
 * the server's defaults, and a MariaDB incremental's re-dump names the earlier Backstop as a reason
 * its old dump has no log position); the key exports; the tasks run on (the SQLite ones as incrementals of
 * the old chains in their old folders; a full upgrades the folder to format 2 and the old points
 * still restore); and a folder whose format is newer than this Backstop knows is refused by
 * every command and by a backup with FORMAT_TOO_NEW, nothing in it changed.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logCoverage } from '../../../electron/engine/backup/log-coverage.ts';
import { prepareDestination } from '../../../electron/engine/backup/prepare-destination.ts';
import { createEngine } from '../../../electron/engine/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/local-backend.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import { MIGRATIONS } from '../../../electron/engine/store/migrations.ts';
import { oneJsonDocument, runBackstop } from '../../fixtures/cli.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const FIXTURE = join(import.meta.dirname, '../../fixtures/upgrade-v0.1');
/** The first release stored absolute paths (tasks' folders, the SQLite server): the fixture is put back where it was made. */
const ROOT = '/tmp/backstop-upgrade-v0.1';
const LOCK = `${ROOT}.lock`;
const DATA = join(ROOT, 'data');
const BK = join(ROOT, 'backups');
const KEY = Buffer.alloc(32, 0x5a); // the fixture's throwaway test key
const FP = '1810-bcca-1afc-784e';
const TASKS = ['files-enc', 'files-plain', 'maria-enc', 'maria-plain', 'pg-enc', 'pg-plain'];

let pg: PgServer;
let my: MariadbServer;
let files: string;

/** One test process at a time may use ROOT (a killed one's lock is taken over). */
async function claimRoot(): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8').trim() || 0);
      } catch {
        // Its owner has not written its pid yet (or removed the lock meanwhile): look again.
        await new Promise((r) => setTimeout(r, 200));
        if (i < 600) continue;
      }
      let alive = false;
      try {
        alive = pid > 0 && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive || i > 600) rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const cliEnv = () => ({ PGPW: pg.password, MYPW: my.password });
async function backstop(...args: string[]): Promise<{ code: number | null; doc: any; stderr: string }> {
  const r = await runBackstop([...args, '--data-dir', DATA, '--json'], { env: cliEnv() });
  return { code: r.code, doc: oneJsonDocument(r.stdout), stderr: r.stderr };
}

/** Every file under `dir` with its bytes, to prove nothing was changed. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

beforeAll(async () => {
  await claimRoot();
  rmSync(ROOT, { recursive: true, force: true });
  cpSync(join(FIXTURE, 'data'), DATA, { recursive: true });
  cpSync(join(FIXTURE, 'backups'), BK, { recursive: true });
  // The SQLite server's folder as the source was when the last point was taken.
  files = join(ROOT, 'sqlite');
  mkdirSync(files);
  const lite = new Database(join(files, 'Notes.db'));
  lite.exec("PRAGMA user_version = 7; PRAGMA application_id = 42; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two'), ('three')");
  lite.close();
  [pg, my] = await Promise.all([startPostgres(), startMariadb()]);
  // The same servers, now on this test's ports (a server row is plain JSON); their passwords and
  // the key where the first release put them: the keychain, under the references the rows keep.
  const db = new Database(join(DATA, 'backstop.db'));
  const servers = db.prepare('SELECT id, kind, config, password_ref FROM servers').all() as { id: string; kind: string; config: string; password_ref: string | null }[];
  const secrets = new KeychainSecretStore();
  for (const s of servers) {
    if (s.kind === 'sqlite') continue;
    const target = s.kind === 'postgres' ? pg : my;
    db.prepare('UPDATE servers SET config = ? WHERE id = ?').run(JSON.stringify({ ...JSON.parse(s.config), port: target.port }), s.id);
    await secrets.set(s.password_ref!, target.password);
  }
  db.close();
  await secrets.set(`key.${FP}`, KEY.toString('base64'));
  pg.psql(`CREATE DATABASE shop`);
  pg.psql(`CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')`, 'shop');
  my.sql(`CREATE DATABASE Crm; CREATE TABLE Crm.people (id int PRIMARY KEY, n varchar(20)); INSERT INTO Crm.people VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')`);
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), my?.stop()]);
  rmSync(ROOT, { recursive: true, force: true });
  rmSync(LOCK, { recursive: true, force: true });
});

describe('upgrading from the first release (0.1.0)', () => {
  it('migrates the app database: every task, server, run and key is there; the key exports', async () => {
    const tasks = await backstop('tasks');
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.doc.map((t: { name: string }) => t.name)).toEqual(TASKS);
    expect(tasks.doc.find((t: { name: string }) => t.name === 'pg-enc')).toMatchObject({ retention: { minAgeDays: 7, keepLast: 2 }, encryption: { mode: 'key', fingerprint: FP } });
    expect((await backstop('servers')).doc.map((s: { name: string }) => s.name).sort()).toEqual(['Files', 'Maria', 'PG main']);
    const history = await backstop('history', '--limit', '100');
    expect(history.doc).toHaveLength(13);
    expect(history.doc.every((r: { status: string }) => r.status === 'success')).toBe(true);
    expect((await backstop('history', '--task', 'cli files')).doc).toEqual([expect.objectContaining({ taskId: 'file-cli-files', trigger: 'cli', status: 'success' })]);
    const pgRuns = history.doc.filter((r: { taskName: string }) => r.taskName === 'pg-enc');
    expect(pgRuns.map((r: { databases: { database: string; serverStream: boolean }[] }) => r.databases.map((d) => [d.database, d.serverStream]).sort())).toEqual([
      [['globals.sql', true], ['shop', false]],
      [['globals.sql', true], ['shop', false]],
    ]);
    expect((await backstop('keys', 'list')).doc).toEqual([{ fingerprint: FP, name: null, createdAt: expect.any(String), origin: 'imported', exported: true }]);
    const exported = await backstop('keys', 'export', FP, '--out', '-');
    expect(exported.doc).toMatchObject({ fingerprint: FP, key: KEY.toString('base64') });
    const db = new Database(join(DATA, 'backstop.db'));
    expect(db.prepare('PRAGMA user_version').get()).toMatchObject({ user_version: MIGRATIONS.length });
    db.close();
  });

  it('verifies and restores every old point with its rows and database-level properties; an old MariaDB dump says it has no recorded character set', async () => {
    const folders = ['pg-enc/shop', 'pg-plain/shop', 'pg-enc/~server/globals.sql', 'maria-enc/~43rm', 'maria-plain/~43rm', 'files-enc/~4eotes.db', 'files-plain/~4eotes.db', 'cli-files/~4eotes.db'];
    const points: Record<string, { id: string }[]> = {};
    for (const f of folders) {
      const p = await backstop('points', join(BK, f));
      expect(p.code, JSON.stringify(p.doc)).toBe(0);
      points[f] = p.doc;
      expect((await backstop('verify', join(BK, f))).doc).toMatchObject({ ok: true, problems: [] });
    }
    expect(Object.values(points).map((p) => p.length)).toEqual([2, 2, 2, 2, 2, 2, 2, 1]);

    const dir = tempDir();
    writeFileSync(join(dir, 'pg.json'), JSON.stringify({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'PGPW' }));
    writeFileSync(join(dir, 'my.json'), JSON.stringify({ kind: 'mysql', host: my.host, port: my.port, user: my.user, passwordEnv: 'MYPW' }));
    writeFileSync(join(dir, 'files.json'), JSON.stringify({ kind: 'sqlite', folder: dir }));
    // PostgreSQL: the first (encrypted) and the latest (plain) point, rows and the database's comment and setting.
    for (const [f, point, name, rows] of [['pg-enc/shop', points['pg-enc/shop']![0]!.id, 'shop_first', '1:one,2:two'], ['pg-plain/shop', 'latest', 'shop_latest', '1:one,2:two,3:three']] as const) {
      const r = await backstop('restore', join(BK, f), '--point', point, '--server', join(dir, 'pg.json'), '--database', name);
      expect(r.code, JSON.stringify(r.doc)).toBe(0);
      expect(pg.psql(`SELECT string_agg(id||':'||name, ',' ORDER BY id) FROM items`, name).trim()).toBe(rows);
      expect(pg.psql(`SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '${name}'`).trim()).toBe('the shop');
      expect(pg.psql(`SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '${name}'`).trim()).toBe('work_mem=8MB');
    }
    // MariaDB: rows; the first release did not record the database's defaults, and the restore says so.
    for (const [f, point, name, rows] of [['maria-enc/~43rm', points['maria-enc/~43rm']![0]!.id, 'crm_first', '1:ann,2:bob'], ['maria-plain/~43rm', 'latest', 'crm_latest', '1:ann,2:bob,3:cy']] as const) {
      const r = await backstop('restore', join(BK, f), '--point', point, '--server', join(dir, 'my.json'), '--database', name);
      expect(r.code, JSON.stringify(r.doc)).toBe(0);
      expect(my.sql(`SELECT GROUP_CONCAT(CONCAT(id, ':', n) ORDER BY id) FROM ${name}.people`).trim()).toBe(rows);
      const [charset, collation] = my.sql(`SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim().split('\t');
      expect(r.doc.notes).toContain(
        `This backup was taken by an earlier Backstop, which did not record the source database's default character set, collation and comment: "${name}" has ${charset}, ${collation} (this server's defaults, unless the dump's routines set others). Its tables and routines keep their own character sets and collations. If the source database had other defaults or a comment, set them: ALTER DATABASE \`${name}\` CHARACTER SET … COLLATE … COMMENT '…'; (backups taken from now on record them).`,
      );
      expect(my.sql(`SELECT CCSA.CHARACTER_SET_NAME FROM information_schema.TABLES T JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA ON CCSA.COLLATION_NAME = T.TABLE_COLLATION WHERE T.TABLE_SCHEMA = '${name}'`).trim()).toBe('utf8mb4');
    }
    // SQLite: the snapshot's first point and the logical latest, rows and the file's own pragmas.
    for (const [f, point, name, rows] of [['files-enc/~4eotes.db', points['files-enc/~4eotes.db']![0]!.id, 'first.db', '1:one,2:two'], ['files-plain/~4eotes.db', 'latest', 'latest.db', '1:one,2:two,3:three']] as const) {
      const r = await backstop('restore', join(BK, f), '--point', point, '--server', join(dir, 'files.json'), '--database', name);
      expect(r.code, JSON.stringify(r.doc)).toBe(0);
      const lite = new Database(join(dir, name), { readonly: true });
      expect((lite.prepare("SELECT group_concat(id||':'||v, ',') AS r FROM (SELECT * FROM t ORDER BY id)").get() as { r: string }).r).toBe(rows);
      expect([lite.prepare('PRAGMA user_version').get(), lite.prepare('PRAGMA application_id').get()]).toMatchObject([{ user_version: 7 }, { application_id: 42 }]);
      lite.close();
    }
  });

  it('runs the old tasks on: incrementals continue the old chains in their old folders; a full upgrades the folder and the old points still restore', async () => {
    const engine = await createEngine({ dataDir: DATA });
    try {
      const tasks = data(await engine.call('tasks.list', undefined));
      const id = (name: string) => tasks.find((t) => t.name === name)!.id;
      const lite = new Database(join(files, 'Notes.db'));
      lite.exec("INSERT INTO t (v) VALUES ('after the upgrade')");
      lite.close();
      for (const name of ['files-enc', 'files-plain']) {
        const run = await runTask(engine, id(name), 'incremental');
        expect(run.databases.map((d) => [d.database, d.status, d.kind, d.kindReason])).toEqual([['Notes.db', 'success', 'incremental', null]]);
        expect(data(await engine.call('retention.preview', { taskId: id(name) })).flatMap((p) => p.decisions.filter((d) => d.action === 'delete'))).toEqual([]);
      }
      expect(readdirSync(join(BK, 'files-plain'))).toEqual(['~4eotes.db']);
      const before = readFileSync(join(BK, 'files-plain/~4eotes.db/backstop.repo'));
      expect(before.readUInt16LE(8)).toBe(1);
      const full = await runTask(engine, id('files-plain'), 'full');
      expect(full.status).toBe('success');
      expect(readFileSync(join(BK, 'files-plain/~4eotes.db/backstop.repo')).readUInt16LE(8)).toBe(2);
      // The servers moved (this test's ports): a new chain starts, and says why.
      const moved = await runTask(engine, id('pg-plain'), 'incremental');
      expect(moved.databases.find((d) => d.database === 'shop')).toMatchObject({ status: 'success', kind: 'full', kindReason: expect.stringMatching(/^the newest chain in this folder was written from postgres:\/\/postgres@127\.0\.0\.1:\d+, not from postgres:\/\/postgres@127\.0\.0\.1:\d+: a new chain starts/) });
    } finally {
      await engine.close();
    }
    const points = await backstop('points', join(BK, 'files-plain/~4eotes.db'));
    expect(points.doc.map((p: { kind: string }) => p.kind)).toEqual(['full', 'incremental', 'incremental', 'full']);
    expect((await backstop('verify', join(BK, 'files-plain/~4eotes.db'))).doc).toMatchObject({ ok: true, pointsChecked: 4 });
  });

  it('a MariaDB incremental after the upgrade re-dumps, saying the old dump recorded no log position because an earlier Backstop took it', async () => {
    const prep = await prepareDestination(new LocalBackend(join(FIXTURE, 'backups/maria-plain/~43rm')), { key: null, backupType: 'logical', requestedKind: 'incremental' });
    expect(prep.kind).toBe('incremental');
    expect(await logCoverage(prep, new LocalBackend(join(tempDir(), 'binlog')), {})).toBe(
      'the last dump of this database has no binary-log position (it was taken by an earlier Backstop, which did not record it, or while the log was off or unreadable)',
    );
  });

  it('a folder written by a newer Backstop (format 3) is refused by every command and by a backup, nothing in it changed', async () => {
    const root = join(tempDir(), 'future');
    cpSync(join(FIXTURE, 'backups/files-plain'), root, { recursive: true });
    const header = join(root, '~4eotes.db/backstop.repo');
    const bytes = readFileSync(header);
    bytes.writeUInt16LE(3, 8);
    writeFileSync(header, bytes);
    const before = tree(root);
    const folder = join(root, '~4eotes.db');
    const message = `The repository at local folder ${folder} uses format version 3; this Backstop reads up to version 2. Update Backstop to use it.`;
    for (const args of [['points', folder], ['verify', folder], ['prune', folder, '--min-age', '0d', '--keep-last', '1'], ['extract', folder, '--point', 'latest', '--out', join(root, '..', 'x.sql')]]) {
      const r = await backstop(...args);
      expect([args[0], r.code, r.doc]).toEqual([args[0], 1, { error: { code: 'FORMAT_TOO_NEW', message: expect.stringContaining(message) } }]);
    }
    const task = join(root, '..', 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'future', server: { kind: 'sqlite', folder: files }, type: 'logical', schedule: { incremental: '0 * * * *' }, destinations: [{ kind: 'local', path: root }] }));
    const run = await backstop('backup', '--config', task, '--kind', 'incremental');
    expect(run.code).toBe(1);
    expect(run.doc.databases).toEqual([expect.objectContaining({ database: 'Notes.db', status: 'failed', error: { code: 'FORMAT_TOO_NEW', message: expect.stringContaining(message) } })]);
    expect(tree(root)).toEqual(before);
  });
});
