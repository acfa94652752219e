/**
 * Configuration as code (issue #25): `backstop servers|tasks add|update|remove|export`,
 * the stored servers and tasks of a data dir kept as JSON files in version control.
 *
 * Contract:
 * - The files are the CLI's task and server files (task-file.ts, docs/CLI.md) with three
 *   additions for stored objects: a server file has a `name`; a task file's `server` may be
 *   the name (or id) of a stored server instead of an inline server object; a task file may
 *   say `enabled`, `channels` (ids of Settings notification channels) and, for
 *   `encryption`, the `fingerprint` of a key already in this machine's keychain.
 * - Everything goes through the engine's typed commands (servers.create, tasks.update, …),
 *   so the window and the CLI check the same things and raise the same codes.
 * - Secrets are read from the environment variables the file names (`passwordEnv`,
 *   `accessKeyIdEnv`, `keyEnv`, …) or a key file and moved into the keychain; they are never
 *   written into an exported file. An exported server keeps its password in the keychain
 *   (`servers update` with a file that names no `passwordEnv` keeps it).
 * - `export` writes a file that `add` and `update` accept unchanged (the task refers to its
 *   server by name); it replaces the target file whole (temporary file + rename).
 * - `tasks remove` never touches backups or history; `servers remove` refuses a server a
 *   task still uses (CONFLICT).
 * - A failed `tasks add` with an inline server leaves no server behind.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { Id, type Destination, type Server, type ServerInput, type Task, type TaskInput } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { placeText } from '../../shared/location-text.ts';
import type { Engine } from '../../engine/index.ts';
import { encodeKey } from '../../engine/keys/key-text.ts';
import { keyFromEnv, keyFromFile, secretFromEnv } from '../cli-secrets.ts';
import { EnvName, readJsonFile, retentionFrom, ServerFile, TaskFile } from '../task-file.ts';
import { hooksFrom, taskFileId, tlsCaFileOf } from './backup.ts';
import { RESTORE_RUNS } from '../../engine/restore/restore-history.ts';
import { fileDestination, fileDestinationLabel, fileSecret, fileSecretGiven } from '../file-destination.ts';
import { sameDestinationKey } from '../../engine/destinations/index.ts';
import { localTimeZone } from '../../engine/scheduler/local-time-zone.ts';

/** A server file of `servers add|update`: the server file of `restore --server`, with a name. */
export const StoredServerFile = ServerFile;

/** A task file of `tasks add|update`: the task file of `backup --config`, its server by name or inline. */
export const StoredTaskFile = TaskFile.extend({
  server: z.union([z.string().trim().min(1, 'must name a stored server (name or id) or be a server object'), ServerFile]),
  encryption: z
    .discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('none') }),
      z.strictObject({ mode: z.literal('key'), fingerprint: z.string().min(1).optional(), keyFile: z.string().min(1).optional(), keyEnv: EnvName.optional() }),
    ])
    .optional(),
  enabled: z.boolean().optional(),
  channels: z.array(z.string().min(1)).max(20).optional(),
  /** The stored server (name or id) test restores put their scratch databases on; absent = the task's server. */
  testServer: z.string().trim().min(1, 'must name a stored server (name or id)').optional(),
});
export type StoredTaskFile = z.infer<typeof StoredTaskFile>;

export interface Added {
  id: string;
  name: string;
}

function findServer(servers: Server[], ref: string, what: string): Server {
  const s = servers.find((x) => x.id === ref) ?? servers.find((x) => x.name.toLowerCase() === ref.toLowerCase());
  if (!s) {
    const known = servers.length ? ` Stored servers: ${servers.map((x) => `"${x.name}"`).join(', ')}.` : ' There are no stored servers yet.';
    throw new BackstopError('NOT_FOUND', `${what}: no stored server is named "${ref}" (or has that id).${known} Add it with "backstop servers add --config server.json", or give the server inline.`);
  }
  return s;
}

async function findTask(engine: Engine, ref: string): Promise<Task> {
  const tasks = await engine.command('tasks.list');
  const t = tasks.find((x) => x.id === ref) ?? tasks.find((x) => x.name.toLowerCase() === ref.toLowerCase());
  if (!t) throw new BackstopError('NOT_FOUND', `No task has the id or name "${ref}". "backstop tasks" lists them.`);
  return t;
}

/**
 * `history --task REF`: the task id whose runs to list. REF is a stored task's id or name
 * (as for `tasks update|export|remove`), the name of a task file run with `backup --config`
 * (its runs are under `file-<name>`), `Restores` (restores' runs), or any other id as
 * given (a deleted task's history stays under its id) — so a name never silently lists nothing.
 */
export async function historyTaskId(engine: Engine, ref: string): Promise<string> {
  const tasks = await engine.command('tasks.list');
  const t = tasks.find((x) => x.id === ref) ?? tasks.find((x) => x.name.toLowerCase() === ref.toLowerCase());
  if (t) return t.id;
  if (ref.toLowerCase() === RESTORE_RUNS.taskName.toLowerCase()) return RESTORE_RUNS.taskId;
  if (Id.safeParse(ref).success && (await engine.command('history.list', { taskId: ref, limit: 1 })).length) return ref;
  const fileId = taskFileId(ref);
  if ((await engine.command('history.list', { taskId: fileId, limit: 1 })).length) return fileId;
  if (!Id.safeParse(ref).success) throw new BackstopError('NOT_FOUND', `No task has the id or name "${ref}", and no run in history is of a task file named so. "backstop tasks" lists the stored tasks; "backstop history" shows every run with its task.`);
  return ref;
}

async function serverByRef(engine: Engine, ref: string): Promise<Server> {
  return findServer(await engine.command('servers.list'), ref, 'backstop servers');
}

// ───────────── servers ─────────────

/** A server file as the engine's ServerInput; the password from the variable `passwordEnv` names (absent: none given, an update keeps the stored one). */
function serverInput(f: ServerFile, name: string, base: string, path: string): ServerInput {
  if (f.kind === 'sqlite') return { name, kind: 'sqlite', folder: resolve(base, f.folder) };
  const password = secretFromEnv(f.passwordEnv, `passwordEnv in ${path}`);
  return { name, kind: f.kind, host: f.host, port: f.port, user: f.user, tls: f.tls, ...tlsCaFileOf(f, base), ...(password ? { password } : {}) };
}

function readServerFile(path: string): { f: ServerFile; name: string; base: string } {
  const f = readJsonFile(path, StoredServerFile, 'The server file');
  if (!f.name) throw new BackstopError('VALIDATION', `The server file ${path}: name: a stored server needs a name; add "name": "…" (it is how task files refer to the server).`);
  return { f, name: f.name, base: dirname(resolve(path)) };
}

export async function serversAdd(engine: Engine, path: string): Promise<Added> {
  const { f, name, base } = readServerFile(path);
  const s = await engine.command('servers.create', serverInput(f, name, base, path));
  return { id: s.id, name: s.name };
}

export async function serversUpdate(engine: Engine, ref: string, path: string): Promise<Added> {
  const existing = await serverByRef(engine, ref);
  const { f, name, base } = readServerFile(path);
  const s = await engine.command('servers.update', { id: existing.id, server: serverInput(f, name, base, path) });
  return { id: s.id, name: s.name };
}

export async function serversRemove(engine: Engine, ref: string): Promise<Added> {
  const s = await serverByRef(engine, ref);
  await engine.command('servers.delete', { id: s.id });
  return { id: s.id, name: s.name };
}

/** A stored server as a server file (no secret: a stored password stays in the keychain). */
export function serverToFile(s: Server): Record<string, unknown> {
  if (s.kind === 'sqlite') return { name: s.name, kind: 'sqlite', folder: s.folder };
  return { name: s.name, kind: s.kind, host: s.host, port: s.port, user: s.user, tls: s.tls, ...(s.tlsCaFile ? { tlsCaFile: s.tlsCaFile } : {}) };
}

export async function serversExport(engine: Engine, ref: string, out: string): Promise<{ id: string; name: string; file: string | null; document: unknown; notes: string[] }> {
  const s = await serverByRef(engine, ref);
  const doc = serverToFile(s);
  const notes = s.kind !== 'sqlite' && s.passwordRef ? [`The password of "${s.name}" stays in this machine's keychain and is not in the file; to add the server elsewhere, add "passwordEnv": "VARIABLE" and set that variable.`] : [];
  return { id: s.id, name: s.name, file: writeConfigFile(out, doc), document: doc, notes };
}

// ───────────── tasks ─────────────

/** The stored server an inline server object stands for: one with the same connection, else a new one (created: true). */
async function inlineServer(engine: Engine, f: ServerFile, taskName: string, base: string, path: string): Promise<{ server: Server; created: boolean }> {
  const servers = await engine.command('servers.list');
  const folder = f.kind === 'sqlite' ? resolve(base, f.folder) : null;
  const same = servers.find((s) =>
    s.kind === 'sqlite' ? f.kind === 'sqlite' && s.folder === folder : f.kind === s.kind && f.host === s.host && f.port === s.port && f.user === s.user,
  );
  if (same) return { server: same, created: false };
  const name = f.name ?? (f.kind === 'sqlite' ? `${taskName} (SQLite folder)` : `${f.host}:${f.port}`);
  return { server: await engine.command('servers.create', serverInput(f, name, base, `server in ${path}`)), created: true };
}

/** The key a task file names, imported into the keychain; or the keychain key its fingerprint names. */
async function taskEncryption(engine: Engine, f: StoredTaskFile, base: string, path: string): Promise<TaskInput['encryption']> {
  const e = f.encryption;
  if (!e || e.mode === 'none') return { mode: 'none' };
  const key = (e.keyFile ? keyFromFile(resolve(base, e.keyFile)) : null) ?? (e.keyEnv ? keyFromEnv(e.keyEnv) : null);
  if (!key) {
    if (e.fingerprint) {
      const known = (await engine.command('keys.list')).find((k) => k.fingerprint === e.fingerprint);
      if (known) return { mode: 'key', keyRef: known.keyRef, fingerprint: known.fingerprint };
      // In this machine's keychain but new to this data dir (another data dir's key): register it.
      const found = await engine.keys.findByFingerprint(e.fingerprint);
      if (!found) {
        throw new BackstopError('KEY_REQUIRED', `encryption.fingerprint in ${path}: the key ${e.fingerprint} is not in this machine's keychain. Bring it here with "backstop keys import FILE", or name its file with "keyFile" (or a variable holding it with "keyEnv").`);
      }
      const info = await engine.command('keys.import', { key: encodeKey(found) });
      return { mode: 'key', keyRef: info.keyRef, fingerprint: info.fingerprint };
    }
    throw new BackstopError('KEY_REQUIRED', `encryption in ${path}: name the key with "fingerprint" (a key in this machine's keychain, see "backstop keys list"), "keyFile" or "keyEnv"${e.keyEnv ? ` (the environment variable ${e.keyEnv} is not set)` : ''}.`);
  }
  const info = await engine.command('keys.import', { key: encodeKey(key) });
  if (e.fingerprint && e.fingerprint !== info.fingerprint) {
    throw new BackstopError('VALIDATION', `encryption.fingerprint in ${path} is ${e.fingerprint}, but the key given by keyFile/keyEnv has the fingerprint ${info.fingerprint}. Fix one of them.`);
  }
  return { mode: 'key', keyRef: info.keyRef, fingerprint: info.fingerprint };
}

/** Destinations with their secrets from the named variables moved into the keychain (kept from `before`, the same place by sameDestinationKey, while the variables are not set). */
async function taskDestinations(engine: Engine, f: StoredTaskFile, base: string, path: string, before: Task | null, saved: string[]): Promise<Destination[]> {
  const out: Destination[] = [];
  for (const [i, d] of f.destinations.entries()) {
    if (d.kind === 'local') {
      out.push(fileDestination(d, base, null));
      continue;
    }
    const place = sameDestinationKey(fileDestination(d, base, null), resolve);
    const kept = before?.destinations.find((x) => sameDestinationKey(x, resolve) === place);
    const keptRef = kept && kept.kind !== 'local' ? kept.credentialsRef : null;
    let credentialsRef = keptRef;
    if (!keptRef || fileSecretGiven(d)) {
      const secret = fileSecret(d, `destinations.${i} (${fileDestinationLabel(d)}) in ${path}`);
      if (secret) {
        ({ credentialsRef } = await engine.command('destinations.saveCredentials', { secret, ...(keptRef ? { credentialsRef: keptRef } : {}) }));
        if (!keptRef) saved.push(credentialsRef);
      }
    }
    out.push(fileDestination(d, base, credentialsRef));
  }
  return out;
}

function readTaskFile(path: string): { f: StoredTaskFile; base: string } {
  const f = readJsonFile(path, StoredTaskFile, 'The task file');
  if (f.notifications.length > 0) {
    throw new BackstopError('VALIDATION', `notifications in ${path}: a stored task notifies through the notification channels set up in Settings; list their ids in "channels" instead (the "notifications" of a task file are for "backstop backup --config").`);
  }
  if (f.tools) {
    throw new BackstopError('VALIDATION', `tools in ${path}: a stored task uses the client tools of the app's settings; remove "tools" (it is for "backstop backup --config").`);
  }
  if (f.testServer && !f.testRestore) {
    throw new BackstopError('VALIDATION', `testServer in ${path}: a stored task uses a test server for its scheduled test restores; add "testRestore" (a schedule, or afterFull: true), or remove "testServer".`);
  }
  return { f, base: dirname(resolve(path)) };
}

async function taskInput(engine: Engine, f: StoredTaskFile, serverId: string, base: string, path: string, before: Task | null, saved: string[]): Promise<TaskInput> {
  return {
    name: f.name,
    serverId,
    type: f.type,
    schedule: { full: f.schedule.full ?? null, incremental: f.schedule.incremental ?? null, timezone: f.schedule.timezone ?? localTimeZone() },
    retention: f.retention ? retentionFrom(f.retention.minAge, f.retention.keepLast) : { minAgeDays: 0, keepLast: null },
    encryption: await taskEncryption(engine, f, base, path),
    destinations: await taskDestinations(engine, f, base, path, before, saved),
    excludeDatabases: f.excludeDatabases,
    enabled: f.enabled ?? true,
    ...(f.hooks ? { hooks: hooksFrom(f.hooks, base) } : {}),
    ...(f.limits ? { limits: f.limits } : {}),
    ...(f.channels ? { notifications: f.channels } : {}),
    testRestore: f.testRestore && f.testServer ? { ...f.testRestore, serverId: findServer(await engine.command('servers.list'), f.testServer, `testServer in ${path}`).id } : (f.testRestore ?? null),
  };
}

/** Adds (before = null) or updates a task from a file; an inline server and the destination secrets saved here are removed again when the task is refused. */
async function applyTask(engine: Engine, path: string, before: Task | null): Promise<Added> {
  const { f, base } = readTaskFile(path);
  const resolved =
    typeof f.server === 'string'
      ? { server: findServer(await engine.command('servers.list'), f.server, `server in ${path}`), created: false }
      : await inlineServer(engine, f.server, f.name, base, path);
  const saved: string[] = [];
  try {
    const input = await taskInput(engine, f, resolved.server.id, base, path, before, saved);
    const t = before ? await engine.command('tasks.update', { id: before.id, task: input }) : await engine.command('tasks.create', input);
    return { id: t.id, name: t.name };
  } catch (e) {
    for (const credentialsRef of saved) await engine.command('destinations.forgetCredentials', { credentialsRef }).catch(() => undefined);
    if (resolved.created) await engine.command('servers.delete', { id: resolved.server.id });
    throw e;
  }
}

export const tasksAdd = (engine: Engine, path: string): Promise<Added> => applyTask(engine, path, null);

export async function tasksUpdate(engine: Engine, ref: string, path: string): Promise<Added> {
  return applyTask(engine, path, await findTask(engine, ref));
}

export async function tasksRemove(engine: Engine, ref: string): Promise<Added & { keptBackups: string[] }> {
  const t = await findTask(engine, ref);
  await engine.command('tasks.delete', { id: t.id });
  return { id: t.id, name: t.name, keptBackups: t.destinations.map((d) => placeText(d)) };
}

/** A stored destination as a task file's: no secret — the variable names are the ecosystem's defaults, and `update` keeps the stored secret while they are unset. */
function destinationToFile(d: Destination): Record<string, unknown> {
  const limits = d.limits ? { limits: d.limits } : {};
  switch (d.kind) {
    case 'local':
      return { kind: 'local', path: d.path, ...limits };
    case 'azure':
      return {
        kind: 'azure',
        accountName: d.accountName,
        container: d.container,
        prefix: d.prefix,
        accountKeyEnv: 'AZURE_STORAGE_KEY',
        ...(d.endpoint ? { endpoint: d.endpoint } : {}),
        ...(d.accessTier ? { accessTier: d.accessTier } : {}),
        ...limits,
      };
    case 'sftp':
      return {
        kind: 'sftp',
        host: d.host,
        port: d.port,
        user: d.user,
        path: d.path,
        ...(d.privateKeyFile ? { privateKeyFile: d.privateKeyFile } : { passwordEnv: 'BACKSTOP_SFTP_PASSWORD' }),
        ...(d.hostKey ? { hostKey: d.hostKey } : {}),
        ...limits,
      };
    case 'ftp':
      return {
        kind: 'ftp',
        host: d.host,
        port: d.port,
        user: d.user,
        path: d.path,
        tls: d.tls,
        ...(d.certificateFingerprint ? { certificateFingerprint: d.certificateFingerprint } : {}),
        ...limits,
      };
    case 's3':
      return {
        kind: 's3',
        bucket: d.bucket,
        prefix: d.prefix,
        region: d.region,
        ...(d.endpoint ? { endpoint: d.endpoint } : {}),
        forcePathStyle: d.forcePathStyle,
        ...(d.storageClass ? { storageClass: d.storageClass } : {}),
        checksumMode: d.checksumMode,
        ...limits,
      };
  }
}

/** Hours as the shortest exact duration of a task file (14d, 36h). */
function duration(hours: number): string {
  return hours % 168 === 0 ? `${hours / 168}w` : hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`;
}

/**
 * A stored task as a task file that `tasks add` accepts unchanged: its server (and its test
 * server, as `testServer`) by name, so the file applies on another machine; no secret.
 */
export function taskToFile(t: Task, server: Server, testServer: Server | null = null): Record<string, unknown> {
  const hours = t.retention.minAgeHours ?? t.retention.minAgeDays * 24;
  const retention = { ...(hours > 0 ? { minAge: duration(hours) } : {}), ...(t.retention.keepLast !== null ? { keepLast: t.retention.keepLast } : {}) };
  return {
    name: t.name,
    server: server.name,
    type: t.type,
    enabled: t.enabled,
    schedule: { full: t.schedule.full, incremental: t.schedule.incremental, timezone: t.schedule.timezone },
    ...(Object.keys(retention).length ? { retention } : {}),
    encryption: t.encryption.mode === 'key' ? { mode: 'key', fingerprint: t.encryption.fingerprint } : { mode: 'none' },
    destinations: t.destinations.map(destinationToFile),
    excludeDatabases: t.excludeDatabases,
    ...(t.hooks ? { hooks: t.hooks } : {}),
    ...(t.limits ? { limits: t.limits } : {}),
    ...(t.notifications ? { channels: t.notifications } : {}),
    // What differs from the defaults only, as a person would write it (add fills in the rest).
    ...(t.testRestore
      ? {
          testRestore: {
            ...(t.testRestore.schedule !== null ? { schedule: t.testRestore.schedule } : {}),
            ...(t.testRestore.afterFull ? { afterFull: true } : {}),
            ...(t.testRestore.maxMinutes !== null ? { maxMinutes: t.testRestore.maxMinutes } : {}),
            // A server that no longer exists keeps its id (add then names the problem).
            ...(t.testRestore.serverId && !testServer ? { serverId: t.testRestore.serverId } : {}),
          },
          ...(testServer ? { testServer: testServer.name } : {}),
        }
      : {}),
  };
}

export async function tasksExport(engine: Engine, ref: string, out: string): Promise<{ id: string; name: string; file: string | null; document: unknown; notes: string[] }> {
  const t = await findTask(engine, ref);
  const servers = await engine.command('servers.list');
  const server = findServer(servers, t.serverId, `task "${t.name}"`);
  const testServer = servers.find((s) => s.id === t.testRestore?.serverId) ?? null;
  const doc = taskToFile(t, server, testServer);
  const notes = [
    `The task refers to its server by name ("${server.name}"): export it too with "backstop servers export ${server.id} --out FILE".`,
    ...(t.destinations.some((d) => d.kind === 's3') ? ['S3 credentials stay in this machine\'s keychain; "tasks add" elsewhere reads them from the variables accessKeyIdEnv/secretAccessKeyEnv name (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY by default).'] : []),
  ];
  return { id: t.id, name: t.name, file: writeConfigFile(out, doc), document: doc, notes };
}

/** Writes a config file whole (temporary file + rename); `-` writes nothing (the caller prints the document). */
function writeConfigFile(out: string, doc: unknown): string | null {
  if (out === '-') return null;
  const target = resolve(out);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { flag: 'wx', mode: 0o644 });
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw new BackstopError(code === 'ENOSPC' ? 'DISK_FULL' : 'STORAGE', `Cannot write ${target} (${code ?? 'error'}): check that its folder exists and that you may write there.`);
  }
  return target;
}
