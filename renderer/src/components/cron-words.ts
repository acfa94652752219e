/**
 * Schedules in words, and the editor's schedule presets. Pure functions.
 *
 * Contract: `cronInWords` recognises the common shapes of a 5-field cron expression
 * (every N minutes, hourly, every N hours, daily at, weekdays at, weekly on, monthly on)
 * and answers anything else with the expression itself, quoted as "cron …", so a schedule
 * is never described wrongly. Whether an expression is valid is the engine's to say
 * (`schedule.preview`); this only describes.
 */

const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;

function isInt(s: string, min: number, max: number): boolean {
  if (!/^\d{1,2}$/.test(s)) return false;
  const n = Number(s);
  return n >= min && n <= max;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "02:00" for hour 2 minute 0. */
export function clock(hour: number, minute: number): string {
  return `${pad(hour)}:${pad(minute)}`;
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Day-of-week field (0–7, 7 = Sunday again) as words, or null when it is not a simple shape. */
function daysInWords(field: string): string | null {
  if (field === '1-5') return 'on weekdays';
  if (field === '0,6' || field === '6,0' || field === '6,7') return 'on weekends';
  const parts = field.split(',');
  if (!parts.every((p) => isInt(p, 0, 7))) return null;
  const names = [...new Set(parts.map((p) => DAY_NAMES[Number(p) % 7]!))];
  return `on ${list(names)}`;
}

/** What every cron expression must look like, said once wherever one is wrong. */
export const CRON_SHAPE = 'A cron expression has 5 fields: minute hour day month weekday';

/**
 * What is wrong with the shape of a cron expression before the engine is asked (empty, or
 * not 5 fields), or null. Values inside the fields are the engine's to check.
 */
export function cronProblem(expression: string): string | null {
  const expr = expression.trim();
  if (expr === '') return `${CRON_SHAPE}, e.g. “30 2 * * *” for daily at 02:30.`;
  const n = expr.split(/\s+/).length;
  if (n !== 5) return `${CRON_SHAPE}; this one has ${n}.`;
  return null;
}

/** A 5-field cron expression in words, e.g. "daily at 02:00"; unknown shapes → `cron <expr>`. */
export function cronInWords(expression: string): string {
  const expr = expression.trim().replace(/\s+/g, ' ');
  const fields = expr.split(' ');
  const fallback = `cron ${expr}`;
  if (fields.length !== 5) return fallback;
  const [min, hour, dom, mon, dow] = fields as [string, string, string, string, string];
  if (mon !== '*') return fallback;

  // Minute-level shapes.
  if (hour === '*' && dom === '*' && dow === '*') {
    if (min === '*') return 'every minute';
    const every = /^\*\/(\d{1,2})$/.exec(min);
    if (every) return Number(every[1]) === 1 ? 'every minute' : `every ${Number(every[1])} minutes`;
    if (isInt(min, 0, 59)) return Number(min) === 0 ? 'hourly' : `hourly at ${pad(Number(min))} past`;
    return fallback;
  }
  if (!isInt(min, 0, 59)) return fallback;
  const m = Number(min);

  // Every N hours.
  const everyHours = /^(?:\*|0)\/(\d{1,2})$/.exec(hour);
  if (everyHours && dom === '*' && dow === '*') {
    const n = Number(everyHours[1]);
    const at = m === 0 ? '' : ` at ${pad(m)} past`;
    return n === 1 ? `hourly${at}` : `every ${n} hours${at}`;
  }

  // Fixed hours of the day.
  const hours = hour.split(',');
  if (!hours.every((h) => isInt(h, 0, 23))) return fallback;
  const times = list(hours.map((h) => clock(Number(h), m)));

  if (dom === '*' && dow === '*') return `daily at ${times}`;
  if (dom === '*') {
    const days = daysInWords(dow);
    if (!days) return fallback;
    if (days === 'on weekdays') return `weekdays at ${times}`;
    if (days === 'on weekends') return `weekends at ${times}`;
    return `weekly ${days} at ${times}`;
  }
  if (dow === '*' && isInt(dom, 1, 31)) return `monthly on day ${Number(dom)} at ${times}`;
  return fallback;
}

export interface ScheduleLike {
  full: string | null;
  incremental: string | null;
}

/** "Full daily at 02:00, incremental hourly"; an incremental-only schedule says it starts with a full. */
export function scheduleInWords(schedule: ScheduleLike): string {
  const parts: string[] = [];
  if (schedule.full) parts.push(`full ${cronInWords(schedule.full)}`);
  if (schedule.incremental) parts.push(`incremental ${cronInWords(schedule.incremental)}`);
  if (parts.length === 0) return 'No schedule';
  let text = parts.join(', ');
  if (!schedule.full) text += ' (the first run is a full)';
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ───────────── editor presets ─────────────

export type SchedulePreset =
  | { kind: 'off' }
  | { kind: 'hourly'; minute: number }
  | { kind: 'every-n-hours'; hours: number; minute: number }
  | { kind: 'daily'; time: string }
  | { kind: 'weekly'; day: number; time: string }
  | { kind: 'custom'; cron: string };

export type PresetKind = SchedulePreset['kind'];

export const WEEKDAYS: { value: number; label: string }[] = [1, 2, 3, 4, 5, 6, 0].map((d) => ({ value: d, label: DAY_NAMES[d]! }));

/** "HH:MM" → [hour, minute], or null when it is not a time of day. */
export function parseClock(time: string): [number, number] | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(time.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  return h <= 23 && min <= 59 ? [h, min] : null;
}

/** The cron expression of a preset; null for `off`. A custom expression is passed through trimmed. */
export function presetToCron(p: SchedulePreset): string | null {
  switch (p.kind) {
    case 'off':
      return null;
    case 'hourly':
      return `${p.minute} * * * *`;
    case 'every-n-hours':
      return `${p.minute} */${p.hours} * * *`;
    case 'daily': {
      const t = parseClock(p.time) ?? [0, 0];
      return `${t[1]} ${t[0]} * * *`;
    }
    case 'weekly': {
      const t = parseClock(p.time) ?? [0, 0];
      return `${t[1]} ${t[0]} * * ${p.day}`;
    }
    case 'custom':
      return p.cron.trim().replace(/\s+/g, ' ');
  }
}

/** The preset a stored cron expression corresponds to (custom when none fits), so editing round-trips. */
export function cronToPreset(cron: string | null): SchedulePreset {
  if (cron === null) return { kind: 'off' };
  const expr = cron.trim().replace(/\s+/g, ' ');
  const f = expr.split(' ');
  if (f.length === 5 && f[2] === '*' && f[3] === '*' && isInt(f[0]!, 0, 59)) {
    const minute = Number(f[0]);
    const [, hour, , , dow] = f as [string, string, string, string, string];
    if (hour === '*' && dow === '*') return { kind: 'hourly', minute };
    const every = /^\*\/(\d{1,2})$/.exec(hour);
    if (every && dow === '*' && Number(every[1]) >= 2 && Number(every[1]) <= 23) return { kind: 'every-n-hours', hours: Number(every[1]), minute };
    if (isInt(hour, 0, 23)) {
      const time = clock(Number(hour), minute);
      if (dow === '*') return { kind: 'daily', time };
      if (isInt(dow, 0, 7)) return { kind: 'weekly', day: Number(dow) % 7, time };
    }
  }
  return { kind: 'custom', cron: expr };
}
