/**
 * Display formatting shared by views. Pure functions; the locale is the OS's, and times are
 * always on the 24-hour clock (like cron and the schedule words), never "01:30" next to "03:15 PM".
 */
import type { RunStatus } from '@shared/domain.ts';

export { formatBytes } from '@shared/format-bytes.ts';

/** How a run's status is shown: its label and the badge tone (a CSS class). */
export const RUN_STATUS: Record<RunStatus, { label: string; tone: string }> = {
  running: { label: 'Running', tone: 'accent' },
  canceling: { label: 'Canceling', tone: 'warning' },
  canceled: { label: 'Canceled', tone: '' },
  success: { label: 'Succeeded', tone: 'success' },
  partial: { label: 'Partly failed', tone: 'warning' },
  failed: { label: 'Failed', tone: 'danger' },
};

function localeDateTime(iso: string | null | undefined, timeStyle: 'short' | 'medium', timeZone?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle, hourCycle: 'h23', ...(timeZone ? { timeZone } : {}) });
}

export function formatDateTime(iso: string | null | undefined): string {
  return localeDateTime(iso, 'short');
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function formatDuration(startIso: string, endIso: string | null): string {
  if (!endIso) return 'running';
  const ms = new Date(endIso).getTime() - new Date(startIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** A time in a given IANA zone, e.g. "Tue, Mar 3, 2026, 02:00"; falls back to the local zone for an unknown zone. */
export function formatInZone(iso: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const opts: Intl.DateTimeFormatOptions = { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  try {
    return d.toLocaleString(undefined, { ...opts, timeZone });
  } catch {
    return d.toLocaleString(undefined, opts);
  }
}

/** Milliseconds as "850 ms", "12.4 s", "3m 5s", "1h 2m". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  if (m < 60) return `${m}m ${whole % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** A date and time to the second, e.g. "Mar 3, 2026, 02:00:07": tells apart points taken a minute apart. In `timeZone` (IANA) when given, else local. */
export function formatDateTimeSeconds(iso: string | null | undefined, timeZone?: string): string {
  return localeDateTime(iso, 'medium', timeZone);
}

/** Where a task destination keeps its backups, as a person reads it: the local folder, or s3://bucket/prefix (and the endpoint's host when not AWS). */
export { destinationDisplay as destinationLabel } from '@shared/location-text.ts';

/** "1 point", "2 points": a count with its noun, singular or plural. */
export { plural } from '@shared/plural.ts';

/** How long ago `iso` was, in words: "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAge(iso: string, now: Date = new Date()): string {
  const ms = now.getTime() - new Date(iso).getTime();
  if (!Number.isFinite(ms)) return iso;
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ago`;
  const days = Math.floor(h / 24);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}
