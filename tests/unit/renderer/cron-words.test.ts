import { describe, expect, it } from 'vitest';
import { cronInWords, cronProblem, cronToPreset, parseClock, presetToCron, scheduleInWords, type SchedulePreset } from '../../../renderer/src/components/cron-words';

describe('cronInWords', () => {
  it.each([
    ['* * * * *', 'every minute'],
    ['*/15 * * * *', 'every 15 minutes'],
    ['0 * * * *', 'hourly'],
    ['30 * * * *', 'hourly at 30 past'],
    ['0 */6 * * *', 'every 6 hours'],
    ['15 */4 * * *', 'every 4 hours at 15 past'],
    ['0 */1 * * *', 'hourly'],
    ['0 2 * * *', 'daily at 02:00'],
    ['5 23 * * *', 'daily at 23:05'],
    ['0 2,14 * * *', 'daily at 02:00 and 14:00'],
    ['0 1,9,17 * * *', 'daily at 01:00, 09:00 and 17:00'],
    ['30 3 * * 0', 'weekly on Sunday at 03:30'],
    ['30 3 * * 7', 'weekly on Sunday at 03:30'],
    ['0 4 * * 1,3,5', 'weekly on Monday, Wednesday and Friday at 04:00'],
    ['0 6 * * 1-5', 'weekdays at 06:00'],
    ['0 6 * * 0,6', 'weekends at 06:00'],
    ['0 1 15 * *', 'monthly on day 15 at 01:00'],
    ['  0   2 * *   * ', 'daily at 02:00'],
  ])('%s → %s', (cron, words) => {
    expect(cronInWords(cron)).toBe(words);
  });

  it.each([
    ['0 2 * 1 *', 'cron 0 2 * 1 *'],
    ['0 2 1-7 * 1', 'cron 0 2 1-7 * 1'],
    ['0-30/5 2 * * *', 'cron 0-30/5 2 * * *'],
    ['99 2 * * *', 'cron 99 2 * * *'],
    ['0 25 * * *', 'cron 0 25 * * *'],
    ['0 2 * *', 'cron 0 2 * *'],
    ['@daily', 'cron @daily'],
  ])('falls back to the expression for %s', (cron, words) => {
    expect(cronInWords(cron)).toBe(words);
  });
});

describe('scheduleInWords', () => {
  it('names both schedules, full first, capitalised', () => {
    expect(scheduleInWords({ full: '0 2 * * *', incremental: '0 * * * *' })).toBe('Full daily at 02:00, incremental hourly');
  });
  it('says an incremental-only schedule starts with a full', () => {
    expect(scheduleInWords({ full: null, incremental: '0 */6 * * *' })).toBe('Incremental every 6 hours (the first run is a full)');
  });
  it('full only, and none', () => {
    expect(scheduleInWords({ full: '0 3 * * 0', incremental: null })).toBe('Full weekly on Sunday at 03:00');
    expect(scheduleInWords({ full: null, incremental: null })).toBe('No schedule');
  });
});

describe('presets', () => {
  const cases: [SchedulePreset, string | null][] = [
    [{ kind: 'off' }, null],
    [{ kind: 'hourly', minute: 0 }, '0 * * * *'],
    [{ kind: 'hourly', minute: 45 }, '45 * * * *'],
    [{ kind: 'every-n-hours', hours: 6, minute: 10 }, '10 */6 * * *'],
    [{ kind: 'daily', time: '02:30' }, '30 2 * * *'],
    [{ kind: 'weekly', day: 5, time: '23:00' }, '0 23 * * 5'],
    [{ kind: 'custom', cron: '  0 1  15 * * ' }, '0 1 15 * *'],
  ];
  it.each(cases)('%j → %s and back', (preset, cron) => {
    expect(presetToCron(preset)).toBe(cron);
    expect(cronToPreset(cron)).toEqual(preset.kind === 'custom' ? { kind: 'custom', cron: '0 1 15 * *' } : preset);
  });
  it('keeps shapes without a preset as custom', () => {
    expect(cronToPreset('0 2 * * 1-5')).toEqual({ kind: 'custom', cron: '0 2 * * 1-5' });
    expect(cronToPreset('*/5 * * * *')).toEqual({ kind: 'custom', cron: '*/5 * * * *' });
  });
  it('parseClock accepts HH:MM only', () => {
    expect(parseClock('7:05')).toEqual([7, 5]);
    expect(parseClock('24:00')).toBeNull();
    expect(parseClock('12:60')).toBeNull();
    expect(parseClock('noon')).toBeNull();
  });
});

describe('cronProblem', () => {
  it('says the shape of a cron expression, and how many fields this one has; five fields are the engine’s to judge', () => {
    expect(cronProblem('0 2 * *')).toBe('A cron expression has 5 fields: minute hour day month weekday; this one has 4.');
    expect(cronProblem('0 2 * * * *')).toBe('A cron expression has 5 fields: minute hour day month weekday; this one has 6.');
    expect(cronProblem('  ')).toBe('A cron expression has 5 fields: minute hour day month weekday, e.g. “30 2 * * *” for daily at 02:30.');
    expect(cronProblem('99 2 * * *')).toBeNull();
    expect(cronProblem(' 30  2 * * 1-5 ')).toBeNull();
  });
});
