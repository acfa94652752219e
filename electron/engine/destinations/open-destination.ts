/**
 * From a task's destination (field F) to the storage backend of one database folder.
 *
 * Contract: every database gets its own child folder under the destination's common root
 * (`<root>/<database folder>/`); the server-level folder is the reserved SERVER_FOLDER.
 * `destinationId` is stable and secret-free: it names the destination in history.
 */
import { join } from 'node:path';
import type { Destination } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { LocalBackend, type Backend } from '../storage/index.ts';

export function destinationId(d: Destination): string {
  if (d.kind === 'local') return `local:${d.path}`;
  return `s3:${d.bucket}/${d.prefix.replace(/^\/+|\/+$/g, '')}`;
}

/** A human label for messages and the UI. */
export function destinationLabel(d: Destination): string {
  if (d.kind === 'local') return `local folder ${d.path}`;
  return `S3 bucket ${d.bucket}${d.prefix ? `/${d.prefix.replace(/^\/+|\/+$/g, '')}` : ''}`;
}

export function openDatabaseFolder(d: Destination, folder: string): Backend {
  if (d.kind === 'local') return new LocalBackend(join(d.path, folder));
  throw new BackstopError('VALIDATION', `${destinationLabel(d)}: S3 destinations are not available in this version yet.`);
}
