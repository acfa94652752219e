import { describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createMemoryHistory, createRouter } from 'vue-router';
import AppSidebar from '../../../renderer/src/components/AppSidebar.vue';
import { routes } from '../../../renderer/src/router/index.ts';

async function sidebarAt(path: string) {
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push(path);
  await router.isReady();
  const wrapper = mount(AppSidebar, { global: { plugins: [router] } });
  await flushPromises();
  return wrapper;
}

function current(wrapper: Awaited<ReturnType<typeof sidebarAt>>): string[] {
  return wrapper.findAll('a.nav-link').filter((a) => a.attributes('aria-current') === 'page' || a.classes().includes('active')).map((a) => a.attributes('data-testid')!);
}

describe('AppSidebar highlight', () => {
  it.each(['/tasks/new', '/tasks/abc-123/edit'])('highlights only "Tasks" while the task editor is open (%s)', async (path) => {
    expect(current(await sidebarAt(path))).toEqual(['nav-tasks']);
  });

  it.each([
    ['/tasks', 'nav-tasks'],
    ['/servers', 'nav-servers'],
    ['/databases', 'nav-databases'],
    ['/history', 'nav-history'],
    ['/restore', 'nav-restore'],
    ['/settings', 'nav-settings'],
  ])('highlights only the view shown (%s)', async (path, link) => {
    expect(current(await sidebarAt(path))).toEqual([link]);
  });
});
