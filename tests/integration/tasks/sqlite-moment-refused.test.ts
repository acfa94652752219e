/**
 * A moment asked of a backup that has restore points only (SQLite, through the engine's
 * contract): `restore.inspect` says so (`momentRanges: null`), and `restore.start` with
 * `asOf` fails with OUT_OF_RANGE saying to choose a restore point; nothing is written.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('restore to a moment of a backup with restore points only', () => {
  it('inspect reaches no moment; start with asOf is OUT_OF_RANGE and writes nothing', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const folder = sqliteFolder(['app.db']);
    const backups = tempDir();
    const task = await storedSqliteTask(engine, folder, backups);
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const location = { kind: 'local' as const, path: join(backups, encodeDatabaseFolder('app.db')) };
    const info = data(await engine.call('restore.inspect', { location }));
    expect(info).toMatchObject({ serverKind: 'sqlite', momentRanges: null });

    const target = tempDir();
    const r = await restoreAndWait(engine, { location, asOf: new Date().toISOString(), serverId: task.serverId, database: 'app_then.db', options: { folder: target } });
    expect(r).toMatchObject({
      status: 'failed',
      error: { code: 'OUT_OF_RANGE', message: 'This backup can only be restored to one of its restore points: moments are reachable for a PostgreSQL cluster backup with WAL and a MySQL/MariaDB database with the binary log. Choose a restore point.' },
    });
    expect(readdirSync(target)).toEqual([]);
    expect(readdirSync(folder)).toEqual(['app.db']);
  });
});
