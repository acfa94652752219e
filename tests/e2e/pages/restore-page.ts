/** The Restore view: source (a task's destination, drop zone, picker, typed path), points, target, outcome. */
import type { Locator, Page } from '@playwright/test';
import { AppShell } from './app-shell';

export class RestorePage {
  readonly shell: AppShell;
  readonly root: Locator;
  readonly choose: Locator;
  readonly path: Locator;
  readonly read: Locator;
  readonly inspectError: Locator;
  readonly info: Locator;
  readonly points: Locator;
  readonly target: Locator;
  readonly submit: Locator;
  readonly result: Locator;
  /** The folders a destination root offers (database folders, server-level streams). */
  readonly choices: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.root = page.getByTestId('view-restore');
    this.choose = page.getByTestId('restore-choose');
    this.path = page.getByTestId('restore-path');
    this.read = page.getByTestId('restore-read');
    this.inspectError = page.getByTestId('restore-inspect-error');
    this.info = page.getByTestId('restore-info');
    this.points = page.getByTestId('restore-point');
    this.target = page.getByTestId('restore-target');
    this.submit = page.getByTestId('restore-submit');
    this.result = page.getByTestId('restore-result');
    this.choices = page.getByTestId('restore-choice');
  }

  async open(): Promise<void> {
    await this.shell.open('restore');
  }

  /** "Whole server": the first task destination onto `serverId` under a prefix, then "Show the plan". */
  async planWholeServer(serverId: string, prefix: string): Promise<void> {
    await this.open();
    await this.page.getByTestId('restore-scope-server').click();
    await this.page.getByTestId('ws-source').selectOption({ index: 1 });
    await this.page.getByTestId('ws-server').selectOption(serverId);
    await this.page.getByTestId('ws-affix').fill(prefix);
    await this.page.getByTestId('ws-plan').click();
  }

  async readPath(path: string): Promise<void> {
    await this.path.fill(path);
    await this.read.click();
  }
}
