/**
 * Restore to a moment from a PostgreSQL WAL chain (a base backup full + `pg-wal-tar`
 * incrementals in `~server/base.tar`, see backup/wal-backup.ts).
 *
 * Contract:
 * - `reachableRanges`: per chain, from its base backup's consistent moment (wal-backup.ts
 *   `consistentTime`: every commit before a recovery of it becomes consistent is older; shown to
 *   the second, so rounded up, but never past the end of the first WAL point) to
 *   the end of its newest WAL point (server clock; every transaction committed up to `to` is
 *   in the backup, and a heartbeat commit after it lets the recovery stop there). A base
 *   backup taken before `consistentTime` was recorded starts its range at the end of its
 *   first WAL point, as before. A chain with no WAL point yet reaches no moment (its base
 *   backup alone is a single instant: it restores by --point); a moment needs the WAL after
 *   it, so the range opens with the first incremental.
 * - `planRecovery`: `asOf` outside every range → OUT_OF_RANGE naming the ranges, before
 *   anything is created. Inside: the chain's WAL points up to the first whose end is at or
 *   after `asOf` (the first one for a moment between the base backup and its end), with the
 *   recovery target. `pointId` of a WAL point: the chain up to it, replayed to its end.
 - While a plan is restored its points are held (Repository.holdPoints): a prune running
   meanwhile deletes none of them (docs/FORMAT.md §10).
 * - `restoreClusterAt` (--folder): the base backup into the new, empty DIR (DATABASE_EXISTS
 *   otherwise, nothing written), the WAL it needs in DIR/backstop_wal (segments padded back
 *   to full size), `restore_command`, the recovery target and `recovery_target_action =
 *   promote` appended to postgresql.auto.conf, and recovery.signal: the first start recovers
 *   to the moment and opens as a primary. Any failure removes DIR. A DIR whose disk (statfs
 *   of DIR or its nearest existing parent) has less room than the recovered cluster needs is
 *   refused first (DISK_FULL naming both sizes); one that fills on the way is DISK_FULL too.
 * - `restoreDatabaseAt` (--source-database): checks NEW is free on the target and that the
 *   temporary cluster fits on disk (DISK_FULL naming the size) before anything is created;
 *   recovers a private temporary cluster (socket only, trust for its own OS user) in the
 *   temp folder, pg_dumps NAME from it and restores it as NEW through the connector's
 *   logical restore (roles, owners, privileges as any logical restore; subscriptions left
 *   out, see restore-plan.ts). The temporary cluster starts no logical replication worker
 *   (a subscription of the source never connects to its publisher from it, never consumes
 *   the source's slot), and is stopped and removed in every case. The temporary cluster gets
 *   the source's max_prepared_transactions / max_locks_per_transaction (pg_control, prepared-
 *   transactions.ts); NAME's prepared transactions open at the moment are rolled back before
 *   the dump (their locks would block it) and named in the notes, and so are its UNLOGGED
 *   tables (restored empty, unlogged.ts). NAME may be a template database; one with
 *   ALLOW_CONNECTIONS false is opened in the temporary cluster only (a note says the copy
 *   allows connections). NAME absent at the moment: DATABASE_NOT_FOUND naming what the
 *   cluster had and which base backups record NAME (by their `databases`), with their moments.
 *   When NAME is not in the base backup's `databases` and the WAL to replay (read with
 *   pg_waldump once fetched, servers/postgres/database-changes.ts) creates, drops and renames
 *   no database, that is known before the base backup is read: the same error, at once.
 *   The WAL's parameter changes raise the pg_control limits (a restart since the base backup).
 *   --folder appends the same limits to postgresql.auto.conf, with a note (pg_controldata
 *   missing: a note says pg_control's were not read and how to set them), and
 *   names the UNLOGGED tables the base backup recorded (`unlogged`): they start empty.
 * - Selective (as pgBackRest's --db-include): when the base backup recorded the cluster's
 *   databases (wal-backup.ts `databases`), the files under base/<oid>/ of every other user
 *   database are created sparse (size kept, no data written, pg_verifybackup skips them):
 *   WAL replay writes into them what it must (full-page writes), and they are unusable in
 *   the temporary cluster, which never reads them. template0, template1, postgres, every
 *   template database, databases unknown to the record and NAME stay real; so do global/,
 *   pg_xact and the rest. The disk check counts only what is written. NAME missing from
 *   the record (created after the base backup) comes from WAL replay. If NAME's oid at the
 *   moment is one that was left sparse (databases renamed since), the recovery is done
 *   again with everything extracted. No record (an older backup): everything is extracted,
 *   and the notes say so.
 * - Tablespaces: before the base backup is extracted, the WAL to replay is read with
 *   pg_waldump (servers/postgres/tablespaces.ts), and the base backup's own pg_wal after: WAL
 *   that creates a tablespace (CREATE TABLESPACE after the base backup) is refused with
 *   UNSUPPORTED naming the tablespace's folder, the point holding it and the moments that
 *   still restore — its replay would write into that folder on this machine (the source's own
 *   tablespace when the source runs here) — and nothing is left (DIR or the temporary cluster
 *   removed). pg_waldump missing: a restore of one database fails with TOOL_MISSING (it needs
 *   the server package anyway); --folder restores and its notes say the WAL was not checked.
 * - Progress: both report `restoring` with `step`/`steps` (domain.ts RESTORE_STEPS) —
 *   --folder: wal-fetch, base-backup; one database: wal-fetch, base-backup, wal-replay,
 *   dump, load. Bytes count what was read from the backup (WAL, base backup) and what the
 *   load reports; wal-replay and dump have no byte count (total null).
 */
import { pipeline, Transform, type Readable } from 'node:stream';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import type { RestoreOptions as RestoreChoices, RestoreProgressInfo, RestoreStep, Server } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { walMetaOf, type ClusterDatabase, type WalMeta } from '../backup/wal-backup.ts';
import { closeRead, type PointSummary, type Repository } from '../repository/index.ts';
import { clusterOwner, completeConfiguration, connectorFor, findTool, PG_BASEBACKUP_STREAM, PG_WAL_FORMAT, restoreBaseBackup, restoredClusterNotes, startDataDirectory, type ToolPaths } from '../servers/index.ts';
import type { PostgresConnector } from '../servers/postgres/connector.ts';
import { quoteIdent } from '../servers/postgres/connection.ts';
import { padSegment, parseLsn, segmentsIn } from '../servers/postgres/wal-stream.ts';
import { extractTar } from '../servers/tar-extract.ts';
import { shellQuote } from '../servers/shell-quote.ts';
import { tablespaceCreations } from '../servers/postgres/tablespaces.ts';
import { changesDatabases } from '../servers/postgres/database-changes.ts';
import { controlSettings, higherLimits, rollBackPrepared, rolledBackNote, walLimits, type ServerLimits } from '../servers/postgres/prepared-transactions.ts';
import { unloggedNote, unloggedRelations } from '../servers/postgres/unlogged.ts';
import { ProgressThrottle } from '../runtime/progress-throttle.ts';
import { FULL, makeTempFolder } from '../servers/temp-folder.ts';
import { freeBytesAt } from '../storage/local-backend.ts';
import { workFolderBase } from '../runtime/work-folder.ts';
import { runningAsRoot } from '../servers/postgres/server-os-user.ts';
import { formatBytes } from '../../shared/format-bytes.ts';

/** Folder inside a restored data directory holding the WAL its recovery replays. */
export const WAL_FOLDER = 'backstop_wal';

export interface ReachableRange {
  fullPointId: string;
  from: string;
  to: string;
}

interface WalChain {
  full: PointSummary;
  wal: PointSummary[];
  meta: WalMeta;
}

const formatOf = (p: PointSummary) => (typeof p.meta.format === 'string' ? p.meta.format : '');

/** Whether a repository holds a PostgreSQL cluster snapshot (the only backups with moments). */
export function isClusterPoint(p: PointSummary): boolean {
  return formatOf(p) === PG_BASEBACKUP_STREAM.format || formatOf(p) === PG_WAL_FORMAT;
}

async function walChains(repo: Repository): Promise<WalChain[]> {
  const points = new Map((await repo.listPoints()).map((p) => [p.id, p]));
  const out: WalChain[] = [];
  for (const c of await repo.chains()) {
    const full = c.fullPointId ? points.get(c.fullPointId) : undefined;
    const meta = full ? walMetaOf(full) : null;
    if (!full || !meta || formatOf(full) !== PG_BASEBACKUP_STREAM.format) continue;
    const wal = c.pointIds.map((id) => points.get(id)).filter((p): p is PointSummary => !!p && p.id !== full.id && formatOf(p) === PG_WAL_FORMAT && typeof walMetaOf(p)?.endTime === 'string');
    out.push({ full, wal, meta });
  }
  return out;
}

/** A chain's reachable range (see the header); null without a WAL point. */
function rangeOf(c: WalChain): ReachableRange | null {
  const first = c.wal[0];
  if (!first) return null;
  const consistent = c.meta.consistentTime;
  // Older base backups recorded no consistent moment: their range starts where it always did.
  const from = typeof consistent === 'string' && !Number.isNaN(Date.parse(consistent)) ? consistent : walMetaOf(first)!.endTime!;
  // Moments are shown and entered to the second: the start rounds up (the end is shown rounded down),
  // so the second shown as the start is one that restores — but never past the end of the first WAL
  // point (a base backup and its first incremental within one second): every WAL point's end stays a
  // moment that restores, as the messages that offer it promise.
  const firstEnd = Date.parse(walMetaOf(first)!.endTime!);
  const start = Math.max(Date.parse(from), Math.min(Math.ceil(Date.parse(from) / 1000) * 1000, firstEnd));
  return { fullPointId: c.full.id, from: new Date(start).toISOString(), to: walMetaOf(c.wal.at(-1)!)!.endTime! };
}

export async function reachableRanges(repo: Repository): Promise<ReachableRange[]> {
  return (await walChains(repo)).map(rangeOf).filter((r): r is ReachableRange => r !== null);
}

export interface RecoveryPlan {
  full: PointSummary;
  wal: PointSummary[];
  meta: WalMeta;
  /** null: replay every WAL point of the plan to its end. */
  target: Date | null;
}

const utc = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');

export async function planRecovery(repo: Repository, at: { asOf: Date } | { pointId: string }): Promise<RecoveryPlan> {
  const chains = await walChains(repo);
  if ('asOf' in at) {
    const t = at.asOf.getTime();
    const ranges = chains.map(rangeOf);
    const hit = chains.filter((_, i) => ranges[i] && Date.parse(ranges[i].from) <= t && t <= Date.parse(ranges[i].to)).at(-1);
    if (!hit) {
      const reached = ranges.filter((r): r is ReachableRange => r !== null);
      const said = reached.length ? `The backups reach ${reached.map((r) => `${utc(r.from)} to ${utc(r.to)}`).join('; ')}.` : 'No moment is reachable yet: a moment needs a WAL backup (an incremental) after a base backup; restore the base backup itself with --point.';
      throw new BackstopError('OUT_OF_RANGE', `${utc(at.asOf.toISOString())} is outside what the backups of this server reach. ${said} Nothing was created.`);
    }
    const wal: PointSummary[] = [];
    for (const p of hit.wal) {
      wal.push(p);
      if (Date.parse(walMetaOf(p)!.endTime!) >= t) break;
    }
    return { full: hit.full, wal, meta: hit.meta, target: at.asOf };
  }
  for (const c of chains) {
    if (c.full.id === at.pointId) return { full: c.full, wal: [], meta: c.meta, target: null };
    const i = c.wal.findIndex((p) => p.id === at.pointId);
    if (i >= 0) return { full: c.full, wal: c.wal.slice(0, i + 1), meta: c.meta, target: null };
  }
  throw new BackstopError('NOT_FOUND', `Restore point ${at.pointId} is not part of a base backup + WAL chain in this folder ("backstop points <location>" lists the points).`);
}

/** PostgreSQL's own timestamp syntax: ISO with a "T" or "Z" stops the server from starting. */
export function recoveryTargetTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '+00');
}

/** Segments needed by the plan (an upper bound), for the disk check. */
function segmentCount(plan: RecoveryPlan): number {
  const size = BigInt(plan.meta.segmentSize);
  let n = 0;
  for (const p of plan.wal) {
    const m = walMetaOf(p)!;
    n += Number((parseLsn(m.endLsn!) - parseLsn(m.startLsn)) / size) + 2;
  }
  return n;
}

/**
 * Bytes a recovered cluster needs: the base backup less the databases left sparse (`skipped`
 * bytes), the padded WAL, and room for the WAL recovery writes.
 */
export function diskNeeded(plan: RecoveryPlan, skipped = 0): number {
  const base = Math.max(plan.full.length - skipped, 0);
  return base + segmentCount(plan) * plan.meta.segmentSize + 4 * plan.meta.segmentSize;
}

/** Databases every cluster needs real (connections, templates of a CREATE DATABASE replayed from WAL). */
const SYSTEM_DATABASES = new Set(['postgres', 'template0', 'template1']);

/** What a restore of one database leaves sparse; `sparse` null (with why) when everything is extracted. */
export type SelectiveLayout = { sparse: ClusterDatabase[]; skippedBytes: number; newer: boolean } | { sparse: null; why: string };

/** The databases of the base backup whose files a restore of `database` need not write (see the header). */
export function selectiveLayout(meta: WalMeta, database: string): SelectiveLayout {
  const recorded = meta.databases;
  if (!Array.isArray(recorded)) return { sparse: null, why: 'this base backup was taken before Backstop recorded the databases of the cluster with each base backup' };
  if (!recorded.every((d) => typeof d?.name === 'string' && Number.isInteger(d.oid) && d.oid > 0 && typeof d.template === 'boolean')) return { sparse: null, why: "this base backup's record of its databases is unreadable" };
  const sparse = recorded.filter((d) => !d.template && !SYSTEM_DATABASES.has(d.name) && d.name !== database);
  return { sparse, skippedBytes: sparse.reduce((n, d) => n + (d.bytes ?? 0), 0), newer: !recorded.some((d) => d.name === database) };
}

const sparseFolders = (layout: SelectiveLayout): string[] => (layout.sparse ?? []).map((d) => `base/${d.oid}`);

function gib(n: number): string {
  return `${(n / 1024 ** 3).toFixed(n < 1024 ** 3 ? 2 : 1)} GB`;
}

/** The WAL of the plan, merged (a later copy of a segment wins, but never a partial over a complete one) and padded, in `into`. */
async function extractWal(repo: Repository, plan: RecoveryPlan, into: string, signal?: AbortSignal, onBytes?: (done: number) => void): Promise<void> {
  const size = plan.meta.segmentSize;
  const partial = new Map<string, boolean>();
  let before = 0;
  for (const [i, p] of plan.wal.entries()) {
    const dir = join(into, `.point-${i}`);
    mkdirSync(dir, { mode: 0o700 });
    const start = before;
    const stream = await repo.readPoint(p.id, { signal });
    await extractTar(counted(stream, (n) => onBytes?.(start + n)), dir).finally(() => closeRead(stream));
    before += p.length;
    for (const s of segmentsIn(dir, size)) {
      const name = s.file.replace(/\.partial$/, '');
      if (s.partial && partial.get(name) === false) continue;
      renameSync(join(dir, s.file), join(into, name));
      padSegment(join(into, name), size);
      partial.set(name, s.partial);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `source` passed through unchanged, calling `onBytes` with the bytes read so far. */
function counted(source: Readable, onBytes: (n: number) => void): Readable {
  let n = 0;
  const through = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
  // pipeline: an error on either side (or the consumer giving up) ends both.
  pipeline(source, through, () => undefined);
  return through;
}

type Progress = (p: Omit<RestoreProgressInfo, 'restoreId'>) => void;

/** Step progress of one restore (throttled; each step's start and end always reported). */
function stepReporter(steps: RestoreStep[], sink: Progress | undefined): (step: RestoreStep, done: number, total: number | null, force?: boolean, unit?: RestoreProgressInfo['unit']) => void {
  const throttle = new ProgressThrottle<Omit<RestoreProgressInfo, 'restoreId'>>(sink);
  return (step, done, total, force = false, unit = 'bytes') => {
    const p = { phase: 'restoring' as const, unit, done, total, step, steps };
    if (force) throttle.final(p);
    else throttle.tick(() => p);
  };
}

function recoverySettings(plan: RecoveryPlan): string {
  const lines = [
    '',
    `# Added by Backstop: on first start, replay the WAL in ${WAL_FOLDER}/ ${plan.target ? `up to ${recoveryTargetTime(plan.target)}` : 'to its end'}, then open as a primary.`,
    '# Once it has started, remove these lines and the folder.',
    `restore_command = 'cp "${WAL_FOLDER}/%f" "%p"'`,
    ...(plan.target ? [`recovery_target_time = '${recoveryTargetTime(plan.target)}'`] : []),
    `recovery_target_action = 'promote'`,
    '',
  ];
  return lines.join('\n');
}

interface MaterializeOptions {
  signal?: AbortSignal;
  toolPaths: ToolPaths;
  owner: ReturnType<typeof clusterOwner>['user'];
  /** A private temporary cluster: its own minimal configuration, trust over its private socket only. */
  temporary?: boolean;
  step?: ReturnType<typeof stepReporter>;
  /** Folders whose files are created sparse (a selective restore). */
  sparseFolders?: string[];
  /** Runs once the WAL is fetched and checked, before the base backup is read (with pg_waldump when installed). */
  beforeBase?: (walDir: string, waldump: string | null) => Promise<void>;
}

/**
 * pg_waldump of the server tools, for the tablespace check (see the header); null when it is not
 * installed and nothing here starts the cluster (--folder: the notes say it was not checked).
 */
function findWaldump(toolPaths: ToolPaths, required: boolean): string | null {
  try {
    return findTool(['pg_waldump'], 'postgres', { binDir: toolPaths.postgres ?? null });
  } catch (e) {
    if (!required) return null;
    throw new BackstopError('TOOL_MISSING', `pg_waldump (part of the PostgreSQL server package, like the postgres binary a restore of one database starts) was not found: Backstop reads the WAL with it before replaying it. Install the PostgreSQL server of the backup's version or set its folder in Settings. Nothing was created.`, { cause: e });
  }
}

/**
 * UNSUPPORTED when the WAL in `dir` creates a tablespace: replaying that record makes the server
 * write into the tablespace's LOCATION on this machine (the source's own folder when it runs
 * here). Names the point holding it and the moments that still restore.
 */
async function refuseTablespaceWal(plan: RecoveryPlan, dir: string, waldump: string, signal?: AbortSignal, baseBackupWal = false): Promise<void> {
  // A WAL point's first segment starts before the base backup: what lies before its start is never replayed.
  const from = parseLsn(plan.meta.startLsn);
  const created = existsSync(dir) ? (await tablespaceCreations(dir, waldump, signal)).filter((c) => parseLsn(c.lsn) >= from) : [];
  const first = created[0];
  if (!first) return;
  let where = "in the base backup's own WAL (the tablespace was created while it was taken)";
  let instead = 'Restore another base backup (or a moment of another chain).';
  if (!baseBackupWal) {
    // The point holding the record: the first whose end is at or after it (the last one for its stored-again tail).
    const at = parseLsn(first.lsn);
    const found = plan.wal.findIndex((p) => parseLsn(walMetaOf(p)!.endLsn!) >= at);
    const i = found === -1 ? plan.wal.length - 1 : found;
    const before = plan.wal[i - 1];
    where = `in restore point ${plan.wal[i]?.id ?? '?'}`;
    instead = before
      ? `Restore a moment up to ${utc(walMetaOf(before)!.endTime!)} (the end of the point before it), or the base backup alone (--point ${plan.full.id}).`
      : `Restore the base backup alone (--point ${plan.full.id}), or a moment of another chain.`;
  }
  throw new BackstopError(
    'UNSUPPORTED',
    `The WAL to replay creates tablespace ${first.oid} at '${first.location}' (CREATE TABLESPACE at WAL position ${first.lsn}, ${where}): recovering it would write into that folder on this machine — the source server's own tablespace when it runs here — so Backstop does not replay it. Nothing was created. ${instead} A cluster with tablespaces is backed up by a logical task.`,
  );
}

/** The base backup + WAL + recovery configuration in `dataDir` (see the header). */
async function materialize(
  repo: Repository,
  plan: RecoveryPlan,
  dataDir: string,
  opts: MaterializeOptions,
): Promise<{ verified: boolean; wroteConfig: string[]; ownerError: string | null; walChecked: boolean; limits: ServerLimits }> {
  if (existsSync(dataDir) && (!statSync(dataDir).isDirectory() || readdirSync(dataDir).length > 0)) {
    throw new BackstopError('DATABASE_EXISTS', `"${dataDir}" already exists and is not an empty folder; choose a new folder for the restored cluster.`);
  }
  // Every point of the plan stays while it is restored: a prune meanwhile deletes none of them.
  const hold = await repo.holdPoints([plan.full.id, ...plan.wal.map((p) => p.id)]);
  let baseStream: Readable | null = null;
  // The WAL is fetched first, next to the data directory (same file system: moved in, not copied).
  const walTemp = mkdtempSync(join(dirname(dataDir), `.${basename(dataDir)}-wal-`));
  try {
    const walBytes = plan.wal.reduce((n, p) => n + p.length, 0);
    opts.step?.('wal-fetch', 0, walBytes, true);
    await extractWal(repo, plan, walTemp, opts.signal, (done) => opts.step?.('wal-fetch', done, walBytes));
    opts.step?.('wal-fetch', walBytes, walBytes, true);
    // Before the base backup is extracted: WAL that creates a tablespace is refused (see the header).
    const waldump = findWaldump(opts.toolPaths, !!opts.temporary);
    if (waldump) await refuseTablespaceWal(plan, walTemp, waldump, opts.signal);
    // Limits the source was restarted with after the base backup (its pg_control has the older ones).
    let limits = waldump ? await walLimits(walTemp, waldump, opts.signal) : {};
    await opts.beforeBase?.(walTemp, waldump);
    opts.step?.('base-backup', 0, plan.full.length, true);
    let wroteConfig: string[] = [];
    baseStream = await repo.readPoint(plan.full.id, { signal: opts.signal });
    const base = counted(baseStream, (done) => opts.step?.('base-backup', done, plan.full.length));
    const r = await restoreBaseBackup(base, dataDir, {
      signal: opts.signal,
      toolPaths: opts.toolPaths,
      owner: opts.owner,
      ...(opts.sparseFolders?.length ? { sparseFolders: opts.sparseFolders } : {}),
      afterVerify: (dir) => {
        if (opts.temporary) {
          // autovacuum off: it would visit the databases left sparse (a selective restore). Their zeroed pages are
          // "invalid" to WAL replay (records without a full-page image, e.g. Heap2/VISIBLE): ignored there, and
          // restoreDatabaseAt checks that none was in the database it dumps.
          const selective = opts.sparseFolders?.length ? 'ignore_invalid_pages = on\n' : '';
          // PostgreSQL refuses to start when min_wal_size or max_wal_size is below twice the WAL segment size
          // (their defaults, 80 MB and 1 GB, are for 16 MB segments): a cluster initdb'd with --wal-segsize=64 needs more.
          const segmentMb = Math.ceil(plan.meta.segmentSize / 1024 ** 2);
          const walSizes = `min_wal_size = ${Math.max(80, 2 * segmentMb)}MB\nmax_wal_size = ${Math.max(1024, 4 * segmentMb)}MB\n`;
          // max_logical_replication_workers = 0: a subscription of the source (enabled in the base backup) would
          // otherwise start an apply worker that connects to its publisher and consumes the source's replication slot.
          writeFileSync(
            join(dir, 'postgresql.conf'),
            `# Backstop's temporary cluster for a restore to a moment.\nhot_standby = off\narchive_mode = off\nssl = off\nautovacuum = off\nmax_logical_replication_workers = 0\n${walSizes}${selective}`,
          );
          writeFileSync(join(dir, 'pg_hba.conf'), 'local all all trust\n');
          writeFileSync(join(dir, 'pg_ident.conf'), '');
          rmSync(join(dir, 'postgresql.auto.conf'), { force: true });
        } else {
          wroteConfig = completeConfiguration(dir);
        }
        renameSync(walTemp, join(dir, WAL_FOLDER));
        appendFileSync(join(dir, 'postgresql.auto.conf'), recoverySettings(plan));
        writeFileSync(join(dir, 'recovery.signal'), '');
      },
    });
    // The base backup's own WAL (pg_wal) is replayed too: a tablespace created while it was taken.
    if (waldump) {
      try {
        await refuseTablespaceWal(plan, join(dataDir, 'pg_wal'), waldump, opts.signal, true);
        limits = higherLimits(limits, await walLimits(join(dataDir, 'pg_wal'), waldump, opts.signal));
      } catch (e) {
        rmSync(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
    return { verified: r.verified, wroteConfig, ownerError: r.ownerError, walChecked: !!waldump, limits };
  } finally {
    rmSync(walTemp, { recursive: true, force: true });
    if (baseStream) await closeRead(baseStream);
    await hold.release();
  }
}

export interface ClusterAtSpec {
  repo: Repository;
  plan: RecoveryPlan;
  folder: string;
  toolPaths: ToolPaths;
  osUser?: string | null;
  signal?: AbortSignal;
  onProgress?: (p: Omit<RestoreProgressInfo, 'restoreId'>) => void;
}

export async function restoreClusterAt(spec: ClusterAtSpec): Promise<{ database: string; path: string; notes: string[] }> {
  let owner = clusterOwner(spec.osUser);
  const need = diskNeeded(spec.plan);
  const noRoom = (free: string, cause?: unknown) =>
    new BackstopError(
      'DISK_FULL',
      `Restoring the cluster to a moment into "${spec.folder}" needs about ${formatBytes(need)} free on its disk (the base backup, the WAL to replay and room for the recovery to write), but ${free}. Free space there, or restore into a folder on a disk with room. Nothing was left in the folder.`,
      cause === undefined ? undefined : { cause },
    );
  const free = freeBytesAt(spec.folder);
  if (free !== null && free < need) throw noRoom(`only ${formatBytes(free)} is free`);
  const r = await materialize(spec.repo, spec.plan, spec.folder, {
    toolPaths: spec.toolPaths,
    owner: owner.user,
    ...(spec.signal ? { signal: spec.signal } : {}),
    step: stepReporter(['wal-fetch', 'base-backup'], spec.onProgress),
  }).catch((e: unknown) => {
    // The disk filled on the way (something else wrote there meanwhile): materialize removed the folder's contents.
    if (!(e instanceof BackstopError) && FULL.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e instanceof Error ? e.message : String(e)}`)) throw noRoom('it filled up during the restore', e);
    throw e;
  });
  if (r.ownerError && owner.user) {
    owner = { user: null, why: `Backstop could not give the data directory to "${owner.user.name}" (${r.ownerError}); as root: chown -R ${owner.user.name}: <folder>, on a file system that keeps owners.` };
  }
  const notes = await restoredClusterNotes({ dataDir: spec.folder, owner, wroteConfig: r.wroteConfig, verified: r.verified, toolPaths: spec.toolPaths });
  notes.splice(
    1,
    0,
    spec.plan.target
      ? `On its first start it replays the WAL in ${WAL_FOLDER}/ up to ${utc(spec.plan.target.toISOString())} (recovery_target_time in postgresql.auto.conf, with recovery.signal), then opens as a primary. Afterwards remove the recovery lines from postgresql.auto.conf and the ${WAL_FOLDER} folder.`
      : `On its first start it replays the WAL in ${WAL_FOLDER}/ to its end (restore point ${spec.plan.wal.at(-1)?.id ?? spec.plan.full.id}), then opens as a primary. Afterwards remove the recovery lines from postgresql.auto.conf and the ${WAL_FOLDER} folder.`,
  );
  // Recovery re-creates the transactions prepared at the moment: the source's limits, or the first start fails.
  const { settings: needed, raised, unread } = await controlSettings(spec.folder, spec.toolPaths, spec.signal, r.limits, { hotStandby: true });
  const from = unread
    ? 'read from the parameter changes in the WAL up to the moment only (see the next note)'
    : `read from the backup's pg_control${raised ? ' and raised to what the WAL up to the moment records (the source was restarted with higher limits after the base backup)' : ''}`;
  if (needed) {
    appendFileSync(join(spec.folder, 'postgresql.auto.conf'), `# Added by Backstop: the source's limits (from pg_control and the WAL); with less, a start with prepared transactions fails. Keep these lines.\n${needed}`);
    notes.push(
      `postgresql.auto.conf sets the source's ${needed.trim().split('\n').join(', ')} (${from}; keep them: a start with less fails while prepared transactions exist${/max_(connections|worker_processes|wal_senders)/.test(needed) ? ', and with less max_connections, max_worker_processes or max_wal_senders than the source a hot standby (hot_standby = on, the default) pauses its recovery and never opens' : ''}). Transactions prepared (PREPARE TRANSACTION) and not yet committed at that moment stay prepared after the start and hold their locks: list them with SELECT gid, prepared, database FROM pg_prepared_xacts; and end each with ROLLBACK PREPARED 'gid' (or COMMIT PREPARED) in its database.`,
    );
  }
  if (unread) {
    // Without pg_control's values nothing says how many prepared transactions the first start must re-create.
    const major = readFileSync(join(spec.folder, 'PG_VERSION'), 'utf8').trim();
    notes.push(
      `${unread}, so Backstop could not read the source's max_prepared_transactions and max_locks_per_transaction from the backup's pg_control${needed ? ' (only the WAL\'s changes to them are set)' : ' and set neither'}: if transactions were prepared (PREPARE TRANSACTION) at that moment, the first start stops with "maximum number of prepared transactions reached" unless max_prepared_transactions is at least the source's. Before starting it, run pg_controldata ${shellQuote(spec.folder)} where the PostgreSQL ${major} server package is installed and add its "max_prepared_xacts setting" as max_prepared_transactions (and its "max_locks_per_xact setting" as max_locks_per_transaction, when above 64) to postgresql.auto.conf — or install that package here (or set its folder in Settings) and restore again.`,
    );
  }
  const unlogged = Object.entries(spec.plan.meta.unlogged ?? {}).filter(([, names]) => Array.isArray(names) && names.length);
  if (unlogged.length) {
    notes.push(
      `UNLOGGED tables and sequences start empty in it (PostgreSQL writes no WAL for them and pg_basebackup leaves their data out); when the base backup was taken they were: ${unlogged.map(([db, names]) => `"${db}": ${names.join(', ')}`).join('; ')}. A logical task's dump carries their rows.`,
    );
  }
  if (!r.walChecked) {
    notes.push(
      `pg_waldump (PostgreSQL server package) was not found here, so Backstop could not check that the WAL to replay creates no tablespace. If a tablespace was created on the source after this base backup, the first start writes into its LOCATION folder on the machine it runs on: start it only where that folder is not the source's.`,
    );
  }
  spec.onProgress?.({ phase: 'done', unit: 'bytes', done: spec.plan.full.length, total: spec.plan.full.length });
  return { database: basename(spec.folder), path: spec.folder, notes };
}

export interface DatabaseAtSpec {
  repo: Repository;
  plan: RecoveryPlan;
  sourceDatabase: string;
  server: Server;
  password: string | null;
  database: string;
  toolPaths: ToolPaths;
  options: RestoreChoices;
  /** Where the temporary cluster goes (default: the OS temp folder). */
  tempDir?: string;
  /** Called with the temporary cluster's data directory once it has recovered (before the dump): a seam for tests. */
  onRecovered?: (dataDir: string) => void;
  signal?: AbortSignal;
  onProgress?: (p: Omit<RestoreProgressInfo, 'restoreId'>) => void;
}

export async function restoreDatabaseAt(spec: DatabaseAtSpec): Promise<{ database: string; path: null; notes: string[] }> {
  if (spec.server.kind !== 'postgres') throw new BackstopError('VALIDATION', `This is a PostgreSQL cluster backup; choose a PostgreSQL server to restore database "${spec.sourceDatabase}" to, not a ${spec.server.kind} server.`);
  const target = connectorFor(spec.server, { password: spec.password, toolPaths: spec.toolPaths }) as PostgresConnector;
  const taken = await target.connection.query(`SELECT 1 FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${Buffer.from(spec.database, 'utf8').toString('hex')}'`, {
    signal: spec.signal,
    action: 'checking the target database name',
    fallback: 'RESTORE_FAILED',
  });
  if (taken.length > 0) throw new BackstopError('DATABASE_EXISTS', `Database "${spec.database}" already exists on the ${target.connection.label}; choose another name (a restore never overwrites a database).`);
  // Before the temporary cluster's recovery, which may take long.
  await target.checkMayCreateDatabase(spec.database, spec.signal);
  // As root the temporary cluster runs as the "postgres" OS user (snapshot.ts), who may not enter a
  // root-only data dir: the OS temp folder (TMPDIR) then; otherwise the work folder (on disk, not tmpfs).
  const base = spec.tempDir ?? (runningAsRoot() ? tmpdir() : workFolderBase());
  let layout = selectiveLayout(spec.plan.meta, spec.sourceDatabase);
  const need = diskNeeded(spec.plan, layout.sparse ? layout.skippedBytes : 0);
  const free = freeBytesAt(base);
  if (free !== null && free < need) {
    const what = layout.sparse
      ? `recovers the cluster in a temporary folder first, writing only "${spec.sourceDatabase}", the system databases, the cluster-wide files and the WAL (the other databases' files are left sparse)`
      : `recovers the whole cluster in a temporary folder first (${layout.why}, so every database is written)`;
    throw new BackstopError('DISK_FULL', `Restoring database "${spec.sourceDatabase}" to a moment ${what}: that needs about ${gib(need)} free in ${base}, but only ${gib(free)} is free. Free space there, or point TMPDIR at a folder with room. Nothing was created.`);
  }
  const step = stepReporter(['wal-fetch', 'base-backup', 'wal-replay', 'dump', 'load'], spec.onProgress);
  const notes: string[] = [];
  let dataDir = '';
  let cluster: Awaited<ReturnType<typeof startDataDirectory>> | null = null;
  let found: DatabaseAt | null = null;
  const cleanUp = async (): Promise<void> => {
    await cluster?.stop().catch(() => undefined);
    cluster = null;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = '';
  };
  try {
    for (;;) {
      // Named by pid: the folder of a Backstop killed mid-restore (a whole cluster) is removed by the next one.
      dataDir = makeTempFolder('backstop-pitr-', `Restoring database "${spec.sourceDatabase}" to a moment`, base);
      const owner = clusterOwner(null).user;
      const { limits } = await materialize(spec.repo, spec.plan, dataDir, {
        toolPaths: spec.toolPaths,
        owner,
        temporary: true,
        step,
        sparseFolders: sparseFolders(layout),
        ...(spec.signal ? { signal: spec.signal } : {}),
        // A name the base backup lacks: refused before anything is recovered when the WAL cannot have made it.
        ...(layout.sparse && layout.newer ? { beforeBase: (walDir: string, waldump: string | null) => refuseAbsentDatabase(spec.repo, spec.plan, spec.sourceDatabase, walDir, waldump, spec.signal) } : {}),
      });
      step('base-backup', spec.plan.full.length, spec.plan.full.length, true);
      const major = Number(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim());
      if (layout.sparse && !(major >= 13)) {
        // ignore_invalid_pages (PostgreSQL 13+) is what lets WAL replay pass the sparse files.
        await cleanUp();
        layout = { sparse: null, why: `PostgreSQL ${major} cannot replay WAL past files left sparse (that needs ignore_invalid_pages, PostgreSQL 13 or later)` };
        continue;
      }
      // Replay re-creates the transactions prepared at the moment: the source's limits, or the startup process fails.
      const { settings: needed } = await controlSettings(dataDir, spec.toolPaths, spec.signal, limits);
      if (needed) appendFileSync(join(dataDir, 'postgresql.conf'), needed);
      step('wal-replay', 0, null, true);
      const invalid = new Set<number>();
      let partLine = '';
      const onLog = (text: string): void => {
        const lines = (partLine + text).split('\n');
        partLine = lines.pop() ?? '';
        invalidPagesIn(lines.join('\n'), invalid);
      };
      cluster = await startDataDirectory(dataDir, { user: spec.plan.meta.bootstrapRole, toolPaths: spec.toolPaths, timeoutMs: 60 * 60_000, socketOnly: true, onLog });
      // Template databases too (cluster.databases lists the others only).
      found = await databaseAt(cluster, spec.plan.meta.bootstrapRole, spec.sourceDatabase, spec.toolPaths, spec.signal);
      if (!found) {
        throw new BackstopError('DATABASE_NOT_FOUND', await notAtMoment(spec.repo, spec.plan, spec.sourceDatabase, await databasesAt(cluster, spec.plan.meta.bootstrapRole, spec.toolPaths, spec.signal)));
      }
      if (!layout.sparse) break;
      const left = new Set(layout.sparse.map((d) => d.oid));
      const oid = found.oid;
      if (!left.has(oid) && !invalid.has(oid)) break;
      // Renamed since the base backup (its files were among those left sparse), or replay found pages of it
      // missing (e.g. copied from a database left sparse): recover again with everything extracted.
      await cleanUp();
      layout = {
        sparse: null,
        why: left.has(oid) ? `database "${spec.sourceDatabase}" had another name when the base backup was taken` : `WAL replay reported pages of "${spec.sourceDatabase}" missing in the selective recovery`,
      };
    }
    notes.push(
      layout.sparse
        ? `Selective restore: only "${spec.sourceDatabase}", the system databases and the cluster-wide files were written to the temporary cluster${layout.sparse.length ? `; the files of ${layout.sparse.map((d) => `"${d.name}"`).join(', ')} (about ${gib(layout.skippedBytes)}) were left sparse, never written` : ''}${layout.newer ? `. "${spec.sourceDatabase}" was created after the base backup: it came from WAL replay alone` : ''}.`
        : `The whole cluster was written to the temporary cluster: ${layout.why}.`,
    );
    spec.onRecovered?.(dataDir);
    const running = cluster!;
    const source = connectorFor({ kind: 'postgres', id: 'pitr-temporary', name: 'temporary cluster', host: running.host, port: running.port, user: spec.plan.meta.bootstrapRole, tls: 'disable' } as Server, {
      toolPaths: spec.toolPaths,
    }) as PostgresConnector;
    if (!found!.allowConn) {
      // ALLOW_CONNECTIONS false on the source: pg_dump could not connect. Allowed in the temporary cluster only.
      await source.connection.query(`ALTER DATABASE ${quoteIdent(spec.sourceDatabase)} ALLOW_CONNECTIONS true`, { ...(spec.signal ? { signal: spec.signal } : {}), action: 'allowing connections to the database in the temporary cluster', fallback: 'RESTORE_FAILED' });
      notes.push(`"${spec.sourceDatabase}" allowed no connections at that moment (ALLOW_CONNECTIONS false); connections were allowed in the temporary cluster to dump it, and the restored "${spec.database}" allows them. If it should not: ALTER DATABASE ${quoteIdent(spec.database)} ALLOW_CONNECTIONS false;`);
    }
    // Transactions prepared and not committed at the moment: not part of it, and their locks would block the dump.
    const rolled = rolledBackNote(spec.sourceDatabase, await rollBackPrepared(source.connection, spec.sourceDatabase, spec.signal));
    if (rolled) notes.push(rolled);
    const unlogged = unloggedNote(spec.sourceDatabase, await unloggedRelations(source.connection, spec.sourceDatabase, spec.signal), 'restore');
    if (unlogged) notes.push(unlogged);
    step('dump', 0, null, true);
    const dump = await source.openDump(spec.sourceDatabase, 'logical', { ...(spec.signal ? { signal: spec.signal } : {}) });
    let loading = false;
    const report = await target.restore(spec.database, dump.stream, 'logical', {
      ...(spec.signal ? { signal: spec.signal } : {}),
      noOwner: spec.options.noOwner,
      noPrivileges: spec.options.noPrivileges,
      roleMap: spec.options.roleMap,
      createRoles: spec.options.createRoles,
      onProgress: (p) => {
        // The dump streams into the load: the load's first progress is where loading shows.
        step('load', p.done, p.total, !loading, p.unit);
        loading = true;
      },
    });
    await dump.done;
    const when = spec.plan.target ? `as it was at ${utc(spec.plan.target.toISOString())}` : `as of restore point ${spec.plan.wal.at(-1)?.id ?? spec.plan.full.id}`;
    spec.onProgress?.({ phase: 'done', unit: 'bytes', done: 1, total: 1 });
    return { database: report.database, path: null, notes: [`Database "${spec.sourceDatabase}" ${when}, recovered from the cluster backup in a temporary cluster (removed again).`, ...notes, ...(report.notes ?? [])] };
  } finally {
    await cleanUp();
  }
}

/** Adds the database oids of the relations WAL replay reported invalid pages of ("page 4 of relation base/16397/760179 is uninitialized"). */
export function invalidPagesIn(log: string, into: Set<number>): void {
  for (const m of log.matchAll(/\bpage \d+ of relation (?:base|pg_tblspc\/\d+\/[^/\s]+)\/(\d+)\/\d+/g)) into.add(Number(m[1]));
}

/**
 * DATABASE_NOT_FOUND before any recovery, when it is certain (see the header): `database` is not in
 * the base backup's record of its databases, and the WAL of the plan (from the base backup's start)
 * creates, drops and renames none. Anything unsure (no record of pg_database's file, a pg_waldump
 * older than 15, no WAL point) returns: the recovery finds out.
 */
async function refuseAbsentDatabase(repo: Repository, plan: RecoveryPlan, database: string, walDir: string, waldump: string | null, signal?: AbortSignal): Promise<void> {
  const filenode = plan.meta.databasesFilenode;
  if (!waldump || plan.wal.length === 0 || !Array.isArray(plan.meta.databases) || typeof filenode !== 'number' || !Number.isInteger(filenode) || filenode <= 0) return;
  let change: string | null;
  try {
    change = await changesDatabases(walDir, waldump, filenode, plan.meta.startLsn, signal);
  } catch (e) {
    if (signal?.aborted) throw e;
    return;
  }
  if (change) return;
  const had = plan.meta.databases.map((d) => d.name).filter((n) => n !== 'template0' && n !== 'template1').sort();
  throw new BackstopError('DATABASE_NOT_FOUND', await notAtMoment(repo, plan, database, had, true));
}

/**
 * DATABASE_NOT_FOUND's message: what the cluster had at the moment, and where the backups do
 * hold `database` by the base backups' records of their databases (created after the moment,
 * dropped or renamed before it), with the moments that reach it.
 */
async function notAtMoment(repo: Repository, plan: RecoveryPlan, database: string, had: string[], beforeRecovery = false): Promise<string> {
  const at = plan.target ? `at ${utc(plan.target.toISOString())}` : 'at that restore point';
  const known = beforeRecovery ? ' (known without recovering it: the base backup records these, and the WAL up to that moment creates, drops and renames no database)' : '';
  const head = `The cluster held no database "${database}" ${at}; it had: ${had.join(', ') || 'none'}${known}.`;
  const recorded = (m: WalMeta) => Array.isArray(m.databases) && m.databases.some((d) => d?.name === database);
  const chains = await walChains(repo).catch(() => [] as WalChain[]);
  const later = chains
    .filter((c) => c.full.id !== plan.full.id && recorded(c.meta))
    .map(rangeOf)
    .filter((r): r is ReachableRange => r !== null);
  const parts: string[] = [];
  if (recorded(plan.meta)) parts.push(`"${database}" was in the base backup this moment is replayed from (point ${plan.full.id}): it was dropped or renamed (ALTER DATABASE … RENAME) after that — restore an earlier moment, or this one by the name it had then.`);
  if (later.length) parts.push(`The base backup${later.length === 1 ? '' : 's'} of ${later.map((r) => `${utc(r.from)} (moments to ${utc(r.to)})`).join(', ')} hold${later.length === 1 ? 's' : ''} "${database}".`);
  if (parts.length === 0) {
    const ranges = chains.map(rangeOf).filter((r): r is ReachableRange => r !== null);
    parts.push(
      `No base backup of this server records "${database}": if it was created after that moment, restore a later moment (the backups reach ${ranges.map((r) => `${utc(r.from)} to ${utc(r.to)}`).join('; ') || 'no moment yet'}); if it was renamed since, restore it by the name it had then.`,
    );
  }
  return `${head} ${parts.join(' ')} Nothing was created.`;
}

/** The databases a restore of one database can take from the running temporary cluster: templates too, not template0/template1. */
async function databasesAt(cluster: { host: string; port: number }, user: string, toolPaths: ToolPaths, signal?: AbortSignal): Promise<string[]> {
  const conn = (connectorFor({ kind: 'postgres', id: 'pitr-temporary', name: 'temporary cluster', host: cluster.host, port: cluster.port, user, tls: 'disable' } as Server, { toolPaths }) as PostgresConnector).connection;
  const rows = await conn.query(`SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE datname NOT IN ('template0', 'template1')`, { signal, action: 'reading the recovered cluster', fallback: 'RESTORE_FAILED' });
  return rows.map((r) => Buffer.from(r[0] ?? '', 'hex').toString('utf8')).sort();
}

interface DatabaseAt {
  oid: number;
  allowConn: boolean;
}

/** `database` in the running temporary cluster (templates too), or null when it has none of that name. */
async function databaseAt(cluster: { host: string; port: number }, user: string, database: string, toolPaths: ToolPaths, signal?: AbortSignal): Promise<DatabaseAt | null> {
  const conn = (connectorFor({ kind: 'postgres', id: 'pitr-temporary', name: 'temporary cluster', host: cluster.host, port: cluster.port, user, tls: 'disable' } as Server, { toolPaths }) as PostgresConnector).connection;
  const rows = await conn.query(`SELECT oid, datallowconn FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${Buffer.from(database, 'utf8').toString('hex')}'`, { signal, action: 'reading the recovered cluster', fallback: 'RESTORE_FAILED' });
  const row = rows[0];
  return row ? { oid: Number(row[0]), allowConn: row[1] === 't' } : null;
}
