/**
 * From a task's destination (field F) to the storage backend of one database folder.
 *
 * Contract: every database gets its own child folder under the destination's common root
 * (`<root>/<database folder>/`, `<prefix>/<database folder>/` on S3); the server-level
 * folder is the reserved SERVER_FOLDER. `destinationId` is stable and secret-free: it
 * names the destination in history. S3 destinations need their credentials (from the
 * keychain, or the environment for CLI task files) — VALIDATION when they are missing.
 */
import { join, posix } from 'node:path';
import type { Destination } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { createS3Backend, LocalBackend, S3Backend, type Backend, type S3Credentials } from '../storage/index.ts';

export type S3Destination = Extract<Destination, { kind: 's3' }>;

export function destinationId(d: Destination): string {
  if (d.kind === 'local') return `local:${d.path}`;
  return `s3:${d.bucket}/${trimSlashes(d.prefix)}`;
}

/** Where one database folder of a destination is, for output and scripts: a local path or an s3:// URL. */
export function folderLocation(d: Destination, folder: string): string {
  if (d.kind === 'local') return join(d.path, folder);
  return `s3://${d.bucket}/${posix.join(trimSlashes(d.prefix), folder)}`;
}

/** A human label for messages and the UI. */
export function destinationLabel(d: Destination): string {
  if (d.kind === 'local') return `local folder ${d.path}`;
  return `S3 bucket ${d.bucket}${d.prefix ? `/${trimSlashes(d.prefix)}` : ''}`;
}

function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

export function s3Options(d: S3Destination, prefix: string, credentials: S3Credentials | null) {
  if (!credentials) {
    throw new BackstopError('VALIDATION', `${destinationLabel(d)}: no access key is stored for this destination; enter its access key id and secret.`);
  }
  return {
    bucket: d.bucket,
    prefix,
    region: d.region,
    endpoint: d.endpoint,
    forcePathStyle: d.forcePathStyle,
    storageClass: d.storageClass,
    checksumMode: d.checksumMode,
    credentials,
  };
}

export function openDatabaseFolder(d: Destination, folder: string, credentials: S3Credentials | null = null): Backend {
  if (d.kind === 'local') return new LocalBackend(join(d.path, folder));
  return createS3Backend(s3Options(d, posix.join(trimSlashes(d.prefix), folder), credentials));
}

/** The database folders directly under a destination's root. */
export async function listDatabaseFolders(d: Destination, credentials: S3Credentials | null = null): Promise<string[]> {
  if (d.kind === 'local') {
    const { readdirSync } = await import('node:fs');
    try {
      return readdirSync(d.path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }
  const root = new S3Backend(s3Options(d, trimSlashes(d.prefix), credentials));
  try {
    return await root.listFolders();
  } finally {
    root.destroy();
  }
}
