/**
 * Verify key: proves that a key opens a task's newest restore point at each destination —
 * the header's key check, then the newest point's manifest (which is encrypted) and its
 * first chunk are read and authenticated.
 *
 * Contract: one result per destination; a destination with no backup yet says so
 * (NOT_FOUND) rather than passing; a wrong key → KEY_MISMATCH naming the expected
 * fingerprint. Never writes.
 */
import type { Task } from '../../shared/domain.ts';
import { BackstopError, errorInfo } from '../../shared/result.ts';
import { Location, type Credentials } from '../destinations/index.ts';
import { openRepository, type PointSummary, type Repository } from '../repository/index.ts';
import { SERVER_FOLDER } from '../servers/index.ts';

export interface KeyVerifyResult {
  destination: string;
  ok: boolean;
  database: string | null;
  pointId: string | null;
  error: { code: string; message: string } | null;
}

export async function verifyTaskKey(task: Task, key: Buffer, credentials: (Credentials | null)[]): Promise<KeyVerifyResult[]> {
  const out: KeyVerifyResult[] = [];
  for (const [i, dest] of task.destinations.entries()) {
    const root = Location.of(dest, credentials[i] ?? null);
    const opened: Location[] = [root];
    try {
      let newest: { repo: Repository; point: PointSummary } | null = null;
      for (const folder of (await root.listFolders()).filter((f) => f !== SERVER_FOLDER)) {
        const child = root.child(folder);
        opened.push(child);
        const repo = await openRepository(child.backend(), { key, workers: 0 });
        const point = (await repo.listPoints()).at(-1);
        if (point && (!newest || point.createdAt > newest.point.createdAt)) newest = { repo, point };
      }
      if (!newest) throw new BackstopError('NOT_FOUND', `There is no backup at ${root.id} yet to check the key against.`);
      const stream = await newest.repo.readPoint(newest.point.id);
      // Reading the first chunk authenticates it with the key; the rest is verify's job.
      for await (const _chunk of stream) break;
      stream.destroy();
      out.push({ destination: root.id, ok: true, database: newest.point.database, pointId: newest.point.id, error: null });
    } catch (e) {
      out.push({ destination: root.id, ok: false, database: null, pointId: null, error: errorInfo(e) });
    } finally {
      await Promise.all(opened.map((l) => l.close()));
    }
  }
  return out;
}
