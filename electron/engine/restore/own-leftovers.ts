/**
 * A one-database restore into a PostgreSQL or MySQL/MariaDB server leaves nothing behind
 * unnoticed: its target name is recorded 'started' in the restore journal
 * (ServerRestoresTable, shared with whole-server restores) before the work begins, and
 * forgotten once the restore succeeded or the database is gone. A database still recorded
 * (the process was killed, or the server stopped before the failed restore could drop it)
 * is Backstop's own half-restored copy: the next restore of the same backup folder under
 * the same name drops it first and says so. A name recorded for another folder, or not
 * recorded at all, is never touched (the restore then fails with DATABASE_EXISTS).
 * SQLite restores and cluster snapshots into a folder create nothing on a server: skipped.
 */
import { placeText } from '../../shared/location-text.ts';
import { BackstopError, toFailure } from '../../shared/result.ts';
import { connectorFor } from '../servers/index.ts';
import type { ServerRestoresTable } from '../store/index.ts';
import { journalTarget } from './restore-server.ts';
import type { RestoreJobSpec } from './run-restore.ts';

/** A restore's record of its target name: settled once the restore ended. */
export interface Claim {
  /** Set when an earlier run's half-restored copy was dropped first. */
  note: string | null;
  /** After a successful restore: nothing of it is half made. */
  succeeded(): void;
  /**
   * After a failed restore: the record stays only while its database is still on the server
   * (it could not be dropped). DATABASE_EXISTS means the name was someone else's: forgotten.
   */
  failed(error: unknown): Promise<void>;
}

export class OwnLeftovers {
  constructor(
    private readonly journal: ServerRestoresTable,
    private readonly now: () => Date,
  ) {}

  /**
   * Before the restore: drops this folder's half-restored copy left under the name by an
   * earlier run, then records the name 'started'. Null when nothing is recorded: the restore
   * creates nothing on a server, or the name is another restore's (the restore then fails
   * with DATABASE_EXISTS, and that record is left as it is).
   */
  async claim(spec: RestoreJobSpec): Promise<Claim | null> {
    const server = spec.server;
    if (!server || server.kind === 'sqlite' || spec.options.folder) return null;
    const target = journalTarget(server);
    const name = spec.database;
    const source = placeText(spec.location);
    const connector = connectorFor(server, { password: spec.password, toolPaths: spec.toolPaths });
    const onServer = (): Promise<boolean> => connector.listDatabases().then((names) => names.includes(name));
    let note: string | null = null;
    const record = this.journal.get(target, name);
    if (record) {
      if (!(await onServer())) this.journal.forget(target, name);
      else if (record.state !== 'started' || record.source !== source) return null;
      else {
        try {
          await connector.dropDatabase(name);
        } catch (e) {
          const f = toFailure(e);
          throw new BackstopError(f.code, `Database "${name}" was left half-restored by an earlier restore of this backup and could not be dropped, so it was not restored again: ${f.message}`, { cause: e });
        }
        note = `Database "${name}" had been left half-restored by an earlier, interrupted restore of this backup; it was dropped and restored again.`;
      }
    }
    this.journal.mark(target, name, source, spec.asOf ? null : spec.pointId, 'started', this.now().toISOString());
    return {
      note,
      succeeded: () => this.journal.forget(target, name),
      failed: async (error) => {
        const left =
          toFailure(error).code !== 'DATABASE_EXISTS' &&
          (await onServer().catch(() => true)); // the server cannot say: keep the record
        if (!left) this.journal.forget(target, name);
      },
    };
  }
}
