/**
 * A small streaming tar (ustar/pax/GNU long name) extractor for pg_basebackup archives.
 *
 * Contract: extracts regular files and directories from `source` into `dest` (which must
 * exist), files created exclusively (never overwriting) with the archive's mode bits
 * (directories 0700, as PostgreSQL requires). Rejects absolute paths, `..` segments,
 * links and device entries with RESTORE_FAILED — a base backup contains none of them —
 * and a truncated archive (no end marker). Memory stays bounded: file data is streamed.
 * `opts.sparse(path)` true: that file is created at its full size with no data written (a
 * sparse file of zeros, its blocks never allocated) and its archive bytes are skipped.
 */
import { once } from 'node:events';
import { closeSync, createWriteStream, ftruncateSync, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { BackstopError } from '../../shared/result.ts';

const BLOCK = 512;

function bad(message: string): BackstopError {
  return new BackstopError('RESTORE_FAILED', `The base backup archive is damaged or unexpected: ${message}`);
}

function str(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? slice.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256 for large sizes.
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + (buf[i] ?? 0);
    return n;
  }
  const text = str(buf, start, len).trim();
  return text ? parseInt(text, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(data.subarray(pos, space).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

function safeRelative(name: string): string {
  const clean = name.replace(/^\.\//, '').replace(/\/+$/, '');
  if (clean === '' || clean === '.') return '';
  if (isAbsolute(clean) || /^[A-Za-z]:/.test(clean) || clean.split(/[\\/]/).some((s) => s === '..')) throw bad(`unsafe path "${name}"`);
  return clean;
}

export interface ExtractOptions {
  /** Files (archive-relative paths) to create sparse: full size, no data written. */
  sparse?: (path: string) => boolean;
}

/** Creates `path` exclusively at `size` bytes without writing any (a sparse file). */
function sparseFile(path: string, size: number, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** Extracts the tar stream; resolves with the number of files written. */
export async function extractTar(source: Readable, dest: string, opts: ExtractOptions = {}): Promise<number> {
  let buf: Buffer = Buffer.alloc(0);
  let files = 0;
  let ended = false;
  // Current entry being streamed.
  let remaining = 0;
  let padding = 0;
  let out: WriteStream | null = null;
  let collect: Buffer[] | null = null; // pax / GNU long-name payloads
  let collectType = '';
  let skip = false; // the current entry's data is not written (a sparse file)
  let pendingName: string | null = null;

  const finishEntry = async (): Promise<void> => {
    if (out) {
      const w = out;
      out = null;
      w.end();
      await once(w, 'close');
    }
  };

  for await (const chunk of source as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (!ended) {
      if (remaining > 0) {
        if (buf.length === 0) break;
        const take = Math.min(remaining, buf.length);
        const part = buf.subarray(0, take);
        buf = buf.subarray(take);
        remaining -= take;
        if (collect) collect.push(part);
        else if (skip) {
          // a sparse file: its data stays unwritten
        } else if (out && !out.write(part)) await once(out, 'drain');
        if (remaining > 0) break;
        continue;
      }
      if (padding > 0) {
        if (buf.length < padding) break;
        buf = buf.subarray(padding);
        padding = 0;
      }
      if (collect) {
        const payload = Buffer.concat(collect);
        collect = null;
        if (collectType === 'x') pendingName = parsePax(payload).path ?? pendingName;
        else if (collectType === 'L') pendingName = str(payload, 0, payload.length);
      }
      await finishEntry();
      if (buf.length < BLOCK) break;
      const header = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (header.every((b) => b === 0)) {
        ended = true;
        break;
      }
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
      if (sum !== octal(header, 148, 8)) throw bad('header checksum mismatch');
      const type = String.fromCharCode(header[156] ?? 0);
      const size = octal(header, 124, 12);
      const prefix = str(header, 345, 155);
      const name = pendingName ?? (prefix ? `${prefix}/${str(header, 0, 100)}` : str(header, 0, 100));
      remaining = size;
      padding = (BLOCK - (size % BLOCK)) % BLOCK;
      if (type === 'x' || type === 'L') {
        collect = [];
        collectType = type;
        continue;
      }
      pendingName = null;
      skip = false;
      if (type === 'g') {
        collect = [];
        collectType = 'g';
        continue;
      }
      const rel = safeRelative(name);
      if (type === '5') {
        if (rel) mkdirSync(join(dest, rel), { recursive: true, mode: 0o700 });
      } else if (type === '0' || type === '\0') {
        const mode = octal(header, 100, 8) & 0o777;
        mkdirSync(dirname(join(dest, rel)), { recursive: true, mode: 0o700 });
        if (opts.sparse?.(rel)) {
          sparseFile(join(dest, rel), size, mode || 0o600);
          skip = true;
          files++;
          continue;
        }
        out = createWriteStream(join(dest, rel), { flags: 'wx', mode: mode || 0o600 });
        await once(out, 'open');
        files++;
      } else {
        throw bad(`unsupported entry type "${type}" for "${name}"`);
      }
      if (remaining === 0) await finishEntry();
    }
  }
  await finishEntry();
  if (!ended) throw bad('the archive ends before its end marker (truncated)');
  return files;
}
