import { describe, expect, it } from 'vitest';
import { DeferredRuns } from '../../../electron/engine/scheduler/index.ts';

describe('DeferredRuns', () => {
  it('keeps one run per task however many slots fired meanwhile, a full winning, and forgets it once taken', () => {
    const d = new DeferredRuns();
    expect(d.take('t1')).toBeNull();
    expect(d.defer('t1', 'incremental')).toBe('incremental');
    expect(d.defer('t1', 'incremental')).toBe('incremental');
    expect(d.defer('t1', 'full')).toBe('full');
    expect(d.defer('t1', 'incremental')).toBe('full'); // a later incremental never downgrades the waiting full
    expect(d.defer('t2', 'incremental')).toBe('incremental');
    expect(d.take('t1')).toBe('full');
    expect(d.take('t1')).toBeNull();
    expect(d.take('t2')).toBe('incremental');
  });
});
