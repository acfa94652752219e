/**
 * What the window keeps for its session (sessionStorage) besides the task editor's and
 * Settings' drafts: History's filters. Only the filter's known fields come back, each a
 * string; something unreadable gives nothing.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_FILTER } from '../../../renderer/src/components/run-stats';
import { keepHistoryFilter, keptHistoryFilter } from '../../../renderer/src/stores/kept-draft';

beforeEach(() => sessionStorage.clear());

describe('History filters kept for the session', () => {
  it('come back as kept; nothing kept gives null', () => {
    expect(keptHistoryFilter()).toBeNull();
    keepHistoryFilter({ ...EMPTY_FILTER, taskId: 't1', status: 'failed', database: 'a.db', from: '2026-11-01' });
    expect(keptHistoryFilter()).toEqual({ ...EMPTY_FILTER, taskId: 't1', status: 'failed', database: 'a.db', from: '2026-11-01' });
  });

  it('only known fields that are strings come back; unreadable text gives null', () => {
    sessionStorage.setItem('backstop.history.filter', JSON.stringify({ taskId: 't', status: 7, extra: 'x' }));
    expect(keptHistoryFilter()).toEqual({ ...EMPTY_FILTER, taskId: 't' });
    sessionStorage.setItem('backstop.history.filter', '{not json');
    expect(keptHistoryFilter()).toBeNull();
  });
});
