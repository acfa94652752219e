/** The window around every view: the sidebar navigation. */
import { expect, type Locator, type Page } from '@playwright/test';

export const VIEWS = ['tasks', 'servers', 'databases', 'history', 'restore', 'settings'] as const;
export type ViewName = (typeof VIEWS)[number];

export class AppShell {
  readonly sidebar: Locator;
  readonly nav: Locator;

  constructor(readonly page: Page) {
    this.sidebar = page.getByTestId('sidebar');
    this.nav = page.getByRole('navigation', { name: 'Main' });
  }

  navLink(view: ViewName): Locator {
    return this.page.getByTestId(`nav-${view}`);
  }

  view(view: ViewName): Locator {
    return this.page.getByTestId(`view-${view}`);
  }

  /** Navigates the way a user does (sidebar link) and waits for the view. */
  async open(view: ViewName): Promise<Locator> {
    await this.navLink(view).click();
    await expect(this.view(view)).toBeVisible();
    await expect(this.navLink(view)).toHaveAttribute('aria-current', 'page');
    return this.view(view);
  }
}
