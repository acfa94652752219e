/**
 * A small server-level stream (MySQL/MariaDB `grants.sql`: users, roles and grants) stored
 * only when its content changed: most runs find the accounts as they were, and a new point
 * per run only adds writes and clutter.
 *
 * Contract: the dump is read whole into memory (these streams are a few KB) and its
 * SHA-256 is recorded with every point it makes (`contentSha256`). An incremental run whose
 * content equals `contentSha256` of the newest point at every reachable destination (the
 * folder the point would go to: the readable one, or the sibling under a changed key)
 * stores nothing: its outcome is a success with no point and the reason UNCHANGED. Anything
 * unreadable or different at any destination → stored as usual, at every destination.
 * A full run always stores it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Location } from '../destinations/index.ts';
import { isRepository, openRepository, type OpenOptions } from '../repository/index.ts';
import type { DumpStream } from '../servers/connector.ts';
import { latestPoint } from '../../shared/latest-point.ts';

/** The history's reason when an incremental stored nothing: this stream, or a database dump (backup-database.ts). */
export const UNCHANGED = 'unchanged since the last point: nothing stored';

export interface WholeDump {
  bytes: Buffer;
  sha256: string;
  /** The same dump again, from memory, its hash recorded with the point. */
  replay: () => DumpStream;
}

export async function readWhole(dump: DumpStream): Promise<WholeDump> {
  const parts: Buffer[] = [];
  for await (const chunk of dump.stream) parts.push(Buffer.from(chunk as Uint8Array));
  await dump.done;
  const bytes = Buffer.concat(parts);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    bytes,
    sha256,
    replay: () => ({ stream: Readable.from([bytes]), done: Promise.resolve(), meta: dump.meta, finalMeta: () => ({ contentSha256: sha256 }) }),
  };
}

/** `contentSha256` of the latest point in `folder` (or its sibling for `key`), or null. */
export async function storedHash(folder: Location, key: Buffer | null, repoOptions: OpenOptions): Promise<string | null> {
  const hashIn = async (l: Location): Promise<string | null> => {
    if (!(await isRepository(l.backend()))) return null;
    // The latest point (latest-point.ts), not the newest by date: after a clock set back that is an older one.
    const newest = latestPoint(await (await openRepository(l.backend(), { ...repoOptions, key })).listPoints({ skipDamaged: true }), new Date());
    return typeof newest?.meta.contentSha256 === 'string' ? newest.meta.contentSha256 : null;
  };
  return folder.readWithKey(key, hashIn).catch(() => null);
}
