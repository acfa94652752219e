/**
 * Encryption keys known to this app: the keychain reference, the fingerprint, where the
 * key came from, and whether (and how) the user has saved it outside the keychain.
 * The key itself is never stored here.
 */
import type { Db } from './app-database.ts';

export type KeyOrigin = 'generated' | 'imported';

export interface KeyRecord {
  keyRef: string;
  fingerprint: string;
  origin: KeyOrigin;
  createdAt: string;
  exportedAt: string | null;
  exportMethod: string | null;
  /** A label the user gave the key (CLI `--name`), or null. */
  name?: string | null;
}

interface Row {
  key_ref: string;
  fingerprint: string;
  origin: KeyOrigin;
  created_at: string;
  exported_at: string | null;
  export_method: string | null;
  name: string | null;
}

const fromRow = (r: Row): KeyRecord => ({
  keyRef: r.key_ref,
  fingerprint: r.fingerprint,
  origin: r.origin,
  createdAt: r.created_at,
  exportedAt: r.exported_at,
  exportMethod: r.export_method,
  name: r.name,
});

export class KeysTable {
  constructor(private readonly db: Db) {}

  list(): KeyRecord[] {
    return (this.db.prepare('SELECT * FROM keys ORDER BY created_at').all() as Row[]).map(fromRow);
  }

  get(keyRef: string): KeyRecord | null {
    const row = this.db.prepare('SELECT * FROM keys WHERE key_ref = ?').get(keyRef) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  byFingerprint(fingerprint: string): KeyRecord | null {
    const row = this.db.prepare('SELECT * FROM keys WHERE fingerprint = ?').get(fingerprint) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** Inserts, or keeps the existing record when the same key is added again. */
  upsert(rec: Omit<KeyRecord, 'exportedAt' | 'exportMethod'> & Partial<Pick<KeyRecord, 'exportedAt' | 'exportMethod'>>): KeyRecord {
    this.db
      .prepare(
        `INSERT INTO keys (key_ref, fingerprint, origin, created_at, exported_at, export_method, name) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key_ref) DO UPDATE SET exported_at = COALESCE(keys.exported_at, excluded.exported_at),
           export_method = COALESCE(keys.export_method, excluded.export_method), name = COALESCE(excluded.name, keys.name)`,
      )
      .run(rec.keyRef, rec.fingerprint, rec.origin, rec.createdAt, rec.exportedAt ?? null, rec.exportMethod ?? null, rec.name ?? null);
    return this.get(rec.keyRef)!;
  }

  markExported(keyRef: string, method: string, at: string): void {
    this.db.prepare('UPDATE keys SET exported_at = ?, export_method = ? WHERE key_ref = ?').run(at, method, keyRef);
  }
}
