/** The restore view mounted over a fake bridge, and given a backup folder to read (shared by the restore view tests). */
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import type { ActiveRestore, BackupFolderInfo, RestorePoint, Server, Task } from '@shared/domain.ts';
import type { ActiveServerRestore } from '@shared/server-restore.ts';
import RestoreView from '../../../renderer/src/views/RestoreView.vue';
import { ok, type FakeBridge } from './fake-bridge';

/**
 * The restore view with `servers` and `tasks` listed and the engine running `active` (one
 * database) and `serverActive` (whole server) restores; the arrays are read at each ask, so a
 * test can add one later. Mounted and settled.
 */
export async function mountRestoreView(
  fake: FakeBridge,
  { servers = [], tasks = [], active = [], serverActive = [] }: { servers?: Server[]; tasks?: Task[]; active?: ActiveRestore[]; serverActive?: ActiveServerRestore[] } = {},
) {
  fake.respond('servers.list', () => ok(servers));
  fake.respond('tasks.list', () => ok(tasks));
  fake.respond('tasks.status', () => ok([]));
  fake.respond('restore.active', () => ok(active));
  fake.respond('restore.serverActive', () => ok(serverActive));
  const wrapper = mount(RestoreView, { global: { plugins: [createPinia()] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

/** `servers` in the list, `info` as the folder's answer, each `restore.start` answered with r1, r2, …; the folder read. */
export async function mountRestoreAt(fake: FakeBridge, info: BackupFolderInfo, servers: Server[]) {
  fake.respond('restore.inspect', () => ok(info));
  fake.respond('restore.start', () => ok({ restoreId: `r${fake.commands['restore.start'].mock.calls.length}` }));
  const wrapper = await mountRestoreView(fake, { servers });
  await wrapper.get('[data-testid="restore-path"]').setValue(info.location);
  await wrapper.get('[data-testid="restore-read"]').element.closest('form')!.dispatchEvent(new Event('submit'));
  await flushPromises();
  return wrapper;
}

const stamp = '2026-01-02T03:04:05.000Z';
/** A MariaDB and a PostgreSQL target server for the restore view tests. */
export const mariadb: Server = { id: 'my1', name: 'Shop MariaDB', kind: 'mysql', host: 'db', port: 3306, user: 'root', tls: 'prefer', passwordRef: null, createdAt: stamp, updatedAt: stamp } as Server;
export const pgServer: Server = { id: 'pg1', name: 'Production PG', kind: 'postgres', host: 'db', port: 5432, user: 'postgres', tls: 'prefer', passwordRef: null, createdAt: stamp, updatedAt: stamp };
/** A full logical MariaDB point of 4 May 2026 12:00 UTC, with `over` changed. */
export const point = (over: Partial<RestorePoint>): RestorePoint => ({
  id: '20260504T120000000Z-9f3a0c1b', kind: 'full', backupType: 'logical', createdAt: '2026-05-04T12:00:00.000Z', length: 2048,
  format: 'mysql-sql', chainId: 'c1', engineVersion: '1', bytesAdded: 1500, ...over,
});
