/**
 * A hosting server's many databases at one S3 destination: what a run asks of the store per
 * database must not grow with the number of OTHER databases at that destination (a LIST of
 * the whole task prefix per job, or a retention pass over every folder, would). Counted on
 * the wire (the HTTP proxy in front of s3rver, forwarding everything), for a full and an
 * incremental run of a folder of 4 SQLite files and of 24, each task at its own prefix.
 */
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Destination } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { S3RVER_CREDENTIALS, startCountedS3, type CountedS3, type SeenRequest } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let s3: CountedS3;

beforeAll(async () => {
  s3 = await startCountedS3(['backstop']);
});
afterAll(async () => {
  await s3?.stop();
});

/** Requests of one kind: a LIST (GET with list-type or a prefix query), another GET/HEAD, a write (PUT/POST), a DELETE. */
function kinds(reqs: SeenRequest[], root: string): Record<'list' | 'rootList' | 'read' | 'write' | 'delete', number> {
  const out = { list: 0, rootList: 0, read: 0, write: 0, delete: 0 };
  for (const r of reqs) {
    const q = new URL(r.url, 'http://x').searchParams;
    const prefix = q.get('prefix');
    // A LIST not inside one database's folder (the task's prefix itself): its answer grows with every folder there.
    if (r.method === 'GET' && prefix !== null && !prefix.slice(root.length + 1).includes('/')) out.rootList++;
    if (r.method === 'GET' && (q.has('list-type') || q.has('prefix'))) out.list++;
    else if (r.method === 'GET' || r.method === 'HEAD') out.read++;
    else if (r.method === 'DELETE') out.delete++;
    else out.write++;
  }
  return out;
}

async function runs(n: number): Promise<Record<'full' | 'incremental', ReturnType<typeof kinds>>> {
  const engine = await testEngine({ encoderWorkers: 0 });
  const folder = tempDir();
  for (let i = 0; i < n; i++) {
    const db = new Database(join(folder, `site${String(i).padStart(2, '0')}.db`));
    db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('site ${i}')`);
    db.close();
  }
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: `files${n}`, folder }));
  const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } }));
  const dest: Destination = { kind: 's3', bucket: 'backstop', prefix: `hosting/${n}`, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef };
  const task = data(
    await engine.call('tasks.create', {
      name: `all ${n}`,
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      retention: { minAgeDays: 1, keepLast: 1 },
      destinations: [dest],
    }),
  );
  const out = {} as Record<'full' | 'incremental', ReturnType<typeof kinds>>;
  for (const kind of ['full', 'incremental'] as const) {
    s3.reset();
    const run = await runTask(engine, task.id, kind);
    expect(run.databases.map((d) => d.status)).toEqual(Array.from({ length: n }, () => 'success'));
    out[kind] = kinds(s3.requests, `hosting/${n}`);
  }
  return out;
}

it('requests per database do not grow with the other databases at the destination', { timeout: 180_000 }, async () => {
  const few = await runs(4);
  const many = await runs(24);
  // Measured: 3 LIST, 4 GET/HEAD, 5 writes, 1 DELETE per database for a full; 3, 2, 1, 1 for an incremental (retention's look included), at 4 databases and at 24.
  // Before the run's view of the folder (s3-lists-per-run.test.ts): 3, 6, 5, 1 and 7, 3, 1, 1; before the local manifest cache an incremental made 5 GET/HEAD.
  expect(few.full.list).toBeGreaterThan(0);
  for (const kind of ['full', 'incremental'] as const) {
    // No LIST of the whole destination per database: at most a constant per run.
    expect(many[kind].rootList, `${kind} root LISTs`).toBeLessThanOrEqual(few[kind].rootList);
    for (const k of ['list', 'read', 'write', 'delete'] as const) {
      // Per database, the many-database run asks at most what the few-database run asks (one request of slack for a per-run constant).
      expect(many[kind][k] / 24, `${kind} ${k}`).toBeLessThanOrEqual(few[kind][k] / 4 + 0.25);
    }
  }
});
