/** The Settings draft against the engine's settings: the user's edits, a change made elsewhere merged under them, and Save's patch of the user's own changes only. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type Settings } from '@shared/domain.ts';
import { changedFields, draftOf, mergeEdits, patchFor } from '../../../renderer/src/components/settings-draft';

const base: Settings = { ...DEFAULT_SETTINGS, maxConcurrentBackups: 2, toolPaths: { postgres: null, mysql: '/opt/mysql/bin' } };

describe('settings draft', () => {
  it('names the fields typed (spaces around a value are not a change; a number input may hand a number)', () => {
    expect(changedFields(draftOf(base), base)).toEqual([]);
    expect(changedFields({ ...draftOf(base), maxConcurrentBackups: 2, slotWarnGiB: ' 1 ' }, base)).toEqual([]);
    expect(changedFields({ ...draftOf(base), staleAfterHours: '36', pgTools: '/pg' }, base)).toEqual(['staleAfterHours', 'pgTools']);
  });

  it('a change made elsewhere shows in untouched fields; typed fields keep the typing', () => {
    const typed = { ...draftOf(base), staleAfterHours: '36' };
    const elsewhere = { ...base, maxConcurrentBackups: 6, staleAfterHours: 12 };
    expect(mergeEdits(typed, base, elsewhere)).toEqual({ ...draftOf(elsewhere), staleAfterHours: '36' });
  });

  it('Save sends only what the user changed (tool paths as a pair)', () => {
    expect(patchFor(draftOf(base), base)).toEqual({});
    expect(patchFor({ ...draftOf(base), staleAfterHours: ' 36 ', pgTools: ' /pg ' }, base)).toEqual({ staleAfterHours: 36, toolPaths: { postgres: '/pg', mysql: '/opt/mysql/bin' } });
    expect(patchFor({ ...draftOf({ ...base, staleAfterHours: 5 }), staleAfterHours: '' }, { ...base, staleAfterHours: 5 })).toEqual({ staleAfterHours: null });
  });
});
