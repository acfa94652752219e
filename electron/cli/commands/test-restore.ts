/**
 * `backstop test-restore --config task.json`: one test restore of the task now (issue #22):
 * the latest point of each database at the task's first destination restored into a
 * scratch target on the task's server (or its "testServer"), checked, and removed; recorded in the data dir's
 * history as a test-restore run.
 */
import type { Engine } from '../../engine/index.ts';
import type { TestRestoreSummary } from '../../engine/test-restore/index.ts';
import { inFileTerms } from '../task-file.ts';
import { loadTaskFile } from './backup.ts';

export async function testRestoreCommand(engine: Engine, configPath: string, keyFile: string | undefined): Promise<TestRestoreSummary> {
  const { task, server, password, key, credentials, toolPaths, testServer } = loadTaskFile(configPath, keyFile);
  const summary = await engine.testRestores.run({ task, server, password, key, credentials, persisted: false, ...(toolPaths ? { toolPaths } : {}), ...(testServer ? { testServer } : {}) }, 'cli');
  // A failure of the test server names the keys of "testServer", not those of "server".
  const prefix = summary.error?.message.startsWith('The test server') ? 'testServer.' : 'server.';
  return { ...summary, error: summary.error ? inFileTerms(summary.error, configPath, prefix) : null };
}
