/**
 * The replication slot a PostgreSQL snapshot task owns on its server (and its WAL spool in
 * Backstop's data dir): where the spool lives, and releasing both when the task goes or
 * stops being a PostgreSQL snapshot task.
 *
 * Contract: `releaseTaskSlot` drops the slot when it exists and removes the spool; it does
 * nothing for other tasks. A server that cannot be reached rejects with its error and a
 * message naming the slot and the SQL to drop it by hand (the caller keeps the task).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Server, Task } from '../../shared/domain.ts';
import { BackstopError, toFailure } from '../../shared/result.ts';
import { connectorFor, slotNameFor, WalSource, type ToolPaths } from '../servers/index.ts';
import type { PostgresConnector } from '../servers/postgres/connector.ts';

/** Where PostgreSQL snapshot tasks spool received WAL, one folder per slot. */
export function walSpoolRoot(dataDir: string): string {
  return join(dataDir, 'wal-spool');
}

export function ownsSlot(task: Pick<Task, 'type'>, server: Server): boolean {
  return task.type === 'snapshot' && server.kind === 'postgres';
}

/** The task's slot on its server and its spool (the caller checked `ownsSlot`). */
export function taskWalSource(task: Pick<Task, 'id'>, server: Server, password: string | null, toolPaths: ToolPaths, dataDir: string): WalSource {
  const slot = slotNameFor(task.id);
  const connector = connectorFor(server, { password, toolPaths }) as PostgresConnector;
  return new WalSource(connector.connection, slot, join(walSpoolRoot(dataDir), slot));
}

/** True when a slot was dropped. */
export async function releaseTaskSlot(task: Task, server: Server, password: string | null, toolPaths: ToolPaths, dataDir: string): Promise<boolean> {
  if (!ownsSlot(task, server)) return false;
  const source = taskWalSource(task, server, password, toolPaths, dataDir);
  const slot = source.slot;
  let dropped: boolean;
  try {
    dropped = await source.dropSlot();
  } catch (e) {
    const f = toFailure(e);
    throw new BackstopError(
      f.code,
      `Task "${task.name}" owns replication slot "${slot}" on its server, which keeps WAL there until it is dropped, and it could not be dropped: ${f.message} Fix the connection and try again, or drop it on the server yourself: SELECT pg_drop_replication_slot('${slot}');`,
      { cause: e },
    );
  }
  rmSync(source.spoolDir, { recursive: true, force: true });
  return dropped;
}
