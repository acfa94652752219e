/**
 * Restore one MySQL/MariaDB database as it was at a moment, into a NEW database: the
 * newest dump (a point of the database's folder; each is a whole dump, full or
 * incremental) whose snapshot is at or before the moment and
 * whose recorded binary-log position the stored log (the `~server/binlog` folder beside
 * it, found by itself) covers up to the moment — a log chain read from the same server as
 * the dump (serverIdentity: a task pointed at another server never pairs one server's dump
 * with the other's log); then that database's events from the
 * position up to the moment, replayed under the new name.
 *
 * A log read taken while the server's filter (binlog_do_db / binlog_ignore_db) left the
 * database out holds none of its changes: the moments of a dump end before that read
 * (binlog.ts `leftOutOfReads`).
 *
 * Contract:
 * - Everything is decided before anything is created: a moment no dump + stored log
 *   reaches → OUT_OF_RANGE naming the reachable range(s); nothing is created.
 * - The dump is restored like any point (runRestore: verified, DATABASE_EXISTS, the new
 *   database dropped on failure); a replay that fails drops it too.
 * - Each stored log file is taken once, whatever number of reads stored it (binlog.ts), and
 *   replay starts at the dump's exact position, so every event is applied exactly once.
 * - The moment resolves to the second (the log's timestamps are whole seconds, binlog.ts
 *   `stopDatetime`): a whole-second moment replays what was logged before it; a moment inside
 *   a second replays the whole of that second. The note says which.
 * - Before anything is created, the log range is scanned (binlog.ts StatementScan): one that
 *   holds a statement the replay under the new name would apply wrongly (rows changed by an
 *   SQL statement — binlog_format STATEMENT or MIXED —, or a statement naming
 *   `source`.table itself) → RESTORE_FAILED naming it and the fix; nothing is created.
 * - So is a source or new name mariadb-binlog's --rewrite-db cannot carry (binlog.ts
 *   rewriteRefusal: `->` in the source's name, a leading space): the replay would write into
 *   the source database itself.
 * - So is a target whose max_allowed_packet is smaller than the longest statement the replay
 *   would send (a row change of a large value): RESTORE_FAILED naming the SET GLOBAL to run
 *   (connector.ts replayPacketRefusal); nothing is created.
 * - So is a target where the user may not run what the replay runs (each event's session
 *   variables and BINLOG statements: BINLOG REPLAY; its SET TIMESTAMP: secure_timestamp):
 *   RESTORE_FAILED naming the privilege or setting and the fix; nothing is created.
 * - The log files to replay are copied into a temporary folder (TMPDIR) before the dump is
 *   restored: a disk that fills there is DISK_FULL naming it and the fix; nothing is created.
 */
import { rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { hostPort, type BackupLocation, type Server } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { newestFirst } from '../../shared/latest-point.ts';
import { closeRead, isRepository, openRepository, type PointSummary, type Repository } from '../repository/index.ts';
import { BINLOG_STREAM, dumpFileReplaced, logFileNumber, leftOutOfReads, logFilterNote, rewriteRefusal, storedLogFilter, unpackLogFiles, type DumpPosition, type LogReadMeta } from '../servers/mysql/binlog.ts';
import { MysqlConnector } from '../servers/mysql/connector.ts';
import { connectorFor, SERVER_FOLDER, type ToolPaths } from '../servers/index.ts';
import type { Credentials } from '../destinations/location.ts';
import { Location } from '../destinations/index.ts';
import type { Backend } from '../storage/index.ts';
import { makeTempFolder, tempFullError } from '../servers/temp-folder.ts';
import { workFolderBase } from '../runtime/work-folder.ts';
import { runRestore, type RestoreOutcome } from './run-restore.ts';

/** Where the server's stored binary log is for a database folder: `~server/binlog` beside it. */
export function logLocationBeside(l: BackupLocation): BackupLocation {
  if (l.kind === 'local') return { kind: 'local', path: join(dirname(l.path), SERVER_FOLDER, BINLOG_STREAM.name) };
  if (l.kind === 'ftp' || l.kind === 'sftp') return { ...l, path: posix.join(posix.dirname(l.path.replace(/\/+$/, '')), SERVER_FOLDER, BINLOG_STREAM.name) };
  const parent = posix.dirname(l.prefix.replace(/\/+$/, ''));
  return { ...l, prefix: posix.join(parent === '.' ? '' : parent, SERVER_FOLDER, BINLOG_STREAM.name) };
}

export interface MomentRange {
  from: string;
  to: string;
}

/** A dump that can be rolled forward, the log chain that does it, and how far. */
interface Candidate {
  point: PointSummary;
  position: DumpPosition;
  logPoints: PointSummary[];
  range: MomentRange;
}

function dumpPosition(p: PointSummary): DumpPosition | null {
  const m = p.meta;
  if (typeof m.binlogFile !== 'string' || typeof m.binlogPos !== 'number' || typeof m.snapshotAt !== 'string') return null;
  return { binlogFile: m.binlogFile, binlogPos: m.binlogPos, snapshotAt: m.snapshotAt, ...(typeof m.binlogGtid === 'string' ? { binlogGtid: m.binlogGtid } : {}) };
}

function logMeta(p: PointSummary): LogReadMeta | null {
  const m = p.meta;
  if (!Array.isArray(m.binlogFiles) || typeof m.binlogLast !== 'string' || typeof m.binlogEndAt !== 'string') return null;
  const filter = storedLogFilter(m.binlogFilter);
  return {
    binlogFiles: m.binlogFiles.filter((f): f is string => typeof f === 'string'),
    binlogLast: m.binlogLast,
    binlogEndAt: m.binlogEndAt,
    ...(filter ? { binlogFilter: filter } : {}),
  };
}

/** Every dump of the database that a stored log chain rolls forward, with the moments it reaches. */
export async function momentCandidates(dbRepo: Repository, logRepo: Repository | null): Promise<Candidate[]> {
  if (!logRepo) return [];
  // In the order the reads were written (latest-point.ts): after a clock set back, the oldest by date is not a chain's first read.
  const logPoints = newestFirst(
    (await logRepo.listPoints()).filter((p) => logMeta(p)),
    new Date(),
  ).reverse();
  const chains = new Map<string, PointSummary[]>();
  for (const p of logPoints) chains.set(p.chainId, [...(chains.get(p.chainId) ?? []), p]);
  const out: Candidate[] = [];
  for (const point of await dbRepo.listPoints()) {
    const position = dumpPosition(point);
    const at = position ? logFileNumber(position.binlogFile) : null;
    if (!position || !at) continue;
    for (const points of chains.values()) {
      // Only the log of the server the dump was taken from (file names repeat from server to server).
      if (points[0]?.serverIdentity !== point.serverIdentity) continue;
      const first = points[0] && logMeta(points[0])!.binlogFiles[0];
      const start = first ? logFileNumber(first) : null;
      if (!start || start.base !== at.base || start.n > at.n) continue;
      // The chain's files must run without a hole from the dump's file to its end.
      const have = new Set(points.flatMap((p) => logMeta(p)!.binlogFiles));
      const numbers = [...have].map((f) => logFileNumber(f)?.n ?? -1).filter((n) => n >= at.n);
      if (!have.has(position.binlogFile) || numbers.length !== Math.max(...numbers) - at.n + 1) continue;
      // A file of the dump's name begun after the dump (the log numbered anew: RESET MASTER, a server rebuilt at the address) is not its file.
      if (dumpFileReplaced(position, points.map((p) => p.meta))) continue;
      // Reads taken while the server's filter left the database out end its moments before them (binlog.ts leftOutOfReads).
      const leftOut = leftOutOfReads(point.database, position.snapshotAt, points.map((p) => logMeta(p)!));
      const end = leftOut ? leftOut.heldUntil : points.map((p) => logMeta(p)!.binlogEndAt).sort().at(-1)!;
      if (end === null || end < position.snapshotAt) continue;
      out.push({ point, position, logPoints: points, range: { from: position.snapshotAt, to: end } });
    }
  }
  return out;
}

function describeRanges(ranges: MomentRange[]): string {
  if (ranges.length === 0) return 'none: no dump of this database recorded a binary-log position that the stored log covers (is log_bin on, and has a run stored the log since the dump?)';
  return ranges.map((r) => `${r.from} to ${r.to}`).join(', ');
}

export interface MomentRestoreInput {
  /** The database's backup folder. */
  location: BackupLocation;
  credentials: Credentials | null;
  key: Buffer | null;
  moment: Date;
  server: Server;
  password: string | null;
  database: string;
  toolPaths: ToolPaths;
  tempDir?: string;
  signal?: AbortSignal;
}

export interface MomentRestoreOutcome extends RestoreOutcome {
  /** The dump (restore point) restored before the replay. */
  pointId: string;
  /** The moment restored to (UTC, to the second) and the range that was reachable. */
  moment: string;
  range: MomentRange;
}

export async function restoreToMoment(input: MomentRestoreInput): Promise<MomentRestoreOutcome> {
  const db = Location.at(input.location, input.credentials);
  const log = Location.at(logLocationBeside(input.location), input.credentials);
  try {
    return await restoreFrom(input, db.backend(), log);
  } finally {
    await Promise.all([db.close(), log.close()]);
  }
}

async function restoreFrom(input: MomentRestoreInput, dbBackend: Backend, log: Location): Promise<MomentRestoreOutcome> {
  const dbRepo = await openRepository(dbBackend, { key: input.key, workers: 0 });
  const logBackend = log.backend();
  const logRepo = (await isRepository(logBackend)) ? await openRepository(logBackend, { key: input.key, workers: 0 }) : null;
  const candidates = await momentCandidates(dbRepo, logRepo);
  const t = input.moment.toISOString();
  const chosen = candidates
    .filter((c) => c.range.from <= t && t <= c.range.to)
    .sort((a, b) => (a.position.snapshotAt < b.position.snapshotAt ? 1 : -1))[0];
  if (!chosen) {
    const where = logRepo ? '' : ` (no stored binary log at ${log.text})`;
    throw new BackstopError('OUT_OF_RANGE', `${t} is outside what this database's backups reach${where}. Reachable moments (UTC): ${describeRanges(candidates.map((c) => c.range))}.`);
  }
  if (input.server.kind !== 'mysql') throw new BackstopError('VALIDATION', `This backup is of a MySQL/MariaDB database; restore it onto a MySQL/MariaDB server, not a ${input.server.kind} one.`);
  const connector = connectorFor(input.server, { password: input.password, toolPaths: input.toolPaths });
  if (!(connector instanceof MysqlConnector)) throw new BackstopError('INTERNAL', 'Expected the MySQL/MariaDB connector.');

  // Names mariadb-binlog's --rewrite-db cannot carry: the replay would write into the source database itself.
  const badName = rewriteRefusal(chosen.point.database, input.database);
  if (badName) {
    throw new BackstopError(
      'RESTORE_FAILED',
      `Database "${chosen.point.database}" cannot be restored as of ${t} into "${input.database}": ${badName.why}. Nothing was created. Fix: ${badName.name === 'target' ? `choose a new name without ${/^\s/.test(input.database) ? 'a leading space' : 'spaces (e.g. with _ instead)'}, or ` : ''}restore a backup point without --as-of (backstop points <location> lists them).`,
    );
  }
  // A replay sets each event's session variables and time: a user or server that forbids it would fail the replay after the dump's load.
  const refusal = await connector.replayRefusal(input.signal ? { signal: input.signal } : {});
  if (refusal) {
    const where = `Database "${chosen.point.database}" cannot be restored as of ${t} on the MySQL/MariaDB server ${hostPort(input.server.host, input.server.port)}`;
    const otherwise = 'or restore a backup point without --as-of (backstop points <location> lists them).';
    throw new BackstopError(
      'RESTORE_FAILED',
      refusal.kind === 'privilege'
        ? `${where}: user "${input.server.user}" may not run what replaying the binary log runs (each event's session settings and row changes; the server said: "${refusal.serverSaid}"). Nothing was created. Fix: GRANT BINLOG REPLAY ON *.* TO the user (MariaDB 10.5 and later; SUPER before), or restore as a user that has it, ${otherwise}`
        : `${where}: it has secure_timestamp=${refusal.value}, so user "${input.server.user}" may not set a statement's time (SET TIMESTAMP), which replaying the binary log does for every event (rows, history of system-versioned tables and DEFAULT CURRENT_TIMESTAMP columns keep their logged times). Nothing was created. Fix: restore onto a server with secure_timestamp=NO${refusal.value === 'YES' ? '' : ` (or, with secure_timestamp=${refusal.value}, as a user with ${refusal.value === 'SUPER' ? 'SUPER or BINLOG REPLAY' : 'BINLOG REPLAY'})`}, ${otherwise}`,
    );
  }
  // Everything checked: now the dump, then the log on top. A prune meanwhile deletes none of the points they need.
  const holds = [await dbRepo.holdPoints([chosen.point.id])];
  let dir = '';
  try {
    holds.push(await logRepo!.holdPoints(chosen.logPoints.map((p) => p.id)));
    // The log files it replays are copied into a temporary folder (TMPDIR) first: a disk
    // that fills is DISK_FULL naming the folder and the fix, before anything is created.
    const purpose = `Restoring "${chosen.point.database}" as of ${t} (the stored binary log it replays)`;
    const need = chosen.logPoints.reduce((n, p) => n + p.length, 0);
    dir = makeTempFolder('backstop-replay-', purpose, input.tempDir ?? workFolderBase());
    const atFile = logFileNumber(chosen.position.binlogFile)!;
    const written = new Set<string>();
    const needed = (name: string): boolean => {
      const n = logFileNumber(name);
      if (!n || n.base !== atFile.base || n.n < atFile.n || written.has(name)) return false;
      written.add(name);
      return true;
    };
    for (const p of chosen.logPoints) {
      if (!logMeta(p)!.binlogFiles.some((f) => !written.has(f) && (logFileNumber(f)?.n ?? -1) >= atFile.n)) continue;
      const stream = await logRepo!.readPoint(p.id, input.signal ? { signal: input.signal } : {});
      await unpackLogFiles(stream, dir, needed)
        .catch((e: unknown) => {
          throw tempFullError(purpose, dir, need, e) ?? e;
        })
        .finally(() => closeRead(stream));
    }
    const files = [...written].sort((a, b) => logFileNumber(a)!.n - logFileNumber(b)!.n).map((f) => join(dir, f));
    const unsafe = await connector.unsafeForReplay(chosen.point.database, files, chosen.position.binlogPos, input.moment, input.signal ? { signal: input.signal } : {});
    if (unsafe) {
      throw new BackstopError(
        'RESTORE_FAILED',
        `The stored binary log between the dump of ${chosen.position.snapshotAt} and ${t} holds ${unsafe.why}: ${JSON.stringify(unsafe.statement)}. Backstop replays a database's log only as row changes under the new name, so it cannot restore "${chosen.point.database}" as of that moment; nothing was created. Fix: ${unsafe.fix ?? "restore a backup point without --as-of (backstop points <location> lists them); and set binlog_format=ROW on the server (SET GLOBAL binlog_format = 'ROW', and in its configuration) and name tables without their database in statements, so later moments restore (docs/PITR.md)."}`,
      );
    }
    // A row change larger than the target's max_allowed_packet would stop the replay after the dump's load: refused now.
    const tooLarge = await connector.replayPacketRefusal(chosen.point.database, input.database, files, chosen.position.binlogPos, input.moment, input.signal ? { signal: input.signal } : {});
    if (tooLarge) throw tooLarge;
    const restored = await runRestore(
      {
        op: 'restore',
        restoreId: 'moment',
        location: input.location,
        credentials: input.credentials,
        pointId: chosen.point.id,
        server: input.server,
        password: input.password,
        database: input.database,
        toolPaths: input.toolPaths,
        keyBase64: input.key ? input.key.toString('base64') : null,
        options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null },
      },
      input.signal ?? new AbortController().signal,
      () => {},
    );
    const replay = await connector.replayLog(chosen.point.database, input.database, files, chosen.position.binlogPos, input.moment, input.signal ? { signal: input.signal } : {});
    const moment = `${t.slice(0, 19)}Z`;
    const note = `Restored as of ${moment}: the dump of ${chosen.position.snapshotAt}, then the binary log up to that second: ${secondSide(input.moment)} (this backup reaches ${chosen.range.from} to ${chosen.range.to}).`;
    const n = replay.accountStatementsSkipped;
    const accounts =
      n > 0
        ? [
            `The log held ${n} account statement${n === 1 ? '' : 's'} (GRANT, REVOKE, CREATE/ALTER/DROP USER or ROLE, SET PASSWORD) run while "${chosen.point.database}" was the default database; accounts belong to the server, not the database, so ${n === 1 ? 'it was' : 'they were'} not replayed and no account on the target changed. To give the restored copy the accounts and grants the source had, apply the backed-up accounts (the task's ~server/grants.sql: Restore → Apply to a server, or backstop apply-globals) and grant them on the new name.`,
          ]
        : [];
    // Reads taken under a binlog_do_db / binlog_ignore_db filter may lack a schema change of this database (run from a left-out one).
    const filtered = chosen.logPoints.map((p) => logMeta(p)!).find((m) => m.binlogFilter && m.binlogFiles.some((f) => (logFileNumber(f)?.n ?? -1) >= atFile.n))?.binlogFilter;
    const filterNote = logFilterNote(filtered, chosen.point.database, chosen.position.snapshotAt, moment);
    return {
      ...restored,
      notes: [...restored.notes, note, ...accounts, ...(replay.eventDefinerNote ? [replay.eventDefinerNote] : []), ...(filterNote ? [filterNote] : [])],
      pointId: chosen.point.id,
      moment,
      range: chosen.range,
    };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const h of holds) await h.release();
  }
}

/** Which side of the moment's second the replay took (binlog.ts stopDatetime), for the note. */
function secondSide(moment: Date): string {
  const second = `${moment.toISOString().slice(0, 19)}Z`;
  if (moment.getTime() % 1000 === 0) return `events logged before ${second}, none logged during that second (the binary log's timestamps are whole seconds: those are at or after the moment)`;
  return `every event logged during ${second}'s second, also any after ${moment.toISOString()} (the binary log's timestamps are whole seconds; give a whole second, ${second}, to stop before them)`;
}
