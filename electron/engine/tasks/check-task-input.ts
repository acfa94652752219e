/**
 * Checks the meaning of a task definition before it is saved: schedules parse in the
 * task's time zone, local destinations are absolute paths, destinations are distinct.
 *
 * Contract: throws VALIDATION naming the field; touches nothing.
 */
import { isAbsolute, resolve } from 'node:path';
import type { TaskInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { assertCron, assertTimeZone } from '../scheduler/cron.ts';
import { sameDestinationKey } from '../destinations/location.ts';

export function checkTaskInput(input: TaskInputParsed): void {
  const { schedule } = input;
  assertTimeZone(schedule.timezone, 'schedule.timezone');
  if (schedule.full) assertCron(schedule.full, schedule.timezone, 'schedule.full');
  if (schedule.incremental) assertCron(schedule.incremental, schedule.timezone, 'schedule.incremental');
  if (input.testRestore?.schedule) assertCron(input.testRestore.schedule, schedule.timezone, 'testRestore.schedule');
  const seen = new Set<string>();
  input.destinations.forEach((d, i) => {
    if (d.kind === 'local' && !isAbsolute(d.path)) throw new BackstopError('VALIDATION', `destinations.${i}.path: "${d.path}" must be an absolute path.`);
    const key = sameDestinationKey(d, resolve);
    if (seen.has(key)) throw new BackstopError('VALIDATION', `destinations.${i}: the same destination is listed twice.`);
    seen.add(key);
  });
}
