/**
 * The task editor's "Test restores" section over a fake bridge: "Test on" offers the
 * task's own server and the other servers of its kind only (never a server of another
 * kind), the choice reaches the task input as `testRestore.serverId` (the task's own
 * server is no serverId), and a SQLite task has no "Test on" (it tests in a local folder).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Server } from '@shared/domain.ts';
import TestRestoreSection from '../../../renderer/src/components/task-editor/TestRestoreSection.vue';
import { draftToInput } from '../../../renderer/src/components/task-draft';
import { useServersStore } from '../../../renderer/src/stores/servers';
import { useTaskEditorStore } from '../../../renderer/src/stores/task-editor';
import { installFakeBridge, ok, removeBridge, sqliteServer, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const stamp = '2026-01-02T03:04:05.000Z';
const pg = (id: string, name: string): Server => ({ id, name, kind: 'postgres', host: `${id}.lan`, port: 5432, user: 'postgres', tls: 'prefer', passwordRef: null, createdAt: stamp, updatedAt: stamp });
const maria: Server = { id: 'm1', name: 'Shop MariaDB', kind: 'mysql', host: 'm1.lan', port: 3306, user: 'root', tls: 'prefer', passwordRef: null, createdAt: stamp, updatedAt: stamp };

async function mountSection(serverId: string) {
  const pinia = createPinia();
  setActivePinia(pinia);
  fake.respond('servers.list', () => ok([pg('p1', 'Production'), pg('p2', 'Scratch box'), maria, sqliteServer('s1', 'Files')]));
  await useServersStore().refresh();
  const editor = useTaskEditorStore();
  editor.draft.serverId = serverId;
  editor.draft.name = 'Nightly';
  editor.draft.destinations = [{ kind: 'local', path: '/backups' }];
  const wrapper = mount(TestRestoreSection, { global: { plugins: [pinia] }, attachTo: document.body });
  await flushPromises();
  return { wrapper, editor };
}

describe('test restores: "Test on"', () => {
  it('offers the own server and the other servers of its kind; the choice is testRestore.serverId', async () => {
    const { wrapper, editor } = await mountSection('p1');
    const select = wrapper.get('[data-testid="test-restore-server"]');
    expect(select.findAll('option').map((o) => [o.attributes('value'), o.text()])).toEqual([
      ['', 'This task’s server (Production)'],
      ['p2', 'Scratch box (PostgreSQL)'],
    ]);
    await wrapper.get('[data-testid="test-restore-cron"]').setValue('0 4 * * 0');
    expect(draftToInput(editor.draft).testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: false, maxMinutes: null });
    await select.setValue('p2');
    expect(draftToInput(editor.draft).testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: false, maxMinutes: null, serverId: 'p2' });
    await select.setValue('');
    expect(draftToInput(editor.draft).testRestore).not.toHaveProperty('serverId');
  });

  it('a SQLite task has no "Test on": it tests in a local temporary folder', async () => {
    const { wrapper } = await mountSection('s1');
    expect(wrapper.find('[data-testid="test-restore-server"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="test-restore-cron"]').exists()).toBe(true);
  });
});
