/**
 * Playwright end-to-end tests of the renderer in Debian's Chromium, wired to a real engine
 * by tests/e2e/fixtures/harness.ts. Run through `npm run test:e2e` (scripts/e2e.mjs),
 * which builds out/renderer first. Never `npx playwright install`: Chromium is the system's.
 */
import { defineConfig } from '@playwright/test';

// The harness's engine starts the workers electron-vite built (fast), when they exist.
process.env.BACKSTOP_WORKER_DIR ??= new URL('../../out/main/workers', import.meta.url).pathname;

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  outputDir: '../../test-results/e2e',
  // A throwaway XDG_CONFIG_HOME for the run, and a check at the end that the run left the
  // developer's real Backstop data folder alone (as for vitest).
  globalSetup: '../fixtures/private-config-home.ts',
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  workers: 2,
  retries: 0,
  // `npm test` asks for a JSON report too, to count passed/failed tests in its summary.
  reporter: process.env.PLAYWRIGHT_JSON_OUTPUT_FILE ? [['list'], ['json', { outputFile: process.env.PLAYWRIGHT_JSON_OUTPUT_FILE }]] : 'list',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  use: {
    headless: true,
    viewport: { width: 1180, height: 780 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
