import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import { COMMANDS } from './electron/shared/ipc/contract.ts';

// Three projects: engine/main unit tests under Node, renderer component tests under
// happy-dom, and integration tests against real servers started by the harness.
// The CLI and the worker entries are built once (tests/fixtures/build-cli.ts → out/cli):
// the CLI tests run that build, and BACKSTOP_WORKER_DIR starts every test's worker
// threads from it.
const workerEnv = { BACKSTOP_WORKER_DIR: new URL('./out/cli/workers', import.meta.url).pathname };
// Integration files run one at a time unless BACKSTOP_TEST_INTEGRATION_WORKERS asks for more
// (each starts its own servers on free ports). Measured on 6 files (59 tests), 2 cores: 2 workers
// 100 s vs 1 worker 210 s at load 4-6, but 525 s vs 574 s at load 19-28. Not yet run over the
// whole suite; shared state two files could trip over: the SMTP password's fixed keychain name
// (notifications/*.test.ts) and encryption keys stored under their fingerprint.
function integrationWorkers() {
  const n = Number(process.env.BACKSTOP_TEST_INTEGRATION_WORKERS ?? 1);
  return n > 1 ? { fileParallelism: true, maxWorkers: n } : { fileParallelism: false };
}
export default defineConfig({
  test: {
    projects: [
      {
        // As electron.vite.config.ts inlines them into the preload bundle (tests/unit/main/preload.test.ts).
        define: { __BACKSTOP_COMMANDS__: JSON.stringify(COMMANDS) },
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          globalSetup: ['tests/fixtures/build-cli.ts'],
          env: workerEnv,
          exclude: ['tests/unit/renderer/**'],
          environment: 'node',
          testTimeout: 30_000,
        },
      },
      {
        plugins: [vue()],
        resolve: { alias: { '@shared': new URL('./electron/shared', import.meta.url).pathname } },
        test: {
          name: 'renderer',
          include: ['tests/unit/renderer/**/*.test.ts'],
          environment: 'happy-dom',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/fixtures/build-cli.ts'],
          env: workerEnv,
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          ...integrationWorkers(),
        },
      },
    ],
  },
});
