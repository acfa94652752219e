/**
 * Whole-server restore (issue #22): every database of a task's destination root (or the
 * chosen ones) restored onto one target server in one action.
 *
 * Order: plan (each database's point: the latest, or with `asOf` the latest at or before
 * that moment — restore-to-a-moment from WAL/binlog is not used here), then the
 * server-level content when asked (PostgreSQL roles and tablespaces from `~server/
 * globals.sql`, MySQL/MariaDB users, roles and grants from `~server/grants.sql`; existing
 * ones skipped), then the databases, at most `jobs` at once, each in
 * a worker thread — the same `jobs` threads reused from one database to the next (a hosting
 * server's hundreds of small databases would otherwise each start a thread and load the engine
 * in it). A failed database never stops the others.
 *
 * Names: prefix + name, name + suffix, or the original name — never over an existing
 * database: a target name that exists is 'failed' (DATABASE_EXISTS) unless this restore
 * made it. What a restore made is recorded per target database (ServerRestoresTable,
 * 'started' before the database is created, 'done' after), so a re-run skips the ones
 * done (from another point than now planned: otherPoint) and drops-and-redoes one a killed run left 'started'. A restore that fails is
 * cleaned up by its connector (no half database) and its record removed — unless the
 * database is still there or the server cannot say (it could not be dropped: the server
 * stopped), then it stays 'started' and the next run drops and redoes it.
 */
import type { BackupLocation, Destination, Server } from '../../shared/domain.ts';
import { placeText } from '../../shared/location-text.ts';
import { destinationOf, Location } from '../destinations/location.ts';
import { BackstopError, toFailure, type ErrorCode } from '../../shared/result.ts';
import { mapLimit } from '../runtime/map-limit.ts';
import { JobWorkerPool, runWorkerJob } from '../runtime/worker-job.ts';
import { connectorFor, PG_GLOBALS_STREAM, type ToolPaths } from '../servers/index.ts';
import { MYSQL_GRANTS_STREAM } from '../servers/mysql/connector.ts';
import type { Credentials } from '../destinations/location.ts';
import type { ServerRestoresTable } from '../store/index.ts';
import { scratchTarget } from '../test-restore/scratch.ts';
import type { ManifestCache } from '../repository/index.ts';
import { listBackupFolders, openForRestore, serverKindOf, toRestorePoint } from './backup-folder.ts';
import type { ApplyGlobalsJobSpec } from './run-apply-globals.ts';
import type { RestoreJobSpec, RestoreOutcome } from './run-restore.ts';
import type { ApplyGlobalsReport } from '../servers/postgres/apply-globals.ts';
import { latestPoint } from '../../shared/latest-point.ts';

export type ServerRestoreNaming = { prefix: string } | { suffix: string } | { original: true };

export interface ServerRestoreRequest {
  root: BackupLocation;
  credentials: Credentials | null;
  server: Server;
  password: string | null;
  toolPaths: ToolPaths;
  naming: ServerRestoreNaming;
  asOf?: Date;
  /** True database names to restore (default: all). */
  only?: string[];
  withServerLevel: boolean;
  /** Restores at once (default 2). */
  jobs?: number;
  /** A key given by the user (else the keychain's, by each folder's fingerprint). */
  key: Buffer | null;
  findKey: (fingerprint: string) => Promise<Buffer | null>;
  /** The local cache a remote root's manifests are read through (repository/chunk-cache.ts); none: every one downloaded. */
  manifestCache?: ManifestCache | null;
  journal: ServerRestoresTable;
  now?: () => Date;
  /** Aborting stops the restores running (their connectors clean up) and starts no more: those are 'failed' with CANCELED. */
  signal?: AbortSignal;
  /** Told when a database starts ('running') and when it ends (the window's per-database progress). */
  onDatabase?: (d: ServerRestoreDatabase | (Omit<ServerRestoreDatabase, 'status'> & { status: 'running' })) => void;
}

export interface ServerRestoreDatabase {
  database: string;
  restoredAs: string;
  status: 'ok' | 'failed' | 'skipped';
  error?: { code: string; message: string };
  /** The point restored (or that would have been). */
  point?: { id: string; createdAt: string; bytes: number };
}

export interface ServerRestoreResult {
  databases: ServerRestoreDatabase[];
  /** With --with-server-level: what was applied. */
  serverLevel?: { status: 'ok' | 'failed' | 'none'; detail: string };
  notes: string[];
  /** The restore ended but History could not record it (restore-history.ts): what to tell the user. */
  historyError?: { code: ErrorCode; message: string };
}

export interface Planned {
  database: string;
  restoredAs: string;
  location: BackupLocation;
  pointId: string | null;
  point?: ServerRestoreDatabase['point'];
  /** Its oldest and newest restore points: an "as of" moment before `from` cannot be reached. */
  range?: { from: string; to: string };
  key: Buffer | null;
  error?: { code: string; message: string };
}

/** A task destination as the root location a whole-server restore reads (the inverse of rootDestination). */
export function rootLocation(d: Destination): BackupLocation {
  return Location.of(d, null).backupLocation;
}

function rootDestination(l: BackupLocation): Destination {
  return destinationOf(l);
}

/** The key under which the journal records what a whole-server restore made on this server. */
export function journalTarget(server: Server): string {
  return server.kind === 'sqlite' ? `sqlite:${server.folder}` : scratchTarget(server, '');
}

export function restoredName(database: string, naming: ServerRestoreNaming): string {
  if ('prefix' in naming) return `${naming.prefix}${database}`;
  if ('suffix' in naming) return `${database}${naming.suffix}`;
  return database;
}

/**
 * Whether each database's restore reads one pack ahead: up to 2 restores at once, yes (≤ 4
 * reads of ≤ 40 MiB in the process); more, no (one read each, so --jobs N holds N reads, not 2N).
 */
export function readAheadFor(jobs: number): boolean {
  return jobs <= 2;
}

/**
 * A damaged backup (INTEGRITY) names the backup folder it is in: a root holds one folder per
 * database, and its name is not always the database's (encoded), so "run verify" needs it.
 */
function withDamagedFolder(f: { code: string; message: string }, location: BackupLocation): string {
  if (f.code !== 'INTEGRITY') return f.message;
  return `${f.message} The damaged backups are in ${placeText(location)} (check them with \`backstop verify\` on that folder).`;
}

/** The plan only (no server is touched): each database's point and target name, or why it cannot be restored. */
export async function planServerRestore(
  req: Pick<ServerRestoreRequest, 'root' | 'credentials' | 'server' | 'naming' | 'asOf' | 'only' | 'key' | 'findKey' | 'manifestCache'>,
): Promise<{ planned: Planned[]; folders: Awaited<ReturnType<typeof listBackupFolders>>; notes: string[] }> {
  const notes: string[] = [];
  const folders = await listBackupFolders(rootDestination(req.root), req.credentials);
  const databaseFolders = folders.filter((f) => !f.serverStream);
  if (databaseFolders.length === 0) throw new BackstopError('NOT_FOUND', `${placeText(req.root)} holds no database backups. Give the destination root of a task (the folder that holds one folder per database).`);

  // 1. The plan: which point of which database, under which name.
  const planned: Planned[] = [];
  /** Server identity (task-runner serverIdentity) of each database's chosen point → those databases. */
  const servers = new Map<string, string[]>();
  for (const f of databaseFolders) {
    try {
      const opened = await openForRestore(f.location, req.key, req.findKey, req.credentials, req.manifestCache ?? null);
      if (!opened.repo) throw new BackstopError('KEY_REQUIRED', `The backups of this database are encrypted with key ${opened.keyFingerprint}, which is neither given (--key-file, BACKSTOP_KEY) nor in this computer's keychain.`);
      const points = (await opened.repo.listPoints()).filter((p) => p.backupType === 'logical' || serverKindOf(toRestorePoint(p).format) === 'sqlite');
      const database = points.at(-1)?.database ?? f.database ?? f.folder;
      if (req.only && !req.only.includes(database)) continue;
      const chosen = req.asOf ? points.filter((p) => new Date(p.createdAt).getTime() <= req.asOf!.getTime()).at(-1) : latestPoint(points, new Date());
      const key = opened.encrypted ? (req.key ?? (opened.keyFingerprint ? await req.findKey(opened.keyFingerprint) : null)) : null;
      const entry: Planned = { database, restoredAs: restoredName(database, req.naming), location: f.location, pointId: chosen?.id ?? null, key };
      if (points.length > 0) entry.range = { from: points[0]!.createdAt, to: points.at(-1)!.createdAt };
      if (chosen) {
        entry.point = { id: chosen.id, createdAt: chosen.createdAt, bytes: chosen.length };
        servers.set(chosen.serverIdentity, [...(servers.get(chosen.serverIdentity) ?? []), database]);
      }
      else if (points.length === 0) entry.error = { code: 'NOT_FOUND', message: `The backup folder of "${database}" holds no restore points.` };
      else {
        entry.error = {
          code: 'OUT_OF_RANGE',
          message: `"${database}" has no restore point at or before ${req.asOf!.toISOString()}: its points range from ${points[0]!.createdAt} to ${points.at(-1)!.createdAt}.`,
        };
      }
      const kind = chosen ? serverKindOf(toRestorePoint(chosen).format) : null;
      if (chosen && kind !== req.server.kind) entry.error = { code: 'VALIDATION', message: `"${database}" is a ${kind ?? 'unknown'} backup; it cannot be restored onto a ${req.server.kind} server.` };
      planned.push(entry);
    } catch (e) {
      const fail = toFailure(e);
      const database = f.database ?? f.folder;
      if (req.only && !req.only.includes(database)) continue;
      planned.push({ database, restoredAs: restoredName(database, req.naming), location: f.location, pointId: null, key: null, error: { code: fail.code, message: withDamagedFolder(fail, f.location) } });
    }
  }
  const unknown = (req.only ?? []).filter((n) => !planned.some((p) => p.database === n));
  if (unknown.length > 0) {
    throw new BackstopError('VALIDATION', `--only names ${unknown.map((n) => `"${n}"`).join(', ')}, which ${placeText(req.root)} holds no backup of; nothing was restored.`);
  }
  if (servers.size > 1) notes.push(mixedServersNote(req.root, servers));
  if (req.asOf) notes.push(`As of ${req.asOf.toISOString()}: each database is restored from its latest restore point at or before that moment (restore points only; no log replay).`);
  return { planned, folders, notes };
}

/**
 * A root whose databases were backed up from more than one server (a folder copied in, two tasks at one
 * root before that was refused, or the server's address changed): all are restored, but the DBA is told
 * which databases are whose, so another server's are not mistaken for this one's.
 */
function mixedServersNote(root: BackupLocation, servers: Map<string, string[]>): string {
  const list = [...servers].map(([server, names]) => `${server} — ${names.map((n) => `"${n}"`).join(', ')}`).join('; ');
  return `${placeText(root)} holds backups of more than one server (a database folder copied in, two tasks writing to one root, or the server's address changed): ${list}. Each database is restored from its own backups; leave out those of another server with --only (in the window: untick them).`;
}

const UNCHANGED_SHOWN = 20;

/**
 * The roles/accounts the server-level step skipped, by name — an account the target already has may differ
 * from the stored one (attributes, password, plugin), and the DBA must know which were not applied.
 */
function leftUnchanged(report: ApplyGlobalsReport): string {
  const names = report.objects.filter((o) => o.action === 'skipped' && o.kind === 'role').map((o) => o.name);
  if (names.length === 0) return '';
  const more = names.length > UNCHANGED_SHOWN ? ` and ${names.length - UNCHANGED_SHOWN} more` : '';
  return `, left unchanged: ${names.slice(0, UNCHANGED_SHOWN).join(', ')}${more}`;
}

/**
 * A database this restore made earlier, from another point than the one planned now. As of a moment, it
 * is not what was asked: DATABASE_EXISTS (never overwritten, never 'skipped' as if done). For the latest
 * points it is a resume after a newer backup: kept, and the note says which point it holds. Null when
 * the points are the same (or the record has none).
 */
export function otherPoint(record: { pointId: string | null }, p: Pick<Planned, 'restoredAs' | 'pointId'>, asOf: Date | undefined): { error?: { code: string; message: string }; note?: string } | null {
  if (record.pointId === null || p.pointId === null || record.pointId === p.pointId) return null;
  if (asOf) {
    return {
      error: {
        code: 'DATABASE_EXISTS',
        message: `"${p.restoredAs}" was restored by an earlier run from restore point ${record.pointId}, not from the one this restore asks for (${p.pointId}, the latest at or before ${asOf.toISOString()}); a restore never overwrites a database. Drop it and run again, or choose another prefix or suffix.`,
      },
    };
  }
  return { note: `"${p.restoredAs}" was restored by an earlier run from restore point ${record.pointId} and is left as it is; the latest point is now ${p.pointId} (drop it and run again, or use another --prefix or --suffix, to have that one).` };
}

/** The whole restore's outcome, in a task run's words: every database restored or skipped (and the server level applied) is "success", none restored is "failed". */
export function serverRestoreStatus(r: Pick<ServerRestoreResult, 'databases' | 'serverLevel'>): 'success' | 'partial' | 'failed' {
  const failed = r.databases.filter((d) => d.status === 'failed').length;
  if (failed === 0 && r.serverLevel?.status !== 'failed') return 'success';
  return failed === r.databases.length ? 'failed' : 'partial';
}

export async function restoreServer(req: ServerRestoreRequest): Promise<ServerRestoreResult> {
  const now = req.now ?? (() => new Date());
  const { planned, folders, notes } = await planServerRestore(req);

  // 2. Server-level content, only when asked, before the databases (their owners may be among the roles).
  const connector = connectorFor(req.server, { password: req.password, toolPaths: req.toolPaths });
  let serverLevel: ServerRestoreResult['serverLevel'];
  if (req.withServerLevel) {
    const applied = await applyServerLevel(req, folders);
    serverLevel = applied.result;
    const note = applied.report ? renamedGrantsNote(applied.report, planned) : null;
    if (note) notes.push(note);
  }

  // 3. The databases.
  const target = journalTarget(req.server);
  const existing = new Set(await connector.listDatabases());
  const results = new Map<Planned, ServerRestoreDatabase>();
  const todo: Planned[] = [];
  for (const p of planned) {
    const base = { database: p.database, restoredAs: p.restoredAs, ...(p.point ? { point: p.point } : {}) };
    if (p.error) {
      results.set(p, { ...base, status: 'failed', error: p.error });
      req.onDatabase?.(results.get(p)!);
      continue;
    }
    const source = `${placeText(p.location)}`;
    const record = req.journal.get(target, p.restoredAs);
    const ours = record !== null && record.source === source;
    if (existing.has(p.restoredAs)) {
      if (ours && (record.state === 'done' || req.server.kind === 'sqlite')) {
        const other = otherPoint(record, p, req.asOf);
        if (other?.error) {
          results.set(p, { ...base, status: 'failed', error: other.error });
          req.onDatabase?.(results.get(p)!);
          continue;
        }
        if (other?.note) notes.push(other.note);
        req.journal.mark(target, p.restoredAs, source, record.pointId, 'done', now().toISOString());
        results.set(p, { ...base, status: 'skipped' });
        req.onDatabase?.(results.get(p)!);
        continue;
      }
      if (!ours) {
        results.set(p, { ...base, status: 'failed', error: { code: 'DATABASE_EXISTS', message: `Database "${p.restoredAs}" already exists on the target server; a restore never overwrites a database. Choose a --prefix or --suffix.` } });
        req.onDatabase?.(results.get(p)!);
        continue;
      }
      // Left half-restored by a killed run of this same restore: it is Backstop's own; redo it.
      try {
        await connector.dropDatabase(p.restoredAs);
      } catch (e) {
        const f = toFailure(e);
        results.set(p, { ...base, status: 'failed', error: { code: f.code, message: `"${p.restoredAs}" was left half-restored by an earlier run and could not be dropped: ${f.message}` } });
        req.onDatabase?.(results.get(p)!);
        continue;
      }
      notes.push(`"${p.restoredAs}" was left half-restored by an interrupted run; it was dropped and restored again.`);
    }
    todo.push(p);
  }
  // Ended with the restore (an idle thread is unref'd and would end on its own after idleMs).
  const workers = new JobWorkerPool('repository-job', { maxIdle: req.jobs ?? 2 });
  const restored = mapLimit(todo, req.jobs ?? 2, async (p) => {
    const source = placeText(p.location);
    const base = { database: p.database, restoredAs: p.restoredAs, ...(p.point ? { point: p.point } : {}) };
    if (req.signal?.aborted) {
      results.set(p, { ...base, status: 'failed', error: { code: 'CANCELED', message: `"${p.database}" was not restored: the restore was canceled before it started. Run the same restore again to complete it.` } });
      req.onDatabase?.(results.get(p)!);
      return;
    }
    req.journal.mark(target, p.restoredAs, source, p.pointId, 'started', now().toISOString());
    req.onDatabase?.({ ...base, status: 'running' });
    const spec: RestoreJobSpec = {
      op: 'restore',
      restoreId: `server:${p.restoredAs}`,
      location: p.location,
      credentials: req.credentials,
      pointId: p.pointId!,
      server: req.server,
      password: req.password,
      toolPaths: req.toolPaths,
      database: p.restoredAs,
      keyBase64: p.key ? p.key.toString('base64') : null,
      options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null },
      readAhead: readAheadFor(req.jobs ?? 2),
    };
    try {
      await workers.run<RestoreOutcome>(spec, { label: `the restore of ${p.database}`, ...(req.signal ? { signal: req.signal } : {}) });
      results.set(p, { ...base, status: 'ok' });
      // Restored: an app database that cannot record it (a full disk) does not make it failed.
      try {
        req.journal.mark(target, p.restoredAs, source, p.pointId, 'done', now().toISOString());
      } catch (journal) {
        const f = toFailure(journal);
        notes.push(`"${p.restoredAs}" was restored, but the restore journal could not record it as done (${f.message})${req.server.kind === 'sqlite' ? '.' : '; a re-run of this same restore would drop it and restore it again.'}`);
      }
    } catch (e) {
      const f = toFailure(e);
      // A database the failed restore could not drop (its server stopped or went away) stays recorded as started, so
      // that the next run of this restore drops it and restores it again. The record goes when the database is gone,
      // or when it was never this restore's (DATABASE_EXISTS: someone else's database took the name meanwhile).
      const left = f.code !== 'DATABASE_EXISTS' && (await connector.listDatabases().then((names) => names.includes(p.restoredAs), () => true));
      if (!left) req.journal.forget(target, p.restoredAs);
      const hint = f.code === 'ROLE_MISSING' && !req.withServerLevel ? ' Or add --with-server-level to create the stored roles first.' : '';
      // Canceled while it ran (the window's Cancel, Ctrl-C, systemd stop): say what became of the database it was creating.
      const canceled = `"${p.database}" was not restored: the restore was canceled while it ran; ${left ? `"${p.restoredAs}" is left half-restored (the same restore run again drops it and restores it again).` : `what it had created ("${p.restoredAs}") was removed.`} Run the same restore again to complete it.`;
      results.set(p, { ...base, status: 'failed', error: { code: f.code, message: f.code === 'CANCELED' ? canceled : `${withDamagedFolder(f, p.location)}${hint}` } });
    }
    req.onDatabase?.(results.get(p)!);
  });
  await restored.finally(() => workers.close());
  return { databases: planned.map((p) => results.get(p)!), ...(serverLevel ? { serverLevel } : {}), notes };
}

/**
 * MySQL/MariaDB grants name databases: the stored `GRANT … ON \`app\`.* TO …` is applied as it is, to
 * `app`, never to the copy restored as `r_app` — which then has no grants. Said per database (null when
 * no stored grant names a database restored under another name).
 */
export function renamedGrantsNote(report: ApplyGlobalsReport, planned: readonly Planned[]): string | null {
  const quoted = (db: string) => `\`${db.replace(/`/g, '``')}\`.`;
  const hits: string[] = [];
  for (const p of planned) {
    if (p.error || p.restoredAs === p.database) continue;
    const forms = [quoted(p.database), quoted(p.database.replace(/[_%]/g, (c) => `\\${c}`))];
    const accounts = report.objects.filter((o) => (o.grants ?? []).some((g) => forms.some((f) => g.includes(` ON ${f}`)))).map((o) => o.name);
    if (accounts.length > 0) hits.push(`"${p.database}" (held by ${accounts.join(', ')}) — not on "${p.restoredAs}"`);
  }
  if (hits.length === 0) return null;
  return `The stored grants name the original databases and were applied to those names: ${hits.join('; ')}. Grant the restored copies by hand (GRANT … ON \`<restored name>\`.* TO …) if they are to be used the same way, and check that a grant on the original name gives no access it should not (a database of that name on this server).`;
}

/** The server-level step's result, and the apply report when it ran (its grants feed renamedGrantsNote). */
async function applyServerLevel(req: ServerRestoreRequest, folders: Awaited<ReturnType<typeof listBackupFolders>>): Promise<{ result: NonNullable<ServerRestoreResult['serverLevel']>; report?: ApplyGlobalsReport }> {
  if (req.server.kind === 'sqlite') return { result: { status: 'none', detail: 'SQLite backups have no server-level content (users and grants) to apply.' } };
  // PostgreSQL: the roles and tablespaces of globals.sql; MySQL/MariaDB: the users, roles and grants of grants.sql.
  const mysql = req.server.kind === 'mysql';
  const stream = mysql ? MYSQL_GRANTS_STREAM : PG_GLOBALS_STREAM;
  const what = mysql ? 'users, roles and grants' : 'roles and tablespaces';
  const globals = folders.find((f) => f.serverStream && f.folder.endsWith(`/${stream.name}`));
  if (!globals) return { result: { status: 'failed', detail: `The root holds no ${stream.name} (${what}) to apply.` } };
  try {
    const opened = await openForRestore(globals.location, req.key, req.findKey, req.credentials, req.manifestCache ?? null);
    if (!opened.repo) throw new BackstopError('KEY_REQUIRED', `The server-level backups are encrypted with key ${opened.keyFingerprint}, which is neither given nor in the keychain.`);
    const all = await opened.repo.listPoints();
    const newest = req.asOf ? all.filter((p) => new Date(p.createdAt).getTime() <= req.asOf!.getTime()).at(-1) : latestPoint(all, new Date());
    if (!newest) throw new BackstopError('NOT_FOUND', `No ${stream.name} point${req.asOf ? ' at or before that moment' : ''}.`);
    const key = opened.encrypted ? (req.key ?? (opened.keyFingerprint ? await req.findKey(opened.keyFingerprint) : null)) : null;
    const spec: ApplyGlobalsJobSpec = {
      op: 'apply-globals',
      location: globals.location,
      credentials: req.credentials,
      pointId: newest.id,
      server: req.server,
      password: req.password,
      toolPaths: req.toolPaths,
      keyBase64: key ? key.toString('base64') : null,
      alterExisting: false,
      dryRun: false,
    };
    const report = await runWorkerJob<ApplyGlobalsReport>('repository-job', spec, { label: `applying the ${what}` });
    const count = (a: string) => report.objects.filter((o) => o.action === a).length;
    const failed = report.objects.filter((o) => o.action === 'failed');
    const detail = `${what}: ${count('created')} created, ${count('skipped')} already there (skipped${leftUnchanged(report)})${failed.length ? `, ${failed.length} failed (${failed.map((o) => (o.message ? `${o.name}: ${o.message}` : o.name)).join('; ')})` : ''}`;
    const hint = !mysql && report.objects.some((o) => o.kind === 'role' && o.action === 'skipped' && o.message?.startsWith('exists on the target'))
      ? `. Roles left unchanged keep the target's attributes, settings, memberships and password; \`backstop apply-globals ${placeText(req.root)}/~server --server … --alter-existing\` gives them the stored ones (never the password)`
      : '';
    return { result: { status: failed.length ? 'failed' : 'ok', detail: `${detail}${hint}` }, report };
  } catch (e) {
    const f = toFailure(e);
    return { result: { status: 'failed', detail: `${f.code}: ${f.message}` } };
  }
}
