/** The History view: filters, run rows with their detail, charts. */
import type { Locator, Page } from '@playwright/test';
import { AppShell } from './app-shell';

export class HistoryPage {
  readonly shell: AppShell;
  readonly root: Locator;
  readonly rows: Locator;
  readonly count: Locator;
  readonly detail: Locator;
  readonly charts: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.root = page.getByTestId('view-history');
    this.rows = page.getByTestId('history-row');
    this.count = page.getByTestId('history-count');
    this.detail = page.getByTestId('run-detail');
    this.charts = page.getByTestId('history-charts');
  }

  async open(): Promise<void> {
    await this.shell.open('history');
  }
}
