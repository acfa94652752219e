/**
 * References (never the secrets) of destination secrets saved to the keychain for a
 * destination no task named when they were saved: a window's Test connection, a remote
 * folder browsed to restore from. Recorded when saved, forgotten when the secret is removed
 * or found in a task's use (destinations/unclaimed-secrets.ts).
 */
import type { Db } from './app-database.ts';

export class UnclaimedSecretsTable {
  constructor(private readonly db: Db) {}

  record(ref: string, savedAt: string): void {
    this.db.prepare('INSERT OR REPLACE INTO unclaimed_secrets (ref, saved_at) VALUES (?, ?)').run(ref, savedAt);
  }

  forget(ref: string): void {
    this.db.prepare('DELETE FROM unclaimed_secrets WHERE ref = ?').run(ref);
  }

  /** References saved before `savedBefore` (ISO time), oldest first. */
  savedBefore(savedBefore: string): string[] {
    return (this.db.prepare('SELECT ref FROM unclaimed_secrets WHERE saved_at < ? ORDER BY saved_at, ref').all(savedBefore) as { ref: string }[]).map((r) => r.ref);
  }
}
