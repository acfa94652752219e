/**
 * An upload limit as the editor shows it (an amount and a unit) and as the engine stores it
 * (`limits.uploadBytesPerSecond`, whole bytes per second, 1024 to 1e12 in the schema).
 *
 * Contract: `rateProblem` is null for an empty field (no limit) or an amount that converts to
 * a whole number of bytes per second within the schema's range; `uploadLimits` returns
 * undefined for an empty field, so clearing the field removes the limit. A stored value
 * loaded with `rateField` converts back to exactly the same bytes per second.
 */
import { UploadLimits } from '@shared/domain.ts';

export type RateUnit = 'KB/s' | 'MB/s' | 'Mbit/s';

/** Bytes per second of one unit (decimal units, as network links are sold). */
export const RATE_UNITS: Record<RateUnit, number> = { 'KB/s': 1_000, 'MB/s': 1_000_000, 'Mbit/s': 125_000 };

/** The schema's bounds (1024 and 1e12 bytes per second). */
export const MIN_UPLOAD_BYTES = UploadLimits.shape.uploadBytesPerSecond.minValue ?? 1024;
export const MAX_UPLOAD_BYTES = UploadLimits.shape.uploadBytesPerSecond.maxValue ?? 1e12;

/** What a rate input holds: a number (a number input's v-model), '' when empty, or text. */
export interface RateField {
  amount: number | string;
  unit: RateUnit;
}

export function emptyRate(): RateField {
  return { amount: '', unit: 'MB/s' };
}

/** The field for a stored limit: MB/s from 1 MB/s, else KB/s when that is whole (a value like 1 MiB/s shows its exact fraction). */
export function rateField(bytes: number | undefined): RateField {
  if (bytes === undefined) return emptyRate();
  const unit: RateUnit = bytes < 1_000_000 && bytes % 1000 === 0 ? 'KB/s' : 'MB/s';
  return { amount: bytes / RATE_UNITS[unit], unit };
}

/** Bytes per second of a field: '' when empty, null when it is not a positive number. */
export function rateBytes(field: RateField | undefined): number | '' | null {
  if (!field) return '';
  const a = field.amount;
  const text = typeof a === 'number' ? String(a) : typeof a === 'string' ? a.trim() : null;
  if (text === null) return null;
  if (text === '') return '';
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text)) return null;
  const bytes = Math.round(Number(text) * RATE_UNITS[field.unit]);
  return Number.isFinite(bytes) ? bytes : null;
}

/** What is wrong with a rate field, in words a user can act on; null when it can be saved. */
export function rateProblem(field: RateField | undefined, what = 'an upload limit'): string | null {
  const bytes = rateBytes(field);
  if (bytes === '') return null;
  if (bytes === null || bytes < MIN_UPLOAD_BYTES || bytes > MAX_UPLOAD_BYTES) {
    return `Enter ${what} from ${MIN_UPLOAD_BYTES / 1000} KB/s to ${(MAX_UPLOAD_BYTES / 1e6).toLocaleString('en-US')} MB/s, or leave it empty for no limit.`;
  }
  return null;
}

/** The engine's `limits` for a valid field; undefined when it is empty (no limit). */
export function uploadLimits(field: RateField | undefined): UploadLimits | undefined {
  const bytes = rateBytes(field);
  return typeof bytes === 'number' ? { uploadBytesPerSecond: bytes } : undefined;
}
