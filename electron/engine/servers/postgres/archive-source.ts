/**
 * A pg_dump custom-format archive arriving as a stream, made readable more than once
 * where a restore needs it: the table of contents (TOC) at the head of the archive is
 * read before anything is created on the target, then the whole archive is replayed into
 * pg_restore.
 *
 * Contract:
 * - single stream (`spool: false`): the source is read only until `pg_restore --create -l`
 *   has read the whole TOC; those bytes (the head) stay in memory, at most `maxHeadBytes`.
 *   A TOC larger than that (hundreds of thousands of objects) spools the whole archive to
 *   a private file in `dir` instead, so memory stays bounded either way.
 * - `spool: true` (parallel pg_restore needs a seekable file): the whole archive is spooled.
 * - `stream()` yields the archive from its first byte (head, then the rest of the source),
 *   once; `toolInput()` is what an inspecting pg_restore reads (the head, or the file).
 * - `unbreakDatabaseTags()` turns the line breaks of the database entries' tags into spaces, in
 *   the head or the spooled file (archive-header.ts: pg_restore --create refuses such a name).
 * - Source errors reject; the caller destroys the source on failure.
 */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackstopError } from '../../../shared/result.ts';
import { runTool, sinkTool, type Classifier, type ToolCommand } from '../child-process.ts';
import { unbreakDatabaseTags } from './archive-header.ts';

export const MAX_HEAD_BYTES = 64 * 1024 * 1024;

export interface ArchiveSource {
  /** `pg_restore --create -l` of the archive. */
  list: string;
  /** The spooled archive, or null when it streams (head in memory + the rest of the source). */
  file: string | null;
  /** stdin for an inspecting pg_restore (null: give it `file` as an argument). */
  toolInput(): Buffer[] | null;
  /** The whole archive from its first byte; call at most once, after the inspections. */
  stream(): Readable;
  /** The DATABASE entry's tag without line breaks (archive-header.ts); whether anything changed. */
  unbreakDatabaseTags(): Promise<boolean>;
}

/** How much of a spooled archive's start is searched for the DATABASE entry (it comes early in the TOC). */
const TAG_SEARCH_BYTES = 4 * 1024 * 1024;

export interface OpenArchiveOptions {
  /** `pg_restore --create -l` without a file argument (reads stdin). */
  lister: ToolCommand;
  classify: Classifier;
  /** A private folder for the spooled archive. */
  dir: string;
  spool: boolean;
  signal?: AbortSignal;
  maxHeadBytes?: number;
}

export async function openArchive(source: Readable, opts: OpenArchiveOptions): Promise<ArchiveSource> {
  const head: Buffer[] = [];
  let ended = false;
  source.on('error', () => undefined); // reported through whoever reads it next
  source.once('end', () => (ended = true));
  const replay = async function* (): AsyncGenerator<Buffer> {
    while (head.length > 0) yield head.shift()!;
    if (!ended) for await (const c of source) yield c as Buffer;
  };
  if (!opts.spool) {
    const listed = await readHead(source, head, opts);
    if (listed !== null) {
      // The inspections read a patched copy from then on; the head itself (the source's buffers) is replayed as it is.
      let inspected: Buffer[] = head;
      const unbreak = async (): Promise<boolean> => {
        const copy = Buffer.concat(head);
        if (unbreakDatabaseTags(copy).length === 0) return false;
        inspected = [copy];
        return true;
      };
      return { list: listed, file: null, toolInput: () => inspected, stream: () => Readable.from(replay(), { objectMode: false }), unbreakDatabaseTags: unbreak };
    }
  }
  const file = join(opts.dir, 'archive.dump');
  await pipeline(Readable.from(replay()), createWriteStream(file, { flags: 'wx', mode: 0o600 }), { signal: opts.signal });
  const list = await runTool({ ...opts.lister, args: [...opts.lister.args, file] }, { classify: opts.classify, signal: opts.signal });
  const unbreak = async (): Promise<boolean> => {
    const fh = await open(file, 'r+');
    try {
      const start = Buffer.alloc(TAG_SEARCH_BYTES);
      const { bytesRead } = await fh.read(start, 0, start.length, 0);
      const ranges = unbreakDatabaseTags(start.subarray(0, bytesRead));
      for (const [from, to] of ranges) await fh.write(start, from, to - from, from);
      return ranges.length > 0;
    } finally {
      await fh.close();
    }
  };
  return { list, file, toolInput: () => null, stream: () => Readable.from([]), unbreakDatabaseTags: unbreak };
}

/** Reads the source into `head` until the lister has the whole TOC: its listing, or null when the head grew too big. */
function readHead(source: Readable, head: Buffer[], opts: OpenArchiveOptions): Promise<string | null> {
  const max = opts.maxHeadBytes ?? MAX_HEAD_BYTES;
  return new Promise<string | null>((resolve, reject) => {
    const feed = new PassThrough();
    feed.on('error', () => undefined);
    let bytes = 0;
    let settled = false;
    let list = '';
    const stop = (): void => {
      settled = true;
      source.pause();
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      head.push(chunk);
      bytes += chunk.length;
      if (settled) return;
      if (bytes > max) {
        stop();
        feed.destroy();
        resolve(null);
      } else if (!feed.write(chunk)) {
        source.pause();
        feed.once('drain', () => !settled && source.resume());
      }
    };
    const onEnd = (): void => void feed.end();
    const onError = (e: unknown): void => {
      if (settled) return;
      stop();
      feed.destroy();
      reject(e instanceof BackstopError ? e : new BackstopError('RESTORE_FAILED', `Reading the backup stream failed: ${(e as Error).message ?? String(e)}`, { cause: e }));
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
    sinkTool(opts.lister, feed, { classify: opts.classify, signal: opts.signal, onStdout: (d) => (list += d) }).then(
      () => {
        if (settled) return;
        stop();
        resolve(list);
      },
      (e: unknown) => {
        if (settled) return;
        stop();
        reject(e);
      },
    );
  });
}
