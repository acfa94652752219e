/**
 * Cron expressions and time zones: validation and the next fire times.
 *
 * Contract: pure functions of their arguments (the clock is a parameter). Invalid input
 * throws VALIDATION with a message that names the field and says what is wrong.
 */
import { createRequire } from 'node:module';
import type * as CronParser from 'cron-parser';
import { BackstopError } from '../../shared/result.ts';

// cron-parser (CommonJS) is required on first use, so commands that never read a schedule
// (e.g. `backstop info`) do not load it.
const requireCjs = createRequire(import.meta.url);
let parser: typeof CronParser.CronExpressionParser | undefined;
const cronParser = () => (parser ??= (requireCjs('cron-parser') as typeof CronParser).CronExpressionParser);

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function assertTimeZone(tz: string, field = 'timezone'): void {
  if (!isValidTimeZone(tz)) throw new BackstopError('VALIDATION', `${field}: "${tz}" is not a known IANA time zone (e.g. Europe/Berlin, UTC).`);
}

/** The next `count` fire times strictly after `after`, in UTC ISO strings. */
export function nextFireTimes(expr: string, tz: string, after: Date, count: number): Date[] {
  const it = cronParser().parse(expr, { tz, currentDate: after });
  const out: Date[] = [];
  for (let i = 0; i < count; i++) out.push(it.next().toDate());
  return out;
}

export function assertCron(expr: string, tz: string, field: string): void {
  assertTimeZone(tz);
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new BackstopError('VALIDATION', `${field}: "${expr}" must have 5 fields (minute hour day-of-month month day-of-week).`);
  }
  try {
    nextFireTimes(expr, tz, new Date(0), 1);
  } catch (e) {
    throw new BackstopError('VALIDATION', `${field}: "${expr}" is not a valid cron expression: ${(e as Error).message}.`);
  }
}
