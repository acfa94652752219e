/** The task editor (create and edit), sections A–F, its "create this folder?" question and Delete task. */
import { expect, type Locator, type Page } from '@playwright/test';

export class TaskEditorPage {
  readonly root: Locator;
  readonly form: Locator;
  readonly name: Locator;
  readonly save: Locator;
  readonly scheduleError: Locator;
  /** The next incremental runs of the preview (the next full is `nextFull`). */
  readonly schedulePreviewRuns: Locator;
  readonly nextFull: Locator;
  readonly keyPanel: Locator;
  readonly retentionDays: Locator;
  readonly retentionLast: Locator;
  /** The open modal dialog (folder question or delete confirmation). */
  readonly dialog: Locator;
  readonly saveError: Locator;

  constructor(readonly page: Page) {
    this.root = page.getByTestId('view-task-editor');
    this.form = page.getByTestId('task-editor');
    this.name = page.getByTestId('task-name-input');
    this.save = page.getByTestId('task-save');
    this.scheduleError = page.getByTestId('schedule-error');
    this.schedulePreviewRuns = page.getByTestId('schedule-next-incremental');
    this.nextFull = page.getByTestId('schedule-next-full');
    this.keyPanel = page.getByTestId('key-panel');
    this.retentionDays = page.getByTestId('retention-days');
    this.retentionLast = page.getByTestId('retention-last');
    this.dialog = page.locator('dialog[open]');
    this.saveError = this.form.getByTestId('error-notice');
  }

  async customCron(which: 'full' | 'incremental', cron: string): Promise<void> {
    await this.page.getByTestId(`schedule-${which}-kind`).selectOption('custom');
    await this.page.getByTestId(`schedule-${which}-cron`).fill(cron);
  }

  cronProblem(which: 'full' | 'incremental'): Locator {
    return this.page.getByTestId(`schedule-${which}-problem`);
  }

  destinationPath(index = 0): Locator {
    return this.page.getByTestId(`dest-${index}-path`);
  }

  /** Answers the "create the destination folder?" question that saving asks for a missing folder. */
  async answerCreateFolder(create: boolean): Promise<void> {
    await expect(this.dialog).toContainText('does not exist');
    await this.dialog.getByTestId(create ? 'confirm-ok' : 'confirm-cancel').click();
  }

  /** Delete task… → the confirmation (which says what happens) → Delete task. */
  async deleteTask(): Promise<void> {
    await this.page.getByTestId('task-delete').click();
    await expect(this.dialog).toContainText('The backups are kept');
    await this.dialog.getByTestId('confirm-ok').click();
  }
}
