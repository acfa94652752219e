/**
 * Retention, GC, verify and tampering at each newer remote kind (Azure on Azurite, SFTP on
 * a throwaway OpenSSH sshd, FTPS on ftp-srv), the remote destination alone in the task:
 *  - retention (keep the newest 1, no minimum age) deletes the older points there after
 *    each run; GC — as the next run after the grace period does — deletes the packs no
 *    point references any more, and never one the kept point needs: it still verifies and
 *    restores with the rows it had;
 *  - verify names the pack with a flipped byte and a deleted pack (tampering done through
 *    the server's own protocol), and a restore from the tampered folder fails with
 *    INTEGRITY writing nothing.
 * SFTP needs a password user (root, as in CI).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { grow } from '../../fixtures/reliability/fault-runs.ts';
import { sqliteCount } from '../../fixtures/reliability/kill-harness.ts';
import { garbageReport } from '../../fixtures/reliability/repo-check.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { remoteFolder, remoteTask, secretsLeaked, useRemote, type RemoteKindName } from '../../fixtures/remote-task.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const HOUR = 3_600_000;

describe.each(['azure', 'sftp', 'ftp'] as RemoteKindName[])('retention, GC, verify and tampering at %s', (kind) => {
  const { enabled, remote } = useRemote(kind);

  it.runIf(enabled)('retention deletes the old points; GC takes their packs and never one the kept point needs', async () => {
    const folder = tempDir();
    grow(join(folder, 'ledger.db'), 2_000);
    const t = await remoteTask(remote(), { server: { kind: 'sqlite', name: 'files', folder }, type: 'snapshot', retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 } });
    let rows = 0;
    for (let run = 0; run < 3; run++) {
      rows = grow(join(folder, 'ledger.db'), 3_000); // new random rows: new chunks, new packs
      const r = await runTask(t.engine, t.taskId, 'full');
      expect(r.status, JSON.stringify(r.databases)).toBe('success');
    }
    const location = await remoteFolder(t, 'ledger.db');
    const points = data(await t.engine.call('restore.inspect', { location })).points;
    expect(points).toHaveLength(1);

    const backend = remote().backend(location);
    try {
      const before = await garbageReport(backend);
      expect(before.collectableNow).toBe(0); // young packs of the deleted points wait out the grace period
      expect(before.unreferenced).toBeGreaterThan(0);
      // The next run hours later: its GC deletes exactly the unreferenced packs.
      const later = await openRepository(backend, { key: null, workers: 0, now: () => Date.now() + 3 * HOUR });
      const gc = await later.collectGarbage();
      expect(gc.packsDeleted).toBe(before.unreferenced);
      const after = await garbageReport(backend);
      expect(after).toMatchObject({ packs: before.packs - before.unreferenced, unreferenced: 0, markers: 0 });
    } finally {
      await backend.close();
    }
    expect(data(await t.engine.call('restore.verify', { location }))).toMatchObject({ ok: true, problems: [] });
    const restored = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: 'ledger-back.db' });
    expect(restored).toMatchObject({ status: 'success', path: join(folder, 'ledger-back.db') });
    expect(sqliteCount(restored.path!)).toBe(rows);
    expect(await secretsLeaked(remote(), t)).toEqual([]);
  }, 240_000);

  it.runIf(enabled)('verify names a flipped byte and a deleted pack; a restore from the tampered folder writes nothing', async () => {
    const folder = tempDir();
    grow(join(folder, 'ledger.db'), 3_000);
    const t = await remoteTask(remote(), { server: { kind: 'sqlite', name: 'files', folder }, type: 'snapshot' });
    expect((await runTask(t.engine, t.taskId, 'full')).status).toBe('success');
    const location = await remoteFolder(t, 'ledger.db');
    const backend = remote().backend(location);
    try {
      const packs = (await backend.list('packs/')).map((p) => p.key);
      expect(packs.length).toBeGreaterThan(0);
      const pack = packs[0]!;
      const bytes = await backend.get(pack);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      await backend.put(pack, bytes);

      const flipped = data(await t.engine.call('restore.verify', { location }));
      expect(flipped.ok).toBe(false);
      expect(flipped.problems[0]).toMatchObject({ code: 'INTEGRITY', packId: expect.any(String) });
      expect(pack).toContain(flipped.problems[0]!.packId);
      expect(flipped.problems[0]!.message).toContain(flipped.problems[0]!.packId!);
      const r = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: 'tampered.db' });
      expect(r).toMatchObject({ status: 'failed', error: { code: 'INTEGRITY' } });
      expect(readdirSync(folder).filter((n) => n.startsWith('tampered'))).toEqual([]);

      await backend.delete(pack);
      const deleted = data(await t.engine.call('restore.verify', { location }));
      expect(deleted.ok).toBe(false);
      expect(deleted.problems[0]).toMatchObject({ code: 'INTEGRITY', packId: expect.any(String) });
      expect(pack).toContain(deleted.problems[0]!.packId);
    } finally {
      await backend.close();
    }
  }, 240_000);
});
