/** The Tasks view: first-run empty states, task cards (status, run now, progress). */
import { expect, type Locator, type Page } from '@playwright/test';
import { AppShell } from './app-shell';

export class TasksPage {
  readonly shell: AppShell;
  readonly root: Locator;
  readonly emptyNoServers: Locator;
  readonly emptyCreate: Locator;
  readonly rows: Locator;
  readonly demoReady: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.root = page.getByTestId('view-tasks');
    this.emptyNoServers = page.getByTestId('tasks-empty-no-servers');
    this.emptyCreate = page.getByTestId('tasks-empty-create');
    this.rows = page.getByTestId('task-row');
    this.demoReady = page.getByTestId('demo-ready');
  }

  async open(): Promise<void> {
    await this.shell.open('tasks');
  }

  row(name: string): Locator {
    return this.rows.filter({ has: this.page.getByTestId('task-name').getByText(name, { exact: true }) });
  }

  /** Run now ▸ Full / Incremental on a task card. */
  async runNow(name: string, kind: 'full' | 'incremental'): Promise<void> {
    const row = this.row(name);
    await row.getByTestId('task-run-now').click();
    await row.getByTestId(`task-run-${kind}`).click();
  }

  /** Waits until the card's last result shows `label` (e.g. "Succeeded"). */
  async waitForLastResult(name: string, label: string, timeout = 30_000): Promise<void> {
    await expect(this.row(name).getByTestId('task-last-result')).toContainText(label, { timeout });
  }
}
