/**
 * runBackupJob end to end on a real SQLite file big enough to use encoder workers, to two
 * local destinations: the job's writers share one set of encoder workers, and both
 * destinations get a point that verifies and reads back the same bytes.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackupJob } from '../../../electron/engine/backup/run-job.ts';
import { Location } from '../../../electron/engine/destinations/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { SMALL_STREAM_BYTES } from '../../../electron/engine/repository/writer.ts';
import type { Server } from '../../../electron/shared/domain.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

describe('runBackupJob', () => {
  it('backs one database up to two destinations through one shared set of encoder workers', async () => {
    const folder = tempDir();
    // ~20 MB of incompressible rows: above the size that is encoded inline.
    execFileSync('sqlite3', [join(folder, 'big.db'), `PRAGMA journal_mode=DELETE; CREATE TABLE t(b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 20000) INSERT INTO t SELECT randomblob(1000) FROM n;`]);
    const file = readFileSync(join(folder, 'big.db'));
    expect(file.length).toBeGreaterThan(SMALL_STREAM_BYTES);
    const roots = [tempDir(), tempDir()];
    const server = { id: 's1', name: 'files', kind: 'sqlite', folder, passwordRef: null } as unknown as Server;
    const outcomes = await runBackupJob(
      {
        server,
        password: null,
        toolPaths: {},
        database: 'big.db',
        serverStream: false,
        folder: 'big.db',
        backupType: 'snapshot',
        requestedKind: 'full',
        keyBase64: null,
        serverIdentity: 'sqlite://test',
        engineVersion: 'test',
        dumpToolVersion: 'test',
        destinations: roots.map((path) => ({ kind: 'local' as const, path })),
        credentials: [null, null],
        retention: { minAgeDays: 0, keepLast: null },
        encoderWorkers: 2,
      },
      new AbortController().signal,
      () => {},
    );
    expect(outcomes.map((o) => o.status)).toEqual(['success', 'success']);
    const summary = (db: string) => execFileSync('sqlite3', [db, 'SELECT count(*), sum(length(b)), hex(min(b)), hex(max(b)) FROM t']).toString();
    const restored: Buffer[] = [];
    for (const root of roots) {
      const repo = await openRepository(Location.of({ kind: 'local', path: root }, null, 'big.db').backend(), { workers: 0 });
      const [point] = await repo.listPoints();
      expect((await repo.verify()).ok).toBe(true);
      restored.push(await collect(await repo.readPoint(point!.id)));
    }
    // The online copy is a consistent copy (not the file's bytes): same rows, same bytes at both destinations.
    expect(sha256(restored[1]!)).toBe(sha256(restored[0]!));
    const copy = join(tempDir(), 'copy.db');
    writeFileSync(copy, restored[0]!);
    expect(summary(copy)).toBe(summary(join(folder, 'big.db')));
  });
});
