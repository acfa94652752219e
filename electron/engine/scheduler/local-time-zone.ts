/**
 * The time zone this process runs in, as an IANA name a schedule accepts — what a task file
 * without `schedule.timezone` (and the demo task) gets.
 *
 * Contract: `localTimeZone()` never returns a name `isValidTimeZone` refuses. Node answers
 * "Etc/Unknown" for `TZ=` (an empty TZ, as cron tables and systemd units may set it) and
 * nothing for a POSIX TZ such as `:/etc/localtime` or `UTC0`; a task file's run was then
 * refused with VALIDATION naming a zone its file never gave. Then the zone /etc/localtime
 * links to (…/zoneinfo/Europe/Berlin) is used, else UTC.
 */
import { readlinkSync } from 'node:fs';
import { isValidTimeZone } from './cron.ts';

export function localTimeZone(): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && zone !== 'Etc/Unknown' && isValidTimeZone(zone)) return zone;
  try {
    const linked = /zoneinfo\/(.+)$/.exec(readlinkSync('/etc/localtime'))?.[1];
    if (linked && isValidTimeZone(linked)) return linked;
  } catch {
    // no /etc/localtime link (Windows, macOS without it, a container): UTC
  }
  return 'UTC';
}
