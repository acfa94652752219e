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
 * - Point meta `wal` (what a restore needs): slot, systemId, timeline, segmentSize,
 *   bootstrapRole, startLsn; an incremental also endLsn and endTime (server clock: every
 *   transaction committed up to endTime is in the chain). A full also records `databases`
 *   (name, oid, template flag, size from pg_database, read just before the base backup
 *   starts): a restore of one database leaves the others' files sparse (restore/pitr.ts).
 *   Reading it never fails the backup: without it a restore extracts everything.
 *   A full also records `consistentTime`: the server's clock read once pg_basebackup has
 *   finished (its stream ends only after that read), so at or after the backup's
 *   end-of-backup record: every commit before the point where a recovery of this base
 *   backup becomes consistent is older. A restore to a moment reaches from it
 *   (restore/pitr.ts). Reading it never fails the backup: without it (and in fulls taken
 *   before it was recorded) the range starts at the end of the chain's first WAL point.
 * - A WAL point stores no delta chunks (`deltaBases: false`): its log never lines up with
 *   the parent point's bytes, so trying would read bases and compress every chunk twice.
 *   It is cut into fixed WAL_BLOCK_BYTES blocks (no content-defined cuts: nothing to find
 *   again), each one of the spool reader's own buffers, handed over to the encoders.
 * - `afterBackup` empties the spool of the WAL just stored only when every destination
 *   committed it, and advances the slot to its end (pg_receivewal's last flush report may
 *   stop short of it); otherwise both stay and the next incremental stores it again.
 */
import { pipeline, Readable, Transform } from 'node:stream';
import type { PointKind } from '../../shared/domain.ts';
import type { JsonObject, PointSummary } from '../repository/index.ts';
import type { DumpStream } from '../servers/connector.ts';
import type { PgConnection } from '../servers/postgres/connection.ts';
import { formatLsn, parseLsn, PG_WAL_FORMAT, spoolTar, WAL_BLOCK_BYTES, WalSource, type Received } from '../servers/postgres/wal-stream.ts';
import type { DestinationOutcome } from './backup-database.ts';
import { walChainBroken, type PreparedDestination } from './prepare-destination.ts';

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
async function clusterDatabases(conn: PgConnection, signal: AbortSignal): Promise<ClusterDatabase[] | undefined> {
  try {
    const rows = await conn.query(
      `SELECT oid, encode(convert_to(datname, 'UTF8'), 'hex'), datistemplate, CASE WHEN has_database_privilege(oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER') THEN pg_database_size(oid) END FROM pg_database`,
      { signal, action: 'listing the databases of the cluster', fallback: 'DUMP_FAILED' },
    );
    return rows.map((r) => ({ oid: Number(r[0]), name: Buffer.from(r[1] ?? '', 'hex').toString('utf8'), template: r[2] === 't', bytes: r[3] ? Number(r[3]) : null }));
  } catch (e) {
    if (signal.aborted) throw e;
    return undefined; // a restore of one database then extracts the whole cluster, as before
  }
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

export class WalBackup {
  private received: Received | null = null;
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
    const databases = await clusterDatabases(this.conn, signal);
    if (databases) this.meta.databases = databases;
    return { kind: 'full', reason, meta: toJson(this.meta) };
  }

  /** Receives the WAL since the chain's newest point; null when it continues the chain, else what broke it. */
  private async continueChain(prepared: PreparedDestination[], signal: AbortSignal): Promise<string | null> {
    const newest: WalMeta[] = [];
    for (const p of prepared) {
      const chain = await p.repo.newestChain('snapshot');
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
    let received: Received;
    try {
      received = await this.source.receive(first.segmentSize, signal, receipt);
    } catch (e) {
      // The slot was invalidated while receiving: the server says "requested WAL segment … has already been removed".
      if (e instanceof Error && /has already been removed|replication slot .* (does not exist|has been invalidated|cannot be advanced)/i.test(e.message)) return `the server no longer has the WAL the chain needs (${e.message})`;
      throw e;
    }
    const size = BigInt(first.segmentSize);
    let expect: bigint | null = null;
    for (const s of received.segments) {
      if (s.timeline !== first.timeline) return `the WAL received is on timeline ${s.timeline}, the chain's is ${first.timeline}`;
      if (expect !== null && s.start !== expect && s.start !== expect - size) return `WAL segment ${formatLsn(expect)} is missing in the spool ${this.job.spoolDir}`;
      expect = s.start + size;
    }
    const start = parseLsn(received.startLsn);
    for (const m of newest) {
      const covered = m.endLsn ?? m.startLsn;
      if (start > parseLsn(covered)) return `the WAL from ${covered} to ${received.startLsn} was not kept (Backstop's spool was lost, or the slot was moved on outside Backstop)`;
    }
    this.received = received;
    this.meta = { slot: this.job.slot, systemId: pos.systemId, timeline: first.timeline, segmentSize: first.segmentSize, bootstrapRole: first.bootstrapRole, startLsn: received.startLsn, endLsn: received.endLsn, endTime: received.endTime };
    return null;
  }

  async openDump(signal: AbortSignal, kind: PointKind): Promise<DumpStream> {
    if (kind === 'full' || !this.received) return this.baseBackup(signal);
    const stream = Readable.from(spoolTar(this.job.spoolDir, this.received.segments, WAL_BLOCK_BYTES), { objectMode: false });
    const done = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    done.catch(() => undefined);
    // New log every time: a delta against the parent point's chunk at the same offset never
    // pays, nor do content-defined cuts; fixed blocks that are the spool's own buffers move
    // to the encoders without a copy.
    return { stream, done, handsOverBuffers: true, meta: { format: PG_WAL_FORMAT, deltaBases: false, blockBytes: WAL_BLOCK_BYTES } };
  }

  /** The base backup, whose stream ends once the server's clock was read after pg_basebackup finished: `consistentTime` (see the header). */
  private async baseBackup(signal: AbortSignal): Promise<DumpStream> {
    const base = await this.openBaseBackup(signal);
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
    return { ...base, stream: through, finalMeta: () => (consistentTime ? toJson({ ...meta, consistentTime }) : {}) };
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
