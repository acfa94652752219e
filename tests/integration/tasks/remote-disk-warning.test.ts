/**
 * The disk warning at an SFTP destination, on a real OpenSSH sshd whose destination folder is
 * a small tmpfs (mounted by the test; CI runs as root): each backup job measures the space
 * free there (statvfs@openssh.com) after writing, the engine keeps the last measurement per
 * task and destination, and the check after the run announces a `disk-warning` naming the
 * SFTP location and when it was measured — once; after the disk has grown, the next run's
 * measurement clears it, and it is announced again when the disk is small again.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, statfsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../electron/shared/domain.ts';
import { placeText } from '../../../electron/shared/location-text.ts';
import { remoteTask, useRemote } from '../../fixtures/remote-task.ts';
import { runTask } from '../../fixtures/runs.ts';
import { sqliteFolder } from '../../fixtures/sqlite-files.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

const MB = 1e6;

describe('disk warning at an SFTP destination', () => {
  const { enabled, remote } = useRemote('sftp');

  it.runIf(enabled)('a job measures the free space there; the check after the run warns once, clears when the disk grew, warns again', async (ctx) => {
    const t = await remoteTask(remote(), { server: { kind: 'sqlite', name: 'files', folder: sqliteFolder(['sales.db']) }, type: 'snapshot' });
    const dest = t.dest as Extract<typeof t.dest, { kind: 'sftp' }>;
    const tmpfs = new TmpfsMounts();
    if (!tmpfs.tryMount(dest.path, '300m')) ctx.skip('mount -t tmpfs is not permitted here (CI runs as root); tests/unit/engine/disk-warning.test.ts covers the wording');
    // Unmounted by the test itself: the sshd fixture removes its folders when the describe block ends.
    ctx.onTestFinished(() => tmpfs.unmountAll());
    chmodSync(dest.path, 0o777); // the SFTP login user writes there
    const alerts: Alert[] = [];
    t.engine.events.on('alert', (a) => alerts.push(a));
    const warnings = () => alerts.filter((a) => a.kind === 'disk-warning');
    // Nothing measured there yet: nothing to say.
    expect(t.engine.health.check()).toEqual([]);

    expect((await runTask(t.engine, t.taskId, 'full')).status).toBe('success');
    await expect.poll(warnings, { timeout: 10_000 }).toHaveLength(1);
    const free = (() => {
      const s = statfsSync(dest.path);
      return s.bavail * s.bsize;
    })();
    const warning = warnings()[0]!;
    expect(warning).toEqual({
      kind: 'disk-warning',
      taskId: t.taskId,
      message: expect.stringMatching(
        new RegExp(
          `^Backup task "sftp task": only (\\d+) MB was free at ${placeText(dest).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} after its last backup there, at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\(less than 1\\.0 GB\\), so its next run may fill the disk and fail\\. Free space on that disk, lower the retention, or move the destination to a larger disk\\.$`,
        ),
      ),
      databases: [],
    });
    // The number is the tmpfs's own free space, as the server measured it (the backup is a few kB).
    const said = Number(/only (\d+) MB/.exec(warning.message)![1]) * MB;
    expect(Math.abs(said - free)).toBeLessThan(2 * MB);
    expect(t.engine.health.check()).toEqual([]); // still low: not repeated

    // The disk grows past 1 GB: the next run measures it, and the warning clears.
    execFileSync('mount', ['-o', 'remount,size=1200m', dest.path]);
    expect((await runTask(t.engine, t.taskId, 'incremental')).status).toBe('success');
    expect(t.engine.health.check()).toEqual([]);
    // Small again: the next run's measurement brings the warning back.
    execFileSync('mount', ['-o', 'remount,size=300m', dest.path]);
    const before = warnings().length;
    expect((await runTask(t.engine, t.taskId, 'incremental')).status).toBe('success');
    await expect.poll(() => warnings().length, { timeout: 10_000 }).toBe(before + 1);
    await t.engine.close();
  }, 120_000);
});
