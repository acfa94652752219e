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
// Integration files run two at a time by default (BACKSTOP_TEST_INTEGRATION_WORKERS=1 runs
// them one at a time): each file starts its own servers on free ports, in its own temp
// folders, and stores its secrets under its own keychain service. The fault tests that used to
// race a deadline against the product under that load (sftp-faults: "the upload never
// started"; wal-kill's timeouts) now wait on what the product did (a pack's temp file on the
// server or the run's end, a fault proxy's event, a restored cluster's promotion) and only
// the test timeout bounds a hang.
// A project with its own maxWorkers must run in a group of its own (vitest refuses two
// projects with different maxWorkers in one `sequence.groupOrder`): with N > 1 the integration
// files run after the unit and renderer ones.
// Integration files share their worker process (isolate: false): each file's own modules
// (sources, fixtures, its setup file) are still loaded fresh for it, but the heavy
// dependencies (AWS and Azure SDKs, ssh2, basic-ftp, libsql…) are imported once per worker
// instead of once per file — about a third of a small file's time (import 28.6 s → 10.1 s
// for 20 small files). Every file stops the servers and processes it starts (afterAll).
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
          isolate: false,
          ...integrationWorkers(),
        },
      },
    ],
  },
});
