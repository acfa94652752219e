/**
 * Scratch targets of test restores: a temporary database with the reserved prefix
 * `backstop_test_` on the task's own server (PostgreSQL, MariaDB), or a temporary folder
 * under `<dataDir>/test-restores/` (SQLite). Each is recorded in the app database
 * (ScratchTargetsTable) *before* it is created, and forgotten once removed, so leftovers
 * of a crashed run are found and removed by the next one — and a name that was never
 * recorded is never touched, even when it starts with the reserved prefix. A scratch target
 * a live run is still using — in this process (`IN_USE`: another task's test restore on the
 * same server) or in another (the CLI beside the app) — is not a leftover.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '../../shared/domain.ts';
import type { Connector } from '../servers/index.ts';
import type { ScratchTargetsTable } from '../store/index.ts';

export const SCRATCH_PREFIX = 'backstop_test_';

/** Scratch targets this process created and has not tried to remove yet, per target. */
const IN_USE = new Map<string, Set<string>>();

function inUse(target: string): Set<string> {
  let names = IN_USE.get(target);
  if (!names) IN_USE.set(target, (names = new Set()));
  return names;
}

/** The key scratch targets are recorded under: the server (host:port), or for SQLite the local scratch folder. */
export function scratchTarget(server: Server, sqliteBase: string): string {
  return server.kind === 'sqlite' ? `sqlite:${sqliteBase}` : `${server.kind}://${server.host}:${server.port}`;
}

/** A fresh reserved name: backstop_test_<UTC yyyymmddhhmmss>_<8 hex> (31 bytes). */
export function scratchName(now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${SCRATCH_PREFIX}${stamp}_${randomBytes(4).toString('hex')}`;
}

export class ScratchTargets {
  constructor(
    private readonly table: ScratchTargetsTable,
    private readonly server: Server,
    private readonly connector: Connector,
    /** SQLite scratch folders live here. */
    private readonly sqliteBase: string,
    private readonly now: () => Date,
  ) {}

  private get target(): string {
    return scratchTarget(this.server, this.sqliteBase);
  }

  /** Records, then creates (SQLite: the folder; a server database is created by the restore). Returns the database name or folder. */
  create(): string {
    const name = scratchName(this.now());
    if (this.server.kind === 'sqlite') {
      const folder = join(this.sqliteBase, name);
      this.table.record(this.target, folder, this.now().toISOString());
      inUse(this.target).add(folder);
      mkdirSync(this.sqliteBase, { recursive: true, mode: 0o700 });
      mkdirSync(folder, { mode: 0o700 });
      return folder;
    }
    this.table.record(this.target, name, this.now().toISOString());
    inUse(this.target).add(name);
    return name;
  }

  /** Removes one recorded scratch target, then forgets it. Throws (and keeps the record) when it could not be removed. */
  async remove(name: string): Promise<void> {
    try {
      if (this.server.kind === 'sqlite') rmSync(name, { recursive: true, force: true });
      else await this.connector.dropDatabase(name);
      this.table.forget(this.target, name);
    } finally {
      // Not in use any more: one that could not be removed is a leftover the next run removes.
      inUse(this.target).delete(name);
    }
  }

  /** The recorded scratch targets of this server no live run uses (a crashed run's leftovers, before a run starts). */
  recorded(): string[] {
    return this.table.leftovers(this.target, inUse(this.target));
  }
}
