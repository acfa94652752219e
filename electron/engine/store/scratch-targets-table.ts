/**
 * Scratch targets a test restore created (a temporary database on a server, or a temporary
 * folder for SQLite), recorded *before* they are created — with the process that records them —
 * and forgotten once removed. A test restore removes exactly the names recorded here for its
 * target that are leftovers (`leftovers`: a crashed run's, or one this process no longer uses) —
 * never one another live process recorded (a test restore the CLI runs beside the app), and
 * never any other name, whatever it looks like.
 * `target` identifies the server (scratchTarget() in test-restore/scratch.ts).
 */
import { processGone, THIS_PROCESS, type ProcessIdentity } from '../runtime/process-alive.ts';
import type { Db } from './app-database.ts';

export class ScratchTargetsTable {
  constructor(private readonly db: Db) {}

  record(target: string, name: string, createdAt: string): void {
    this.db.prepare('INSERT OR REPLACE INTO scratch_targets (target, name, created_at, owner) VALUES (?, ?, ?, ?)').run(target, name, createdAt, JSON.stringify(THIS_PROCESS));
  }

  forget(target: string, name: string): void {
    this.db.prepare('DELETE FROM scratch_targets WHERE target = ? AND name = ?').run(target, name);
  }

  /** Recorded names of a target, oldest first (also those a live run is using). */
  list(target: string): string[] {
    return (this.db.prepare('SELECT name FROM scratch_targets WHERE target = ? ORDER BY created_at, name').all(target) as { name: string }[]).map((r) => r.name);
  }

  /**
   * The recorded names of a target no live run uses, oldest first: recorded by a process that is
   * gone (or before the process was recorded, schema 16), or by this process and not in `inUse`.
   * A name another live process recorded — or a process on another host, which is never judged — is kept.
   */
  leftovers(target: string, inUse: ReadonlySet<string>): string[] {
    const rows = this.db.prepare('SELECT name, owner FROM scratch_targets WHERE target = ? ORDER BY created_at, name').all(target) as { name: string; owner: string | null }[];
    return rows
      .filter((r) => {
        const owner = ownerOf(r.owner);
        if (!owner) return true;
        if (owner.host === THIS_PROCESS.host && owner.pid === THIS_PROCESS.pid && owner.token === THIS_PROCESS.token) return !inUse.has(r.name);
        return processGone(owner);
      })
      .map((r) => r.name);
  }
}

function ownerOf(json: string | null): ProcessIdentity | null {
  try {
    return json === null ? null : (JSON.parse(json) as ProcessIdentity);
  } catch {
    return null;
  }
}
