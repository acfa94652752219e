/**
 * The restore-point picker with a year of points (2,000 in one folder): the rows rendered
 * are a page (counted, not timed), more on request, or the newest up to a chosen day; the
 * point chosen stays listed. Over the fake bridge (the e2e restore-points-year.spec drives
 * a real folder).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackupFolderInfo, RestorePoint } from '@shared/domain.ts';
import { POINT_PAGE, pointWindow } from '../../../renderer/src/components/restore/point-window';
import { installFakeBridge, removeBridge, type FakeBridge } from './fake-bridge';
import { mountRestoreAt } from './restore-mount';
import { formatDateTimeSeconds } from '../../../renderer/src/components/format';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 1, 0, 30);
/** `n` hourly points, oldest first (as the engine lists them). */
const points = (n: number): RestorePoint[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `p${String(i).padStart(5, '0')}`, kind: i % 24 === 0 ? 'full' : 'incremental', backupType: 'logical', createdAt: new Date(START + i * HOUR).toISOString(),
    length: 1024, format: 'sqlite-file', chainId: 'c', engineVersion: '3', bytesAdded: 10,
  }));
const localDay = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

describe('pointWindow', () => {
  const all = points(2000);
  it('lists the newest page, newest first, and counts the older ones', () => {
    const w = pointWindow(all, POINT_PAGE, '', '');
    expect(w.rows).toHaveLength(POINT_PAGE);
    expect(w.rows[0]!.id).toBe('p01999');
    expect(w.older).toBe(2000 - POINT_PAGE);
    expect(pointWindow(all, 5000, '', '').older).toBe(0);
  });

  it('up to a day: the newest points created before that local day ends; a half-typed day is no bound', () => {
    const day = localDay(START + 500 * HOUR);
    const w = pointWindow(all, POINT_PAGE, day, '');
    const end = new Date(`${day}T00:00:00`).getTime() + 24 * HOUR;
    expect(w.rows.every((p) => Date.parse(p.createdAt) < end)).toBe(true);
    expect(Date.parse(w.rows[0]!.createdAt)).toBeGreaterThanOrEqual(end - HOUR);
    expect(pointWindow(all, POINT_PAGE, '2026-0', '').rows[0]!.id).toBe('p01999');
    expect(pointWindow(all, POINT_PAGE, '2025-12-01', '')).toEqual({ rows: [], older: 0 });
  });

  it('keeps the chosen point listed, in time order, when it is outside the window', () => {
    const w = pointWindow(all, POINT_PAGE, '', 'p00003');
    expect(w.rows).toHaveLength(POINT_PAGE + 1);
    expect(w.rows[w.rows.length - 1]!.id).toBe('p00003');
  });
});

describe('the restore-point picker with 2,000 points', () => {
  it('renders a page, shows older ones on request, jumps to a day, and keeps the choice', async () => {
    const info: BackupFolderInfo = {
      location: '/b/app.db', database: 'app.db', serverIdentity: 'x', serverKind: 'sqlite', encrypted: false, keyFingerprint: null, needsKey: false, points: points(2000),
    };
    const w = await mountRestoreAt(fake, info, []);
    const rows = () => w.findAll('[data-testid="restore-point"]');
    expect(rows()).toHaveLength(POINT_PAGE);
    expect(w.get('[data-testid="restore-point-count"]').text()).toBe('2000 points in this folder');
    await w.get('[data-testid="restore-points-older"]').trigger('click');
    expect(rows()).toHaveLength(2 * POINT_PAGE);

    const day = localDay(START + 300 * HOUR);
    await w.get('[data-testid="restore-point-up-to"]').setValue(day);
    expect(rows()).toHaveLength(POINT_PAGE);
    const chosen = rows()[10]!;
    const id = chosen.get('input').attributes('value')!;
    await chosen.get('input').setValue(true);
    // Back to the newest: the chosen point (from that day) stays listed and chosen.
    await w.get('[data-testid="restore-point-up-to"]').setValue('');
    expect(rows()).toHaveLength(POINT_PAGE + 1);
    const kept = w.get(`#point-${id}`).element as HTMLInputElement;
    expect(kept.checked).toBe(true);
  });

  it('names the points whose manifest cannot be read (the newest five and how many older), listing the others', async () => {
    const all = points(2000);
    const bad = (i: number) => ({ id: `q${i}`, code: 'INTEGRITY', message: `Restore point q${i} is damaged` });
    const info: BackupFolderInfo = {
      location: '/b/app.db', database: 'app.db', serverIdentity: 'x', serverKind: 'sqlite', encrypted: false, keyFingerprint: null, needsKey: false, points: all, unreadable: [1, 2, 3, 4, 5, 6, 7].map(bad),
    };
    const w = await mountRestoreAt(fake, info, []);
    expect(w.findAll('[data-testid="restore-point"]')).toHaveLength(POINT_PAGE);
    expect(w.get('[data-testid="restore-unreadable"]').text()).toMatch(/^7 restore points in this folder cannot be read and are not listed:\s+q3, q4, q5, q6, q7 and 2 older\. “Verify all points” says what is wrong with them; the points listed restore as usual\.$/);
    removeBridge();
    document.body.innerHTML = '';
    fake = installFakeBridge();
    const one = await mountRestoreAt(fake, { ...info, unreadable: [bad(9)] }, []);
    expect(one.get('[data-testid="restore-unreadable"]').text()).toContain('1 restore point in this folder cannot be read and is not listed: q9.');
    const none = await mountRestoreAt(fake, { ...info, unreadable: undefined }, []);
    expect(none.find('[data-testid="restore-unreadable"]').exists()).toBe(false);
  });

  it('after a clock set back: the "Latest" line names the last point written (it continues the full dated ahead), the list shows them by date', async () => {
    const now = Date.now();
    const at = (ms: number) => new Date(ms).toISOString();
    const base = { backupType: 'logical' as const, length: 1024, format: 'sqlite-file', chainId: 'full', engineVersion: '3', bytesAdded: 10 };
    const info: BackupFolderInfo = {
      location: '/b/app.db', database: 'app.db', serverIdentity: 'x', serverKind: 'sqlite', encrypted: false, keyFingerprint: null, needsKey: false,
      // As the engine lists them, by date: the full was written 40 minutes ahead, the incrementals after the correction.
      points: [
        { ...base, id: 'first', kind: 'incremental', createdAt: at(now - 2 * 60_000), parentId: 'full' },
        { ...base, id: 'second', kind: 'incremental', createdAt: at(now - 60_000), parentId: 'first' },
        { ...base, id: 'full', kind: 'full', createdAt: at(now + 40 * 60_000), parentId: null },
      ],
    };
    const w = await mountRestoreAt(fake, info, []);
    const latest = w.get('label[for="point-latest"]').text();
    expect(latest).toContain(formatDateTimeSeconds(at(now - 60_000)));
    expect(latest).toContain('incremental');
    expect(w.findAll('[data-testid="restore-point"]').map((r) => r.get('input').attributes('value'))).toEqual(['full', 'second', 'first']);
  });
});
