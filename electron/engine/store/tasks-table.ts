/**
 * Tasks in the app database. The task's settings are kept as JSON in `config`;
 * encryption keys are referenced (keyRef + fingerprint), never stored.
 *
 * Contract: names unique case-insensitively (CONFLICT); the server must exist
 * (NOT_FOUND); no two tasks at one destination (VALIDATION, checkSharedDestinations); unknown ids → NOT_FOUND; an update based on a version that is no longer
 * the stored one → STALE (optimistic concurrency on updatedAt).
 */
import { randomUUID } from 'node:crypto';
import { Task, type TaskInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { checkSharedDestinations } from '../tasks/check-task-input.ts';
import type { Db } from './app-database.ts';
import { changedElsewhere, laterStamp } from './edit-versions.ts';

interface Row {
  id: string;
  name: string;
  server_id: string;
  config: string;
  enabled: number;
  created_at: string;
  updated_at: string;
}

function configOf(input: TaskInputParsed): Record<string, unknown> {
  const { name: _n, serverId: _s, enabled: _e, ...rest } = input;
  return rest;
}

/** STALE for an edit of `current` that started from an older version. */
export function staleTask(current: Task): BackstopError {
  return changedElsewhere(`Task "${current.name}"`, current.updatedAt);
}

function fromRow(r: Row): Task {
  return Task.parse({
    id: r.id,
    name: r.name,
    serverId: r.server_id,
    enabled: r.enabled === 1,
    ...JSON.parse(r.config),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });
}

export class TasksTable {
  constructor(private readonly db: Db) {}

  list(): Task[] {
    return (this.db.prepare('SELECT * FROM tasks ORDER BY name COLLATE NOCASE').all() as Row[]).map(fromRow);
  }

  get(id: string): Task {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new BackstopError('NOT_FOUND', `No task with id ${id}.`);
    return fromRow(row);
  }

  insert(input: TaskInputParsed, now: string, id: string = randomUUID()): Task {
    this.assertValid(input);
    this.db
      .prepare('INSERT INTO tasks (id, name, server_id, config, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.name, input.serverId, JSON.stringify(configOf(input)), input.enabled ? 1 : 0, now, now);
    return this.get(id);
  }

  /**
   * Replaces the task's settings. With `basedOn` (the updatedAt the edit started from) it
   * saves only while that is still the stored version, in one statement (another process on
   * the same app database included), else STALE and nothing changes. The new updatedAt is
   * always later than the one it replaces (a clock that did not move gets 1 ms more), so no
   * two versions of a task share a stamp.
   */
  update(id: string, input: TaskInputParsed, now: string, basedOn?: string): Task {
    const before = this.get(id);
    if (basedOn !== undefined && before.updatedAt !== basedOn) throw staleTask(before);
    this.assertValid(input, id);
    const stamp = laterStamp(before.updatedAt, now);
    const changed = this.db
      .prepare('UPDATE tasks SET name = ?, server_id = ?, config = ?, enabled = ?, updated_at = ? WHERE id = ? AND updated_at = ?')
      .run(input.name, input.serverId, JSON.stringify(configOf(input)), input.enabled ? 1 : 0, stamp, id, basedOn ?? before.updatedAt);
    if (Number(changed.changes) === 0) throw staleTask(this.get(id));
    return this.get(id);
  }

  delete(id: string): Task {
    const existing = this.get(id);
    this.db.prepare('DELETE FROM tasks WHERE id = ?').run(id);
    return existing;
  }

  private assertValid(input: TaskInputParsed, exceptId?: string): void {
    const server = this.db.prepare('SELECT id FROM servers WHERE id = ?').get(input.serverId);
    if (!server) throw new BackstopError('NOT_FOUND', `No server with id ${input.serverId}; choose an existing server.`);
    const row = this.db.prepare('SELECT id FROM tasks WHERE name = ? COLLATE NOCASE').get(input.name) as { id: string } | undefined;
    if (row && row.id !== exceptId) throw new BackstopError('CONFLICT', `A task named "${input.name}" already exists.`);
    checkSharedDestinations(input, this.list(), exceptId ?? null);
  }
}
