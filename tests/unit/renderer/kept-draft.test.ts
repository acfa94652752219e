/**
 * What the window keeps for its session (sessionStorage) besides the task editor's and
 * Settings' drafts: History's filters (only the filter's known fields come back, each a
 * string; something unreadable gives nothing), and the Restore form — the folder, the point,
 * the name and options, kept until a restore starts or the form is cleared, never the key
 * typed for an encrypted folder.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { BackupFolderInfo } from '@shared/domain.ts';
import { EMPTY_FILTER } from '../../../renderer/src/components/run-stats';
import { keepHistoryFilter, keptHistoryFilter } from '../../../renderer/src/stores/kept-draft';
import { useRestoreStore } from '../../../renderer/src/stores/restore';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';
import { point } from './restore-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
  setActivePinia(createPinia());
});
afterEach(removeBridge);

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

describe('the Restore form kept for the session', () => {
  const info: BackupFolderInfo = {
    location: '/b/shop', database: 'shop', serverIdentity: 'x', serverKind: 'mysql', encrypted: true, keyFingerprint: 'ab12', needsKey: false,
    points: [point({ id: '20260504T120000000Z-9f3a0c1b' }), point({ id: '20260505T120000000Z-0a0b0c0d', createdAt: '2026-05-05T12:00:00.000Z' })],
  };
  const where = { kind: 'local' as const, path: '/b/shop' };

  it('a new window store gets the folder, point, name and options back and reads the folder again; a start forgets them, the key is never kept', async () => {
    fake.respond('restore.inspect', () => ok(info));
    fake.respond('restore.start', () => ok({ restoreId: 'r1' }));
    const first = useRestoreStore();
    await first.inspect(where);
    first.draft.pointId = info.points[0]!.id;
    first.draft.database = 'shop_copy';
    first.draft.serverId = 'my1';
    first.draft.noPrivileges = true;
    await flushPromises();

    // "Reload": a fresh Pinia, as a reloaded window has.
    setActivePinia(createPinia());
    const second = useRestoreStore();
    expect(second.location).toEqual(where);
    expect(second.info).toBeNull();
    expect(second.draft).toMatchObject({ pointId: info.points[0]!.id, database: 'shop_copy', serverId: 'my1', noPrivileges: true });
    second.reopenKept();
    await flushPromises();
    expect(fake.commands['restore.inspect']).toHaveBeenLastCalledWith({ location: where });
    expect(second.info).toEqual(info);
    expect(second.draft.database).toBe('shop_copy');

    // The key typed for the folder goes to the engine only.
    const started = await second.startDraft({ targetKind: 'mysql', key: 'KEY-typed-in-the-dialog' });
    expect(started).toBe('r1');
    expect(JSON.stringify(fake.commands['restore.start'].mock.calls[0]![0])).toContain('KEY-typed-in-the-dialog');
    await flushPromises();
    expect(sessionStorage.getItem('backstop.restore.draft')).toBeNull();
    expect(Object.values({ ...sessionStorage }).join(' ')).not.toContain('KEY-typed');
  });

  it('"Choose another folder" (reset) forgets the kept form', async () => {
    fake.respond('restore.inspect', () => ok(info));
    const store = useRestoreStore();
    await store.inspect(where);
    await flushPromises();
    expect(sessionStorage.getItem('backstop.restore.draft')).toContain('/b/shop');
    store.reset();
    await flushPromises();
    expect(sessionStorage.getItem('backstop.restore.draft')).toBeNull();
  });
});
