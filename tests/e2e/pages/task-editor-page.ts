/** The task editor (create and edit), sections A–F. */
import type { Locator, Page } from '@playwright/test';

export class TaskEditorPage {
  readonly root: Locator;
  readonly form: Locator;
  readonly name: Locator;
  readonly save: Locator;
  readonly scheduleError: Locator;
  readonly schedulePreviewRuns: Locator;
  readonly keyPanel: Locator;

  constructor(readonly page: Page) {
    this.root = page.getByTestId('view-task-editor');
    this.form = page.getByTestId('task-editor');
    this.name = page.getByTestId('task-name-input');
    this.save = page.getByTestId('task-save');
    this.scheduleError = page.getByTestId('schedule-error');
    this.schedulePreviewRuns = page.getByTestId('schedule-preview-run');
    this.keyPanel = page.getByTestId('key-panel');
  }

  async customCron(which: 'full' | 'incremental', cron: string): Promise<void> {
    await this.page.getByTestId(`schedule-${which}-kind`).selectOption('custom');
    await this.page.getByTestId(`schedule-${which}-cron`).fill(cron);
  }

  destinationPath(index = 0): Locator {
    return this.page.getByTestId(`dest-${index}-path`);
  }
}
