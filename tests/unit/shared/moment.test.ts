import { describe, expect, it } from 'vitest';
import { parseMoment } from '../../../electron/shared/moment.ts';
import { hasCode } from '../../../electron/shared/result.ts';

describe('parseMoment', () => {
  it('reads UTC and offset moments to the millisecond', () => {
    expect(parseMoment('2026-12-04T13:02:00Z').toISOString()).toBe('2026-12-04T13:02:00.000Z');
    expect(parseMoment('2026-12-04T14:02:03.25+01:00').toISOString()).toBe('2026-12-04T13:02:03.250Z');
    expect(parseMoment('2026-12-04 08:02-0500').toISOString()).toBe('2026-12-04T13:02:00.000Z');
  });

  it('reads a moment without an offset as local time', () => {
    const d = parseMoment('2026-07-01T14:02:05');
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()]).toEqual([2026, 6, 1, 14, 2, 5]);
  });

  it.each(['2026-12-04', 'yesterday', '2026-02-30T10:00', '2026-13-01T10:00', '2026-12-04T24:00', '2026-12-04T10:60', '2026-12-04T10:00+1'])(
    'refuses %s with VALIDATION naming the accepted form',
    (text) => {
      let error: unknown;
      try {
        parseMoment(text);
      } catch (e) {
        error = e;
      }
      expect(hasCode(error, 'VALIDATION')).toBe(true);
      expect((error as Error).message).toContain('ISO-8601');
    },
  );
});
