import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import { COMMANDS } from './electron/shared/ipc/contract.ts';

// Three projects: engine/main unit tests under Node, renderer component tests under
// happy-dom, and integration tests against real servers started by the harness.
// The CLI and the worker entries are built once (tests/fixtures/build-cli.ts → out/cli):
// the CLI tests run that build, and BACKSTOP_WORKER_DIR starts every test's worker
// threads from it.
const workerEnv = { BACKSTOP_WORKER_DIR: new URL('./out/cli/workers', import.meta.url).pathname };
// Each test file stores its secrets under its own keychain service (tests/fixtures/keychain-namespace.ts).
const keychainNamespace = ['tests/fixtures/keychain-namespace.ts'];
// Integration files run two at a time (each starts its own servers on free ports, in its own
// temp folders, and stores its secrets under its own keychain service); set
// BACKSTOP_TEST_INTEGRATION_WORKERS=1 to run them one at a time, or a larger N on a bigger
// machine. On 2 cores two workers are about twice as fast on a quiet machine; on a heavily
// loaded one the gain shrinks (measured on 6 files: 100 s vs 210 s at load 4-6, 525 s vs
// 574 s at load 19-28). All 92 files pass with 2 workers; a machine loaded past ~10 per core
// can push the slowest reliability tests (wal-kill) past their own timeouts.
// A project with its own maxWorkers must run in a group of its own (vitest refuses two
// projects with different maxWorkers in one `sequence.groupOrder`): the integration files run
// after the unit and renderer ones.
function integrationWorkers() {
  const n = Number(process.env.BACKSTOP_TEST_INTEGRATION_WORKERS ?? 2);
  return n > 1 ? { fileParallelism: true, maxWorkers: n, sequence: { groupOrder: 1 } } : { fileParallelism: false };
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
          setupFiles: keychainNamespace,
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
          setupFiles: keychainNamespace,
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
