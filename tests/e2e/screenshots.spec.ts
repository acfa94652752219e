/**
 * A screenshot of every view in light and dark, after a real demo backup, saved as test
 * attachments (test-results/e2e/…). Also checks the small-window layout (800×560): no view
 * scrolls sideways.
 */
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { VIEWS } from './pages/app-shell';
import { AppShell } from './pages/app-shell';

// A real backup of the sample databases takes several seconds on the build machines.
test.describe.configure({ timeout: 120_000 });

for (const scheme of ['light', 'dark'] as const) {
  test(`every view, ${scheme}`, async ({ page, engine }, testInfo) => {
    await page.emulateMedia({ colorScheme: scheme });
    const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
    expect(demo.ok).toBe(true);
    if (!demo.ok) return;
    expect((await dispatch(engine.handlers, 'tasks.runNow', { id: demo.data.taskId, kind: 'full' })).ok).toBe(true);
    await expect.poll(async () => {
      const a = await dispatch(engine.handlers, 'runs.active', undefined);
      return a.ok ? a.data.length : -1;
    }, { timeout: 30_000 }).toBe(0);

    const shell = new AppShell(page);
    for (const view of VIEWS) {
      const root = await shell.open(view);
      if (view === 'history') await expect(root.getByTestId('history-row')).toHaveCount(1);
      await attachScreenshot(page, testInfo, `${view}-${scheme}`);
    }
    await page.goto(page.url().replace(/#.*$/, `#/tasks/${demo.data.taskId}/edit`));
    await expect(page.getByTestId('schedule-next-full')).toBeVisible();
    await attachScreenshot(page, testInfo, `task-editor-${scheme}`);

    await page.setViewportSize({ width: 800, height: 560 });
    for (const view of VIEWS) {
      await shell.open(view);
      const overflow = await page.locator('#main').evaluate((el) => el.scrollWidth - el.clientWidth);
      expect(overflow, `${view} scrolls sideways at 800×560`).toBeLessThanOrEqual(0);
      await attachScreenshot(page, testInfo, `${view}-${scheme}-small`);
    }
  });
}
