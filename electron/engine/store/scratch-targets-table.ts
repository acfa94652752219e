/**
 * Scratch targets a test restore created (a temporary database on a server, or a temporary
 * folder for SQLite), recorded *before* they are created and forgotten once removed. A
 * test restore removes exactly the names recorded here for its target — a crashed run's
 * leftovers on the next run — and never any other name, whatever it looks like.
 * `target` identifies the server (serverTarget() in test-restore/scratch.ts).
 */
import type { Db } from './app-database.ts';

export class ScratchTargetsTable {
  constructor(private readonly db: Db) {}

  record(target: string, name: string, createdAt: string): void {
    this.db.prepare('INSERT OR REPLACE INTO scratch_targets (target, name, created_at) VALUES (?, ?, ?)').run(target, name, createdAt);
  }

  forget(target: string, name: string): void {
    this.db.prepare('DELETE FROM scratch_targets WHERE target = ? AND name = ?').run(target, name);
  }

  /** Recorded names of a target, oldest first. */
  list(target: string): string[] {
    return (this.db.prepare('SELECT name FROM scratch_targets WHERE target = ? ORDER BY created_at, name').all(target) as { name: string }[]).map((r) => r.name);
  }
}
