/**
 * What a backup run LISTs at an S3 destination, per database: one look at the database's
 * folder, shared by the steps that need it (the foreign-folder check, the incremental's chain,
 * the unchanged check, retention's plan: the run's view, ManifestStore), and a fresh listing
 * only where correctness needs one (after the write's in-flight marker landed, before a prune
 * deletes, garbage collection). Every LIST is a round trip and a billed request; the
 * incremental used to list its `points/` folder six times a run. Counted on the wire (the HTTP
 * proxy in front of s3rver) over a full, an incremental with a change, an unchanged one, a
 * second full and an incremental whose retention deletes the first chain, of two SQLite
 * databases; then each database's points and a restore of its newest point.
 */
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Destination } from '../../../electron/shared/domain.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { S3RVER_CREDENTIALS, startCountedS3, type CountedS3 } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let s3: CountedS3;
beforeAll(async () => {
  s3 = await startCountedS3(['backstop']);
});
afterAll(async () => {
  await s3?.stop();
});

const NAMES = ['shop.db', 'blog.db'];
/** LISTs (a GET on the bucket with a prefix) inside each database's folder: all of them, and those of its `points/`. */
function listsPerDatabase(root: string): Map<string, { all: number; points: number }> {
  const out = new Map(NAMES.map((n) => [n, { all: 0, points: 0 }]));
  for (const r of s3.requests) {
    const q = new URL(r.url, 'http://x').searchParams;
    const prefix = q.get('prefix');
    if (r.method !== 'GET' || prefix === null) continue;
    const name = NAMES.find((n) => prefix.startsWith(`${root}/${encodeDatabaseFolder(n)}/`));
    if (!name) continue;
    out.get(name)!.all++;
    if (prefix.endsWith('/points/')) out.get(name)!.points++;
  }
  return out;
}

it('a run lists each database folder once, and again only where it must see the folder as it is now', { timeout: 150_000 }, async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  const folder = tempDir();
  const dbs = NAMES.map((n) => {
    const db = new Database(join(folder, n));
    db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('${n} first')`);
    return db;
  });
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } }));
  const dest: Destination = { kind: 's3', bucket: 'backstop', prefix: 'lists', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef };
  // Retention keeps the newest two points and the fulls they need (no minimum age): the fifth run deletes the first chain.
  const task = data(
    await engine.call('tasks.create', {
      name: 'sites',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 2 },
      destinations: [dest],
    }),
  );
  // [label, kind, change the data first, most LISTs of `points/` per database, most LISTs per database]
  // Measured before the run's view: 1/3 (first full), 6/7, 6/7, 2/3, 8/13; now 1/3, 2/3, 2/3, 1/2, 5/10.
  const steps = [
    ['first full', 'full', false, 1, 3],
    ['incremental with a change', 'incremental', true, 2, 3],
    ['unchanged incremental', 'incremental', false, 2, 3],
    ['second full', 'full', true, 1, 2],
    ['incremental whose retention deletes the first chain', 'incremental', true, 5, 10],
  ] as const;
  const pointIds: Record<string, string[]> = Object.fromEntries(NAMES.map((n) => [n, []]));
  for (const [label, kind, change, points, all] of steps) {
    if (change) for (const [i, db] of dbs.entries()) db.exec(`INSERT INTO t (v) VALUES ('${NAMES[i]} ${label}')`);
    s3.reset();
    const run = await runTask(engine, task.id, kind);
    expect(run.databases.map((d) => [d.status, d.kind])).toEqual(NAMES.map(() => ['success', kind]));
    for (const d of run.databases) if (d.pointId) pointIds[d.database]!.push(d.pointId);
    for (const [name, n] of listsPerDatabase('lists')) {
      expect(n.points, `${label}: LISTs of ${name}'s points/`).toBeLessThanOrEqual(points);
      expect(n.all, `${label}: LISTs in ${name}'s folder`).toBeLessThanOrEqual(all);
      expect(n.points, `${label}: ${name}'s points/ listed at all (the count sees them)`).toBeGreaterThan(0);
    }
  }
  for (const db of dbs) db.close();

  for (const [i, name] of NAMES.entries()) {
    const written = pointIds[name]!;
    // The unchanged incremental stored nothing: four points, the first two (the first chain) pruned.
    expect(written).toHaveLength(4);
    const location = { kind: 's3' as const, bucket: 'backstop', prefix: `lists/${encodeDatabaseFolder(name)}`, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED' as const, credentialsRef };
    const info = data(await engine.call('restore.inspect', { location }));
    expect(info.points.map((p) => p.id).sort()).toEqual(written.slice(2).sort());
    const restored = await restoreAndWait(engine, { location, pointId: 'latest', serverId: server.id, database: `copy-${name}` });
    expect(restored).toMatchObject({ status: 'success', error: null });
    const copy = new Database(join(folder, `copy-${name}`));
    expect(copy.prepare('SELECT v FROM t ORDER BY id').all().map((r) => (r as { v: string }).v)).toEqual([
      `${NAMES[i]} first`,
      `${NAMES[i]} incremental with a change`,
      `${NAMES[i]} second full`,
      `${NAMES[i]} incremental whose retention deletes the first chain`,
    ]);
    copy.close();
  }
});
