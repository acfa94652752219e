/**
 * The server side of a PostgreSQL snapshot task's WAL chain: the physical replication slot
 * the task owns, and receiving the WAL written since the last backup into a durable spool.
 *
 * Contract:
 * - `slotNameFor(taskId)` is stable for a task and recognisable (`backstop_<id start>_<hash>`);
 *   `checkSlotName` refuses anything PostgreSQL would not accept as a slot name (VALIDATION).
 * - `resetSlot` (a full): drops the task's slot if present, empties the spool, creates the
 *   slot reserving WAL from the position flushed now, and returns where the chain starts (system identifier,
 *   timeline, LSN, server time). Everything the base backup that follows needs is then kept
 *   on the server until the task's next incremental has received it.
 * - `markEnd` then `receiveSegments` (an incremental; `receive` runs both to the end): first frees the slot when another connection holds it — a
 *   pg_receivewal left running by a Backstop that was killed keeps the slot active until it
 *   reaches its end position — by terminating the slot's walsender (`pg_terminate_backend`
 *   of `active_pid`; the slot is the task's own) and waiting up to SLOT_RELEASE_MS for it to
 *   become inactive; when it may not or the slot stays active it fails with CONFLICT naming
 *   the process and the SQL to end it. Then it commits a heartbeat transaction (so a restore to any moment up
 *   to `endTime` finds a commit after it), takes the end position (pg_switch_wal when allowed,
 *   so segments are complete; else pg_current_wal_lsn), then runs `pg_receivewal --slot
 *   --endpos` into the spool, yielding each segment once it is safe to read (complete, or
 *   the last one after pg_receivewal exited), so the caller can store WAL while the rest
 *   still arrives. The slot advances only to the flush position pg_receivewal
 *   reports (at its status interval, or when the server asks), and without `--synchronous`
 *   that is WAL it has fsynced: each segment once complete, the last one at --endpos.
 *   (`--synchronous`, an fsync and a report per message, cost about a quarter of an
 *   incremental's time and bought nothing: the slot never passes unsynced WAL either way.)
 *   Received WAL stays in the spool (in Backstop's data dir) until `pruneSpool` is called —
 *   which the caller does only after every destination committed it. A kill -9 at any
 *   moment therefore leaves the WAL either on the server (slot) or fsynced in the spool
 *   (tests/integration/reliability/wal-kill.test.ts kills the CLI and pg_receivewal). A
 *   pg_receivewal killed while it zero-filled a new segment leaves a short `.partial` that
 *   holds no WAL and that it would refuse next time: `removeTornPartials` removes it first.
 *   A spool whose disk fills (pg_receivewal: "No space left on device") fails with DISK_FULL
 *   naming the spool and the fix (free space on the disk of Backstop's data folder); nothing
 *   is committed, and the slot keeps what was not fsynced for the next run.
 * - `spoolTar` yields a ustar archive of the spool's segments, each cut after its last page
 *   holding WAL records (a switched or partial segment is mostly empty pages); a restore pads
 *   them back to the segment size (`padSegment`). Its length is what an incremental reads.
 *   It comes in fresh buffers of exactly WAL_BLOCK_BYTES, the fixed blocks a WAL point is
 *   cut into, so a sole writer moves each to an encoder thread as it is (no copy).
 * - A server in recovery (a standby) fails every step with DUMP_FAILED saying so and naming
 *   the fix (point the task at the primary); `resetSlot` fails there before it creates a slot.
 * - Nothing here decides full vs incremental; it reports facts (`slotState`, `segmentsIn`)
 *   for the caller to judge the chain.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { BackstopError } from '../../../shared/result.ts';
import { formatBytes } from '../../../shared/format-bytes.ts';
import { runTool } from '../child-process.ts';
import { FULL } from '../temp-folder.ts';
import { freeBytesAt } from '../../storage/local-backend.ts';
import type { PgConnection } from './connection.ts';

/** The format of a WAL point's stream (a ustar archive of trimmed WAL segments). */
export const PG_WAL_FORMAT = 'pg-wal-tar';

/** WAL pages are 8 KiB (XLOG_BLCKSZ); segments are trimmed to whole pages. */
const WAL_PAGE = 8192;
/** Longest pg_receivewal may take to reach the end position. */
const RECEIVE_TIMEOUT_MS = 10 * 60_000;
/** Longest to wait for the slot to become inactive after its walsender was told to end. */
const SLOT_RELEASE_MS = 10_000;
/** How often the spool is looked at for segments pg_receivewal has completed. */
const SPOOL_POLL_MS = 25;

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$/;

export function slotNameFor(taskId: string): string {
  const start = taskId.toLowerCase().replace(/[^a-z0-9]+/g, '').slice(0, 12);
  const hash = createHash('sha256').update(taskId).digest('hex').slice(0, 8);
  return checkSlotName(`backstop_${start}_${hash}`);
}

export function checkSlotName(name: string): string {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    throw new BackstopError('VALIDATION', `"${name}" is not a valid replication slot name: use 1 to 63 lower-case letters, digits and underscores.`);
  }
  return name;
}

export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new BackstopError('INTERNAL', `Not a WAL position: "${text}".`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export interface Segment {
  file: string;
  timeline: number;
  /** LSN of the segment's first byte. */
  start: bigint;
  partial: boolean;
}

/** Parses a WAL segment file name (with `.partial`), or null. */
export function parseSegment(file: string, segmentSize: number): Segment | null {
  const m = SEGMENT.exec(file);
  if (!m) return null;
  const perId = 0x100000000n / BigInt(segmentSize);
  const segno = BigInt(`0x${m[2]}`) * perId + BigInt(`0x${m[3]}`);
  return { file, timeline: parseInt(m[1]!, 16), start: segno * BigInt(segmentSize), partial: m[4] !== undefined };
}

/** The segments in `dir`, oldest first (a complete segment before its own `.partial`). */
export function segmentsIn(dir: string, segmentSize: number): Segment[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => parseSegment(n, segmentSize))
    .filter((s): s is Segment => s !== null)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.timeline - b.timeline || Number(a.partial) - Number(b.partial)));
}

/**
 * Removes `.partial` segments from `dir` that a pg_receivewal killed while it created them
 * left short: it fills a new segment file with zeros up to the segment size before it
 * writes any WAL into it, so a `.partial` of another size than 0 or the segment size holds
 * no WAL, and pg_receivewal refuses to start on it ("has N bytes, should be 0 or …"). Only
 * files that are all zeros are removed; returns their names.
 */
export function removeTornPartials(dir: string, segmentSize: number): string[] {
  const removed: string[] = [];
  for (const s of segmentsIn(dir, segmentSize)) {
    if (!s.partial) continue;
    const path = join(dir, s.file);
    const fd = openSync(path, 'r');
    let torn = false;
    try {
      const size = fstatSync(fd).size;
      if (size === 0 || size === segmentSize) continue;
      const window = Buffer.allocUnsafe(Math.min(size, 1024 * 1024));
      const zeros = Buffer.alloc(window.length);
      torn = true;
      for (let at = 0; at < size && torn; at += window.length) {
        const n = Math.min(window.length, size - at);
        readFully(fd, window, 0, n, at);
        torn = window.subarray(0, n).equals(zeros.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    if (torn) {
      rmSync(path, { force: true });
      removed.push(s.file);
    }
  }
  return removed;
}

/** Extends a trimmed segment back to the segment size (zeros), as PostgreSQL expects. */
export function padSegment(file: string, segmentSize: number): void {
  if (statSync(file).size < segmentSize) truncateSync(file, segmentSize);
}

export interface ServerPosition {
  systemId: string;
  timeline: number;
  lsn: string;
  /** Server clock, ISO-8601 UTC. */
  time: string;
  segmentSize: number;
  /** The cluster's bootstrap superuser (what a private restore connects as). */
  bootstrapRole: string;
}

export interface SlotState {
  restartLsn: string | null;
  /** pg_replication_slots.wal_status: reserved, extended, unreserved or lost. */
  walStatus: string | null;
  active: boolean;
  /** WAL the slot keeps on the server: bytes from its restart_lsn to the server's current position (0 without a restart_lsn). */
  heldBytes: number;
}

/** What an incremental's receipt needs to know first (see `receive`). */
export interface ReceiptFacts {
  /** The role may call pg_switch_wal(). */
  maySwitch: boolean;
  /** The server process holding the task's slot, or null. */
  holder: number | null;
}

/** Where an incremental's receipt ends (`markEnd`). */
export interface ReceiptEnd {
  /** Every transaction committed at or before `endTime` is in WAL before this position. */
  endLsn: string;
  endTime: string;
  timeline: number;
}

export interface Received {
  /** First LSN the spool holds (start of its oldest segment). */
  startLsn: string;
  /** Every transaction committed at or before `endTime` is in WAL before this position. */
  endLsn: string;
  endTime: string;
  timeline: number;
  segments: Segment[];
}

function sqlText(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Why a snapshot task cannot run on a standby, and the fix (the server check's reason; a run's error, with `more` before the fix). */
export function standbySnapshotReason(label: string, more = ''): string {
  return `The ${label} is a standby (in recovery): a snapshot task takes its WAL through a replication slot of its own and switches WAL files, which only a primary does. ${more}Fix: point the task's server at the primary (after a failover: the promoted server), or use a task of type logical.`;
}

export class WalSource {
  constructor(
    private readonly conn: PgConnection,
    readonly slot: string,
    readonly spoolDir: string,
  ) {
    checkSlotName(slot);
  }

  private q(sql: string, action: string, signal?: AbortSignal): Promise<string[][]> {
    return this.conn.query(`SET TimeZone = 'UTC';\n${sql}`, { signal, action, fallback: 'DUMP_FAILED' }).catch(async (e: unknown) => {
      // WAL control functions fail on a standby ("recovery is in progress", in the server's language): say what that means and what to do.
      const standby = async () => (await this.conn.query('SELECT pg_is_in_recovery()', { signal, action, fallback: 'DUMP_FAILED' }).catch(() => null))?.[0]?.[0] === 't';
      if (e instanceof BackstopError && e.code !== 'CANCELED' && e.code !== 'PERMISSION_DENIED' && (/recovery is in progress/.test(e.message) || (await standby()))) {
        throw new BackstopError('DUMP_FAILED', standbySnapshotReason(this.conn.label, 'Nothing was created on the server. '), { cause: e });
      }
      throw e;
    });
  }

  private readonly positionSql = `SELECT s.system_identifier::text, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int, pg_current_wal_lsn(),
              to_char(clock_timestamp(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), current_setting('wal_segment_size'),
              (SELECT rolname FROM pg_roles WHERE oid = 10)
       FROM pg_control_system() s`;

  private readonly slotSql = () => `SELECT coalesce(restart_lsn::text, ''), coalesce(wal_status, ''), active, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, 0)
       FROM pg_replication_slots WHERE slot_name = ${sqlText(this.slot)}`;

  /** Where the server is now, and who it is. */
  async position(signal?: AbortSignal): Promise<ServerPosition> {
    return toPosition((await this.q(this.positionSql, 'reading the WAL position', signal))[0]);
  }

  async slotState(signal?: AbortSignal): Promise<SlotState | null> {
    return toSlotState((await this.q(this.slotSql(), `looking up replication slot "${this.slot}"`, signal))[0]);
  }

  /**
   * `position` and `slotState` in one query, with what `receive` asks before it starts (who
   * holds the slot, whether the role may switch WAL): fewer psql starts for every incremental.
   */
  async positionAndSlot(signal?: AbortSignal): Promise<{ position: ServerPosition; slot: SlotState | null; receipt: ReceiptFacts }> {
    // One row each from the first two; the slot's row last, as it is missing when the slot is (the rows come as one list).
    const rows = await this.q(`${this.positionSql};\n${this.receiptSql()};\n${this.slotSql()}`, `reading the WAL position and replication slot "${this.slot}"`, signal);
    return { position: toPosition(rows[0]), receipt: toReceiptFacts(rows[1]), slot: toSlotState(rows[2]) };
  }

  // EXECUTE is checked when a query starts, for every function it names (even in a CASE
  // branch not taken): ask first, then name pg_switch_wal only when the role may call it.
  private readonly receiptSql = () => `SELECT has_function_privilege('pg_switch_wal()', 'EXECUTE'),
              (SELECT active_pid FROM pg_replication_slots WHERE slot_name = ${sqlText(this.slot)} AND active AND active_pid IS NOT NULL)`;

  /** Drops the slot when it exists; true when it did. */
  async dropSlot(signal?: AbortSignal): Promise<boolean> {
    const rows = await this.q(
      `SELECT count(*) FROM (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${sqlText(this.slot)}) d`,
      `dropping replication slot "${this.slot}"`,
      signal,
    );
    return rows[0]?.[0] === '1';
  }

  /** A missing REPLICATION privilege, with the fix named. */
  private async withReplicationFix<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof BackstopError && e.code === 'PERMISSION_DENIED') {
        const user = this.conn.server.user;
        throw new BackstopError('PERMISSION_DENIED', `${e.message} Snapshot backups stream WAL through a replication slot, which needs the REPLICATION privilege. Fix: ALTER ROLE "${user.replace(/"/g, '""')}" REPLICATION; (or use a task of type logical).`, { cause: e });
      }
      throw e;
    }
  }

  /** A full's start: a fresh slot and an empty spool. See the header. */
  async resetSlot(signal?: AbortSignal): Promise<ServerPosition & { startLsn: string }> {
    await this.dropSlot(signal);
    rmSync(this.spoolDir, { recursive: true, force: true });
    mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
    // A new physical slot reserves from the last checkpoint's redo point, which may lie far
    // back; the base backup that follows starts with a checkpoint of its own, so the chain
    // needs nothing before the WAL flushed now.
    // The first statement fails on a standby before the slot is created (see `q`): nothing is left there.
    const rows = await this.withReplicationFix(() => this.q(
      `SELECT pg_current_wal_flush_lsn();
       SELECT lsn FROM pg_create_physical_replication_slot(${sqlText(this.slot)}, true);
       SELECT end_lsn FROM pg_replication_slot_advance(${sqlText(this.slot)}, pg_current_wal_flush_lsn())`,
      `creating replication slot "${this.slot}"`,
      signal,
    ));
    const startLsn = rows[2]?.[0] ?? '';
    parseLsn(startLsn);
    return { ...(await this.position(signal)), startLsn };
  }

  /**
   * Ends whatever connection holds the task's slot (see the header); resolves once the slot
   * is free, with the walsender's process id when one had to be ended.
   */
  async freeSlot(signal?: AbortSignal, known?: { holder: number | null }): Promise<number | null> {
    const holder = async (): Promise<number | null> => {
      const rows = await this.q(
        `SELECT active_pid FROM pg_replication_slots WHERE slot_name = ${sqlText(this.slot)} AND active AND active_pid IS NOT NULL`,
        `looking up replication slot "${this.slot}"`,
        signal,
      );
      return rows[0]?.[0] ? Number(rows[0][0]) : null;
    };
    const pid = known ? known.holder : await holder();
    if (pid === null) return null;
    const stuck = (why: string, cause?: unknown) =>
      new BackstopError(
        'CONFLICT',
        `Replication slot "${this.slot}" of this task is in use by server process ${pid} (most likely a pg_receivewal left running by a Backstop that was stopped abruptly) and ${why}. Fix: stop that process, or run on the server as a superuser: SELECT pg_terminate_backend(${pid}); then run the task again.`,
        cause === undefined ? undefined : { cause },
      );
    try {
      await this.q(`SELECT pg_terminate_backend(${pid})`, `ending server process ${pid} holding replication slot "${this.slot}"`, signal);
    } catch (e) {
      if (e instanceof BackstopError && e.code === 'CANCELED') throw e;
      throw stuck(`Backstop may not end it (${e instanceof Error ? e.message : String(e)})`, e);
    }
    const deadline = Date.now() + SLOT_RELEASE_MS;
    for (;;) {
      const still = await holder();
      if (still === null) return pid;
      if (Date.now() >= deadline) throw stuck(`it was still active ${SLOT_RELEASE_MS / 1000} seconds after Backstop asked the server to end it`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Where an incremental's receipt will end, fixed before pg_receivewal starts: frees the
   * slot, commits the heartbeat and switches WAL (see the header). `known`: the facts
   * `positionAndSlot` just read (asked here otherwise).
   */
  async markEnd(signal?: AbortSignal, known?: ReceiptFacts): Promise<ReceiptEnd> {
    mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
    const facts = known ?? toReceiptFacts((await this.q(this.receiptSql(), `looking up replication slot "${this.slot}"`, signal))[0]);
    const mayswitch = facts.maySwitch;
    await this.freeSlot(signal, { holder: facts.holder });
    const rows = await this.q(
      `SELECT to_char(clock_timestamp(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), pg_current_xact_id();
       SELECT ${mayswitch ? 'pg_switch_wal()' : 'pg_current_wal_lsn()'},
              ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`,
      'marking the end of this WAL backup',
      signal,
    );
    const endTime = rows[0]?.[0] ?? '';
    const endLsn = rows[1]?.[0] ?? '';
    const timeline = Number(rows[1]?.[1]);
    parseLsn(endLsn);
    return { endLsn, endTime, timeline };
  }

  /**
   * Where pg_receivewal will start, so where the next point's WAL starts: the spool's oldest
   * segment, or with an empty spool the start of the segment holding the slot's restart_lsn
   * (what pg_receivewal asks the server for: READ_REPLICATION_SLOT, rounded down to a segment).
   * null when neither exists.
   */
  receiptStart(segmentSize: number, restartLsn: string | null): { start: bigint; spooled: Segment[] } | null {
    removeTornPartials(this.spoolDir, segmentSize);
    const spooled = segmentsIn(this.spoolDir, segmentSize);
    if (spooled[0]) return { start: spooled[0].start, spooled };
    if (!restartLsn) return null;
    const lsn = parseLsn(restartLsn);
    return { start: lsn - (lsn % BigInt(segmentSize)), spooled };
  }

  /**
   * Runs pg_receivewal to `end.endLsn` into the spool and yields the spool's segments, oldest
   * first, as they become safe to read: while it runs, each complete segment (pg_receivewal
   * fsyncs a segment, then renames it from `.partial`), up to the first `.partial` (the one
   * it is writing); once it has exited, every segment not yet yielded (the last, partial one
   * at --endpos included). A pg_receivewal that fails throws here, after whatever was already
   * yielded: the caller must not commit a point from it. A caller that stops reading early
   * stops pg_receivewal (the spool keeps what it fsynced).
   */
  async *receiveSegments(segmentSize: number, end: ReceiptEnd, signal?: AbortSignal): AsyncGenerator<Segment> {
    mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
    const timeout = AbortSignal.timeout(RECEIVE_TIMEOUT_MS);
    const stop = new AbortController();
    const all = AbortSignal.any([stop.signal, timeout, ...(signal ? [signal] : [])]);
    const cmd = this.conn.command('pg_receivewal', ['-D', this.spoolDir, '-S', this.slot, `--endpos=${end.endLsn}`, '--no-loop', ...this.conn.connArgs()]);
    let exit: { error: unknown } | null = null;
    const exited = runTool(cmd, { signal: all, classify: this.conn.classify(`receiving WAL through replication slot "${this.slot}" (pg_receivewal)`, 'DUMP_FAILED') }).then(
      () => void (exit = { error: null }),
      (e: unknown) => void (exit = { error: e }),
    );
    const fed = new Set<string>();
    try {
      for (;;) {
        const finished = exit as { error: unknown } | null;
        if (finished?.error) {
          if (timeout.aborted && !signal?.aborted) {
            throw new BackstopError('DUMP_FAILED', `pg_receivewal did not reach WAL position ${end.endLsn} within ${RECEIVE_TIMEOUT_MS / 60_000} minutes; check the server's replication connections (max_wal_senders) and try again.`, { cause: finished.error });
          }
          throw spoolFullError(this.spoolDir, this.slot, finished.error) ?? finished.error;
        }
        for (const s of segmentsIn(this.spoolDir, segmentSize)) {
          if (fed.has(s.file)) continue;
          if (s.partial && !finished) break; // still being written: it and what follows wait
          fed.add(s.file);
          yield s;
        }
        if (finished) return;
        await Promise.race([exited, new Promise((r) => setTimeout(r, SPOOL_POLL_MS))]);
      }
    } finally {
      if (!exit) {
        stop.abort();
        await exited;
      }
    }
  }

  /**
   * An incremental's receipt in one go (`markEnd`, then all of `receiveSegments`): the
   * segments are those in the spool once pg_receivewal has exited. See the header.
   */
  async receive(segmentSize: number, signal?: AbortSignal, known?: ReceiptFacts): Promise<Received> {
    const end = await this.markEnd(signal, known);
    removeTornPartials(this.spoolDir, segmentSize);
    for await (const s of this.receiveSegments(segmentSize, end, signal)) void s;
    const segments = segmentsIn(this.spoolDir, segmentSize);
    const first = segments[0];
    if (!first) throw new BackstopError('DUMP_FAILED', `pg_receivewal wrote no WAL into ${this.spoolDir}.`);
    return { startLsn: formatLsn(first.start), ...end, segments };
  }

  /**
   * Moves the slot on to `upTo` — WAL every destination committed — when it is still behind
   * it: pg_receivewal's last flush report before it stops at --endpos can miss the end of what
   * it received, and the server would keep that WAL (and warn of it) until the next run. Never
   * moves the slot back, nor past what the server flushed. A walsender that has not yet let go
   * of the slot refuses it ("is active"): asked again once, a moment later.
   */
  async advanceSlot(upTo: string, signal?: AbortSignal): Promise<void> {
    const lsn = `${sqlText(upTo)}::pg_lsn`;
    const advance = () =>
      this.q(
        `SELECT pg_replication_slot_advance(slot_name, ${lsn}) FROM pg_replication_slots WHERE slot_name = ${sqlText(this.slot)} AND restart_lsn < ${lsn}`,
        `advancing replication slot "${this.slot}"`,
        signal,
      );
    await advance().catch(async () => {
      await new Promise((r) => setTimeout(r, 500));
      await advance();
    });
  }

  /** Removes complete segments that end at or before `upTo` (committed everywhere). */
  pruneSpool(upTo: string, segmentSize: number): number {
    const limit = parseLsn(upTo);
    let removed = 0;
    for (const s of segmentsIn(this.spoolDir, segmentSize)) {
      if (!s.partial && s.start + BigInt(segmentSize) <= limit) {
        rmSync(join(this.spoolDir, s.file), { force: true });
        removed++;
      }
    }
    return removed;
  }
}

function toPosition(r: string[] = []): ServerPosition {
  return { systemId: r[0] ?? '', timeline: Number(r[1]), lsn: r[2] ?? '', time: r[3] ?? '', segmentSize: parseSize(r[4] ?? ''), bootstrapRole: r[5] ?? 'postgres' };
}

function toReceiptFacts(r: string[] = []): ReceiptFacts {
  return { maySwitch: r[0] === 't', holder: r[1] ? Number(r[1]) : null };
}

function toSlotState(r: string[] | undefined): SlotState | null {
  if (!r) return null;
  return { restartLsn: r[0] || null, walStatus: r[1] || null, active: r[2] === 't', heldBytes: Number(r[3] ?? 0) };
}

function parseSize(setting: string): number {
  const m = /^(\d+)\s*(B|kB|MB|GB)?$/.exec(setting.trim());
  if (!m) return 16 * 1024 * 1024;
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] ?? 'B'] ?? 1;
  return Number(m[1]) * unit;
}

/** One WAL page of zeros, to compare pages against natively. */
const ZERO_PAGE = Buffer.alloc(WAL_PAGE);
/** Pages read at once while looking for the last page that holds WAL records. */
const TRIM_WINDOW = 32 * WAL_PAGE;

/**
 * Length of the segment open as `fd` (`size` bytes) without its trailing pages that hold no
 * WAL records: all zeros after the page header (the padding after a WAL switch has headers
 * only; a spooled `.partial` is preallocated with zeros). Padding them back with zeros
 * changes nothing recovery reads. Reads the file from its end, a window at a time.
 */
function trimmedLength(fd: number, size: number): number {
  let end = size - (size % WAL_PAGE);
  const window = Buffer.allocUnsafe(TRIM_WINDOW);
  while (end > 0) {
    const from = Math.max(0, end - TRIM_WINDOW);
    readFully(fd, window, 0, end - from, from);
    for (let page = end - WAL_PAGE; page >= from; page -= WAL_PAGE) {
      const header = page === 0 ? 40 : 24; // long header on a segment's first page, short after
      const at = page - from;
      if (!window.subarray(at + header, at + WAL_PAGE).equals(ZERO_PAGE.subarray(header))) return page + WAL_PAGE;
    }
    end = from;
  }
  return 0;
}

/** pg_receivewal failing for lack of room in the spool: DISK_FULL naming it and the fix; null for other failures. */
function spoolFullError(spoolDir: string, slot: string, e: unknown): BackstopError | null {
  const text = e instanceof Error ? e.message : String(e);
  if (!FULL.test(text)) return null;
  const bytes = freeBytesAt(spoolDir);
  const free = bytes === null ? '' : `; ${formatBytes(bytes)} is free there`;
  const said = /pg_receivewal: error: [^|]*/.exec(text)?.[0].trim() ?? text;
  return new BackstopError(
    'DISK_FULL',
    `The disk holding Backstop's WAL spool ${spoolDir} is full (${said}${free}). Free space on that disk (it holds Backstop's data folder) and run the backup again; nothing was stored, and replication slot "${slot}" keeps the WAL on the server until then.`,
    { cause: e },
  );
}

/** Reads exactly `length` bytes at `position` into `into` at `offset` (a spooled segment does not change while it is read). */
function readFully(fd: number, into: Buffer, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, offset + done, length - done, position + done);
    if (n === 0) throw new BackstopError('DUMP_FAILED', `A WAL segment in the spool ended ${length - done} bytes early while Backstop read it; run the backup again.`);
    done += n;
  }
}

/** A ustar header; `mtimeMs` the file's own (0 for the alignment entry), so the same files always give the same bytes. */
function tarHeader(name: string, size: number, type = '0', mtimeMs = 0): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000600\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write(`${Math.floor(mtimeMs / 1000).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\u000000', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** The block size WAL points are cut into (the writer's fixed chunk size; see `spoolTar`). */
export const WAL_BLOCK_BYTES = 1024 * 1024;

/**
 * A pax global header of exactly `bytes` (a multiple of 512, at least 512) that carries
 * only a comment: tar readers (Backstop's own extractor included) skip it. It moves the
 * next entry to a block boundary.
 */
function alignmentEntry(bytes: number): Buffer {
  const payload = bytes - 512;
  const h = tarHeader('pax_global_header', payload, 'g');
  if (payload === 0) return h;
  const digits = String(payload).length;
  const record = `${payload} comment=${'.'.repeat(payload - digits - 10)}\n`;
  return Buffer.concat([h, Buffer.from(record, 'ascii')]);
}

/**
 * A ustar archive of `segments` (files in `dir`), each trimmed of trailing zero pages,
 * yielded in buffers of exactly `blockBytes` (the last one shorter), each a fresh
 * allocation of its own: cut into fixed blocks of the same size, every block is one whole
 * buffer that a writer can move to an encoder thread without a copy. The segments are
 * read straight into those buffers (no whole-segment read).
 *
 * The segment the next incremental stores again (`storedAgain`: the one holding the end
 * position, still being written; by default the last of an array) starts at a block
 * boundary (after an `alignmentEntry` when needed), unless it is the first: the next
 * incremental stores it again, complete, as its first entry at offset 0. Aligned the same
 * way in both points, its blocks recur and the next point stores only the ones that changed.
 * `segments` may be an async iterable (segments fed while pg_receivewal still receives).
 */
export async function* spoolTar(
  dir: string,
  segments: Segment[] | AsyncIterable<Segment>,
  blockBytes: number = WAL_BLOCK_BYTES,
  storedAgain: (s: Segment) => boolean = Array.isArray(segments) ? (s) => s === segments[segments.length - 1] : () => false,
): AsyncGenerator<Buffer> {
  let block = Buffer.allocUnsafeSlow(blockBytes);
  let at = 0;
  /** Fills the next `length` bytes of the archive through `fill(into, offset, n, done)`, yielding each block completed. */
  function* put(length: number, fill: (into: Buffer, offset: number, n: number, done: number) => void): Generator<Buffer> {
    let done = 0;
    while (done < length) {
      const n = Math.min(length - done, blockBytes - at);
      fill(block, at, n, done);
      at += n;
      done += n;
      if (at === blockBytes) {
        yield block;
        block = Buffer.allocUnsafeSlow(blockBytes);
        at = 0;
      }
    }
  }
  const bytes = (src: Buffer) => (into: Buffer, offset: number, n: number, done: number) => void src.copy(into, offset, done, done + n);
  const zeros = (into: Buffer, offset: number, n: number) => void into.fill(0, offset, offset + n);
  let i = 0;
  let aligned = false;
  for await (const s of segments) {
    if (i++ > 0 && !aligned && storedAgain(s)) {
      aligned = true;
      if (at > 0) yield* put(blockBytes - at, bytes(alignmentEntry(blockBytes - at)));
    }
    const fd = openSync(join(dir, s.file), 'r');
    try {
      const stat = fstatSync(fd);
      const length = trimmedLength(fd, stat.size);
      yield* put(512, bytes(tarHeader(s.file, length, '0', stat.mtimeMs)));
      yield* put(length, (into, offset, n, done) => readFully(fd, into, offset, n, done));
      yield* put((512 - (length % 512)) % 512, zeros);
    } finally {
      closeSync(fd);
    }
  }
  yield* put(1024, zeros);
  if (at > 0) {
    const last = Buffer.allocUnsafeSlow(at); // a whole buffer of its own too
    block.copy(last, 0, 0, at);
    yield last;
  }
}
