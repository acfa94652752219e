/**
 * The disk warning on a real file system: a task's local destination on a 1100 MB tmpfs
 * (mounted by the test; CI runs as root) has room at first, and is announced once as a
 * `disk-warning` alert when a file leaves it under 1 GB free — after the task's own run, as
 * the engine checks after every run — not again while it stays low, and again after it
 * cleared and came back. A destination that does not exist yet is measured at its parent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../electron/shared/domain.ts';
import { freeBytesAt } from '../../../electron/engine/storage/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { runTask } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

// Not tempDir(): that folder is removed when the test ends, before a mount in it could be undone.
const tmpfs = new TmpfsMounts();
const disks: string[] = [];
afterAll(() => {
  tmpfs.unmountAll();
  for (const d of disks) rmSync(d, { recursive: true, force: true });
});

describe('disk warning', () => {
  it('announces a local destination left under 1 GB free once, after a run, and again only after it cleared', async (ctx) => {
    const disk = mkdtempSync(join(tmpdir(), 'backstop-small-disk-'));
    disks.push(disk);
    if (!tmpfs.tryMount(disk, '1100m')) ctx.skip('mount -t tmpfs is not permitted here (CI runs as root); tests/unit/engine/disk-warning.test.ts covers the rule');
    const destination = join(disk, 'backups', 'not-yet-created');
    expect(freeBytesAt(destination)).toBeGreaterThan(1e9); // measured at the tmpfs: 1100 MB
    const engine = await testEngine();
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    const task = await storedSqliteTask(engine, sqliteFolder(['sales.db']), destination, { name: 'small disk task' });
    expect(engine.health.check()).toEqual([]);

    // 200 MB of something else on that disk: under 1 GB free. The task's next run finishes, and the check after it warns.
    const filler = join(disk, 'filler.bin');
    writeFileSync(filler, Buffer.alloc(200e6, 1));
    expect((await runTask(engine, task.id)).status).toBe('success');
    await expect.poll(() => alerts.filter((a) => a.kind === 'disk-warning'), { timeout: 10_000 }).toHaveLength(1);
    const warning = alerts.find((a) => a.kind === 'disk-warning')!;
    expect(warning).toEqual({
      kind: 'disk-warning',
      taskId: task.id,
      message: expect.stringMatching(new RegExp(`^Backup task "small disk task": only 9\\d\\d MB is free at ${destination} \\(less than 1\\.0 GB\\), so its next run may fill the disk and fail\\. Free space on that disk, lower the retention, or move the destination to a larger disk\\.$`)),
      databases: [],
    });
    expect(engine.health.check()).toEqual([]); // still low: not repeated

    rmSync(filler);
    expect(engine.health.check()).toEqual([]); // room again: cleared
    writeFileSync(filler, Buffer.alloc(200e6, 1));
    expect(engine.health.check().map((a) => a.kind)).toEqual(['disk-warning']); // came back: announced again
    rmSync(filler);
    await engine.close();
  }, 120_000);
});
