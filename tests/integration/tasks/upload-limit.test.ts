/**
 * Upload limits from a task file reach a real run: each destination's limit (its own, else
 * the task's) is in the run's progress, and the backup through the throttled writer (in its
 * worker thread, with the shared budget) arrives whole and restorable, its progress counting
 * every pack byte uploaded.
 */
import { copyFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupCommand } from '../../../electron/cli/commands/backup.ts';
import { destinationId } from '../../../electron/engine/destinations/index.ts';
import type { DatabaseProgress } from '../../../electron/shared/domain.ts';
import { CHINOOK, cli } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';

describe('upload limits in a run', () => {
  it('are shown per destination in progress, and the throttled backup verifies', async () => {
    const folder = tempDir();
    const slow = tempDir();
    const fast = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const task = join(tempDir(), 'task.json');
    writeFileSync(
      task,
      JSON.stringify({
        name: 'limited',
        server: { kind: 'sqlite', folder },
        type: 'snapshot',
        schedule: { full: '0 2 * * *' },
        limits: { uploadBytesPerSecond: 4 * 1024 * 1024 },
        destinations: [
          { kind: 'local', path: slow, limits: { uploadBytesPerSecond: 256 * 1024 } },
          { kind: 'local', path: fast },
        ],
      }),
    );
    const engine = await testEngine();
    const seen: DatabaseProgress[] = [];
    engine.events.on('run.progress', (p) => seen.push(p.progress));
    const summary = await backupCommand(engine, task, undefined, undefined);
    expect(summary.status).toBe('success');
    const limits = new Map(seen.flatMap((p) => p.destinations.map((d) => [d.destination, d.uploadBytesPerSecond])));
    expect(limits.get(destinationId({ kind: 'local', path: slow }))).toBe(256 * 1024);
    expect(limits.get(destinationId({ kind: 'local', path: fast }))).toBe(4 * 1024 * 1024);
    // The run's last report says every pack byte reached each destination (what the window's "uploaded … of …" counts).
    const last = seen[seen.length - 1]!;
    expect(last.phase).toBe('done');
    for (const root of [slow, fast]) {
      const packs = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.pack'));
      const bytes = packs.reduce((n, f) => n + statSync(join(root, f)).size, 0);
      const d = last.destinations.find((x) => x.destination === destinationId({ kind: 'local', path: root }))!;
      expect(bytes).toBeGreaterThan(0);
      expect(d).toMatchObject({ bytesToUpload: bytes, bytesUploaded: bytes });
    }
    for (const root of [slow, fast]) {
      const v = await cli('verify', join(root, encodeDatabaseFolder('chinook.sqlite')), '--data-dir', engine.dataDir, '--json');
      expect(JSON.parse(v.out)).toMatchObject({ ok: true, pointsChecked: 1 });
    }
  }, 120_000);

  it('a limit below 1 KiB/s is refused with the path', async () => {
    const task = join(tempDir(), 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'x', server: { kind: 'sqlite', folder: tempDir() }, type: 'snapshot', schedule: { full: '0 2 * * *' }, limits: { uploadBytesPerSecond: 10 }, destinations: [{ kind: 'local', path: tempDir() }] }));
    const r = await cli('backup', '--config', task, '--data-dir', tempDir(), '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('limits.uploadBytesPerSecond: Too small') });
  }, 60_000);
});
