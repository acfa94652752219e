/**
 * Delta chunks (format 2) on small databases, through the real connectors (issue #21 rows):
 * - the demo's shop.db (a SQLite snapshot, ~1.6 MB): one new customer → the incremental
 *   adds at most 5% of what its full added to the repository, and restores byte-identical;
 * - Chinook on a real PostgreSQL 15 (a pg_dump smaller than one chunk, whose header carries
 *   its timestamp): an incremental of the unchanged database adds nothing (no point: the
 *   dumps differ only in the header's time, unchanged-write.ts), and the newest point
 *   restores into a new database with the same content.
 * Sizes are the repository's growth on disk (packs + manifest + anything else written).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BackupType, Server } from '../../../electron/shared/domain.ts';
import { backupDatabase } from '../../../electron/engine/backup/backup-database.ts';
import { UNCHANGED } from '../../../electron/engine/backup/unchanged-stream.ts';
import { createSampleDatabases } from '../../../electron/engine/demo/sample-databases.ts';
import { connectorFor, type Connector } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { treeBytes } from '../../fixtures/tree-bytes.ts';
import { pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

const CHINOOK_PG = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_PostgreSql.sql');
const key = generateKey();
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** One backup of `database` into the repository at `repoDir`; returns the point and the SHA-256 of the dump it stored. */
async function backup(
  connector: Connector,
  database: string,
  backupType: BackupType,
  repoDir: string,
  kind: 'full' | 'incremental',
): Promise<{ pointId: string | null; dumpSha: string; kind: string; kindReason: string | null }> {
  const hash = createHash('sha256');
  const [o] = await backupDatabase({
    database,
    backupType,
    requestedKind: kind,
    key,
    serverIdentity: 'test',
    engineVersion: 'test',
    dumpToolVersion: 'test',
    // The dump's SHA-256, taken as it streams (format-2 manifests no longer record one).
    openDump: async (signal) => {
      const d = await connector.openDump(database, backupType, { signal });
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      d.stream.on('error', (e) => hashing.destroy(e));
      return { ...d, stream: d.stream.pipe(hashing) };
    },
    destinations: [{ id: 'local:test', backend: new LocalBackend(repoDir) }],
    repoOptions: { workers: 0 },
  });
  if (!o || o.status !== 'success') throw new Error(`backup failed: ${JSON.stringify(o)}`);
  return { pointId: o.pointId, dumpSha: hash.digest('hex'), kind: o.kind, kindReason: o.kindReason };
}

async function restoredSha(repoDir: string, pointId: string): Promise<string> {
  const repo = await openRepository(new LocalBackend(repoDir), { key, workers: 0 });
  const hash = createHash('sha256');
  for await (const b of await repo.readPoint(pointId)) hash.update(b as Buffer);
  return hash.digest('hex');
}

describe('small databases: incrementals store only what changed', () => {
  test("the demo's shop.db: one new customer stores ≤ 5% of its full and restores byte-identical", async () => {
    const folder = tempDir('backstop-shop-');
    const repoDir = tempDir('backstop-shop-repo-');
    createSampleDatabases(folder);
    const connector = connectorFor({ id: 's', name: 'demo', kind: 'sqlite', folder, createdAt: '', updatedAt: '' } as Server);
    const full = await backup(connector, 'shop.db', 'snapshot', repoDir, 'full');
    const fullBytes = treeBytes(repoDir);

    const db = new Database(join(folder, 'shop.db'));
    db.prepare('INSERT INTO customer (name, email, created_at) VALUES (?, ?, ?)').run('Ada Hopper', 'new.customer@example.com', '2026-12-05T00:00:00Z');
    db.close();

    const inc = await backup(connector, 'shop.db', 'snapshot', repoDir, 'incremental');
    expect(inc.kind).toBe('incremental');
    const incBytes = treeBytes(repoDir) - fullBytes;
    console.log(`shop.db: full ${fullBytes} B, one-row incremental ${incBytes} B (${((incBytes / fullBytes) * 100).toFixed(2)}%)`);
    expect(inc.dumpSha).not.toBe(full.dumpSha);
    expect(incBytes).toBeGreaterThan(0);
    expect(incBytes / fullBytes).toBeLessThanOrEqual(0.05);
    expect(await restoredSha(repoDir, inc.pointId!)).toBe(inc.dumpSha);
    expect(await restoredSha(repoDir, full.pointId!)).toBe(full.dumpSha);
    // Through the connector: the restored file is the snapshot byte for byte, and holds the new row.
    const repo = await openRepository(new LocalBackend(repoDir), { key, workers: 0 });
    await connector.restore('shop-restored.db', await repo.readPoint(inc.pointId!), 'snapshot', {});
    expect(sha(readFileSync(join(folder, 'shop-restored.db')))).toBe(inc.dumpSha);
    const restored = new Database(join(folder, 'shop-restored.db'), { readonly: true });
    expect((restored.prepare("SELECT count(*) FROM customer WHERE email = 'new.customer@example.com'").raw(true).get() as unknown[])[0]).toBe(1);
    restored.close();
  });

  describe('Chinook on PostgreSQL', () => {
    let pg: PgServer;
    beforeAll(async () => {
      pg = await startPostgres();
      pg.loadFile(CHINOOK_PG, 'postgres'); // creates "chinook" itself
    }, 120_000);
    afterAll(async () => {
      await pg?.stop();
    });

    test('an incremental of the unchanged database stores nothing, and the newest point restores it', async () => {
      const repoDir = tempDir('backstop-chinook-repo-');
      const server: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
      const connector = connectorFor(server, { password: pg.password });
      const full = await backup(connector, 'chinook', 'logical', repoDir, 'full');
      const fullBytes = treeBytes(repoDir);
      await new Promise((r) => setTimeout(r, 1100)); // the dump header's timestamp has a one-second resolution
      const inc = await backup(connector, 'chinook', 'logical', repoDir, 'incremental');
      expect([inc.kind, inc.kindReason, inc.pointId]).toEqual(['incremental', UNCHANGED, null]);
      const incBytes = treeBytes(repoDir) - fullBytes;
      console.log(`Chinook (PostgreSQL): full ${fullBytes} B, unchanged incremental ${incBytes} B (${((incBytes / fullBytes) * 100).toFixed(2)}%)`);
      // The dumps differ (the archive header's timestamp), so this is not plain deduplication.
      expect(inc.dumpSha).not.toBe(full.dumpSha);
      expect(incBytes).toBe(0);

      const repo = await openRepository(new LocalBackend(repoDir), { key, workers: 0 });
      expect((await repo.listPoints()).map((p) => p.id)).toEqual([full.pointId]);
      await connector.restore('chinook_copy', await repo.readPoint(full.pointId!), 'logical', {});
      expect(pgContentFingerprint(pg, 'chinook_copy')).toEqual(pgContentFingerprint(pg, 'chinook'));
    });
  });
});
