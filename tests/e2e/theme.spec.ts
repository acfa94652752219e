/**
 * The palette is written once (light-dark() per colour): the OS preference picks it unless
 * Settings → Theme (<html data-theme>) overrides it, in both directions.
 */
import { expect, test } from './fixtures/harness';

const BACKGROUND = { light: 'rgb(245, 246, 248)', dark: 'rgb(17, 20, 25)' };

test('the OS preference picks the palette unless the theme setting overrides it', async ({ page }) => {
  for (const os of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: os });
    for (const choice of ['system', 'light', 'dark'] as const) {
      const bg = await page.evaluate((t) => {
        if (t === 'system') delete document.documentElement.dataset.theme;
        else document.documentElement.dataset.theme = t;
        return getComputedStyle(document.body).backgroundColor;
      }, choice);
      expect(bg, `OS ${os}, theme ${choice}`).toBe(BACKGROUND[choice === 'system' ? os : choice]);
    }
  }
});
