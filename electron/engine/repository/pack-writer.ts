/**
 * Packs of one write: the open pack being filled, rotation when it reaches the pack size,
 * and the single upload in flight (docs/FORMAT.md §7, §9).
 *
 * Contract: `add` appends a stored chunk to the open pack and returns where it will live;
 * the pack's id is filled into the returned slot when the pack is finished, so a location
 * is complete once `flush` resolved. At most one pack uploads while the next one fills
 * (at most two packs in memory). A pack is named in the in-flight marker before its put.
 * An upload failure is raised by the next `add`/`rotate`/`flush`; `settle` waits for the
 * upload under way and never throws (for rollback).
 * `bytesUploaded` counts pack bytes on their way to the destination: as the backend reports
 * them (PutOptions.onProgress: S3 and Azure 64 KiB slices as sent, SFTP acknowledged writes, FTP
 * bytes sent), else the whole pack when its put resolves; never more than a pack's size per pack
 * (a retried put reports again).
 * `onUploaded` is called after each increase.
 */
import type { Sealer } from '../crypto/seal.ts';
import type { Backend } from '../storage/backend.ts';
import type { InflightWrite } from './inflight-marker.ts';
import { packKey } from './layout.ts';
import { PackBuilder } from './pack.ts';

/** The pack a chunk went into; `id` is null until that pack is finished. */
export interface PackSlot {
  id: string | null;
}

export interface ChunkLocation {
  id: Buffer;
  pack: PackSlot;
  offset: number;
  storedLength: number;
  rawLength: number;
  /** The chunk this one is stored as a delta against (format 2); absent or null: stored whole. */
  base?: ChunkLocation | null;
}

export class PackWriter {
  private builder: PackBuilder;
  private slot: PackSlot = { id: null };
  private upload: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  /** Packs whose put completed. */
  packsWritten = 0;
  /** Packs finished and handed to the upload (named in the marker, put under way or done). */
  packsStarted = 0;
  /** Bytes of packs handed to the upload. */
  bytesHandedOver = 0;
  /** Bytes of those packs the destination acknowledged so far. */
  bytesUploaded = 0;

  constructor(
    private readonly backend: Backend,
    private readonly sealer: Sealer,
    private readonly packSize: number,
    private readonly marker: InflightWrite,
    private readonly signal: AbortSignal | undefined,
    private readonly onUploaded: () => void = () => {},
  ) {
    this.builder = new PackBuilder(sealer);
  }

  /** Appends one stored chunk; starts the upload of the open pack when it is full. */
  async add(id: Buffer, stored: Buffer, rawLength: number): Promise<ChunkLocation> {
    this.raise();
    const entry = this.builder.add(id, stored, rawLength);
    const loc: ChunkLocation = { id, pack: this.slot, offset: entry.offset, storedLength: stored.length, rawLength };
    if (this.builder.size >= this.packSize) await this.rotate();
    return loc;
  }

  /** Finishes the open pack (if any) and waits for every upload. */
  async flush(): Promise<void> {
    await this.rotate();
    await this.upload;
    this.raise();
  }

  /** Waits for the upload under way; never throws. */
  async settle(): Promise<void> {
    await this.upload.catch(() => {});
  }

  private async rotate(): Promise<void> {
    if (this.builder.count === 0) return;
    const finished = this.builder.finish();
    this.packsStarted++;
    this.bytesHandedOver += finished.size;
    this.slot.id = finished.id;
    this.builder = new PackBuilder(this.sealer);
    this.slot = { id: null };
    await this.upload;
    this.raise();
    this.upload = (async () => {
      await this.marker.namePack(finished.id);
      let acked = 0;
      const landed = (bytes: number): void => {
        const n = Math.min(bytes, finished.size - acked);
        if (n <= 0) return;
        acked += n;
        this.bytesUploaded += n;
        this.onUploaded();
      };
      await this.backend.put(packKey(finished.id), finished.parts, { signal: this.signal, onProgress: landed });
      this.packsWritten++;
      landed(finished.size - acked);
    })();
    this.upload.catch((e: unknown) => {
      this.failure ??= e;
    });
  }

  private raise(): void {
    if (this.failure) throw this.failure;
  }
}
