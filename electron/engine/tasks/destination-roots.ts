/**
 * The local destination roots of a run, checked before anything is written.
 *
 * Contract: a root that exists is used as is. A missing root is created (with a warning
 * for the run's result) only when this task has never written there — its history holds no
 * successful backup to that destination. A root that is missing after the task has
 * written there is an unmounted disk (or a moved folder) until the user says otherwise:
 * DESTINATION_MISSING, nothing is created, so a backup never silently fills the system
 * disk. S3 destinations are not checked here (a missing bucket fails on its own).
 */
import { stat } from 'node:fs/promises';
import type { Destination } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { destinationId } from '../destinations/index.ts';
import { errnoCode, storageError } from '../storage/errors.ts';
import { makeDirs } from '../storage/local-backend.ts';

export interface RootCheck {
  /** Destination ids whose root is missing after earlier use, with the error every database gets there. */
  missing: Map<string, BackstopError>;
  warnings: string[];
}

export function destinationMissing(path: string): BackstopError {
  return new BackstopError(
    'DESTINATION_MISSING',
    `Destination folder ${path} is missing — is the disk mounted? Backstop never re-creates a destination that existed, so a backup cannot silently fill the system disk. Mount it, or create the folder if you moved it on purpose.`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw storageError('check', '.', `local folder ${path}`, e);
  }
}

export async function checkLocalRoots(destinations: readonly Destination[], wroteBefore: (destinationId: string) => boolean): Promise<RootCheck> {
  const out: RootCheck = { missing: new Map(), warnings: [] };
  const absent: { path: string; id: string }[] = [];
  for (const d of destinations) {
    if (d.kind === 'local' && !(await exists(d.path))) absent.push({ path: d.path, id: destinationId(d) });
  }
  for (const a of absent) if (wroteBefore(a.id)) out.missing.set(a.id, destinationMissing(a.path));
  // A run writes nothing at all while any of its destinations is missing: not even a new root.
  if (out.missing.size > 0) return out;
  for (const a of absent) {
    await makeDirs(a.path, `local folder ${a.path}`, '.', 'creating the folder');
    out.warnings.push(`Created the destination folder ${a.path}: it did not exist and this task had not written there before.`);
  }
  return out;
}
