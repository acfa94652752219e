/**
 * The in-flight marker of one write or read (docs/FORMAT.md §10): `inflight/<writeId>` names
 * the points the write builds on (a read: the points it reads) and every pack it has started
 * to upload (a read: every pack it needs), so that neither deleting points nor garbage
 * collection removes them while the write or read is alive.
 *
 * Contract: `start` writes the marker and starts the heartbeat (a refresh every
 * `heartbeatMs`, so a long write never looks stale; a refresh that fails is tried again after
 * `REFRESH_RETRY_MS`, not a heartbeat later: on FTP a failed replacement may have left no marker
 * at all, backend.ts ReplacesWithGap); `namePack` records a pack and
 * resolves once the marker naming it is stored — callers put the pack only after that.
 * Writes of the marker are serialised (never two puts of it at once). `release` (after
 * the commit) stops the heartbeat and deletes the marker; `rollback` (no commit) deletes
 * every pack the marker named, then the marker. Both are best effort and never throw:
 * anything left behind is unreferenced and collected later.
 */
import { randomBytes } from 'node:crypto';
import type { Backend } from '../storage/backend.ts';
import type { InflightMarker } from './gc.ts';
import type { ManifestStore } from './context.ts';
import { POINTS_PREFIX, inflightKey, packKey, pointIdFromKey } from './layout.ts';

/**
 * Which of `ids` have no manifest any more (one listing, made now). With the repository's
 * manifest store the listing goes through it, so the run's view of the folder is this fresh one.
 */
export async function missingPoints(backend: Backend, ids: readonly string[], view?: ManifestStore): Promise<string[]> {
  if (ids.length === 0) return [];
  const present = new Set(view ? await view.listIds() : (await backend.list(POINTS_PREFIX)).map((o) => pointIdFromKey(o.key)));
  return ids.filter((id) => !present.has(id));
}

/**
 * Registers a read of `pointIds` (restore, extract, test restore): puts a reading marker naming
 * them and every pack they need, then checks the points still exist. A delete that read the
 * markers before this one landed has deleted them by then (the read is refused: `gone` names
 * them, the marker is already removed); one that reads the markers after it skips them, and
 * garbage collection keeps the packs (docs/FORMAT.md §10). A destination that refuses the
 * marker (read-only: nothing can be deleted there either) is read without one. Release the
 * returned marker when the read ends.
 */
export async function startRead(
  backend: Backend,
  pointIds: string[],
  packs: string[],
  startedAt: Date,
  heartbeatMs: number,
): Promise<{ marker: InflightWrite | null; gone: string[] }> {
  let marker: InflightWrite | null = new InflightWrite(backend, randomBytes(16).toString('hex'), startedAt, pointIds, heartbeatMs, { packs });
  try {
    await marker.start();
  } catch {
    await marker.release();
    marker = null;
  }
  const gone = await missingPoints(backend, pointIds).catch(async (e: unknown) => {
    await marker?.release();
    throw e;
  });
  if (gone.length > 0) await marker?.release();
  return { marker: gone.length > 0 ? null : marker, gone };
}

/** How soon a marker refresh that failed is tried again. */
export const REFRESH_RETRY_MS = 15_000;

export class InflightWrite {
  private readonly marker: InflightMarker;
  private chain: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private released: Promise<void> | null = null;

  constructor(
    private readonly backend: Backend,
    writeId: string,
    startedAt: Date,
    basePoints: string[],
    private readonly heartbeatMs: number,
    read?: { packs: string[] },
  ) {
    this.marker = read
      ? { writeId, startedAt: startedAt.toISOString(), basePoints, packs: [...read.packs], reading: true }
      : { writeId, startedAt: startedAt.toISOString(), basePoints, packs: [] };
  }

  /** Packs named so far, in upload order. */
  get packs(): readonly string[] {
    return this.marker.packs;
  }

  async start(): Promise<void> {
    this.heartbeat = setInterval(() => this.refresh(), this.heartbeatMs);
    this.heartbeat.unref();
    await this.put();
  }

  namePack(packId: string): Promise<void> {
    this.marker.packs.push(packId);
    return this.put();
  }

  /** Idempotent: a second call waits for the first. */
  release(): Promise<void> {
    this.released ??= (async () => {
      await this.settle();
      await this.backend.delete(this.key).catch(() => {});
    })();
    return this.released;
  }

  async rollback(): Promise<void> {
    await this.settle();
    for (const id of this.marker.packs) await this.backend.delete(packKey(id)).catch(() => {});
    await this.backend.delete(this.key).catch(() => {});
  }

  /** Stops the heartbeat and waits for the marker write under way. Idempotent. */
  async settle(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.chain.catch(() => {});
  }

  /** A heartbeat's refresh; one that fails is tried again soon while the write lives. */
  private refresh(): void {
    void this.put().catch(() => {
      if (!this.heartbeat || this.retry) return;
      this.retry = setTimeout(() => {
        this.retry = null;
        if (this.heartbeat) this.refresh();
      }, Math.min(REFRESH_RETRY_MS, this.heartbeatMs));
      this.retry.unref();
    });
  }

  private get key(): string {
    return inflightKey(this.marker.writeId);
  }

  private put(): Promise<void> {
    const body = Buffer.from(JSON.stringify(this.marker), 'utf8');
    this.chain = this.chain.catch(() => {}).then(() => this.backend.put(this.key, body, { replaceable: true }));
    return this.chain;
  }
}
