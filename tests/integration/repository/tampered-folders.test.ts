/**
 * Backup folders someone tampered with, through the real `backstop` command on SQLite
 * servers: two packs swapped, a manifest replaced by an older point's (a replay), a
 * database folder copied from another task or another database into this task's root,
 * and a renamed folder. verify and restore name what is wrong and create nothing; the
 * task's next backup never builds on a foreign chain.
 * (Flipped bytes, truncated and deleted packs and manifests: reliability/tamper.test.ts.)
 */
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { oneJsonDocument, runBackstop } from '../../fixtures/cli.ts';
import { Scratch } from '../../fixtures/reliability/common.ts';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());
const tempDir = () => scratch.dir();

interface Server {
  folder: string;
  dataDir: string;
  backups: string;
  task: string;
  serverFile: string;
}

function makeServer(dbs: Record<string, string>): Server {
  const folder = tempDir();
  for (const [name, sql] of Object.entries(dbs)) {
    const db = new Database(join(folder, name));
    db.exec(sql);
    db.close();
  }
  const backups = tempDir();
  const task = join(tempDir(), 'task.json');
  writeFileSync(task, JSON.stringify({ name: 't', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *', incremental: '0 * * * *' }, destinations: [{ kind: 'local', path: backups }] }));
  const serverFile = join(tempDir(), 'server.json');
  writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
  return { folder, dataDir: tempDir(), backups, task, serverFile };
}

interface BackupRow {
  database: string;
  status: string;
  kind: string;
  kindReason: string | null;
  point: string | null;
  error?: { code: string; message: string };
}

async function backup(s: Server, kind: 'full' | 'incremental'): Promise<BackupRow[]> {
  const r = await runBackstop(['backup', '--config', s.task, '--data-dir', s.dataDir, '--kind', kind, '--json']);
  return (oneJsonDocument(r.stdout) as { databases: BackupRow[] }).databases;
}

async function json(...argv: string[]): Promise<{ code: number | null; doc: unknown }> {
  const r = await runBackstop([...argv, '--json']);
  return { code: r.code, doc: oneJsonDocument(r.stdout) };
}

const ledgerSql = (label: string) => `CREATE TABLE ledger (id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO ledger (v) SELECT '${label}-' || i || '-' || hex(randomblob(40)) FROM n;`;
const count = (file: string) => {
  const db = new Database(file, { readonly: true });
  const n = (db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
  db.close();
  return n;
};

let ours: Server;
let theirs: Server;
let pristine: string;
let points: string[];

beforeAll(async () => {
  ours = makeServer({ 'ledger.db': ledgerSql('ours') });
  theirs = makeServer({ 'ledger.db': ledgerSql('theirs'), 'crm.db': ledgerSql('crm') });
  expect((await backup(ours, 'full'))[0]).toMatchObject({ status: 'ok', kind: 'full' });
  const db = new Database(join(ours.folder, 'ledger.db'));
  db.exec("UPDATE ledger SET v = 'changed' WHERE id % 10 = 0");
  db.close();
  expect((await backup(ours, 'incremental'))[0]).toMatchObject({ status: 'ok', kind: 'incremental' });
  expect((await backup(theirs, 'full')).map((d) => d.status)).toEqual(['ok', 'ok']);
  pristine = join(ours.backups, encodeDatabaseFolder('ledger.db'));
  points = ((await json('points', pristine, '--data-dir', ours.dataDir)).doc as { id: string }[]).map((p) => p.id);
  expect(points).toHaveLength(2);
}, 120_000);

/** A copy of our ledger.db folder, to damage. */
function copy(): string {
  const dir = join(tempDir(), encodeDatabaseFolder('ledger.db'));
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

const packsOf = (repo: string) => readdirSync(join(repo, 'packs'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));

async function restoreFails(repo: string, point: string, name: string): Promise<{ code: string; message: string }> {
  const r = await json('restore', repo, '--point', point, '--server', ours.serverFile, '--database', name, '--data-dir', ours.dataDir);
  expect(r.code).toBe(1);
  expect(existsSync(join(ours.folder, name))).toBe(false);
  expect(readdirSync(ours.folder).filter((f) => f !== 'ledger.db')).toEqual([]);
  return (r.doc as { error: { code: string; message: string } }).error;
}

describe('tampered backup folders', () => {
  it('two packs swapped: verify names both packs (content does not match the name), restore fails with INTEGRITY and creates nothing', async () => {
    const repo = copy();
    const [a, b] = packsOf(repo);
    expect(b).toBeDefined();
    const tmp = `${a}.swap`;
    renameSync(a!, tmp);
    renameSync(b!, a!);
    renameSync(tmp, b!);
    const v = await json('verify', repo, '--data-dir', ours.dataDir);
    expect(v.code).toBe(1);
    const problems = (v.doc as { problems: { packId: string; code: string; message: string }[] }).problems;
    for (const pack of [a!, b!]) {
      const id = pack.split('/').pop()!.replace('.pack', '');
      expect(problems).toContainEqual(expect.objectContaining({ packId: id, code: 'INTEGRITY', message: expect.stringContaining('does not match its name') }));
    }
    const e = await restoreFails(repo, points[1]!, 'swapped.db');
    expect(e).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(points[1]!) });
  });

  it('a manifest replaced by an older point’s (replay): verify, points and restore name the point and say it may be another point’s copy; the older point still restores by its id', async () => {
    const repo = copy();
    writeFileSync(join(repo, 'points', `${points[1]}.point`), readFileSync(join(repo, 'points', `${points[0]}.point`)));
    const v = await json('verify', repo, '--data-dir', ours.dataDir);
    expect(v.code).toBe(1);
    expect((v.doc as { problems: unknown[] }).problems).toEqual([
      expect.objectContaining({ pointId: points[1], code: 'INTEGRITY', message: expect.stringContaining(`its manifest points/${points[1]}.point: it failed authentication`) }),
    ]);
    expect(JSON.stringify(v.doc)).toContain("another point's manifest copied over this one");
    const e = await restoreFails(repo, points[1]!, 'replayed.db');
    expect(e).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(points[1]!) });
    // "latest" is refused (the newest point is unreadable), naming the points that can be restored.
    const latest = await restoreFails(repo, 'latest', 'latest.db');
    expect(latest).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`Readable points here (newest last): ${points[0]}; restore one of them by its id.`) });
    const older = await json('restore', repo, '--point', points[0]!, '--server', ours.serverFile, '--database', 'older.db', '--data-dir', ours.dataDir);
    expect(older.code, JSON.stringify(older.doc)).toBe(0);
    expect(count(join(ours.folder, 'older.db'))).toBe(3000);
  });

  it('the same database’s folder from another server copied over ours: the next incremental starts a new chain (a full, with the reason), never builds on theirs', async () => {
    const s = makeServer({ 'ledger.db': ledgerSql('ours2') });
    const target = tempDir();
    cpSync(join(theirs.backups, encodeDatabaseFolder('ledger.db')), join(target, encodeDatabaseFolder('ledger.db')), { recursive: true });
    writeFileSync(s.task, JSON.stringify({ ...JSON.parse(readFileSync(s.task, 'utf8')), destinations: [{ kind: 'local', path: target }] }));
    const folder = join(target, encodeDatabaseFolder('ledger.db'));
    const before = readdirSync(join(folder, 'points'));
    const [row] = await backup(s, 'incremental');
    expect(row).toMatchObject({ status: 'ok', kind: 'full', kindReason: expect.stringContaining(`written from sqlite:${theirs.folder}, not from sqlite:${s.folder}: a new chain starts`) });
    const after = ((await json('points', folder, '--data-dir', s.dataDir)).doc as { id: string; kind: string }[]);
    expect(after.map((p) => p.id)).toEqual([...before.map((f) => f.replace('.point', '')), row!.point]);
    // Their point is still theirs: restoring it gives their rows.
    const theirsRestored = await json('restore', folder, '--point', before[0]!.replace('.point', ''), '--server', s.serverFile, '--database', 'theirs.db', '--data-dir', s.dataDir);
    expect(theirsRestored.code, JSON.stringify(theirsRestored.doc)).toBe(0);
    const db = new Database(join(s.folder, 'theirs.db'), { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM ledger WHERE v LIKE 'theirs-%'").get() as { n: number }).n).toBe(3000);
    db.close();
  });

  it('another database’s folder renamed into ours: the backup refuses that folder (CONFLICT naming both databases) and writes nothing there', async () => {
    const s = makeServer({ 'ledger.db': ledgerSql('ours3') });
    const folder = join(s.backups, encodeDatabaseFolder('ledger.db'));
    cpSync(join(theirs.backups, encodeDatabaseFolder('crm.db')), folder, { recursive: true });
    const files = readdirSync(folder, { recursive: true }).sort();
    for (const kind of ['full', 'incremental'] as const) {
      const [row] = await backup(s, kind);
      expect(row).toMatchObject({ status: 'failed', point: null, error: { code: 'CONFLICT' } });
      expect(row!.error!.message).toBe(
        `local folder ${folder} holds backups of the database "crm.db" (from sqlite:${theirs.folder}), not of "ledger.db": the folder was renamed or copied here. Backstop will not add to it. Move that folder out of this destination (its points stay restorable from wherever you put it); the next backup then starts a new chain.`,
      );
      expect(readdirSync(folder, { recursive: true }).sort()).toEqual(files);
    }
    // Moved away as the message says: the next backup starts a new chain, the moved folder still restores.
    const moved = join(tempDir(), 'crm-copy');
    renameSync(folder, moved);
    expect((await backup(s, 'incremental'))[0]).toMatchObject({ status: 'ok', kind: 'full', kindReason: 'first backup at this destination' });
    const r = await json('restore', moved, '--point', 'latest', '--server', s.serverFile, '--database', 'crm-restored.db', '--data-dir', s.dataDir);
    expect(r.code, JSON.stringify(r.doc)).toBe(0);
    expect(count(join(s.folder, 'crm-restored.db'))).toBe(3000);
  });

  it('our folder renamed: it still verifies and restores under its new name; the next backup starts a new chain in the database’s folder', async () => {
    const s = makeServer({ 'ledger.db': ledgerSql('ours4') });
    expect((await backup(s, 'full'))[0]).toMatchObject({ status: 'ok' });
    const folder = join(s.backups, encodeDatabaseFolder('ledger.db'));
    const renamed = join(s.backups, 'ledger-archive');
    renameSync(folder, renamed);
    expect((await json('verify', renamed, '--data-dir', s.dataDir)).doc).toMatchObject({ ok: true, pointsChecked: 1 });
    // History knows the task stored points of it here: the reason says they are gone (the renamed folder is not the database's).
    expect((await backup(s, 'incremental'))[0]).toMatchObject({ status: 'ok', kind: 'full', kindReason: expect.stringMatching(/^the earlier backups of "ledger\.db" at this destination are gone \(the newest was taken .* UTC; its folder was emptied, deleted or replaced by a new one\), so a new chain starts with this full$/) });
    const r = await json('restore', renamed, '--point', 'latest', '--server', s.serverFile, '--database', 'archived.db', '--data-dir', s.dataDir);
    expect(r.code, JSON.stringify(r.doc)).toBe(0);
    expect(count(join(s.folder, 'archived.db'))).toBe(3000);
  });
});
