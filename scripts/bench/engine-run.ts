/**
 * Bench helper: a task file run through the engine inside the bench's own process, as the
 * app runs a task on schedule — the engine (app database, log) is open already and no
 * process starts, so the time is the run's alone; the CLI's row adds Node's start, loading
 * the CLI bundle and opening the data dir. The task file goes through the CLI's own loader
 * (`backupCommand`), so both rows run the same task.
 *
 * The backup job workers are ended before each run: the pool ends idle workers 10 s after
 * a run, so a scheduled run (hourly, daily) starts its threads cold, like this one.
 * Workers start from BACKSTOP_WORKER_DIR (the bench's bundled entries), as in the app.
 */
import { backupCommand } from '../../electron/cli/commands/backup.ts';
import { backupJobWorkers } from '../../electron/engine/backup/worker-executor.ts';
import { createEngine } from '../../electron/engine/index.ts';
import type { RunSummary } from '../../electron/engine/tasks/task-runner.ts';

export interface EngineRunner {
  /** Runs the task file once; `seconds` from the run's request to its recorded end. */
  run(taskFile: string, kind: 'full' | 'incremental'): Promise<{ seconds: number; summary: RunSummary }>;
  close(): Promise<void>;
}

export async function engineRunner(dataDir: string): Promise<EngineRunner> {
  const engine = await createEngine({ dataDir, origin: 'cli' });
  return {
    async run(taskFile, kind) {
      await backupJobWorkers.close();
      const t0 = performance.now();
      const summary = await backupCommand(engine, taskFile, kind, undefined);
      const seconds = (performance.now() - t0) / 1000;
      if (summary.status !== 'success') throw new Error(`the in-process ${kind} failed: ${JSON.stringify(summary.error ?? summary.databases.find((d) => d.error)?.error)}`);
      return { seconds, summary };
    },
    close: () => engine.close(),
  };
}
