import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { expect, it } from 'vitest';
import { cliInProcess } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

it('explore', { timeout: 600_000 }, async () => {
  const dir = tempDir();
  const source = join(dir, 'source');
  const target = join(dir, 'target');
  mkdirSync(source);
  mkdirSync(target);
  const N = Number(process.env.HN ?? 200);
  for (let i = 0; i < N; i++) {
    const db = new Database(join(source, `site${String(i).padStart(3, '0')}.db`));
    db.exec(`CREATE TABLE t (x); INSERT INTO t VALUES (${i});`);
    db.close();
  }
  const dataDir = join(dir, 'data');
  const task = join(dir, 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder: source }, type: 'snapshot', schedule: { full: '0 2 * * *' }, retention: { minAge: "0h", keepLast: 1 }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
  let t0 = Date.now();
  const b1 = await cliInProcess('backup', '--config', task, '--json', '--data-dir', dataDir);
  console.log('backup1', Date.now() - t0, b1.code, b1.out.length, b1.err.length, b1.err.slice(0, 300));
  const d1 = JSON.parse(b1.out);
  console.log(JSON.stringify(d1));
  t0 = Date.now();
  const b2 = await cliInProcess('backup', '--config', task, '--kind', 'full', '--json', '--data-dir', dataDir);
  console.log('backup2', Date.now() - t0, b2.code, b2.out.length, b2.err.slice(0, 300));
  const d2 = JSON.parse(b2.out);
  console.log(d2.status, d2.databases?.length, JSON.stringify(d2.databases?.[0]), JSON.stringify(d2).slice(0, 600));
  writeFileSync(join(dir, 'target.json'), JSON.stringify({ kind: 'sqlite', folder: target }));
  t0 = Date.now();
  const r = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'r-', '--json', '--data-dir', dataDir);
  console.log('restore', Date.now() - t0, r.code, r.out.length, r.err.slice(0, 300));
  const rd = JSON.parse(r.out);
  console.log(rd.databases.filter((d: { status: string }) => d.status !== 'ok').length, readdirSync(target).length);
  t0 = Date.now();
  const again = await cliInProcess('restore-server', join(dir, 'backups'), '--server', join(dir, 'target.json'), '--prefix', 'r-', '--json', '--data-dir', dataDir);
  console.log('again', Date.now() - t0, again.code, JSON.parse(again.out).databases.filter((d: { status: string }) => d.status !== 'skipped').length);
  const h = await cliInProcess('history', '--json', '--data-dir', dataDir);
  console.log('history', h.code, h.out.length, h.out.slice(0, 300));
  expect(1).toBe(1);
});
