/**
 * Whole-server restore from the window (issue #22 item 4): the request the window sends
 * (`restore.serverPlan`, `restore.serverStart`), the plan it shows first, and the
 * per-database progress and summary events. The engine side is engine/restore/restore-server.ts.
 */
import { z } from 'zod';
import { Destination, Id, KeyText } from './domain.ts';

/** A prefix or suffix for new names, or the original names (a name that exists on the target is never overwritten). */
export const ServerRestoreNamingInput = z.union([
  z.strictObject({ prefix: z.string().min(1).max(64) }),
  z.strictObject({ suffix: z.string().min(1).max(64) }),
  z.strictObject({ original: z.literal(true) }),
]);

export const ServerRestoreInput = z.strictObject({
  /** A task's destination root (one folder per database). */
  destination: Destination,
  /** The task whose test-restore durations estimate the restore time (optional). */
  taskId: Id.optional(),
  serverId: Id,
  naming: ServerRestoreNamingInput,
  /** True database names to restore (default: all). */
  only: z.array(z.string().min(1).max(256)).min(1).max(1000).optional(),
  /** Each database's latest point at or before this moment (ISO) instead of its latest. */
  asOf: z.string().datetime({ offset: true }).optional(),
  /** Restores at once. */
  jobs: z.number().int().min(1).max(16).default(2),
  key: KeyText.optional(),
});
export type ServerRestoreInput = z.infer<typeof ServerRestoreInput>;

export const ServerRestoreStartInput = ServerRestoreInput.extend({
  /** PostgreSQL roles and tablespaces, applied first; only on explicit request. */
  withServerLevel: z.boolean().default(false),
});

export type ServerRestorePlanStatus = 'ready' | 'exists' | 'done' | 'failed';

export interface ServerRestorePlanEntry {
  database: string;
  restoredAs: string;
  point: { id: string; createdAt: string; bytes: number } | null;
  /** Its oldest and newest restore points (ISO UTC): "as of" a moment restores the latest point at or before it, so a moment before `from` cannot be reached; null when it has none. */
  range?: { from: string; to: string } | null;
  /** 'exists': the name is taken on the target (never overwritten); 'done': this same restore already made it (skipped). */
  status: ServerRestorePlanStatus;
  /** From the task's newest test restore of this database, when there is one. */
  estimatedMs: number | null;
  error: { code: string; message: string } | null;
}

export interface ServerRestorePlan {
  databases: ServerRestorePlanEntry[];
  totalBytes: number;
  /** For the databases that will be restored, with `jobs` at once; null when no test restore measured any of them. */
  estimatedMs: number | null;
  /** How many of the databases to restore have no measured duration. */
  unestimated: number;
  notes: string[];
}

export interface ServerRestoreDatabaseState {
  database: string;
  restoredAs: string;
  status: 'running' | 'ok' | 'failed' | 'skipped';
  error?: { code: string; message: string };
}

/** A whole-server restore the engine is running now (`restore.serverActive`), whoever started it: a window reloaded since, another window, a browser tab. */
export interface ActiveServerRestore {
  serverRestoreId: string;
  /** The target server. */
  serverId: string;
  startedAt: string;
  /** How many databases it restores (those chosen); null when all the root holds (known once it has planned). */
  total: number | null;
  /** Each database it has started, with its latest state ('running' until it ends), in the order they started. */
  databases: ServerRestoreDatabaseState[];
}

export interface ServerRestoreProgress {
  serverRestoreId: string;
  database: ServerRestoreDatabaseState;
}

export interface ServerRestoreFinished {
  serverRestoreId: string;
  databases: ServerRestoreDatabaseState[];
  serverLevel: { status: 'ok' | 'failed' | 'none'; detail: string } | null;
  notes: string[];
  /** The whole restore could not start or plan (e.g. no backups there); per-database failures are in `databases`. */
  error: { code: string; message: string } | null;
}
