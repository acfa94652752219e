/**
 * The disk warning's rule and wording (tasks/health-monitor.ts `diskWarning`): room when
 * the free space is at least the most one run of the task stored there and at least 1 GB;
 * otherwise one message naming the task, the folder, the free space, why, and what to do
 * (for a remote folder also when it was measured).
 * The real check on a small disk is in tests/integration/tasks/disk-warning.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { diskWarning } from '../../../electron/engine/tasks/health-monitor.ts';

describe('diskWarning', () => {
  const task = { name: 'nightly' };
  it('is quiet while the disk has room for the largest run and at least 1 GB', () => {
    expect(diskWarning(task, '/b', 5e9, 4e9)).toBeNull();
    expect(diskWarning(task, '/b', 1e9, 0)).toBeNull();
    expect(diskWarning(task, '/b', 4e9, 4e9)).toBeNull();
  });
  it('warns below the largest run a task stored there, naming it', () => {
    expect(diskWarning(task, '/mnt/backups', 3e9, 4.2e9)).toBe(
      'Backup task "nightly": only 3.0 GB is free at /mnt/backups (one run of this task has stored up to 4.2 GB there), so its next run may fill the disk and fail. Free space on that disk, lower the retention, or move the destination to a larger disk.',
    );
  });
  it('warns below 1 GB even before any run', () => {
    expect(diskWarning(task, '/b', 999e6, 0)).toBe(
      'Backup task "nightly": only 999 MB is free at /b (less than 1.0 GB), so its next run may fill the disk and fail. Free space on that disk, lower the retention, or move the destination to a larger disk.',
    );
  });
  it('says when and where a remote destination was measured (after its last backup there)', () => {
    expect(diskWarning(task, 'sftp://backup@nas/srv/backups', 250e6, 0, '2026-12-05T17:42:10.123Z')).toBe(
      'Backup task "nightly": only 250 MB was free at sftp://backup@nas/srv/backups after its last backup there, at 2026-12-05 17:42 UTC (less than 1.0 GB), so its next run may fill the disk and fail. Free space on that disk, lower the retention, or move the destination to a larger disk.',
    );
  });
});
