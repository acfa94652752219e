/**
 * Checks the meaning of a task definition before it is saved: schedules parse in the
 * task's time zone, local destinations are absolute paths, destinations are distinct, no
 * S3 storage class needs a restore request before reading (Glacier Flexible Retrieval, Deep
 * Archive; Azure's Archive tier is refused by the destination schema), no endpoint or FTP
 * host carries a user name or password (destinations/address-credentials.ts), and no
 * other task writes to the same destination (`checkSharedDestinations`; local folders compared
 * where they really are, through symbolic links: canonical-path.ts).
 *
 * Contract: throws VALIDATION naming the field; touches nothing.
 */
import { isAbsolute } from 'node:path';
import type { Destination, Task, TaskInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { assertCron, assertTimeZone } from '../scheduler/cron.ts';
import { sameDestinationKey } from '../destinations/location.ts';
import { canonicalPath } from '../destinations/canonical-path.ts';
import { checkAddressCredentials } from '../destinations/address-credentials.ts';
import { placeText } from '../destinations/index.ts';

/** S3 storage classes whose objects need a restore request before they can be read (never written by Backstop). */
export const UNREADABLE_S3_CLASSES: ReadonlySet<string> = new Set(['GLACIER', 'DEEP_ARCHIVE']);

export function checkTaskInput(input: TaskInputParsed): void {
  const { schedule } = input;
  assertTimeZone(schedule.timezone, 'schedule.timezone');
  if (schedule.full) assertCron(schedule.full, schedule.timezone, 'schedule.full');
  if (schedule.incremental) assertCron(schedule.incremental, schedule.timezone, 'schedule.incremental');
  if (input.testRestore?.schedule) assertCron(input.testRestore.schedule, schedule.timezone, 'testRestore.schedule');
  const seen = new Set<string>();
  input.destinations.forEach((d, i) => {
    if (d.kind === 'local' && !isAbsolute(d.path)) throw new BackstopError('VALIDATION', `destinations.${i}.path: "${d.path}" must be an absolute path.`);
    checkAddressCredentials(d, `destinations.${i}`);
    if (d.kind === 's3' && d.storageClass && UNREADABLE_S3_CLASSES.has(d.storageClass.toUpperCase())) {
      throw new BackstopError(
        'VALIDATION',
        `destinations.${i}.storageClass: ${d.storageClass} objects cannot be read without a restore request that takes hours, so a restore (and verify) from this destination would fail. Choose STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING or GLACIER_IR (instant retrieval), or move old objects to Glacier with a bucket lifecycle rule only for backups you can wait for.`,
      );
    }
    const key = sameDestinationKey(d, canonicalPath);
    if (seen.has(key)) throw new BackstopError('VALIDATION', `destinations.${i}: the same destination is listed twice.`);
    seen.add(key);
  });
}

type TaskPlaces = Pick<Task, 'id' | 'name' | 'serverId' | 'destinations'>;

/** The first destination of `other` that is also one of `destinations` (its index there), or null. */
export function sharedDestination(destinations: readonly Destination[], other: Pick<Task, 'destinations'>): { index: number; destination: Destination } | null {
  const mine = destinations.map((d) => sameDestinationKey(d, canonicalPath));
  for (const d of other.destinations) {
    const index = mine.indexOf(sameDestinationKey(d, canonicalPath));
    if (index >= 0) return { index, destination: d };
  }
  return null;
}

/**
 * Two tasks at one destination would write the same folders (`<root>/<database>`, and
 * `<root>/~server` for server-level streams): their chains would interleave — two servers'
 * databases of the same name in one folder — and each task's retention would delete the
 * other's restore points (a manifest does not record which task wrote it). So it is refused,
 * naming the other task; a subfolder of the same disk or bucket is fine. (Tasks saved before
 * this check: the runner skips their retention, task-runner.ts.)
 */
export function checkSharedDestinations(input: TaskInputParsed, others: readonly TaskPlaces[], selfId: string | null): void {
  for (const other of others) {
    if (other.id === selfId) continue;
    const shared = sharedDestination(input.destinations, other);
    if (!shared) continue;
    const same = other.serverId === input.serverId;
    const d = shared.destination;
    throw new BackstopError(
      'VALIDATION',
      `destinations.${shared.index}: task "${other.name}" already ${same ? 'backs up this server' : 'writes its backups'} to ${placeText(d)}. Two tasks in one folder share its database folders, so ${same ? '' : 'their restore points would mix and '}one task's retention would delete the other's restore points. Choose another folder (a subfolder such as ${placeText(d, 'hourly')} is fine)${same ? `, or change the retention of task "${other.name}" instead` : ''}.`,
    );
  }
}

/** The run's warning when tasks saved before the check share a destination: retention is skipped, and why. */
export function sharedRetentionWarning(task: Pick<Task, 'destinations'>, others: readonly TaskPlaces[]): string | null {
  const found = others.map((o) => ({ o, shared: sharedDestination(task.destinations, o) })).filter((x) => x.shared);
  if (found.length === 0) return null;
  const where = found.map(({ o, shared }) => `task "${o.name}" also writes to ${placeText(shared!.destination)}`).join('; ');
  return `Retention skipped: ${where}, so its restore points and this task's share folders and retention could delete the other task's. Move one of the tasks to a subfolder (its next run starts a new chain there).`;
}
