/**
 * The in-flight marker of one write (docs/FORMAT.md §10): `inflight/<writeId>` names the
 * points the write builds on and every pack it has started to upload, so that garbage
 * collection never deletes them while the write is alive.
 *
 * Contract: `start` writes the marker and starts the heartbeat (a refresh every
 * `heartbeatMs`, so a long write never looks stale); `namePack` records a pack and
 * resolves once the marker naming it is stored — callers put the pack only after that.
 * Writes of the marker are serialised (never two puts of it at once). `release` (after
 * the commit) stops the heartbeat and deletes the marker; `rollback` (no commit) deletes
 * every pack the marker named, then the marker. Both are best effort and never throw:
 * anything left behind is unreferenced and collected later.
 */
import type { Backend } from '../storage/backend.ts';
import type { InflightMarker } from './gc.ts';
import { inflightKey, packKey } from './layout.ts';

export class InflightWrite {
  private readonly marker: InflightMarker;
  private chain: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly backend: Backend,
    writeId: string,
    startedAt: Date,
    basePoints: string[],
    private readonly heartbeatMs: number,
  ) {
    this.marker = { writeId, startedAt: startedAt.toISOString(), basePoints, packs: [] };
  }

  /** Packs named so far, in upload order. */
  get packs(): readonly string[] {
    return this.marker.packs;
  }

  async start(): Promise<void> {
    this.heartbeat = setInterval(() => void this.put().catch(() => {}), this.heartbeatMs);
    this.heartbeat.unref();
    await this.put();
  }

  namePack(packId: string): Promise<void> {
    this.marker.packs.push(packId);
    return this.put();
  }

  async release(): Promise<void> {
    await this.settle();
    await this.backend.delete(this.key).catch(() => {});
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
    await this.chain.catch(() => {});
  }

  private get key(): string {
    return inflightKey(this.marker.writeId);
  }

  private put(): Promise<void> {
    const body = Buffer.from(JSON.stringify(this.marker), 'utf8');
    this.chain = this.chain.catch(() => {}).then(() => this.backend.put(this.key, body));
    return this.chain;
  }
}
