/**
 * Servers in the app database. Kind-specific fields are kept as JSON in `config`; the
 * password is never stored, only `password_ref` (a keychain account name).
 *
 * Contract: names are unique case-insensitively (CONFLICT); a server used by a task
 * cannot be deleted (CONFLICT naming the task); unknown ids → NOT_FOUND. The last
 * connection test's outcome is kept per server (`recordTest`); editing a server keeps it.
 * An update based on a version that is no longer the stored one → STALE (edit-versions.ts).
 */
import { randomUUID } from 'node:crypto';
import { Server, type ServerInputParsed, type ServerTestResult } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { Db } from './app-database.ts';
import { changedElsewhere, laterStamp } from './edit-versions.ts';

interface Row {
  id: string;
  name: string;
  kind: string;
  config: string;
  password_ref: string | null;
  created_at: string;
  updated_at: string;
  last_test_at: string | null;
  last_test_ok: number | null;
  last_test_code: string | null;
  last_test_message: string | null;
}

/** STALE for an edit of `current` that started from an older version. */
export function staleServer(current: Server): BackstopError {
  return changedElsewhere(`Server "${current.name}"`, current.updatedAt);
}

/** The stored fields of an input: everything but the write-only password. */
function configOf(input: ServerInputParsed): Record<string, unknown> {
  const { name: _name, kind: _kind, ...rest } = input as ServerInputParsed & { password?: string };
  delete (rest as { password?: string }).password;
  return rest;
}

function fromRow(r: Row): Server {
  const lastTest = r.last_test_at === null ? null : { at: r.last_test_at, ok: r.last_test_ok === 1, code: r.last_test_code, message: r.last_test_message };
  const base = { id: r.id, name: r.name, kind: r.kind, ...JSON.parse(r.config), createdAt: r.created_at, updatedAt: r.updated_at, lastTest };
  return Server.parse(r.kind === 'sqlite' ? base : { ...base, passwordRef: r.password_ref });
}

export class ServersTable {
  constructor(private readonly db: Db) {}

  list(): Server[] {
    return (this.db.prepare('SELECT * FROM servers ORDER BY name COLLATE NOCASE').all() as Row[]).map(fromRow);
  }

  get(id: string): Server {
    const row = this.db.prepare('SELECT * FROM servers WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new BackstopError('NOT_FOUND', `No server with id ${id}.`);
    return fromRow(row);
  }

  insert(input: ServerInputParsed, passwordRef: string | null, now: string, id: string = randomUUID()): Server {
    this.assertNameFree(input.name);
    this.db
      .prepare('INSERT INTO servers (id, name, kind, config, password_ref, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.name, input.kind, JSON.stringify(configOf(input)), passwordRef, now, now);
    return this.get(id);
  }

  /** With `basedOn` (the updatedAt the edit started from): STALE, nothing changed, when the stored server is newer (edit-versions.ts). */
  update(id: string, input: ServerInputParsed, passwordRef: string | null, now: string, basedOn?: string): Server {
    const existing = this.get(id);
    if (basedOn !== undefined && existing.updatedAt !== basedOn) throw staleServer(existing);
    if (existing.kind !== input.kind) {
      throw new BackstopError('VALIDATION', `A server's kind cannot change (${existing.kind} → ${input.kind}); add a new server instead.`);
    }
    this.assertNameFree(input.name, id);
    const changed = this.db
      .prepare('UPDATE servers SET name = ?, config = ?, password_ref = ?, updated_at = ? WHERE id = ? AND updated_at = ?')
      .run(input.name, JSON.stringify(configOf(input)), passwordRef, laterStamp(existing.updatedAt, now), id, basedOn ?? existing.updatedAt);
    if (Number(changed.changes) === 0) throw staleServer(this.get(id));
    return this.get(id);
  }

  /** Records the outcome of a connection test of the saved server (replaces the previous one). */
  recordTest(id: string, result: ServerTestResult): void {
    this.db
      .prepare('UPDATE servers SET last_test_at = ?, last_test_ok = ?, last_test_code = ?, last_test_message = ? WHERE id = ?')
      .run(result.at, result.ok ? 1 : 0, result.code, result.message, id);
  }

  delete(id: string): Server {
    const existing = this.get(id);
    const user = this.db.prepare('SELECT name FROM tasks WHERE server_id = ? ORDER BY name LIMIT 1').get(id) as { name: string } | undefined;
    if (user) throw new BackstopError('CONFLICT', `Server "${existing.name}" is used by task "${user.name}"; delete or change that task first.`);
    const tester = this.db.prepare("SELECT name FROM tasks WHERE json_extract(config, '$.testRestore.serverId') = ? ORDER BY name LIMIT 1").get(id) as { name: string } | undefined;
    if (tester) throw new BackstopError('CONFLICT', `Server "${existing.name}" is the test server of task "${tester.name}"; choose another test server for that task first.`);
    this.db.prepare('DELETE FROM servers WHERE id = ?').run(id);
    return existing;
  }

  private assertNameFree(name: string, exceptId?: string): void {
    const row = this.db.prepare('SELECT id FROM servers WHERE name = ? COLLATE NOCASE').get(name) as { id: string } | undefined;
    if (row && row.id !== exceptId) throw new BackstopError('CONFLICT', `A server named "${name}" already exists.`);
  }
}
