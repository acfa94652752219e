/**
 * A run at an S3 destination downloads only the manifests it has not read before (the local
 * manifest cache beside the chunk cache): every run used to GET every manifest of each
 * database's folder, and more than once (choosing the incremental's chain, then retention),
 * so a year of hourly points cost thousands of requests per database per run. Counted on the
 * wire (the HTTP proxy in front of s3rver), over a full and four incrementals of one SQLite
 * database, then the restore dialog's look at the folder and a whole-server restore's plan.
 */
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Destination } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { S3RVER_CREDENTIALS, startCountedS3, type CountedS3 } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';

let s3: CountedS3;

beforeAll(async () => {
  s3 = await startCountedS3(['backstop']);
});
afterAll(async () => {
  await s3?.stop();
});

/** GETs of manifest objects (`…/points/<id>.point`), not LISTs of the points folder. */
const manifestGets = () => s3.requests.filter((r) => r.method === 'GET' && /\/points\/[^/?]+\.point(\?|$)/.test(r.url)).length;

it('each run downloads only the manifests it has not read before', { timeout: 120_000 }, async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  const folder = tempDir();
  const file = join(folder, 'shop.db');
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES (\'first\')');
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } }));
  const dest: Destination = { kind: 's3', bucket: 'backstop', prefix: 'cached', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef };
  const task = data(
    await engine.call('tasks.create', {
      name: 'shop files',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      retention: { minAgeDays: 1, keepLast: 1 },
      destinations: [dest],
    }),
  );
  const gets: number[] = [];
  const pointIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) db.exec(`INSERT INTO t (v) VALUES ('change ${i}')`);
    s3.reset();
    const run = await runTask(engine, task.id, i === 0 ? 'full' : 'incremental');
    const [only] = run.databases;
    expect(only?.status).toBe('success');
    expect(only?.kind).toBe(i === 0 ? 'full' : 'incremental');
    pointIds.push(only!.pointId!);
    gets.push(manifestGets());
  }
  db.close();
  expect(new Set(pointIds).size).toBe(5);
  // Measured: [0, 0, 0, 0, 0] — the manifest a run commits is kept in the local cache as it was
  // stored, and retention plans on the run's view, so nothing is read back; before the run's view
  // [1, 1, 1, 1, 1] (retention read back the point it wrote); without the cache [1, 3, 5, 7, 9].
  expect(gets.slice(1).every((n) => n === 0), `manifest GETs per run: ${gets.join(', ')}`).toBe(true);

  // The restore dialog's look at the folder lists the five points from the manifests the runs read: no download.
  const location = { kind: 's3' as const, bucket: 'backstop', prefix: `cached/${encodeDatabaseFolder('shop.db')}`, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED' as const, credentialsRef };
  s3.reset();
  const info = data(await engine.call('restore.inspect', { location }));
  expect(info.points.map((p) => p.id).sort()).toEqual([...pointIds].sort());
  expect(manifestGets()).toBe(0);
  // So does a whole-server restore's plan over the task's root.
  s3.reset();
  const plan = data(await engine.call('restore.serverPlan', { destination: dest, serverId: server.id, naming: { prefix: 'copy_' } }));
  expect(plan.databases.map((d) => [d.database, d.point?.id])).toEqual([['shop.db', pointIds.at(-1)]]);
  expect(manifestGets()).toBe(0);
});
