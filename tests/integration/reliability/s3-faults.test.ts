/**
 * S3 faults at a steady rate — 500s, throttling (503 SlowDown), connection resets before
 * and during a response, slow bodies — injected by an HTTP proxy in front of s3rver on
 * the real S3 backend path (task file → engine → S3Backend → AWS SDK). Every run finishes
 * or fails cleanly (a known, non-INTERNAL code per database), nothing committed is lost:
 * all earlier points still verify through a fault-free connection, GC never takes a pack a
 * point needs, and the newest point restores with the right rows.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Location } from '../../../electron/engine/destinations/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { ERROR_CODES } from '../../../electron/shared/result.ts';
import { cli, Scratch } from '../../fixtures/reliability/common.ts';
import { garbageReport } from '../../fixtures/reliability/repo-check.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/s3-fault-proxy.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? 4242);
const scratch = new Scratch();
let s3: S3rverHandle;
let proxy: FaultProxy;
const saved = { ...process.env };

beforeAll(async () => {
  s3 = await startS3rver(['backstop']);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: SEED });
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  process.env.BACKSTOP_S3_ENDPOINT = s3.endpoint; // reads for checking go around the proxy
});
afterAll(async () => {
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'BACKSTOP_S3_ENDPOINT']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await proxy?.close();
  await s3?.stop();
  scratch.cleanup();
});

function grow(path: string, rows: number): number {
  const db = new Database(path);
  db.exec('CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, v TEXT)');
  const ins = db.prepare('INSERT INTO ledger (v) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) ins.run(randomBytes(96).toString('hex'));
  })();
  const n = (db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
  db.close();
  return n;
}

describe('S3 faults at a steady rate', () => {
  it('runs finish or fail cleanly and nothing committed is lost', async () => {
    const folder = scratch.dir();
    const dataDir = scratch.dir();
    const dbs = ['a.db', 'b.db'];
    for (const d of dbs) grow(join(folder, d), 2_000);
    const task = join(scratch.dir(), 'task.json');
    writeFileSync(
      task,
      JSON.stringify({
        name: 's3',
        server: { kind: 'sqlite', folder },
        type: 'snapshot',
        schedule: { full: '0 2 * * 0', incremental: '0 * * * *' },
        destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'rel', endpoint: proxy.endpoint, forcePathStyle: true }],
      }),
    );
    const location = (d: string) => `s3://backstop/rel/${encodeDatabaseFolder(d)}`;
    const committed = new Map<string, Set<string>>(dbs.map((d) => [d, new Set()]));
    const rowsAt = new Map<string, number>();
    const outcomes: string[] = [];

    const first = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
    expect(first.code, first.out).toBe(0);
    proxy.setRate(0.25);
    for (let run = 1; run <= 4; run++) {
      const rows = grow(join(folder, 'a.db'), 300);
      grow(join(folder, 'b.db'), 300);
      const r = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', run % 2 === 0 ? 'full' : 'incremental', '--json');
      const result = r.json as { status: string; databases: { database: string; status: string; point: string | null; error?: { code: string } }[] };
      expect(result, r.out).toHaveProperty('databases');
      for (const d of result.databases) {
        outcomes.push(d.status === 'ok' ? 'ok' : (d.error?.code ?? 'no code'));
        if (d.status !== 'ok') {
          expect(ERROR_CODES).toContain(d.error?.code);
          expect(d.error?.code).not.toBe('INTERNAL');
        } else if (d.database === 'a.db' && d.point) rowsAt.set(d.point, rows);
      }
      // Through a fault-free connection: every point committed so far is still there and verifies.
      for (const d of dbs) {
        const pts = await cli('points', location(d), '--data-dir', dataDir, '--json');
        expect(pts.code, pts.out).toBe(0);
        const ids = new Set((pts.json as { id: string }[]).map((p) => p.id));
        for (const old of committed.get(d)!) expect(ids.has(old), `${d}: point ${old} vanished after run ${run}`).toBe(true);
        committed.set(d, ids);
        const v = await cli('verify', location(d), '--data-dir', dataDir, '--json');
        expect(v.json, v.out).toMatchObject({ ok: true, pointsChecked: ids.size });
      }
    }
    proxy.setRate(0);
    console.log('S3 faults injected:', proxy.stats, 'database outcomes:', outcomes.join(' '));
    expect(proxy.stats.error + proxy.stats.throttle + proxy.stats.reset + proxy.stats.midreset + proxy.stats.slow).toBeGreaterThan(10);

    // GC (as if hours later) never takes a pack a committed point needs.
    for (const d of dbs) {
      const backend = Location.at(
        { kind: 's3', bucket: 'backstop', prefix: `rel/${encodeDatabaseFolder(d)}`, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED', credentialsRef: null },
        S3RVER_CREDENTIALS,
      ).backend();
      const g = await garbageReport(backend);
      expect(g.collectableNow, d).toBe(0);
      console.log(`${d}: ${g.packs} packs, ${g.unreferenced} unreferenced (left by failed writes, collected after the grace period), ${g.markers} markers`);
    }
    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
    const latestA = [...committed.get('a.db')!].sort().at(-1)!;
    const restore = await cli('restore', location('a.db'), '--point', latestA, '--server', serverFile, '--database', 'a-restored.db', '--data-dir', dataDir, '--json');
    expect(restore.code, restore.out).toBe(0);
    const db = new Database(join(folder, 'a-restored.db'), { readonly: true });
    const n = (db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
    db.close();
    if (rowsAt.has(latestA)) expect(n).toBe(rowsAt.get(latestA));
    else expect(n).toBe(2_000);
  }, 180_000);
});
