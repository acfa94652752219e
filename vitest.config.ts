import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import { COMMANDS } from './electron/shared/ipc/contract.ts';

// Four projects: engine/CLI unit tests and main-process unit tests under Node, renderer
// component tests under happy-dom, and integration tests against real servers started by
// the harness.
// The CLI and the worker entries are built once (tests/fixtures/build-cli.ts → out/cli):
// the CLI tests run that build, and BACKSTOP_WORKER_DIR starts every test's worker
// threads from it.
const workerEnv = { BACKSTOP_WORKER_DIR: new URL('./out/cli/workers', import.meta.url).pathname };
// Each test file stores its secrets under its own keychain service (tests/fixtures/keychain-namespace.ts),
// and has an XDG_CONFIG_HOME of its own, so its default data folder (an engine or a
// `backstop` command started without --data-dir) is its own throwaway one
// (tests/fixtures/config-home-per-file.ts).
const ownPerFile = ['tests/fixtures/keychain-namespace.ts', 'tests/fixtures/config-home-per-file.ts'];
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
// Integration files keep a fresh worker each (isolate, the default): sharing one let an SDK's
// changes to a fixture object leak into a later file (the AWS SDK adds `$source` to the
// credentials object it is given, which the engine then refused as an unknown key), and which
// files share a worker depends on timing — a failure that would come and go.
function integrationWorkers() {
  const n = Number(process.env.BACKSTOP_TEST_INTEGRATION_WORKERS ?? 2);
  return n > 1 ? { fileParallelism: true, maxWorkers: n, sequence: { groupOrder: 1 } } : { fileParallelism: false };
}
// Unit tests (engine, CLI, main process) under Node. Most share their worker process
// (isolate: false): each file's own modules are still loaded fresh, but the packages they
// import load once per worker, not once per file (unit + renderer: 187 s -> 105 s on 2 cores).
function unitProject(test: { name: string; include: string[]; exclude?: string[]; isolate?: boolean }) {
  return {
    // As electron.vite.config.ts inlines them into the preload bundle (tests/unit/main/preload.test.ts).
    define: { __BACKSTOP_COMMANDS__: JSON.stringify(COMMANDS) },
    test: {
      ...test,
      globalSetup: ['tests/fixtures/build-cli.ts'],
      setupFiles: ownPerFile,
      env: workerEnv,
      environment: 'node' as const,
      testTimeout: 30_000,
    },
  };
}
export default defineConfig({
  test: {
    // Once per run, whichever projects run: a throwaway XDG_CONFIG_HOME for every test
    // process and command, and a check that the run left the developer's real Backstop data
    // folder alone (tests/fixtures/private-config-home.ts).
    globalSetup: ['tests/fixtures/private-config-home.ts'],
    projects: [
      unitProject({
        name: 'unit',
        include: ['tests/unit/**/*.test.ts'],
        exclude: ['tests/unit/renderer/**', 'tests/unit/main/**'],
        isolate: false,
      }),
      // The Electron main-process tests mock the `electron` package (vi.mock): a mocked
      // package stays in a shared worker's module cache, so these keep a fresh worker each.
      unitProject({ name: 'unit-main', include: ['tests/unit/main/**/*.test.ts'] }),
      {
        plugins: [vue()],
        resolve: { alias: { '@shared': new URL('./electron/shared', import.meta.url).pathname } },
        test: {
          name: 'renderer',
          include: ['tests/unit/renderer/**/*.test.ts'],
          environment: 'happy-dom',
          isolate: false,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/fixtures/build-cli.ts'],
          // …and records each file's CPU seconds (tests/fixtures/cpu-report.ts).
          setupFiles: [...ownPerFile, 'tests/fixtures/cpu-report.ts'],
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
