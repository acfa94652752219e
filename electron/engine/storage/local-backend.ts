/**
 * Local-folder backend: one file per object under `root`, key segments as directories.
 *
 * Commit rule for `put`: write `.<name>.tmp-<random>` in the target directory, fsync it,
 * rename it over the final name, fsync the directory (and the parent of any directory
 * this put created). A crash leaves at most a hidden temp file, which `list` never shows;
 * `sweepTempFiles` removes old ones. Files whose name starts with '.' are never objects.
 */
import { statfsSync } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { AlreadyThereError, assertValidKey, bodyChunks, isTempFileName, tempFileName, type Backend, type ByteRange, type FreeSpaceReporter, type LeftoverSweeper, type ObjectInfo, type PutBody, type PutOptions, type SweepResult } from './backend.ts';
import { errnoCode, storageError } from './errors.ts';
import { hardLinksUnsupported } from './hard-links.ts';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * `mkdir -p` that reports the real cause: Node's recursive mkdir answers ENOENT when the
 * file system is read-only or the folder not writable, so on ENOENT the first missing
 * folder is created on its own to surface EROFS / EACCES. Returns the first folder created.
 */
export async function makeDirs(dir: string, location: string, key = '.', op = 'put'): Promise<string | undefined> {
  try {
    return await mkdir(dir, { recursive: true });
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw storageError(op, key, location, e);
    let missing = dir;
    while (dirname(missing) !== missing && !(await stat(dirname(missing)).then(() => true, () => false))) missing = dirname(missing);
    try {
      await mkdir(missing);
    } catch (probe) {
      throw storageError(op, key, location, errnoCode(probe) === 'EEXIST' ? e : probe);
    }
    try {
      await mkdir(dir, { recursive: true });
    } catch (again) {
      throw storageError(op, key, location, again);
    }
    return missing;
  }
}

/** Bytes free to an unprivileged writer at `path` (or its nearest existing parent); null when it cannot be measured. */
export function freeBytesAt(path: string): number | null {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) return null;
    }
  }
}

export class LocalBackend implements Backend, LeftoverSweeper, FreeSpaceReporter {
  readonly location: string;

  constructor(readonly root: string) {
    this.location = `local folder ${root}`;
  }

  private path(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    const final = this.path(key);
    const dir = dirname(final);
    const tmp = join(dir, tempFileName(key.split('/').pop()!));
    const created = await makeDirs(dir, this.location, key);
    let fh;
    try {
      fh = await open(tmp, 'wx');
    } catch (e) {
      throw storageError('put', key, this.location, e);
    }
    try {
      for await (const chunk of bodyChunks(body)) {
        options?.signal?.throwIfAborted();
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
          off += bytesWritten;
        }
      }
      options?.signal?.throwIfAborted();
      await fh.sync();
      await fh.close();
      fh = undefined;
      if (options?.ifAbsent) await this.createOnly(tmp, final, key);
      else await rename(tmp, final);
      await fsyncDir(dir);
      if (created) await fsyncDir(dirname(created));
    } catch (e) {
      if (fh) await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      if (e instanceof Error && e.name === 'AbortError') throw e;
      throw storageError('put', key, this.location, e);
    }
  }

  /**
   * `tmp` becomes `final` only if no `final` exists (else AlreadyThereError): a link fails when
   * the name exists (a rename would replace it), then the temp name goes. A file system without
   * hard links (FAT, exFAT, some network shares) gets a check just before the rename instead.
   */
  private async createOnly(tmp: string, final: string, key: string): Promise<void> {
    try {
      await link(tmp, final);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') throw new AlreadyThereError(key, this.location, e);
      if (!hardLinksUnsupported(e)) throw e;
      if (await stat(final).then(() => true, () => false)) throw new AlreadyThereError(key, this.location);
      await rename(tmp, final);
      return;
    }
    await unlink(tmp);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const p = this.path(key);
    let fh;
    try {
      fh = await open(p, 'r');
    } catch (e) {
      throw storageError('get', key, this.location, e);
    }
    try {
      const size = (await fh.stat()).size;
      const start = range ? Math.min(range.offset, size) : 0;
      const want = range ? Math.min(range.length, size - start) : size;
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === want ? buf : buf.subarray(0, got);
    } catch (e) {
      throw storageError('get', key, this.location, e);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const baseDir = baseKey ? join(this.root, ...baseKey.split('/')) : this.root;
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return;
        throw storageError('list', prefix, this.location, e);
      }
      for (const ent of entries) {
        if (ent.name.startsWith('.')) continue;
        const full = join(dir, ent.name);
        const key = relative(this.root, full).split(sep).join('/');
        if (ent.isDirectory()) {
          if (prefix.startsWith(key + '/') || key.startsWith(prefix) || prefix === '') await walk(full);
        } else if (ent.isFile() && key.startsWith(prefix)) {
          try {
            const st = await stat(full);
            out.push({ key, size: st.size, modifiedMs: st.mtimeMs });
          } catch (e) {
            if (errnoCode(e) !== 'ENOENT') throw storageError('list', prefix, this.location, e);
          }
        }
      }
    };
    await walk(baseDir);
    return out;
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true });
    } catch (e) {
      throw storageError('delete', key, this.location, e);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.path(key));
      return st.isFile() ? { key, size: st.size, modifiedMs: st.mtimeMs } : null;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
      throw storageError('stat', key, this.location, e);
    }
  }

  async listFolders(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      throw storageError('list', '', this.location, e);
    }
  }

  async close(): Promise<void> {}

  unwrap(): null {
    return null;
  }

  /** Bytes free at the root's file system (or its nearest existing parent's) (backend.ts, FreeSpaceReporter). */
  freeBytes(): Promise<number | null> {
    return Promise.resolve(freeBytesAt(this.root));
  }

  /** Removes temp files left by crashed puts that were not written for `olderThanMs` (backend.ts, LeftoverSweeper). */
  async sweepTempFiles(olderThanMs: number, now = Date.now()): Promise<SweepResult> {
    const swept: SweepResult = { removed: 0, bytes: 0 };
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const ent of entries) {
        const full = join(dir, ent.name);
        if (ent.isDirectory()) await walk(full);
        else if (isTempFileName(ent.name)) {
          const st = await stat(full).catch(() => null);
          if (st && now - st.mtimeMs >= olderThanMs) {
            await unlink(full).then(
              () => {
                swept.removed++;
                swept.bytes += st.size;
              },
              () => {},
            );
          }
        }
      }
    };
    await walk(this.root);
    return swept;
  }
}
