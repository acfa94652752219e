/**
 * `backstop restore-server` onto an SQLite folder (the target "server" is the folder) and
 * `--as-of` (issue #22): each database comes back from its latest point at or before the
 * moment, the notes say so, and a database with no point that early fails with
 * OUT_OF_RANGE naming its range while the others are restored.
 * A folder of many small databases (a hosting server's) restores in as many worker threads as
 * restores run at once (--jobs), reused, not one thread started per database.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { cliInProcess } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const rows = (file: string): number[] => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT x FROM t ORDER BY x').all() as { x: number }[]).map((r) => r.x);
  } finally {
    db.close();
  }
};

/** A test's folders: the SQLite source, the (empty) target folder, and a data dir, under one temp dir. */
function folders(): { dir: string; source: string; target: string; dataDir: string } {
  const dir = tempDir();
  const source = join(dir, 'source');
  const target = join(dir, 'target');
  mkdirSync(source);
  mkdirSync(target);
  return { dir, source, target, dataDir: join(dir, 'data') };
}

describe('restore-server onto an SQLite folder, as of a moment', () => {
  it('restores each database from its latest point at or before --as-of; a database with no point that early fails with OUT_OF_RANGE', { timeout: 120_000 }, async () => {
    const { dir, source, target, dataDir } = folders();
    const write = (file: string, sql: string) => {
      const db = new Database(join(source, file));
      db.exec(sql);
      db.close();
    };
    write('old.db', 'CREATE TABLE t (x); INSERT INTO t VALUES (1);');
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder: source }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    const backup = async () => expect(JSON.parse((await cliInProcess('backup', '--config', task, '--json', '--data-dir', dataDir)).out).status).toBe('success');
    await backup();
    await new Promise((r) => setTimeout(r, 1100));
    const moment = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    write('old.db', 'INSERT INTO t VALUES (2);');
    write('new.db', 'CREATE TABLE t (x); INSERT INTO t VALUES (9);');
    await backup();
    writeFileSync(join(dir, 'target.json'), JSON.stringify({ kind: 'sqlite', folder: target }));

    const r = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--suffix', '.copy', '--as-of', moment, '--json', '--data-dir', dataDir);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { status: string; databases: { database: string; restoredAs: string; status: string; error?: { code: string; message: string } }[]; notes: string[] };
    expect(doc.status).toBe('partial'); // the run's status leads the document (docs/CLI.md): one restored, one failed
    expect(doc.notes).toEqual([`As of ${moment}: each database is restored from its latest restore point at or before that moment (restore points only; no log replay).`]);
    const byName = Object.fromEntries(doc.databases.map((d) => [d.database, d]));
    expect(byName['old.db']).toMatchObject({ restoredAs: 'old.db.copy', status: 'ok' });
    expect(rows(join(target, 'old.db.copy'))).toEqual([1]);
    expect(byName['new.db']).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE' } });
    expect(byName['new.db']!.error!.message).toMatch(/^"new\.db" has no restore point at or before .+: its points range from .+ to .+\.$/);

    // Latest points, and a re-run that skips what is done.
    const latest = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'l-', '--point', 'latest', '--json', '--data-dir', dataDir);
    expect(latest.code).toBe(0);
    expect((JSON.parse(latest.out) as typeof doc).status).toBe('success');
    expect(rows(join(target, 'l-old.db'))).toEqual([1, 2]);
    expect(rows(join(target, 'l-new.db'))).toEqual([9]);
    const again = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'l-', '--json', '--data-dir', dataDir);
    expect((JSON.parse(again.out) as { databases: { status: string }[] }).databases.map((d) => d.status)).toEqual(['skipped', 'skipped']);

    // The same names as of the earlier moment: "l-old.db" holds the latest point, not that moment's — refused, never skipped as if done.
    const earlier = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'l-', '--as-of', moment, '--only', 'old.db', '--json', '--data-dir', dataDir);
    expect(earlier.code).toBe(1);
    const held = (JSON.parse(again.out) as { databases: { database: string; point: { id: string } }[] }).databases.find((d) => d.database === 'old.db')!;
    const e = (JSON.parse(earlier.out) as typeof doc).databases;
    expect(e).toEqual([expect.objectContaining({ database: 'old.db', restoredAs: 'l-old.db', status: 'failed', error: { code: 'DATABASE_EXISTS', message: expect.stringContaining(`"l-old.db" was restored by an earlier run from restore point ${held.point.id}, not from the one this restore asks for`) } })]);
    expect(rows(join(target, 'l-old.db'))).toEqual([1, 2]);
    // The copy made as of the moment, run again for the latest points: kept (a resume), and the notes say which point it holds.
    const latestAgain = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--suffix', '.copy', '--only', 'old.db', '--json', '--data-dir', dataDir);
    const la = JSON.parse(latestAgain.out) as typeof doc;
    expect(la.databases).toEqual([expect.objectContaining({ restoredAs: 'old.db.copy', status: 'skipped' })]);
    expect(la.notes).toEqual([expect.stringMatching(/^"old\.db\.copy" was restored by an earlier run from restore point \S+ and is left as it is; the latest point is now \S+ \(drop it and run again, or use another --prefix or --suffix, to have that one\)\.$/)]);
    expect(rows(join(target, 'old.db.copy'))).toEqual([1]);
  });
});

describe('restore-server of a folder of many small databases', () => {
  it('reuses --jobs worker threads for all of them (threads counted as the process starts them), each restored', { timeout: 120_000 }, async () => {
    const { dir, source, target, dataDir } = folders();
    const names = Array.from({ length: 12 }, (_, i) => `site${String(i).padStart(2, '0')}.db`);
    names.forEach((n, i) => {
      const db = new Database(join(source, n));
      db.exec(`CREATE TABLE t (x); INSERT INTO t VALUES (${i});`);
      db.close();
    });
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'hosting', server: { kind: 'sqlite', folder: source }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    expect(JSON.parse((await cliInProcess('backup', '--config', task, '--json', '--data-dir', dataDir)).out).status).toBe('success');
    writeFileSync(join(dir, 'target.json'), JSON.stringify({ kind: 'sqlite', folder: target }));
    let threads = 0;
    const counted = (): void => void threads++;
    process.on('worker', counted);
    try {
      const r = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'r-', '--jobs', '2', '--json', '--data-dir', dataDir);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.out) as { databases: { database: string; status: string }[] }).databases.map((d) => [d.database, d.status])).toEqual(names.map((n) => [n, 'ok']));
    } finally {
      process.off('worker', counted);
    }
    // Two restores at once: two threads (before: one per database, twelve, each loading the engine).
    expect(threads).toBeGreaterThan(0);
    expect(threads).toBeLessThanOrEqual(2);
    names.forEach((n, i) => expect(rows(join(target, `r-${n}`))).toEqual([i]));
  });
});
