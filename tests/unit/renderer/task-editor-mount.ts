/**
 * The task editor mounted over a fake bridge, shared by the task editor tests: what the
 * editor asks the engine about the SQLite server "Files" (s1), and the app's routes in a
 * memory router with the test's own pinia.
 */
import type { Component } from 'vue';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createMemoryHistory, createRouter, RouterView } from 'vue-router';
import type { ServerCheck } from '@shared/domain.ts';
import { routes } from '../../../renderer/src/router';
import { ok, sqliteServer, type FakeBridge } from './fake-bridge';

/** A SQLite server's check: both backup types available, per database. */
export const SQLITE_CHECK: ServerCheck = {
  serverVersion: 'SQLite 3',
  tools: [],
  warnings: [],
  support: { logical: { available: true, scope: 'database' }, snapshot: { available: true, scope: 'database' } },
};

/**
 * The server "Files" (s1) listed, checked (SQLITE_CHECK) and holding a.db; a schedule
 * preview; every destination folder exists; no tasks, runs or keys. A test answers a
 * command again afterwards to change one.
 */
export function answerEditorQuestions(fake: FakeBridge): void {
  fake.respond('servers.list', () => ok([sqliteServer('s1', 'Files')]));
  fake.respond('tasks.list', () => ok([]));
  fake.respond('tasks.status', () => ok([]));
  fake.respond('runs.active', () => ok([]));
  fake.respond('keys.list', () => ok([]));
  fake.respond('servers.test', () => ok(SQLITE_CHECK));
  fake.respond('servers.databases', () => ok(['a.db']));
  fake.respond('schedule.preview', () => ok([{ at: '2026-01-01T02:00:00Z', kind: 'full' as const }]));
  fake.respond('destinations.checkFolder', (input) => ok({ path: (input as { path: string }).path, exists: true }));
}

/** The app's routes at `path`, rendered by `shell` (the bare router view unless given), with a new pinia made active; settled. */
export async function mountTaskEditor(path: string, shell: Component = RouterView) {
  const pinia = createPinia();
  setActivePinia(pinia);
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push(path);
  const wrapper = mount(shell, { global: { plugins: [pinia, router] }, attachTo: document.body });
  await flushPromises();
  return { wrapper, router, pinia };
}
