/** The History view: filters, run rows with their detail, charts. */
import { expect, type Locator, type Page } from '@playwright/test';
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

/** Every table in the view fits its card: nothing scrolls sideways, no cell ends past the card's edge. */
export async function expectHistoryTablesFit(page: Page): Promise<void> {
  const problems = await page.evaluate(() => {
    const out: string[] = [];
    for (const card of Array.from(document.querySelectorAll<HTMLElement>('[data-testid="view-history"] .table-card'))) {
      if (card.scrollWidth > card.clientWidth) out.push(`card scrolls: ${card.scrollWidth} > ${card.clientWidth}`);
      const edge = card.getBoundingClientRect().right;
      for (const cell of Array.from(card.querySelectorAll<HTMLElement>('th, td'))) {
        const r = cell.getBoundingClientRect();
        if (r.width > 0 && r.right > edge + 0.5) out.push(`cell "${cell.textContent?.trim().slice(0, 40)}" ends at ${r.right} past ${edge}`);
        if (cell.scrollWidth > cell.clientWidth + 1) out.push(`cell "${cell.textContent?.trim().slice(0, 40)}" overflows: ${cell.scrollWidth} > ${cell.clientWidth}`);
      }
      for (const table of Array.from(card.querySelectorAll<HTMLElement>('table'))) {
        if (table.getBoundingClientRect().right > edge + 0.5) out.push(`a table ends past the card (${table.getBoundingClientRect().right} > ${edge})`);
      }
    }
    const view = document.querySelector<HTMLElement>('main');
    if (view && view.scrollWidth > view.clientWidth) out.push(`the view scrolls sideways: ${view.scrollWidth} > ${view.clientWidth}`);
    return out;
  });
  expect(problems).toEqual([]);
}
