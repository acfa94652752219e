/** The restore view mounted over a fake bridge and given a backup folder to read (shared by the restore view tests). */
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import type { BackupFolderInfo, Server } from '@shared/domain.ts';
import RestoreView from '../../../renderer/src/views/RestoreView.vue';
import { ok, type FakeBridge } from './fake-bridge';

/** `servers` in the list, `info` as the folder's answer, each `restore.start` answered with r1, r2, …; the folder read. */
export async function mountRestoreAt(fake: FakeBridge, info: BackupFolderInfo, servers: Server[]) {
  fake.respond('servers.list', () => ok(servers));
  fake.respond('tasks.list', () => ok([]));
  fake.respond('tasks.status', () => ok([]));
  fake.respond('restore.inspect', () => ok(info));
  fake.respond('restore.start', () => ok({ restoreId: `r${fake.commands['restore.start'].mock.calls.length}` }));
  const wrapper = mount(RestoreView, { global: { plugins: [createPinia()] }, attachTo: document.body });
  await flushPromises();
  await wrapper.get('[data-testid="restore-path"]').setValue(info.location);
  await wrapper.get('[data-testid="restore-read"]').element.closest('form')!.dispatchEvent(new Event('submit'));
  await flushPromises();
  return wrapper;
}
