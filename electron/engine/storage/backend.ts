/**
 * The storage interface every destination implements (local folder, S3; test doubles in tests/fixtures/storage).
 *
 * Contract (checked by tests/unit/storage/backend-contract.ts for every implementation):
 * - Keys are relative, '/'-separated; each segment matches [A-Za-z0-9_-][A-Za-z0-9._-]*.
 * - `put` is atomic: readers see the whole object or nothing, also when the body stream
 *   fails or the process dies mid-way. It replaces an existing object atomically (the
 *   repository never relies on that: it never rewrites a committed object).
 * - `get` without a range returns the whole object; with a range it returns
 *   min(length, size - offset) bytes (fewer than asked when the object is shorter, empty
 *   past the end). A missing key throws BackstopError NOT_FOUND.
 * - `list(prefix)` returns every committed object whose key starts with `prefix`
 *   (plain string prefix), in no particular order, never temp/partial objects.
 * - `delete` is idempotent (missing key is fine). `stat` returns null for a missing key.
 * - `listFolders()` returns the names of the folders directly under the backend's root
 *   (a folder is any name followed by '/' in some key; names need not be valid key
 *   segments, e.g. a database folder `~server`), sorted. A local root that does not exist → NOT_FOUND (object stores have
 *   no folders of their own: a prefix with nothing under it lists none).
 * - `close()` releases what the backend holds (an S3 client's sockets); it is idempotent
 *   and nothing may be called afterwards.
 * - `unwrap()` returns the backend a decorator wraps (retry, fault injection), or null
 *   for a backend that wraps none (as restic's `Unwrap`); `innermost` follows the chain.
 * - Failures are BackstopErrors: NOT_FOUND, DISK_FULL (no space or quota), STORAGE
 *   (retryable I/O or network failure), PERMISSION_DENIED.
 * - A backend whose `put` goes through a temporary file (local folder, SFTP, FTP) also
 *   implements `LeftoverSweeper`: a put cut short by a crash or a dropped connection can
 *   leave its temporary file, never listed, and `sweepTempFiles` removes those under the
 *   root not written for `olderThanMs` (a put still running keeps writing its file, so its
 *   modification time stays recent). `sweepLeftovers` finds it under decorators. S3 implements
 *   it too: a multipart upload whose abort never reached the server is never listed but its
 *   parts stay stored (and billed); the sweep aborts those with no part written for `olderThanMs`.
 * - A backend whose root is on a file system it can measure (local folder; SFTP with the
 *   statvfs@openssh.com extension) implements `FreeSpaceReporter`; `freeSpaceOf` finds it
 *   under decorators and answers null for every other kind, or when the measurement fails.
 * All methods may be called concurrently.
 */
import { randomBytes } from 'node:crypto';
import { BackstopError } from '../../shared/result.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Last-modified time in ms since the epoch (upload time for object stores). */
  modifiedMs: number;
  /**
   * Set when the server could not say when the object changed (FTP without MLSD or MDTM):
   * `modifiedMs` is then the time it was listed (so garbage collection counts it as just
   * written) and names no version of the object.
   */
  modifiedUnknown?: true;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export type PutBody = Uint8Array | readonly Uint8Array[] | AsyncIterable<Uint8Array>;

export interface PutOptions {
  signal?: AbortSignal;
  /**
   * Create only: when the key exists already it is left as it is and the put fails with
   * AlreadyThereError (CONFLICT). Atomic on a local folder (a link; a file system without hard
   * links gets a check just before the rename), SFTP (the protocol's rename, which never
   * replaces), Azure and S3 (If-None-Match: *; S3 also checks first, for servers that ignore
   * it); FTP has no such operation: the name is checked just before the rename. Where only a
   * check is possible, a race of milliseconds remains. For objects two writers may create at
   * once: a repository's header.
   */
  ifAbsent?: boolean;
  /**
   * The caller tolerates the key being absent for a moment while it is replaced. Only FTP uses
   * it: a server that refuses to rename over an existing file (ProFTPD `AllowOverwrite off`)
   * has the old file deleted, then the new one (complete in its temporary file) renamed onto
   * the name. Without it such a replacement fails with PERMISSION_DENIED. Never with ifAbsent;
   * only for objects whose brief absence loses nothing: the in-flight marker (a write that
   * dies there is dead anyway; its packs are unreferenced and the temp file is swept).
   */
  replaceable?: boolean;
  /**
   * Bytes of this put's body on their way, as deltas while the put runs. SFTP: each 32 KiB write
   * the server acknowledged. S3 and Azure: bytes handed to the connection, 64 KiB at a time within
   * each PutObject, part or block (body-progress.ts; HTTP acknowledges only a whole request, so
   * these may run ahead of the wire by the kernel's send buffer; a request the SDK retries is not
   * counted twice). FTP: bytes sent on the data connection, sampled every 500 ms. A local folder
   * reports nothing before `put` resolves. A put RetryBackend retries reports only past what an
   * earlier attempt reached; a put retried otherwise may report the same bytes again: a listener
   * caps the sum at the body's size.
   */
  onProgress?: (bytes: number) => void;
}

/** The error of a create-only put (`PutOptions.ifAbsent`) whose key exists already: CONFLICT. */
export class AlreadyThereError extends BackstopError {
  constructor(key: string, location: string, cause?: unknown) {
    super('CONFLICT', `"${key}" already exists at ${location}; it was left as it is.`, cause === undefined ? undefined : { cause });
  }
}

export interface Backend {
  /** Human-readable location for messages, e.g. "local folder /backups/sales". Never a secret. */
  readonly location: string;
  put(key: string, body: PutBody, options?: PutOptions): Promise<void>;
  get(key: string, range?: ByteRange): Promise<Buffer>;
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  stat(key: string): Promise<ObjectInfo | null>;
  listFolders(): Promise<string[]>;
  close(): Promise<void>;
  unwrap(): Backend | null;
}

/** The temporary file a put of `name` writes beside it (local folder, SFTP): `.<name>.tmp-<12 hex digits>`, never a valid key. */
export function tempFileName(name: string): string {
  return `.${name}.tmp-${randomBytes(6).toString('hex')}`;
}

export function isTempFileName(name: string): boolean {
  return /^\..+\.tmp-[0-9a-f]{12}$/.test(name);
}

/** What a sweep of leftover temporary files removed. */
export interface SweepResult {
  removed: number;
  bytes: number;
}

/** A backend whose puts write temporary files (see the header): it can remove those a crash left. */
export interface LeftoverSweeper {
  sweepTempFiles(olderThanMs: number, now?: number): Promise<SweepResult>;
}

/**
 * Removes the leftover temporary files under `backend`'s root not written for `olderThanMs`
 * (S3: aborts such multipart uploads; nothing for Azure, whose uncommitted blocks the service
 * discards itself after a week).
 */
export function sweepLeftovers(backend: Backend, olderThanMs: number, now = Date.now()): Promise<SweepResult> {
  const inner = innermost(backend) as Backend & Partial<LeftoverSweeper>;
  return typeof inner.sweepTempFiles === 'function' ? inner.sweepTempFiles(olderThanMs, now) : Promise.resolve({ removed: 0, bytes: 0 });
}

/** A backend that can say how many bytes are free to it on its root's file system (null: it cannot tell). */
export interface FreeSpaceReporter {
  freeBytes(): Promise<number | null>;
}

/** Bytes free at `backend`'s root (see the header); null when its kind or server cannot tell, or the measurement failed. */
export async function freeSpaceOf(backend: Backend): Promise<number | null> {
  const inner = innermost(backend) as Backend & Partial<FreeSpaceReporter>;
  if (typeof inner.freeBytes !== 'function') return null;
  try {
    return await inner.freeBytes();
  } catch {
    return null;
  }
}

/**
 * A backend whose `replaceable` puts may delete the old object before the new one takes its name
 * (FTP onto a server that refuses to rename over a file; PutOptions.replaceable): such a key can
 * be briefly absent, so a reader that must not miss it (GC's look at the in-flight markers) reads
 * twice.
 */
export interface ReplacesWithGap {
  readonly replacesWithGap: true;
}

/** Whether a `replaceable` key at `backend` can be briefly absent while it is replaced (see ReplacesWithGap). */
export function mayReplaceWithGap(backend: Backend): boolean {
  return (innermost(backend) as Backend & Partial<ReplacesWithGap>).replacesWithGap === true;
}

/** The backend at the bottom of a chain of decorators. */
export function innermost(backend: Backend): Backend {
  let b = backend;
  for (let inner = b.unwrap(); inner; inner = b.unwrap()) b = inner;
  return b;
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export function isValidKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024) return false;
  return key.split('/').every((s) => SEGMENT.test(s));
}

export function assertValidKey(key: string): void {
  if (!isValidKey(key)) throw new RangeError(`invalid storage key: ${JSON.stringify(key)}`);
}

/** Iterates a PutBody as a sequence of byte arrays. */
export async function* bodyChunks(body: PutBody): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
  } else if (Array.isArray(body)) {
    for (const b of body as readonly Uint8Array[]) yield b;
  } else {
    for await (const b of body as AsyncIterable<Uint8Array>) yield b;
  }
}

/**
 * Collects a response body. With the length the response declared, into one buffer of that
 * size as the bytes arrive (a 32 MiB ranged read then holds 32 MiB, not its pieces plus a
 * joined copy); without one, or when more arrives than declared, pieces joined at the end.
 * Fewer bytes than declared → a shorter buffer (callers treat that as a cut connection).
 */
export async function readBody(body: AsyncIterable<Uint8Array | string> | undefined | null, length?: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  let into = length !== undefined && Number.isSafeInteger(length) && length >= 0 ? Buffer.allocUnsafe(length) : null;
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of body) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    if (into && got + b.length <= into.length) into.set(b, got);
    else {
      if (into) {
        parts.push(into.subarray(0, got));
        into = null;
      }
      parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    }
    got += b.length;
  }
  return into ? into.subarray(0, got) : Buffer.concat(parts, got);
}

/**
 * Concatenates a body's chunks into parts of exactly `size(n)` bytes for part n (1-based),
 * the last one shorter (possibly empty): S3 multipart parts, Azure blocks. Chunks are
 * copied, as callers may reuse their buffers.
 */
export async function* sizedParts(body: PutBody, size: (partNumber: number) => number): AsyncGenerator<Buffer> {
  let want = size(1);
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let n = 1;
  for await (let chunk of bodyChunks(body)) {
    while (heldBytes + chunk.length >= want) {
      const take = want - heldBytes;
      held.push(chunk.subarray(0, take));
      chunk = chunk.subarray(take);
      yield Buffer.concat(held, want);
      held = [];
      heldBytes = 0;
      want = size(++n);
    }
    if (chunk.length > 0) {
      held.push(Buffer.from(chunk));
      heldBytes += chunk.length;
    }
  }
  yield Buffer.concat(held, heldBytes);
}
