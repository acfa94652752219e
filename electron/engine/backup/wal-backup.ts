/**
 * A PostgreSQL snapshot task's server stream as a WAL chain: a full is a base backup taken
 * after the task's replication slot was (re)created; an incremental is the WAL received
 * through that slot since the previous point (wal-stream.ts), stored as a `pg-wal-tar` point
 * in the same chain. Plugs into backupDatabase through `beforeDump` / `openDump`.
 *
 * Contract:
 * - Every destination takes the same kind: WAL continues one server-side chain. An
 *   incremental is taken only when every destination's newest point continues this slot's
 *   chain (same slot, system identifier and timeline), the slot exists and is not
 *   invalidated, and the WAL received reaches back to every destination's newest point.
 *   Otherwise every destination takes a full, with "WAL chain broken: …" (or the reason
 *   another destination needs a full) in the history.
 * - A cluster with user tablespaces is refused first (UNSUPPORTED, servers/postgres/
 *   tablespaces.ts): nothing received or stored, the slot neither created nor dropped; when a
 *   chain was to continue the message starts "WAL chain broken: tablespace …". One created
 *   between that check and the base backup (refused there too) drops the slot the full made.
 * - Point meta `wal` (what a restore needs): slot, systemId, timeline, segmentSize,
 *   bootstrapRole, startLsn; an incremental also endLsn and endTime (server clock: every
 *   transaction committed up to endTime is in the chain). A full also records `databases`
 *   (name, oid, template flag, size from pg_database, read just before the base backup
 *   starts): a restore of one database leaves the others' files sparse (restore/pitr.ts);
 *   and `databasesFilenode`, pg_database's own relfilenode then (a restore of a name the
 *   base backup lacks reads the WAL for changes to it before recovering, restore/pitr.ts).
 *   Reading it never fails the backup: without it a restore extracts everything.
 *   A full also records `consistentTime`: the server's clock read once pg_basebackup has
 *   finished (its stream ends only after that read), so at or after the backup's
 *   end-of-backup record: every commit before the point where a recovery of this base
 *   backup becomes consistent is older. A restore to a moment reaches from it
 *   (restore/pitr.ts). Reading it never fails the backup: without it (and in fulls taken
 *   before it was recorded) the range starts at the end of the chain's first WAL point.
 * - A full's History row warns, per database, of its UNLOGGED tables and sequences (their data
 *   is in neither the base backup nor the WAL: every restore of the chain yields them empty),
 *   and its meta records them (`unlogged`, for a --folder restore's notes); a database the
 *   role may not connect to is left out (best effort, never fails the backup).
 * - An incremental's receipt and its write overlap: `beforeDump` fixes where its WAL starts
 *   (the spool's oldest segment, else the slot's restart_lsn's segment) and ends (a heartbeat
 *   commit and a WAL switch) and judges the chain; `openDump` then runs pg_receivewal and
 *   streams each segment into the point as soon as pg_receivewal has completed (fsynced and
 *   renamed) it, the last one once it exited at the end position. The stream ends only then,
 *   and errors when pg_receivewal fails or a segment does not continue the chain, so no point
 *   is committed from a partial receipt; what was spooled stays for the next run.
 * - A WAL point stores no delta chunks (`deltaBases: false`): its log never lines up with
 *   the parent point's bytes, so trying would read bases and compress every chunk twice.
 *   It is cut into fixed WAL_BLOCK_BYTES blocks (no content-defined cuts: nothing to find
 *   again), each one of the spool reader's own buffers, handed over to the encoders, and
 *   compressed at WAL_COMPRESSION_LEVEL (1) whatever the repository's level (unless it stores
 *   uncompressed): WAL must be written fast, and its stored size is far inside its target.
 * - `afterBackup` empties the spool of the WAL just stored only when every destination
 *   committed it, and advances the slot to its end (pg_receivewal's last flush report may
 *   stop short of it); otherwise both stay and the next incremental stores it again.
 */
import { pipeline, Readable, Transform } from 'node:stream';
import type { PointKind } from '../../shared/domain.ts';
import type { JsonObject, PointSummary } from '../repository/index.ts';
import type { DumpStream } from '../servers/connector.ts';
import type { PgConnection } from '../servers/postgres/connection.ts';
import { BackstopError, hasCode } from '../../shared/result.ts';
import { formatLsn, parseLsn, PG_WAL_FORMAT, spoolTar, WAL_BLOCK_BYTES, WalSource, type ReceiptEnd, type Segment } from '../servers/postgres/wal-stream.ts';
import type { DestinationOutcome } from './backup-database.ts';
import { walChainBroken, type PreparedDestination } from './prepare-destination.ts';
import { refuseReplicationThroughPooler } from '../servers/postgres/pooler.ts';
import { snapshotRefusal, userTablespaces } from '../servers/postgres/tablespaces.ts';
import { unloggedNote, unloggedRelations } from '../servers/postgres/unlogged.ts';

export interface WalJob {
  slot: string;
  /** This task's private spool folder in Backstop's data dir. */
  spoolDir: string;
}

/** The `wal` meta of a point of a WAL chain. */
export interface WalMeta {
  slot: string;
  systemId: string;
  timeline: number;
  segmentSize: number;
  bootstrapRole: string;
  startLsn: string;
  endLsn?: string;
  endTime?: string;
  startTime?: string;
  /** Full only: the cluster's databases when the base backup started (see the header). */
  databases?: ClusterDatabase[];
  /** Full only: pg_database's relfilenode (global/<n>) when `databases` was read (see the header). */
  databasesFilenode?: number;
  /** Full only: each database's UNLOGGED tables and sequences when the base backup started (restored empty). */
  unlogged?: Record<string, string[]>;
  /** Full only: server time at or after the base backup's end-of-backup record (see the header). */
  consistentTime?: string;
}

/** One database of the cluster as pg_database named it; `bytes` null when the role may not size it. */
export type ClusterDatabase = {
  name: string;
  oid: number;
  template: boolean;
  bytes: number | null;
};

/** The cluster's databases (for a selective restore), or undefined when the role may not read them. */
async function clusterDatabases(conn: PgConnection, signal: AbortSignal): Promise<{ databases: ClusterDatabase[]; filenode: number } | undefined> {
  try {
    const rows = await conn.query(
      `SELECT oid, encode(convert_to(datname, 'UTF8'), 'hex'), datistemplate, CASE WHEN has_database_privilege(oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER') THEN pg_database_size(oid) END, pg_relation_filenode('pg_database') FROM pg_database`,
      { signal, action: 'listing the databases of the cluster', fallback: 'DUMP_FAILED' },
    );
    const databases = rows.map((r) => ({ oid: Number(r[0]), name: Buffer.from(r[1] ?? '', 'hex').toString('utf8'), template: r[2] === 't', bytes: r[3] ? Number(r[3]) : null }));
    return { databases, filenode: Number(rows[0]?.[4] ?? 0) };
  } catch (e) {
    if (signal.aborted) throw e;
    return undefined; // a restore of one database then extracts the whole cluster, as before
  }
}

/** The unlogged tables of each database holding some (unlogged.ts); a database the role may not read is left out (best effort). */
async function unloggedByDatabase(conn: PgConnection, databases: ClusterDatabase[], signal: AbortSignal): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const d of databases) {
    if (d.name === 'template0') continue;
    try {
      const names = await unloggedRelations(conn, d.name, signal);
      if (names.length) out[d.name] = names;
    } catch (e) {
      if (signal.aborted) throw e;
    }
  }
  return out;
}

export function walMetaOf(p: Pick<PointSummary, 'meta'>): WalMeta | null {
  const w = p.meta.wal;
  if (!w || typeof w !== 'object' || Array.isArray(w)) return null;
  const m = w as Record<string, unknown>;
  if (typeof m.slot !== 'string' || typeof m.systemId !== 'string' || typeof m.timeline !== 'number' || typeof m.startLsn !== 'string' || typeof m.segmentSize !== 'number') return null;
  return m as unknown as WalMeta;
}

function toJson(m: WalMeta): JsonObject {
  return { wal: { ...m } as JsonObject };
}

/**
 * The zstd level of a WAL point (see the header): WAL full-page images compress ~3.3× at
 * level 1 against ~3.5× at 3, for about a third less zstd time; zstd's negative levels cost
 * a quarter to half more stored bytes for little less CPU (docs/PERFORMANCE.md, #19).
 */
export const WAL_COMPRESSION_LEVEL = 1;

/** An incremental planned by `beforeDump`: where its WAL starts and ends. */
type Planned = ReceiptEnd & { startLsn: string; start: bigint; segmentSize: number };

/** Errors of pg_receivewal that mean the server no longer has (or streams) the chain's WAL. */
const CHAIN_GONE = /has already been removed|replication slot .* (does not exist|has been invalidated|cannot be advanced)/i;

/**
 * `segments` as they come, each checked to continue the chain: the first at the planned
 * start, each next one the segment after (or a `.partial` of the same one), all on the
 * chain's timeline, at least one. A failure is a DUMP_FAILED that names what to do.
 */
async function* checkedFeed(segments: AsyncIterable<Segment>, plan: Planned, spoolDir: string): AsyncGenerator<Segment> {
  const size = BigInt(plan.segmentSize);
  let expect: bigint | null = null;
  const refused = (why: string) => new BackstopError('DUMP_FAILED', `${why}; nothing was stored for this run. Run the task again: the next run continues the chain, or takes a full backup if it cannot.`);
  try {
    for await (const s of segments) {
      if (s.timeline !== plan.timeline) throw refused(`The WAL received is on timeline ${s.timeline}, the chain's is ${plan.timeline} (a failover or a promotion during the backup)`);
      if (expect === null && s.start !== plan.start) throw refused(`pg_receivewal started at WAL position ${formatLsn(s.start)}, where this backup's WAL must start at ${plan.startLsn} (the spool ${spoolDir} changed during the backup)`);
      if (expect !== null && s.start !== expect && s.start !== expect - size) throw refused(`WAL segment ${formatLsn(expect)} is missing in the spool ${spoolDir}`);
      expect = s.start + size;
      yield s;
    }
  } catch (e) {
    // The slot was invalidated or dropped between the check and the receipt.
    if (e instanceof Error && !(e instanceof BackstopError && e.code === 'CANCELED') && CHAIN_GONE.test(e.message)) {
      throw new BackstopError('DUMP_FAILED', `WAL chain broken: the server no longer has the WAL this task's chain needs (${e.message}); nothing was stored for this run. Run the task again: it takes a full backup.`, { cause: e });
    }
    throw e;
  }
  if (expect === null) throw refused(`pg_receivewal wrote no WAL into ${spoolDir}`);
}

export class WalBackup {
  private received: Planned | null = null;
  /** A full's warnings: the unlogged tables a restore of it yields empty. */
  private unlogged: string[] = [];
  private meta: WalMeta | null = null;
  private readonly source: WalSource;

  constructor(
    private readonly conn: PgConnection,
    private readonly job: WalJob,
    private readonly requestedKind: PointKind,
    private readonly openBaseBackup: (signal: AbortSignal) => Promise<DumpStream>,
  ) {
    this.source = new WalSource(conn, job.slot, job.spoolDir);
  }

  async beforeDump(prepared: PreparedDestination[], signal: AbortSignal): Promise<{ kind: PointKind; reason: string | null; meta: JsonObject }> {
    // A cluster with tablespaces is refused before anything (tablespaces.ts): no slot made or dropped, no WAL received.
    // So is a pooler that refuses replication connections (pooler.ts), asked at the same time.
    const [tablespaces] = await Promise.all([userTablespaces(this.conn, signal), refuseReplicationThroughPooler(this.conn, signal)]);
    if (tablespaces.length > 0) throw snapshotRefusal(tablespaces, prepared.some((p) => p.kind === 'incremental') ? { slot: this.job.slot } : null);
    let reason: string | null = null;
    if (prepared.every((p) => p.kind === 'incremental')) {
      const broken = await this.continueChain(prepared, signal);
      if (broken === null) return { kind: 'incremental', reason: null, meta: toJson(this.meta!) };
      reason = walChainBroken(broken);
    } else if (this.requestedKind === 'incremental') {
      const full = prepared.find((p) => p.kind === 'full');
      reason = `another destination of this task needs a full (${full?.kindReason ?? 'no chain there'}), and a WAL chain starts from one base backup taken for every destination`;
    }
    const pos = await this.source.resetSlot(signal);
    this.received = null;
    this.meta = {
      slot: this.job.slot,
      systemId: pos.systemId,
      timeline: pos.timeline,
      segmentSize: pos.segmentSize,
      bootstrapRole: pos.bootstrapRole,
      startLsn: pos.startLsn,
      startTime: pos.time,
    };
    const listed = await clusterDatabases(this.conn, signal);
    if (listed) {
      this.meta.databases = listed.databases;
      if (listed.filenode > 0) this.meta.databasesFilenode = listed.filenode;
    }
    const unlogged = await unloggedByDatabase(this.conn, listed?.databases ?? [], signal);
    this.unlogged = Object.entries(unlogged).map(([name, rels]) => unloggedNote(name, rels, 'backup')!);
    if (Object.keys(unlogged).length) this.meta.unlogged = unlogged;
    return { kind: 'full', reason, meta: toJson(this.meta) };
  }

  /** Receives the WAL since the chain's newest point; null when it continues the chain, else what broke it. */
  private async continueChain(prepared: PreparedDestination[], signal: AbortSignal): Promise<string | null> {
    const newest: WalMeta[] = [];
    for (const p of prepared) {
      const chain = await p.repo.newestChain('snapshot', { reuse: true }); // the folder as the run's prepare saw it
      const meta = chain ? walMetaOf(chain.newest) : null;
      if (!meta) return `the newest snapshot at a destination holds no WAL position (it was taken before Backstop streamed WAL)`;
      newest.push(meta);
    }
    const first = newest[0]!;
    if (newest.some((m) => m.slot !== this.job.slot)) return `the chain was taken through another replication slot than "${this.job.slot}"`;
    const { position: pos, slot, receipt } = await this.source.positionAndSlot(signal);
    if (newest.some((m) => m.systemId !== pos.systemId)) return `the server is another cluster now (system identifier ${pos.systemId}; the chain's is ${first.systemId})`;
    if (newest.some((m) => m.timeline !== pos.timeline)) return `the server's timeline changed from ${first.timeline} to ${pos.timeline} (a failover or a promotion)`;
    if (!slot) return `replication slot "${this.job.slot}" no longer exists on the server (it was dropped outside Backstop)`;
    if (slot.walStatus === 'lost') return `replication slot "${this.job.slot}" was invalidated: the server removed WAL it held back (max_slot_wal_keep_size)`;
    const from = this.source.receiptStart(first.segmentSize, slot.restartLsn);
    if (!from) return `replication slot "${this.job.slot}" holds no WAL position (it was created without reserving WAL)`;
    // What the spool holds from earlier runs; what pg_receivewal adds is checked as it comes (openDump).
    const size = BigInt(first.segmentSize);
    let expect: bigint | null = null;
    for (const s of from.spooled) {
      if (s.timeline !== first.timeline) return `the WAL received is on timeline ${s.timeline}, the chain's is ${first.timeline}`;
      if (expect !== null && s.start !== expect && s.start !== expect - size) return `WAL segment ${formatLsn(expect)} is missing in the spool ${this.job.spoolDir}`;
      expect = s.start + size;
    }
    const startLsn = formatLsn(from.start);
    for (const m of newest) {
      const covered = m.endLsn ?? m.startLsn;
      if (from.start > parseLsn(covered)) return `the WAL from ${covered} to ${startLsn} was not kept (Backstop's spool was lost, or the slot was moved on outside Backstop)`;
    }
    const end = await this.source.markEnd(signal, receipt);
    this.received = { ...end, startLsn, start: from.start, timeline: first.timeline, segmentSize: first.segmentSize };
    this.meta = { slot: this.job.slot, systemId: pos.systemId, timeline: first.timeline, segmentSize: first.segmentSize, bootstrapRole: first.bootstrapRole, startLsn, endLsn: end.endLsn, endTime: end.endTime };
    return null;
  }

  /**
   * The WAL point's stream: the spool's segments as pg_receivewal completes them (see the
   * header), each checked to continue the one before on the chain's timeline from the
   * planned start. Ends only once pg_receivewal reached the end position; any failure
   * errors the stream, so no point is committed from it.
   */
  async openDump(signal: AbortSignal, kind: PointKind): Promise<DumpStream> {
    const r = this.received;
    if (kind === 'full' || !r) return this.baseBackup(signal);
    const size = BigInt(r.segmentSize);
    const end = parseLsn(r.endLsn);
    const segments = checkedFeed(this.source.receiveSegments(r.segmentSize, r, signal), r, this.job.spoolDir);
    // The segment holding the end position is stored again, complete, by the next incremental.
    const storedAgain = (s: Segment) => s.partial || s.start + size > end;
    const stream = Readable.from(spoolTar(this.job.spoolDir, segments, WAL_BLOCK_BYTES, storedAgain), { objectMode: false });
    const done = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    done.catch(() => undefined);
    // New log every time: a delta against the parent point's chunk at the same offset never
    // pays, nor do content-defined cuts; fixed blocks that are the spool's own buffers move
    // to the encoders without a copy.
    return { stream, done, handsOverBuffers: true, meta: { format: PG_WAL_FORMAT, deltaBases: false, blockBytes: WAL_BLOCK_BYTES, compressionLevel: WAL_COMPRESSION_LEVEL } };
  }

  /** The base backup, whose stream ends once the server's clock was read after pg_basebackup finished: `consistentTime` (see the header). */
  private async baseBackup(signal: AbortSignal): Promise<DumpStream> {
    let base: DumpStream;
    try {
      base = await this.openBaseBackup(signal);
    } catch (e) {
      // A tablespace created since beforeDump's check: the slot just made would keep WAL for a chain that never starts.
      if (hasCode(e, 'UNSUPPORTED')) await this.source.dropSlot().catch(() => undefined);
      throw e;
    }
    const meta = this.meta;
    if (!meta) return base;
    let consistentTime: string | null = null;
    const through = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        cb(null, chunk);
      },
      // Before 'end': a failed pg_basebackup or a failed read leaves the field out (the backup fails on its own, or keeps the older range).
      flush: (cb) => {
        base.done
          .then(() => this.source.position(signal))
          .then((p) => {
            if (!Number.isNaN(Date.parse(p.time))) consistentTime = p.time;
          })
          .catch(() => undefined)
          .finally(() => cb());
      },
    });
    // pipeline: an error on either side (or the writer giving up) ends both.
    pipeline(base.stream, through, () => undefined);
    const unlogged = this.unlogged;
    return { ...base, stream: through, finalMeta: () => (consistentTime ? toJson({ ...meta, consistentTime }) : {}), ...(unlogged.length ? { warnings: () => unlogged } : {}) };
  }

  /** Empties the spool of what every destination committed, and lets the slot go of it too (see the header). */
  async afterBackup(outcomes: DestinationOutcome[]): Promise<void> {
    const r = this.received;
    if (!r || !this.meta || outcomes.some((o) => o.status !== 'success' || o.kind !== 'incremental')) return;
    this.source.pruneSpool(r.endLsn, this.meta.segmentSize);
    // Best effort: a slot left behind only keeps WAL on the server until the next run receives it again.
    await this.source.advanceSlot(r.endLsn).catch(() => undefined);
  }
}
