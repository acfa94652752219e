/**
 * The SQLite snapshot goes through SQLite's online backup API (the sqlite3 binding), not
 * the VACUUM INTO fallback: the copy is page-for-page (same page count and freelist, which
 * VACUUM would drop), holds the committed rows, and a non-database source is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { onlineBackup } from '../../../electron/engine/servers/sqlite/online-backup.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function pragma(path: string, name: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return Number(Object.values(db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>)[0]);
  } finally {
    db.close();
  }
}

describe('SQLite online backup', () => {
  it('copies every page of a live database, free pages included', async () => {
    const dir = tempDir();
    const source = join(dir, 'live.db');
    const db = new Database(source);
    db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO t (body) SELECT printf('%0500d', i) FROM n; DELETE FROM t WHERE id > 1500;");
    const dest = join(dir, 'copy.db');
    expect(await onlineBackup(source, dest)).toBe(true);
    db.close();
    expect(pragma(dest, 'freelist_count')).toBeGreaterThan(0); // VACUUM INTO would have dropped these
    expect(pragma(dest, 'page_count')).toBe(pragma(source, 'page_count'));
    const copy = new Database(dest, { readonly: true });
    expect((copy.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(1500);
    expect((copy.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check).toBe('ok');
    copy.close();
  });

  it('refuses a file that is not an SQLite database', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.db'), 'not a database at all, just text that is long enough to have a header');
    await expect(onlineBackup(join(dir, 'notes.db'), join(dir, 'copy.db'))).rejects.toThrow(/not a database|file is not a database/i);
  });
});
