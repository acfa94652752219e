/**
 * Checks the meaning of a task definition before it is saved: schedules parse in the
 * task's time zone, local destinations are absolute paths, destinations are distinct, no
 * S3 storage class needs a restore request before reading (Glacier Flexible Retrieval, Deep
 * Archive; Azure's Archive tier is refused by the destination schema), no endpoint or FTP
 * host carries a user name or password (destinations/address-credentials.ts), and no
 * other task writes to the same destination (`checkSharedDestinations`).
 *
 * Contract: throws VALIDATION naming the field; touches nothing.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Task, TaskInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { assertCron, assertTimeZone } from '../scheduler/cron.ts';
import { sameDestinationKey } from '../destinations/location.ts';
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
    const key = sameDestinationKey(d, resolve);
    if (seen.has(key)) throw new BackstopError('VALIDATION', `destinations.${i}: the same destination is listed twice.`);
    seen.add(key);
  });
}

/**
 * Two tasks at one destination would write the same folders (`<root>/<database>`, and
 * `<root>/~server` for server-level streams): their chains would interleave — two servers'
 * databases of the same name in one folder — and each task's retention would delete the
 * other's restore points (a manifest does not record which task wrote it). So it is refused,
 * naming the other task; a subfolder of the same disk or bucket is fine.
 */
export function checkSharedDestinations(input: TaskInputParsed, others: readonly Pick<Task, 'id' | 'name' | 'serverId' | 'destinations'>[], selfId: string | null): void {
  const mine = input.destinations.map((d) => sameDestinationKey(d, resolve));
  for (const other of others) {
    if (other.id === selfId) continue;
    for (const d of other.destinations) {
      const i = mine.indexOf(sameDestinationKey(d, resolve));
      if (i < 0) continue;
      const same = other.serverId === input.serverId;
      throw new BackstopError(
        'VALIDATION',
        `destinations.${i}: task "${other.name}" already ${same ? 'backs up this server' : 'writes its backups'} to ${placeText(d)}. Two tasks in one folder share its database folders, so ${same ? '' : 'their restore points would mix and '}one task's retention would delete the other's restore points. Choose another folder (a subfolder such as ${placeText(d, 'hourly')} is fine)${same ? `, or change the retention of task "${other.name}" instead` : ''}.`,
      );
    }
  }
}
