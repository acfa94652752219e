/** The Tasks view. */
import type { Locator, Page } from '@playwright/test';
import { AppShell } from './app-shell';

export class TasksPage {
  readonly shell: AppShell;
  readonly root: Locator;
  readonly emptyNoServers: Locator;
  readonly emptyCreate: Locator;
  readonly rows: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.root = page.getByTestId('view-tasks');
    this.emptyNoServers = page.getByTestId('tasks-empty-no-servers');
    this.emptyCreate = page.getByTestId('tasks-empty-create');
    this.rows = page.getByTestId('task-row');
  }

  async open(): Promise<void> {
    await this.shell.open('tasks');
  }
}
