/**
 * S3 and S3-compatible (MinIO, R2, B2, Wasabi) backend on @aws-sdk/client-s3.
 *
 * Contract: the Backend contract (backend.ts). Keys live under `<prefix>/` in the bucket.
 * - `put` is atomic because S3 commits an object only on PutObject or
 *   CompleteMultipartUpload. A body that fits one part (`partSize`, default 8 MiB) is sent
 *   as one PutObject with a known length; larger bodies go multipart with at most
 *   `partConcurrency` parts in flight (memory ≤ (partConcurrency + 1) × part size; parts
 *   grow for objects over 8 GB, see `put`). Every request body is a Buffer of known
 *   length, so the SDK never uses aws-chunked framing. @aws-sdk/lib-storage's Upload is
 *   not used: its `done()` rejects on abort before the multipart upload is aborted.
 *   On any failure or abort the multipart upload is aborted (awaited) before `put` rejects.
 *   An abort rethrows the signal's reason, like the local backend. An upload whose abort
 *   never reached the server (the process killed, the link lost) keeps its parts stored (and
 *   billed) but never listed: `sweepTempFiles` (backend.ts LeftoverSweeper) aborts those under
 *   the prefix with no part written for `olderThanMs` (ListParts; the upload's start time
 *   where a server has no ListParts).
 * - `get` with a range is one `Range: bytes=a-b` GET; ranges past the end return empty.
 * - `list` pages through ListObjectsV2 (1000 keys a page) and skips keys that are not
 *   valid storage keys (e.g. "folder/" markers made by web consoles).
 * - `delete` is one DeleteObject per key, never DeleteObjects (multi-object delete), which
 *   Google Cloud Storage's XML API does not have: retention and GC work there too.
 * - Errors are mapped by s3-errors.ts; no message contains the secret key.
 * - `onUploadProgress(bytes)` is called with the bytes the server just acknowledged
 *   (per PutObject or per uploaded part): deltas, so concurrent puts can be summed. A
 *   put that fails later may already have reported some of its parts. A put's own
 *   `onProgress` (PutOptions) gets that put's bytes as they are sent, 64 KiB at a time within
 *   each PutObject or part (BodyProgress, body-progress.ts: a part's deltas sum to its size once
 *   it is acknowledged; a request the SDK retries is not counted twice), so progress moves on a
 *   slow link while a pack's parts are on their way.
 * - A stalled connection (no socket activity for `stallTimeoutMs`, ~10 min by default) fails
 *   the request as a retryable STORAGE error; a slow one that keeps moving is never cut.
 * The SDK retries single requests (`maxAttempts`); use `createS3Backend` for a
 * RetryBackend around the whole call.
 * - The SDK (~150–250 ms to load) is imported on the first request, not with this module,
 *   so commands that never reach S3 (e.g. `backstop info`) do not pay for it.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { CompletedPart, S3Client, StorageClass } from '@aws-sdk/client-s3';
import { AlreadyThereError, assertValidKey, isValidKey, readBody, sizedParts, type Backend, type ByteRange, type LeftoverSweeper, type ObjectInfo, type PutBody, type PutOptions, type SweepResult } from './backend.ts';
import { BodyProgress, countedSlices } from './body-progress.ts';
import { RetryBackend, type RetryOptions } from './retry-backend.ts';
import { classifyS3Error, s3BackstopError } from './s3-errors.ts';
import { publicEndpoint } from './sdk-error-fields.ts';

export type S3ChecksumMode = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3BackendOptions {
  bucket: string;
  /** Folder under which keys live ('' for the bucket root); leading/trailing slashes are ignored. */
  prefix: string;
  region: string;
  /** Custom endpoint URL for S3-compatible services; null for AWS. */
  endpoint: string | null;
  forcePathStyle: boolean;
  storageClass: string | null;
  checksumMode: S3ChecksumMode;
  credentials: S3Credentials;
  /** Bytes acknowledged by the server, reported as deltas after each PutObject / part. */
  onUploadProgress?: (bytes: number) => void;
  /** Multipart part size; at least 5 MiB. Default 8 MiB. */
  partSize?: number;
  /** Parts uploaded at once per put. Default 4. */
  partConcurrency?: number;
  /** Attempts per single HTTP request inside the SDK. Default 3. */
  maxAttempts?: number;
  /** Connection timeout in ms. Default 10 s. */
  connectTimeoutMs?: number;
  /** Socket inactivity (ms) after which a request fails, before the allowance for a part's body (see `stallTimeoutMs`). Default 120 s. */
  requestTimeoutMs?: number;
  /**
   * Socket inactivity (ms) after which a request fails (a stalled link). Default `requestTimeoutMs`
   * + one part at 16 KiB/s: once a part is all handed to the socket, up to all of it may still sit
   * in the kernel's send buffer, so on a slow link a moving upload can be silent for that long. Never a limit on a request's total time.
   */
  stallTimeoutMs?: number;
}

type Sdk = typeof S3Sdk;
let sdkLoad: Promise<Sdk> | undefined;
const loadSdk = (): Promise<Sdk> => (sdkLoad ??= import('@aws-sdk/client-s3'));

const MIB = 1024 * 1024;
const MIN_PART = 5 * MIB;
const MAX_PARTS = 10_000;

export function normalizePrefix(prefix: string): string {
  const p = prefix.split('/').filter((s) => s.length > 0).join('/');
  return p ? `${p}/` : '';
}

/** Whether an S3-compatible server refused a conditional put because it does not implement the condition (not because it failed). */
function conditionUnsupported(e: unknown): boolean {
  const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = (e as { name?: string; Code?: string }).Code ?? (e as { name?: string }).name ?? '';
  return status === 501 || name === 'NotImplemented' || (status === 400 && /if-none-match|conditional/i.test(String((e as Error).message)));
}

type Next = (args: { request: unknown }) => Promise<unknown>;
interface CommandStack {
  add(middleware: (next: Next) => Next, options: { step: 'finalizeRequest'; priority: 'low'; name: string }): void;
}

/**
 * `command` (a PutObject or UploadPart with a Buffer body) sending its body in counted slices
 * (body-progress.ts) so `sending` follows the socket. Swapped in after signing, on each attempt
 * the SDK makes: the checksum and the signature are still computed over the Buffer, so there is
 * no aws-chunked framing, and a retry sends the Buffer again from its start.
 */
function counted<C extends { middlewareStack: unknown }>(command: C, sending: BodyProgress): C {
  (command.middlewareStack as CommandStack).add(
    (next) => (args) => {
      const request = args.request as { body?: unknown };
      const bytes = request.body;
      if (!(bytes instanceof Uint8Array) || bytes.length === 0) return next(args);
      const body = countedSlices(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (n) => sending.sent(n));
      return next({ ...args, request: Object.assign(Object.create(Object.getPrototypeOf(request) as object) as object, request, { body }) });
    },
    { step: 'finalizeRequest', priority: 'low', name: 'backstopCountedBody' },
  );
  return command;
}

export class S3Backend implements Backend, LeftoverSweeper {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly partSize: number;
  private readonly stallTimeoutMs: number;
  private readonly partConcurrency: number;
  private readonly secrets: string[];
  private opened: Promise<{ client: S3Client; sdk: Sdk }> | undefined;

  constructor(private readonly options: S3BackendOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    const endpoint = publicEndpoint(options.endpoint);
    this.location = `S3 bucket ${options.bucket}/${this.prefix}${endpoint ? ` at ${endpoint}` : ''}`;
    this.partSize = Math.max(MIN_PART, options.partSize ?? 8 * MIB);
    this.stallTimeoutMs = options.stallTimeoutMs ?? (options.requestTimeoutMs ?? 120_000) + Math.ceil((this.partSize * 1000) / (16 * 1024));
    this.partConcurrency = Math.max(1, options.partConcurrency ?? 4);
    this.secrets = [options.credentials.secretAccessKey, options.credentials.sessionToken ?? ''];
  }

  /** The SDK and this backend's client, made on first use. */
  private s3(): Promise<{ client: S3Client; sdk: Sdk }> {
    quietSdkRuntimeNotice();
    this.opened ??= loadSdk().then((sdk) => {
      const options = this.options;
      const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
      const client = new sdk.S3Client({
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        forcePathStyle: options.forcePathStyle,
        credentials: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey },
        requestChecksumCalculation: options.checksumMode,
        responseChecksumValidation: options.checksumMode,
        maxAttempts: Math.max(1, options.maxAttempts ?? 3),
        // socketTimeout, not requestTimeout: in @smithy/node-http-handler 4 requestTimeout is a limit
        // on a request's total time that only prints a warning, and nothing caught a stalled link.
        requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 10_000, socketTimeout: this.stallTimeoutMs },
      });
      return { client, sdk };
    });
    return this.opened;
  }

  /** Closes the client's sockets. The backend must not be used afterwards. */
  async close(): Promise<void> {
    await this.opened?.then(({ client }) => client.destroy(), () => {});
  }

  unwrap(): null {
    return null;
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  private fail(op: string, key: string, e: unknown): Error {
    return s3BackstopError(e, {
      op,
      key,
      location: this.location,
      bucket: this.bucket,
      region: this.options.region,
      endpoint: this.options.endpoint,
      secrets: this.secrets,
    });
  }

  private get storageClass(): { StorageClass?: StorageClass } {
    return this.options.storageClass ? { StorageClass: this.options.storageClass as StorageClass } : {};
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    const Key = this.objectKey(key);
    const signal = options?.signal;
    // Part size doubles every 1000 parts up to 8 × partSize, so 10 000 parts hold ~500 GB
    // with the default 8 MiB while memory stays ≤ (partConcurrency + 1) × 64 MiB.
    const sizeOf = (n: number) => this.partSize * Math.min(8, 2 ** Math.floor((n - 1) / 1000));
    const it = sizedParts(body, sizeOf);
    const { client, sdk } = await this.s3();
    // Create only: S3 (since 2024) and most compatible servers refuse with 412 when the key
    // exists; a server that ignores If-None-Match (some older compatible ones) still meets the
    // check before the put (the race of milliseconds between the two remains there).
    const ifAbsent = options?.ifAbsent ? { IfNoneMatch: '*' } : {};
    if (options?.ifAbsent && (await this.stat(key)) !== null) throw new AlreadyThereError(key, this.location);
    let uploadId: string | undefined;
    try {
      signal?.throwIfAborted();
      const first = await it.next();
      signal?.throwIfAborted();
      const firstPart = first.done ? Buffer.alloc(0) : first.value;
      const second = firstPart.length < sizeOf(1) ? { done: true as const } : await it.next();
      if (second.done || second.value.length === 0) {
        // One part (a full first part followed by an empty tail is still one object).
        const sending = new BodyProgress(firstPart.length, options?.onProgress);
        const putObject = (condition: object) =>
          client.send(counted(new sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: firstPart, ContentLength: firstPart.length, ...this.storageClass, ...condition }), sending), { abortSignal: signal });
        // A server that refuses the header itself (not the condition) gets the put without it: the check above stands.
        await putObject(ifAbsent).catch((e: unknown) => (options?.ifAbsent && conditionUnsupported(e) ? putObject({}) : Promise.reject(e)));
        this.options.onUploadProgress?.(firstPart.length);
        sending.acknowledged();
        return;
      }
      signal?.throwIfAborted();
      const withChecksum = this.options.checksumMode === 'WHEN_SUPPORTED';
      const created = await client.send(
        new sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ...this.storageClass, ...(withChecksum ? { ChecksumAlgorithm: 'CRC32' } : {}) }),
        { abortSignal: signal },
      );
      uploadId = created.UploadId;
      if (!uploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      const done: CompletedPart[] = await this.uploadParts(Key, uploadId, [firstPart, second.value], it, withChecksum, signal, options?.onProgress);
      signal?.throwIfAborted();
      done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: done }, ...ifAbsent }), { abortSignal: signal });
      uploadId = undefined;
    } catch (e) {
      await it.return(undefined).catch(() => {});
      if (uploadId) {
        // Best effort: a failed abort leaves parts that a bucket lifecycle rule must clean up.
        await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId })).catch(() => {});
      }
      if (signal?.aborted) throw signal.reason;
      if (options?.ifAbsent && [409, 412].includes((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0)) throw new AlreadyThereError(key, this.location, e);
      throw this.fail('put', key, e);
    }
  }

  private async uploadParts(
    Key: string,
    UploadId: string,
    firstTwo: Buffer[],
    rest: AsyncGenerator<Buffer>,
    withChecksum: boolean,
    signal: AbortSignal | undefined,
    onProgress: ((bytes: number) => void) | undefined,
  ): Promise<CompletedPart[]> {
    const { client, sdk } = await this.s3();
    const done: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { e: unknown } | undefined;
    let partNumber = 0;
    const start = (data: Buffer) => {
      const PartNumber = ++partNumber;
      if (PartNumber > MAX_PARTS) throw new Error(`more than ${MAX_PARTS} parts`);
      const sending = new BodyProgress(data.length, onProgress);
      const command = new sdk.UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber, Body: data, ContentLength: data.length, ...(withChecksum ? { ChecksumAlgorithm: 'CRC32' } : {}) });
      const p = client
        .send(counted(command, sending), { abortSignal: signal })
        .then((r) => {
          if (!r.ETag) throw new Error(`UploadPart ${PartNumber} returned no ETag`);
          done.push({ PartNumber, ETag: r.ETag, ...(r.ChecksumCRC32 ? { ChecksumCRC32: r.ChecksumCRC32 } : {}) });
          this.options.onUploadProgress?.(data.length);
          sending.acknowledged();
        })
        .catch((e: unknown) => {
          failure ??= { e };
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    const pending = [...firstTwo];
    try {
      for (;;) {
        const next = pending.shift() ?? (await rest.next()).value;
        if (failure || !next) break;
        if (next.length === 0 && partNumber > 0) break; // empty tail after full parts
        signal?.throwIfAborted();
        start(next);
        while (inFlight.size >= this.partConcurrency) await Promise.race(inFlight);
      }
    } finally {
      // Parts still in flight when the upload is aborted could otherwise outlive the abort.
      await Promise.all(inFlight);
    }
    if (failure) throw failure.e;
    return done;
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const Key = this.objectKey(key);
    if (range && range.length <= 0) {
      // An empty range cannot be expressed as a Range header; still report a missing object.
      if (!(await this.stat(key))) throw this.fail('get', key, Object.assign(new Error('not found'), { name: 'NoSuchKey' }));
      return Buffer.alloc(0);
    }
    const { client, sdk } = await this.s3();
    try {
      const res = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) }),
      );
      let buf = await readBody(res.Body as AsyncIterable<Uint8Array> | undefined, res.ContentLength);
      if (res.ContentLength !== undefined && res.ContentLength !== buf.length) {
        throw Object.assign(new Error(`truncated response: ${buf.length} of ${res.ContentLength} bytes`), { code: 'ECONNRESET' });
      }
      if (range && !res.ContentRange) buf = buf.subarray(Math.min(range.offset, buf.length), range.offset + range.length); // server ignored Range
      return buf;
    } catch (e) {
      if (range && (e as { name?: string }).name === 'InvalidRange') {
        // 416: the range starts at or past the end (an empty object also lands here).
        return Buffer.alloc(0);
      }
      throw this.fail('get', key, e);
    }
  }

  /** The child "folders" directly under this backend's prefix (S3 common prefixes), without the trailing slash. */
  async listFolders(): Promise<string[]> {
    const { client, sdk } = await this.s3();
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }),
        );
        for (const p of res.CommonPrefixes ?? []) {
          if (p.Prefix?.startsWith(this.prefix)) out.push(p.Prefix.slice(this.prefix.length).replace(/\/$/, ''));
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.fail('list', '', e);
    }
    return out.sort();
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const { client, sdk } = await this.s3();
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of res.Contents ?? []) {
          if (!o.Key || !o.Key.startsWith(this.prefix)) continue;
          const key = o.Key.slice(this.prefix.length);
          if (!isValidKey(key)) continue;
          out.push({ key, size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.fail('list', prefix, e);
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    const { client, sdk } = await this.s3();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') return;
      throw this.fail('delete', key, e);
    }
  }

  /** Aborts the stale multipart uploads under the prefix (see the header); bytes = their parts' sizes. */
  async sweepTempFiles(olderThanMs: number, now = Date.now()): Promise<SweepResult> {
    const { client, sdk } = await this.s3();
    const swept: SweepResult = { removed: 0, bytes: 0 };
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(new sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix, KeyMarker, UploadIdMarker }));
      for (const u of page.Uploads ?? []) {
        // Only uploads of objects this backend could have written (never another application's).
        if (!u.Key || !u.UploadId || !u.Key.startsWith(this.prefix) || !isValidKey(u.Key.slice(this.prefix.length))) continue;
        let newest = u.Initiated?.getTime() ?? now;
        let bytes = 0;
        try {
          let PartNumberMarker: string | undefined;
          for (;;) {
            const parts = await client.send(new sdk.ListPartsCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId, PartNumberMarker }));
            for (const p of parts.Parts ?? []) {
              newest = Math.max(newest, p.LastModified?.getTime() ?? 0);
              bytes += p.Size ?? 0;
            }
            if (!parts.IsTruncated || !parts.NextPartNumberMarker) break;
            PartNumberMarker = parts.NextPartNumberMarker;
          }
        } catch {
          // A server without ListParts: the upload's start time alone.
        }
        if (now - newest < olderThanMs) continue; // a put may still be sending parts
        await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
        swept.removed++;
        swept.bytes += bytes;
      }
      if (!page.IsTruncated) return swept;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
      if (!KeyMarker) return swept;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const Key = this.objectKey(key);
    const { client, sdk } = await this.s3();
    try {
      const res = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: res.ContentLength ?? 0, modifiedMs: res.LastModified?.getTime() ?? 0 };
    } catch (e) {
      const name = (e as { name?: string }).name;
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // HEAD responses carry no error body: a 404 is a missing key (or, rarely, bucket; put will say which).
      if (name === 'NotFound' || name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket')) return null;
      // Nor does a 403 say whether the secret is wrong (rotated) or a policy refuses: the
      // first request of a run is this HEAD, so ask again with a GET, whose error has a body.
      if (status === 403 && classifyS3Error(e).kind === 'access-denied') throw await this.whyForbidden(key, Key, e);
      throw this.fail('stat', key, e);
    }
  }

  /** The error of a refused HEAD: the service's reason from a one-byte GET of the same key (its body names it), or the HEAD's own. */
  private async whyForbidden(key: string, Key: string, head: unknown): Promise<Error> {
    const { client, sdk } = await this.s3();
    try {
      const res = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key, Range: 'bytes=0-0' }));
      await readBody(res.Body as AsyncIterable<Uint8Array> | undefined, res.ContentLength).catch(() => undefined);
    } catch (e) {
      if (classifyS3Error(e).name !== undefined && (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) return this.fail('stat', key, e);
    }
    return this.fail('stat', key, head);
  }
}

/**
 * The S3 backend wrapped in a RetryBackend (exponential backoff on STORAGE errors: 5xx,
 * throttling, connection resets, timeouts). This is what tasks should use.
 */
/**
 * On Node < 22 every new S3Client prints the AWS SDK's "will require node >=22" notice to
 * stderr (process.emitWarning). It concerns the runtime Backstop ships, not a backup, so it
 * is kept out of users' terminals with the SDK's own switch (an explicit setting of the
 * variable wins); the engine logs the runtime's version at start instead.
 */
function quietSdkRuntimeNotice(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export function createS3Backend(options: S3BackendOptions, retry: RetryOptions = {}): RetryBackend {
  return new RetryBackend(new S3Backend(options), retry);
}
