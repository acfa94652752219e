import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../../electron/shared/format-bytes.ts';

describe('formatBytes (window and tray)', () => {
  it('uses decimal units, one decimal below 10 and none above (9.96 MB is "10 MB")', () => {
    expect([0, 999, 1000, 2_500_000_000, 235_400_000, 9_960_000, 999_999, 12_345_678_901_234].map(formatBytes)).toEqual(['0 B', '999 B', '1.0 KB', '2.5 GB', '235 MB', '10 MB', '1.0 MB', '12 TB']);
  });

  it('says "—" for a count that is not a number', () => {
    expect([Number.NaN, -1, Number.POSITIVE_INFINITY].map(formatBytes)).toEqual(['—', '—', '—']);
  });
});
