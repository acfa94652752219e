/**
 * `backstop demo`: the headless proof that the main job works. In a temporary folder it
 * creates sample SQLite databases, runs a full and an incremental server-wide backup,
 * restores one database under a new name, verifies it, and reports each step.
 */
import { join } from 'node:path';
import Database from 'libsql';
import { BackstopError } from '../../shared/result.ts';
import type { Engine } from '../../engine/index.ts';
import { encodeDatabaseFolder } from '../../engine/servers/index.ts';
import { runRestore, runVerify } from '../../engine/restore/run-restore.ts';

export interface DemoStep {
  step: string;
  detail: string;
}

function count(path: string, table: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export async function demoCommand(engine: Engine, say: (s: DemoStep) => void): Promise<DemoStep[]> {
  const steps: DemoStep[] = [];
  const log = (step: string, detail: string) => {
    steps.push({ step, detail });
    say({ step, detail });
  };
  const demo = await engine.command('demo.setup');
  log('samples', `sample databases in ${demo.folder}; backups go to ${demo.backups}`);

  const run = async (kind: 'full' | 'incremental') => {
    const { done } = engine.runner.start(await engine.resolveTask(demo.taskId), kind, 'cli');
    const summary = await done;
    if (summary.status !== 'success') throw new BackstopError('DUMP_FAILED', `the ${kind} run ended ${summary.status}: ${JSON.stringify(summary.databases.map((d) => d.error).filter(Boolean))}`);
    const read = summary.databases.reduce((n, d) => n + d.bytesRead, 0);
    const stored = summary.databases.reduce((n, d) => n + d.bytesStored, 0);
    log(kind, `${summary.databases.length} databases, ${read} bytes read, ${stored} bytes stored (${summary.databases.map((d) => `${d.database}: ${d.kind}`).join(', ')})`);
  };
  await run('full');

  const shop = new Database(join(demo.folder, 'shop.db'));
  shop.exec("INSERT INTO customer (name, email, created_at) VALUES ('Demo Customer', 'demo-" + Date.now() + "@example.com', datetime('now'))");
  shop.close();
  log('change', 'added a customer to shop.db');
  await run('incremental');

  const location = { kind: 'local' as const, path: join(demo.backups, encodeDatabaseFolder('shop.db')) };
  const restoredName = `shop-restored-${Date.now()}.db`;
  const server = (await engine.command('servers.list')).find((s) => s.id === demo.serverId);
  if (!server) throw new BackstopError('NOT_FOUND', 'the demo server disappeared');
  const outcome = await runRestore(
    { op: 'restore', restoreId: 'demo', location, pointId: 'latest', server, password: null, toolPaths: {}, database: restoredName, keyBase64: null, credentials: null, options: { jobs: 1, noOwner: true, noPrivileges: false, roleMap: {}, createRoles: false, folder: null } },
    new AbortController().signal,
    () => {},
  );
  const original = count(join(demo.folder, 'shop.db'), 'customer');
  const restored = count(outcome.path!, 'customer');
  if (original !== restored) throw new BackstopError('INTEGRITY', `the restored copy has ${restored} customers, the original ${original}`);
  log('restore', `restored the latest point of shop.db as ${outcome.path} (${restored} customers, same as the original)`);

  const verify = await runVerify({ op: 'verify', location, pointId: null, keyBase64: null, credentials: null }, new AbortController().signal);
  if (!verify.ok) throw new BackstopError('INTEGRITY', verify.problems.map((p) => p.message).join('; '));
  log('verify', `${verify.pointsChecked} restore points of shop.db verified, ${verify.bytesChecked} bytes checked`);
  return steps;
}

export { demoDataDir } from './demo-data-dir.ts';
