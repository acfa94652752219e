/**
 * The app's five views, and the task editor (create and edit) under /tasks. Hash history: the packaged app loads index.html from file://,
 * where path-based URLs would point at files that do not exist. Views are bundled eagerly:
 * they load from local disk, so splitting them would only add a flash on first navigation.
 */
import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router';
import DatabasesView from '../views/DatabasesView.vue';
import HistoryView from '../views/HistoryView.vue';
import RestoreView from '../views/RestoreView.vue';
import ServersView from '../views/ServersView.vue';
import SettingsView from '../views/SettingsView.vue';
import TaskEditorView from '../views/TaskEditorView.vue';
import TasksView from '../views/TasksView.vue';

export const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/tasks' },
  { path: '/tasks', name: 'tasks', component: TasksView, meta: { title: 'Tasks' } },
  { path: '/tasks/new', name: 'task-new', component: TaskEditorView, meta: { title: 'New task' } },
  { path: '/tasks/:id/edit', name: 'task-edit', component: TaskEditorView, meta: { title: 'Edit task' } },
  { path: '/servers', name: 'servers', component: ServersView, meta: { title: 'Servers' } },
  { path: '/databases', name: 'databases', component: DatabasesView, meta: { title: 'Databases' } },
  { path: '/history', name: 'history', component: HistoryView, meta: { title: 'History' } },
  { path: '/restore', name: 'restore', component: RestoreView, meta: { title: 'Restore' } },
  { path: '/settings', name: 'settings', component: SettingsView, meta: { title: 'Settings' } },
  { path: '/:pathMatch(.*)*', redirect: '/tasks' },
];

declare module 'vue-router' {
  interface RouteMeta {
    title?: string;
  }
}

export function createAppRouter() {
  const router = createRouter({ history: createWebHashHistory(), routes });
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · Backstop` : 'Backstop';
  });
  return router;
}
