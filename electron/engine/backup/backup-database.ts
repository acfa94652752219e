/**
 * Backs up one database to every destination of a task from a single dump: the dump
 * stream is read once and fed to one repository writer per destination.
 *
 * Contract:
 * - Each destination gets its own outcome; one failing (disk full, wrong key, foreign
 *   folder) never costs another its point.
 * - A point is committed only from a complete dump: if the dump tool fails, every writer
 *   sees the error and commits nothing. If the tool reports failure after a writer
 *   committed (a broken connector), those points are deleted again and the outcome is
 *   failed.
 * - Cancelling (signal) stops the dump and every writer; nothing is committed.
 * - Progress is reported at most ~4 times a second plus once at the end.
 * - An incremental a change log covers (`fromLog`: MariaDB's binary log, stored as its own
 *   server-level stream) needs no dump at that destination: its outcome is a success with
 *   no point and that reason; the others are dumped, with `fromLog`'s reason why.
 * - A stream that continues a chain (`openDump`'s `since`) may say it cannot
 *   (`startsChain`): its point then starts a new chain, with that reason.
 * - A dump whose format names the bytes its tool varies on every run (`volatile`) and that
 *   equals the newest point's apart from them stores nothing at that destination: a success
 *   with no point and the reason UNCHANGED (then "; " and why it re-dumped, if it did:
 *   the window's log hint reads it) (repository/unchanged-write.ts). Each destination
 *   decides for itself; not for streams with a `beforeDump` plan (WAL).
 */
import type { BackupType, DatabaseProgress, PointKind } from '../../shared/domain.ts';

export type { DatabaseProgress } from '../../shared/domain.ts';
import { BackstopError, hasCode, isBackstopError, toFailure } from '../../shared/result.ts';
import type { JsonObject, OpenOptions, PointSummary, Repository, UnchangedWrite, WriteProgress, WritePointOptions } from '../repository/index.ts';
import type { DumpStream } from '../servers/connector.ts';
import { throttledStream, type Backend } from '../storage/index.ts';
import { ProgressThrottle } from '../runtime/progress-throttle.ts';
import { broadcast } from './broadcast.ts';
import { factsMeta, observed } from '../facts/dump-facts.ts';
import { prepareDestination, type PreparedDestination } from './prepare-destination.ts';
import { COVERED_BY_LOG, REDUMPED } from './log-coverage.ts';
import { UNCHANGED } from './unchanged-stream.ts';

export interface DestinationTarget {
  /** Stable id used in history, e.g. "local:/backups". */
  id: string;
  backend: Backend;
  /** Opens the database folder's sibling for the job's key (where a chain under a changed key goes). */
  sibling?: () => Backend;
  /** Repository options for this destination only (e.g. the chunk cache of a remote one). */
  repoOptions?: OpenOptions;
}

export interface DestinationOutcome {
  destination: string;
  status: 'success' | 'failed' | 'canceled';
  kind: PointKind;
  kindReason: string | null;
  pointId: string | null;
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  error: { code: string; message: string } | null;
  /** The destination refused the login while it was being opened (AUTH_FAILED before any dump): the run sends no other job there. */
  loginRefused?: true;
  /** The folder's newest point this one continues: an incremental's parent, or the point an unchanged database matched. */
  builtOn?: string;
  /** What the user should know about the point stored (DumpStream.warnings); absent when nothing. */
  warnings?: string[];
}


export interface BackupDatabaseInput {
  database: string;
  backupType: BackupType;
  requestedKind: PointKind;
  key: Buffer | null;
  serverIdentity: string;
  engineVersion: string;
  dumpToolVersion: string;
  /**
   * `kind`: what every destination takes when `beforeDump` decided one (else the requested kind);
   * `since`: the meta of the newest point of the chain each prepared destination continues
   * (null where it writes a full).
   */
  openDump: (signal: AbortSignal, kind: PointKind, since: (Record<string, unknown> | null)[]) => Promise<DumpStream>;
  /**
   * Runs once the destinations are open, before the dump: decides one kind for every
   * destination (a full replaces a destination's incremental, with `reason`) and adds
   * `meta` to every point. For streams whose incrementals continue one server-side chain
   * (PostgreSQL WAL), where destinations cannot go separate ways.
   */
  beforeDump?: (prepared: PreparedDestination[], signal: AbortSignal) => Promise<{ kind: PointKind; reason: string | null; meta: JsonObject }>;
  destinations: DestinationTarget[];
  /** Incrementals of a server whose change log is stored apart: null where the log covers the destination's chain, else why a dump is needed. */
  fromLog?: (prep: PreparedDestination, target: DestinationTarget) => Promise<string | null>;
  /** Why this incremental re-dumps (the change log cannot be used), for the history; null when nothing to say. */
  dumpReason?: string | null;
  signal?: AbortSignal;
  onProgress?: (p: DatabaseProgress) => void;
  repoOptions?: OpenOptions;
  /**
   * Filled with the repository each destination was prepared and written with (by target id),
   * so the caller's steps after the write (retention) reuse its view of the folder instead of
   * opening and listing it again.
   */
  repositories?: Map<string, Repository>;
  /** Block size for page-structured snapshots (rounded to the page size). */
  fixedBlockBytes?: number;
  /** The task's read limit: the dump is read no faster than this shared budget allows (storage/throttle.ts). */
  readBudget?: SharedArrayBuffer | null;
  now?: () => number;
}

const failed = (destination: string, kind: PointKind, kindReason: string | null, e: unknown, canceled = false): DestinationOutcome => {
  const f = toFailure(e);
  return {
    destination,
    status: canceled || f.code === 'CANCELED' ? 'canceled' : 'failed',
    kind,
    kindReason,
    pointId: null,
    bytesRead: 0,
    bytesNew: 0,
    bytesStored: 0,
    error: { code: f.code, message: f.message },
  };
};

export async function backupDatabase(input: BackupDatabaseInput): Promise<DestinationOutcome[]> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(input.signal?.reason);
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const now = input.now ?? Date.now;
  const progress: DatabaseProgress = { database: input.database, phase: 'preparing', bytesRead: 0, expectedBytes: null, destinations: [] };
  const throttle = new ProgressThrottle<DatabaseProgress>(input.onProgress, now);
  const report = (force = false) => (force ? throttle.final(structuredClone(progress)) : throttle.tick(() => structuredClone(progress)));

  try {
    // 1. Open every destination; those that cannot be used fail on their own.
    const prepared: { target: DestinationTarget; prep: PreparedDestination }[] = [];
    const outcomes = new Map<string, DestinationOutcome>();
    for (const target of input.destinations) {
      try {
        const prep = await prepareDestination(target.backend, {
          key: input.key,
          backupType: input.backupType,
          requestedKind: input.requestedKind,
          database: input.database,
          // A stream that proves its own continuity (WAL: the cluster's system identifier and timeline)
          // continues across an address change; every other incremental only from the same server.
          ...(input.beforeDump ? {} : { serverIdentity: input.serverIdentity }),
          repoOptions: target.repoOptions ? { ...input.repoOptions, ...target.repoOptions } : input.repoOptions,
          ...(target.sibling ? { sibling: target.sibling } : {}),
        });
        prepared.push({ target, prep });
        input.repositories?.set(target.id, prep.repo);
      } catch (e) {
        const o = failed(target.id, input.requestedKind, null, e);
        if (o.error?.code === 'AUTH_FAILED') o.loginRefused = true;
        outcomes.set(target.id, o);
      }
    }
    // 1b. Incrementals the change log covers need no dump.
    for (const p of [...prepared]) {
      if (p.prep.kind !== 'incremental') continue;
      let why: string | null = input.dumpReason ?? null;
      if (input.fromLog) {
        try {
          why = await input.fromLog(p.prep, p.target);
        } catch (e) {
          outcomes.set(p.target.id, failed(p.target.id, p.prep.kind, null, e));
          prepared.splice(prepared.indexOf(p), 1);
          continue;
        }
        if (why === null) {
          outcomes.set(p.target.id, {
            destination: p.target.id,
            status: 'success',
            kind: 'incremental',
            kindReason: COVERED_BY_LOG,
            pointId: null,
            bytesRead: 0,
            bytesNew: 0,
            bytesStored: 0,
            error: null,
          });
          prepared.splice(prepared.indexOf(p), 1);
          continue;
        }
      }
      if (why) p.prep.kindReason = `${REDUMPED}${why}`;
    }
    if (prepared.length === 0) return input.destinations.map((d) => outcomes.get(d.id)!);
    if (controller.signal.aborted) throw new BackstopError('CANCELED', `The backup of ${input.database} was cancelled.`);

    // 2. One dump, fed to every writer.
    // The dump has its own controller: it is also stopped when every writer has failed.
    const dumpController = new AbortController();
    controller.signal.addEventListener('abort', () => dumpController.abort(controller.signal.reason), { once: true });
    let extraMeta: JsonObject = {};
    let dumpKind = input.requestedKind;
    if (input.beforeDump) {
      const plan = await input.beforeDump(
        prepared.map((p) => p.prep),
        controller.signal,
      );
      dumpKind = plan.kind;
      extraMeta = plan.meta;
      for (const { prep } of prepared) {
        if (plan.kind === 'full' && prep.kind === 'incremental') {
          prep.kind = 'full';
          prep.kindReason = plan.reason;
        }
      }
    }
    const dump = await input.openDump(
      dumpController.signal,
      dumpKind,
      prepared.map((p) => (p.prep.kind === 'incremental' ? (p.prep.chain?.newest.meta ?? null) : null)),
    );
    // A stream that cannot continue its chain (a purged binary log) starts a new one everywhere.
    if (dump.startsChain) {
      for (const p of prepared) {
        p.prep.kind = 'full';
        p.prep.kindReason = dump.startsChain;
      }
    }
    const dumpDone = dump.done.then(
      () => null,
      (e: unknown) => e,
    );
    progress.phase = 'dumping';
    progress.expectedBytes = dump.meta.expectedBytes ?? null;
    progress.destinations = prepared.map((p) => ({ destination: p.target.id, bytesNew: 0, bytesStored: 0 }));
    report(true);
    const chunking = dump.meta.blockBytes
      ? { kind: 'fixed' as const, size: dump.meta.blockBytes }
      : dump.meta.pageSize && input.backupType === 'snapshot'
        ? { kind: 'fixed' as const, size: blockSize(dump.meta.pageSize, input.fixedBlockBytes ?? 1024 * 1024) }
        : { kind: 'cdc' as const };
    // Facts are counted from the stream before any writer may take its buffers over.
    const counter = dump.facts;
    const read = input.readBudget ? throttledStream(dump.stream, input.readBudget, dumpController.signal) : dump.stream;
    const branches = broadcast(counter ? observed(read, counter) : read, prepared.length);
    // Meta known once the stream ended: facts counted from it, and what the stream reported (a binary-log position).
    const lateMeta = counter || dump.finalMeta ? () => ({ ...(counter ? factsMeta(counter.result()) : {}), ...(dump.finalMeta?.() ?? {}) }) : undefined;
    // WAL's plan (beforeDump) keeps every destination on one server-side chain: always stored.
    const volatile = input.beforeDump ? undefined : dump.volatile;
    const write = (repo: PreparedDestination['repo'], branch: AsyncIterable<Uint8Array>, opts: WritePointOptions): Promise<PointSummary | UnchangedWrite> =>
      volatile ? repo.writePointUnlessUnchanged(branch, opts, volatile) : repo.writePoint(branch, opts);
    // The dump is shared: once every writer has read it whole (or ended), what remains is uploads and commits,
    // said by the next report of a writer still uploading (an ended writer alone never switches the phase).
    const reading = new Set(prepared.map((p) => p.target.id));
    const readWhole = (id: string, uploading: boolean): void => {
      reading.delete(id);
      if (!uploading || reading.size > 0 || progress.phase === 'uploading') return;
      progress.phase = 'uploading';
      report(true);
    };
    const results = await Promise.allSettled(
      prepared.map(({ target, prep }, i) =>
        write(prep.repo, branches[i]!, {
            database: input.database,
            serverIdentity: input.serverIdentity,
            engineVersion: input.engineVersion,
            dumpToolVersion: input.dumpToolVersion,
            kind: prep.kind,
            backupType: input.backupType,
            chunking,
            // Only a sole writer may take the dump's buffers over: branches share them.
            // (nor slices of a throttled read, which share their source's buffers).
            handsOverBuffers: dump.handsOverBuffers === true && prepared.length === 1 && !input.readBudget,
            meta: { ...extraMeta, format: dump.meta.format, ...(dump.meta.pageSize ? { pageSize: dump.meta.pageSize } : {}) },
            ...(lateMeta ? { lateMeta } : {}),
            ...(dump.meta.expectedBytes ? { expectedSize: dump.meta.expectedBytes } : {}),
            ...(dump.meta.deltaBases === false ? { deltaBases: false } : {}),
            ...(dump.meta.compressionLevel !== undefined ? { compressionLevel: dump.meta.compressionLevel } : {}),
            signal: controller.signal,
            onProgress: (p: WriteProgress) => {
              progress.bytesRead = Math.max(progress.bytesRead, p.bytesRead);
              progress.expectedBytes = p.expectedBytes;
              const d = progress.destinations.find((x) => x.destination === target.id)!;
              d.bytesNew = p.bytesNew;
              d.bytesStored = p.bytesStored;
              d.bytesToUpload = p.bytesToUpload;
              d.bytesUploaded = p.bytesUploaded;
              if (p.phase === 'uploading' && !p.done) readWhole(target.id, true);
              report();
            },
          })
          // A writer that failed without finishing its read loop must not hold the others back.
          .finally(() => {
            branches[i]!.detach();
            readWhole(target.id, false);
          }),
      ),
    );
    if (results.every((r) => r.status === 'rejected')) dumpController.abort();
    const dumpError = await dumpDone;

    // 3. Outcomes; a point committed from a dump that finally failed is withdrawn.
    for (let i = 0; i < prepared.length; i++) {
      const { target, prep } = prepared[i]!;
      const r = results[i]!;
      if (r.status === 'rejected') {
        // When the dump itself failed, its error is the one that explains this destination's failure.
        // …unless it is only the stop this function asked for because every writer had failed.
        const stoppedHere = dumpController.signal.aborted && hasCode(dumpError, 'CANCELED');
        const cause = dumpError && !stoppedHere && !controller.signal.aborted && isBackstopError(dumpError) ? dumpError : r.reason;
        outcomes.set(target.id, failed(target.id, prep.kind, prep.kindReason, cause, controller.signal.aborted));
        continue;
      }
      if ('unchanged' in r.value) {
        // Nothing was stored, so a dump that finally failed has nothing to withdraw.
        outcomes.set(
          target.id,
          dumpError
            ? failed(target.id, prep.kind, prep.kindReason, dumpError)
            : { destination: target.id, status: 'success', kind: 'incremental', kindReason: prep.kindReason ? `${UNCHANGED}; ${prep.kindReason}` : UNCHANGED, pointId: null, bytesRead: r.value.length, bytesNew: 0, bytesStored: 0, error: null, builtOn: r.value.sameAs },
        );
        continue;
      }
      const point: PointSummary = r.value;
      if (dumpError) {
        await prep.repo.deletePoints([point.id]).catch(() => undefined);
        outcomes.set(target.id, failed(target.id, prep.kind, prep.kindReason, dumpError));
        continue;
      }
      const warnings = dump.warnings?.() ?? [];
      outcomes.set(target.id, {
        destination: target.id,
        status: 'success',
        kind: prep.kind,
        kindReason: prep.kindReason,
        pointId: point.id,
        bytesRead: point.length,
        bytesNew: point.stats.bytesNew,
        bytesStored: point.stats.bytesStored,
        error: null,
        ...(point.parentId ? { builtOn: point.parentId } : {}),
        ...(warnings.length > 0 ? { warnings } : {}),
      });
    }
    return input.destinations.map((d) => outcomes.get(d.id)!);
  } catch (e) {
    const canceled = controller.signal.aborted || (hasCode(e, 'CANCELED'));
    return input.destinations.map((d) => failed(d.id, input.requestedKind, null, e, canceled));
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    progress.phase = 'done';
    report(true);
  }
}

/** The largest multiple of the page size not above `target` (at least one page). */
export function blockSize(pageSize: number, target: number): number {
  return Math.max(pageSize, Math.floor(target / pageSize) * pageSize);
}
