/**
 * The read limit on the dump side from a task file reaches a real run (issue #24 item 4):
 * the limit is in the run's progress for each database, the SQLite file is never read faster
 * than the limit allows (bytes read by each progress report; the per-window rate is measured in
 * tests/unit/storage/read-throttle.test.ts), and the throttled
 * backup verifies; a limit below 1 KiB/s is refused with its path, and the upload limit
 * alone still reads as before.
 */
import { copyFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupCommand } from '../../../electron/cli/commands/backup.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import type { DatabaseProgress } from '../../../electron/shared/domain.ts';
import { CHINOOK, cli } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const RATE = 256 * 1024;

describe('read limit in a run', () => {
  it('is shown in progress, holds the read to the rate, and the backup verifies', async () => {
    const folder = tempDir();
    const backups = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const size = statSync(join(folder, 'chinook.sqlite')).size;
    const task = join(tempDir(), 'task.json');
    writeFileSync(
      task,
      JSON.stringify({ name: 'read-limited', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, limits: { readBytesPerSecond: RATE }, destinations: [{ kind: 'local', path: backups }] }),
    );
    const engine = await testEngine();
    const seen: { atMs: number; p: DatabaseProgress }[] = [];
    engine.events.on('run.progress', (e) => seen.push({ atMs: Number(process.hrtime.bigint() / 1_000_000n), p: e.progress }));
    const summary = await backupCommand(engine, task, undefined, undefined);
    expect(summary.status).toBe('success');

    const reading = seen.filter((s) => s.p.database === 'chinook.sqlite' && s.p.phase === 'dumping');
    expect(reading.length).toBeGreaterThanOrEqual(2);
    expect(new Set(reading.map((s) => s.p.readBytesPerSecond))).toEqual(new Set([RATE]));
    // Never faster than the limit: by each progress report, at most rate × elapsed plus one burst and one slice (1/50 s each) and 10 %.
    const t0 = reading[0]!.atMs;
    for (const s of reading) expect(s.p.bytesRead).toBeLessThanOrEqual(RATE * 1.1 * ((s.atMs - t0) / 1000) + (2 * RATE) / 50 + 64 * 1024);
    // And the whole file took at least its size at the rate (less one burst and one slice): a slow machine only makes it later.
    const done = seen.find((s) => s.p.database === 'chinook.sqlite' && s.p.phase === 'done')!;
    expect(done.p.bytesRead).toBe(size);
    expect(done.atMs - t0).toBeGreaterThanOrEqual(((size - (2 * RATE) / 50 - 64 * 1024) / (RATE * 1.1)) * 1000);

    const v = await cli('verify', join(backups, encodeDatabaseFolder('chinook.sqlite')), '--data-dir', engine.dataDir, '--json');
    expect(JSON.parse(v.out)).toMatchObject({ ok: true, pointsChecked: 1 });
  }, 120_000);

  it('a read limit below 1 KiB/s is refused with its path', async () => {
    const task = join(tempDir(), 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'x', server: { kind: 'sqlite', folder: tempDir() }, type: 'snapshot', schedule: { full: '0 2 * * *' }, limits: { readBytesPerSecond: 10 }, destinations: [{ kind: 'local', path: tempDir() }] }));
    const r = await cli('backup', '--config', task, '--data-dir', tempDir(), '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('limits.readBytesPerSecond: Too small') });
  }, 60_000);
});
