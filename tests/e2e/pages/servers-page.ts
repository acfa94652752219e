/** The Servers view: list, "add a server" form, delete confirmation. */
import { expect, type Locator, type Page } from '@playwright/test';
import { AppShell } from './app-shell';

export class ServersPage {
  readonly shell: AppShell;
  readonly root: Locator;
  readonly addButton: Locator;
  readonly empty: Locator;
  readonly form: Locator;
  readonly rows: Locator;
  readonly formError: Locator;
  readonly confirmDialog: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.root = page.getByTestId('view-servers');
    this.addButton = page.getByTestId('add-server');
    this.empty = page.getByTestId('servers-empty');
    this.form = page.getByTestId('server-form');
    this.rows = page.getByTestId('server-row');
    this.formError = this.form.getByTestId('error-notice');
    this.confirmDialog = page.getByTestId('confirm-dialog');
  }

  async open(): Promise<void> {
    await this.shell.open('servers');
  }

  row(name: string): Locator {
    return this.rows.filter({ has: this.page.getByTestId('server-row-name').getByText(name, { exact: true }) });
  }

  /** Opens the form from whichever entry point the view shows (empty state or header). */
  async startAdding(kind: 'postgres' | 'mysql' | 'sqlite'): Promise<void> {
    await expect(this.empty.or(this.addButton)).toBeVisible();
    if (await this.empty.isVisible()) {
      await this.page.getByTestId(`empty-add-${kind}`).click();
    } else {
      await this.addButton.click();
      // The kind card's label is what a person clicks (its badge covers the radio itself).
      await this.form.locator('label', { has: this.page.getByTestId(`server-kind-${kind}`) }).click();
      await expect(this.form.getByTestId(`server-kind-${kind}`)).toBeChecked();
    }
    await expect(this.form).toBeVisible();
  }

  async addSqliteFolder(name: string, folder: string): Promise<void> {
    await this.startAdding('sqlite');
    await this.form.getByLabel('Name', { exact: true }).fill(name);
    await this.form.getByLabel('Folder', { exact: true }).fill(folder);
    await this.form.getByTestId('server-submit').click();
  }

  async deleteServer(name: string): Promise<void> {
    await this.row(name).getByRole('button', { name: `Delete ${name}` }).click();
    await expect(this.confirmDialog).toBeVisible();
    await this.confirmDialog.getByTestId('confirm-ok').click();
  }
}
