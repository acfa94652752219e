/**
 * `backstop restore-server` of roots a DBA finds after losing a server, on SQLite folders (no
 * server to start): a root that also holds another server's database folders (copied in, or
 * two tasks wrote there) is restored with a note naming each server and its databases; a root
 * where one database's folder is damaged restores the others, fails that one naming the damage,
 * leaves nothing of it on the target, and says "partial" (exit 1).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { cliInProcess } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

interface Doc {
  status?: string;
  databases: { database: string; restoredAs: string; status: string; error?: { code: string; message: string } }[];
  notes: string[];
}

/** A temp folder with one backed-up SQLite "server" per entry of `servers` (its root: `<dir>/backups-<name>`) and `target.json`. */
async function backedUp(servers: Record<string, Record<string, number>>): Promise<{ dir: string; root: (name: string) => string; source: (name: string) => string; target: string }> {
  const dir = tempDir();
  const target = join(dir, 'target');
  mkdirSync(target);
  writeFileSync(join(dir, 'target.json'), JSON.stringify({ kind: 'sqlite', folder: target }));
  for (const [name, files] of Object.entries(servers)) {
    const source = join(dir, `src-${name}`);
    mkdirSync(source);
    for (const [file, x] of Object.entries(files)) {
      const db = new Database(join(source, file));
      db.exec(`CREATE TABLE t (x); INSERT INTO t VALUES (${x});`);
      db.close();
    }
    const task = join(dir, `${name}.json`);
    writeFileSync(task, JSON.stringify({ name, server: { kind: 'sqlite', folder: source }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, `backups-${name}`) }] }));
    const r = await cliInProcess('backup', '--config', task, '--json', '--data-dir', join(dir, 'data'));
    expect(JSON.parse(r.out).status).toBe('success');
  }
  return { dir, root: (n) => join(dir, `backups-${n}`), source: (n) => join(dir, `src-${n}`), target };
}

const x = (file: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT x FROM t').get() as { x: number }).x;
  } finally {
    db.close();
  }
};

describe('restore-server: odd roots', () => {
  it('a root that also holds another server\'s database folder restores every database, with a note naming each server and its databases', { timeout: 120_000 }, async () => {
    const s = await backedUp({ a: { 'one.db': 1, 'two.db': 2 }, b: { 'other.db': 3 } });
    cpSync(join(s.root('b'), 'other.db'), join(s.root('a'), 'other.db'), { recursive: true });
    const r = await cliInProcess('restore-server', s.root('a'), '--server', join(s.dir, 'target.json'), '--original-names', '--json', '--data-dir', join(s.dir, 'data'));
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as Doc;
    expect(doc.databases.map((d) => [d.database, d.status])).toEqual([['one.db', 'ok'], ['other.db', 'ok'], ['two.db', 'ok']]);
    expect([x(join(s.target, 'one.db')), x(join(s.target, 'two.db')), x(join(s.target, 'other.db'))]).toEqual([1, 2, 3]);
    expect(doc.notes).toEqual([
      `${s.root('a')} holds backups of more than one server (a database folder copied in, two tasks writing to one root, or the server's address changed): ` +
        `sqlite:${s.source('a')} — "one.db", "two.db"; sqlite:${s.source('b')} — "other.db". Each database is restored from its own backups; leave out those of another server with --only (in the window: untick them).`,
    ]);
    // The same in the plain output.
    const again = await cliInProcess('restore-server', s.root('a'), '--server', join(s.dir, 'target.json'), '--prefix', 'p-', '--data-dir', join(s.dir, 'data'));
    expect(again.out).toContain(`note: ${s.root('a')} holds backups of more than one server`);
    // One server's root says nothing of the kind.
    const plain = await cliInProcess('restore-server', s.root('b'), '--server', join(s.dir, 'target.json'), '--prefix', 'b-', '--json', '--data-dir', join(s.dir, 'data'));
    expect((JSON.parse(plain.out) as Doc).notes).toEqual([]);
  });

  it('a damaged database folder fails that database naming the damage, the others are restored, nothing of it is left, and the result says partial', { timeout: 120_000 }, async () => {
    const s = await backedUp({ a: { 'one.db': 1, 'two.db': 2 } });
    const folder = join(s.root('a'), 'two.db');
    const pack = (readdirSync(folder, { recursive: true }) as string[]).find((n) => n.endsWith('.pack'))!;
    const bytes = readFileSync(join(folder, pack));
    bytes[40] = bytes[40]! ^ 0xff; // inside the first stored chunk
    writeFileSync(join(folder, pack), bytes);
    const r = await cliInProcess('restore-server', s.root('a'), '--server', join(s.dir, 'target.json'), '--prefix', 'r-', '--json', '--data-dir', join(s.dir, 'data'));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as Doc;
    expect(doc.status).toBe('partial');
    const byName = Object.fromEntries(doc.databases.map((d) => [d.database, d]));
    expect(byName['one.db']).toMatchObject({ status: 'ok' });
    expect(x(join(s.target, 'r-one.db'))).toBe(1);
    expect(byName['two.db']).toMatchObject({ status: 'failed', error: { code: 'INTEGRITY' } });
    expect(byName['two.db']!.error!.message).toMatch(new RegExp(`^Restore point \\S+ is damaged: pack ${pack.split('/').at(-1)!.replace('.pack', '')} holds a bad chunk at offset 32: .*Restore a different point, or run verify`));
    expect(readdirSync(s.target)).toEqual(['r-one.db']);
    expect(existsSync(join(s.target, 'r-two.db'))).toBe(false);
    const plainOut = await cliInProcess('restore-server', s.root('a'), '--server', join(s.dir, 'target.json'), '--prefix', 'r-', '--data-dir', join(s.dir, 'data'));
    expect(plainOut.code).toBe(1);
    expect(plainOut.out.split('\n').at(-1)).toBe('partial: 0 restored, 1 skipped, 1 failed');

    // Every database failing is "failed"; every one restored or skipped is "success".
    const only = await cliInProcess('restore-server', s.root('a'), '--server', join(s.dir, 'target.json'), '--prefix', 'q-', '--only', 'two.db', '--json', '--data-dir', join(s.dir, 'data'));
    expect(only.code).toBe(1);
    expect((JSON.parse(only.out) as Doc).status).toBe('failed');
    const good = await cliInProcess('restore-server', s.root('a'), '--server', join(s.dir, 'target.json'), '--prefix', 'r-', '--only', 'one.db', '--json', '--data-dir', join(s.dir, 'data'));
    expect(good.code).toBe(0);
    expect((JSON.parse(good.out) as Doc).status).toBe('success');
  });
});
