import { describe, expect, it } from 'vitest';
import { provenInWords } from '../../../renderer/src/components/proven';

const when = (iso: string) => `at ${iso.slice(0, 10)}`;

describe('provenInWords (task card "Proven restorable")', () => {
  it('says never tested when no test restore ran, and how to turn them on', () => {
    expect(provenInWords({ databases: [], untested: [], allOkAt: null }, when)).toMatchObject({ tone: 'muted', text: 'Never tested', detail: expect.stringContaining('section G') });
    expect(provenInWords(undefined, when).text).toBe('Never tested');
  });

  it('all tested databases ok: when, and the whole-server restore estimate summed from the measured times', () => {
    const w = provenInWords(
      {
        databases: [
          { database: 'b', ok: true, at: '2026-03-09T04:00:00Z', durationMs: 90_000 },
          { database: 'a', ok: true, at: '2026-03-02T04:00:00Z', durationMs: 30_000 },
        ],
        untested: [],
        allOkAt: '2026-03-09T04:00:00Z',
      },
      when,
    );
    expect(w).toEqual({ tone: 'success', text: 'Proven at 2026-03-09 · whole server ≈ 2m 0s', detail: 'b: restorable at 2026-03-09, restore ≈ 1m 30s\na: restorable at 2026-03-02, restore ≈ 30 s' });
  });

  it('flags failing databases first, then those never tested', () => {
    const failing = provenInWords({ databases: [{ database: 'x', ok: false, at: '2026-03-09T04:00:00Z', durationMs: 1000 }], untested: ['y'], allOkAt: null }, when);
    expect(failing).toMatchObject({ tone: 'danger', text: 'Not restorable as recorded: x · 1 database never tested' });
    expect(failing.detail).toBe('x: FAILED at 2026-03-09, restore ≈ 1.0 s\ny: never tested');
    const partial = provenInWords({ databases: [{ database: 'x', ok: true, at: '2026-03-09T04:00:00Z', durationMs: null }], untested: ['y', 'z'], allOkAt: '2026-03-09T04:00:00Z' }, when);
    expect(partial).toMatchObject({ tone: 'warning', text: 'Proven at 2026-03-09 · 2 databases never tested' });
  });

  it('a newest test restore that could not test any database (key missing, test server down) turns the card red, whatever the older proofs say', () => {
    const lastRunFailed = { at: '2026-03-16T04:00:00Z', code: 'KEYCHAIN_LOCKED', message: 'The keychain is locked: unlock it.' };
    const stale = provenInWords({ databases: [{ database: 'a', ok: true, at: '2026-03-09T04:00:00Z', durationMs: 30_000 }], untested: [], allOkAt: '2026-03-09T04:00:00Z', lastRunFailed }, when);
    expect(stale).toEqual({
      tone: 'danger',
      text: 'Last test restore failed at 2026-03-16 (KEYCHAIN_LOCKED) · last proven at 2026-03-09',
      detail: 'Last test restore at 2026-03-16: KEYCHAIN_LOCKED: The keychain is locked: unlock it.\na: restorable at 2026-03-09, restore ≈ 30 s',
    });
    const never = provenInWords({ databases: [], untested: [], allOkAt: null, lastRunFailed }, when);
    expect(never).toMatchObject({ tone: 'danger', text: 'Last test restore failed at 2026-03-16 (KEYCHAIN_LOCKED)' });
    // A failing database stays named first; the run's failure is in the detail.
    const both = provenInWords({ databases: [{ database: 'x', ok: false, at: '2026-03-09T04:00:00Z', durationMs: null }], untested: [], allOkAt: null, lastRunFailed }, when);
    expect(both).toMatchObject({ tone: 'danger', text: 'Not restorable as recorded: x', detail: expect.stringMatching(/^Last test restore at 2026-03-16: KEYCHAIN_LOCKED/) });
  });
});
