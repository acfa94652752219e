/**
 * releaseUnclaimed's rules on a real app database: only records older than a day, never a
 * reference a task names (its record is dropped instead), and a keychain that cannot be
 * reached keeps the record for the next start, logged by reference only.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseUnclaimed, UNCLAIMED_SECRET_TTL_MS } from '../../../electron/engine/destinations/unclaimed-secrets.ts';
import type { SecretStore } from '../../../electron/engine/secrets/index.ts';
import { openAppDatabase, UnclaimedSecretsTable } from '../../../electron/engine/store/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** An in-process store standing in for a keychain that is there or not (the real keychain's path: destination-secrets-lifecycle.test.ts). */
function store(reachable: () => boolean): SecretStore & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    set: async (a, v) => void entries.set(a, v),
    get: async (a) => entries.get(a) ?? null,
    delete: async (a) => {
      if (!reachable()) throw new Error('The name org.freedesktop.secrets was not provided by any .service files');
      entries.delete(a);
    },
  };
}

describe('releaseUnclaimed', () => {
  it('removes day-old secrets no task names, drops the records of those a task names, keeps younger ones, and keeps the record when the keychain is unreachable', async () => {
    const db = openAppDatabase(join(tempDir(), 'backstop.db'));
    const unclaimed = new UnclaimedSecretsTable(db);
    const t0 = new Date('2026-03-01T08:00:00Z');
    let reachable = false;
    const secrets = store(() => reachable);
    for (const ref of ['ftp.orphan', 's3.claimed']) {
      secrets.entries.set(ref, 'x');
      unclaimed.record(ref, t0.toISOString());
    }
    secrets.entries.set('ftp.young', 'y');
    unclaimed.record('ftp.young', new Date(t0.getTime() + 3600_000).toISOString());
    const tasks = { list: () => [{ destinations: [{ kind: 's3', credentialsRef: 's3.claimed' }] }] } as never;
    const warned: unknown[][] = [];
    const deps = { secrets, tasks, unclaimed, warn: (ref: string, e: unknown) => warned.push([ref, (e as Error).message]) };
    const at = (ms: number) => () => new Date(t0.getTime() + ms);

    // Just under a day: nothing is due.
    expect(await releaseUnclaimed({ ...deps, now: at(UNCLAIMED_SECRET_TTL_MS - 1) })).toEqual([]);
    expect(unclaimed.savedBefore('9999')).toEqual(['ftp.orphan', 's3.claimed', 'ftp.young']);

    // Due, keychain unreachable: the orphan stays, and so does its record; the claimed one's record goes.
    expect(await releaseUnclaimed({ ...deps, now: at(UNCLAIMED_SECRET_TTL_MS + 1) })).toEqual([]);
    expect(warned).toEqual([['ftp.orphan', 'The name org.freedesktop.secrets was not provided by any .service files']]);
    expect(unclaimed.savedBefore('9999')).toEqual(['ftp.orphan', 'ftp.young']);
    expect([...secrets.entries.keys()]).toEqual(['ftp.orphan', 's3.claimed', 'ftp.young']);

    // The next start, keychain back: the orphan goes; the young one's day is not over.
    reachable = true;
    expect(await releaseUnclaimed({ ...deps, now: at(UNCLAIMED_SECRET_TTL_MS + 2) })).toEqual(['ftp.orphan']);
    expect([...secrets.entries.keys()]).toEqual(['s3.claimed', 'ftp.young']);
    expect(unclaimed.savedBefore('9999')).toEqual(['ftp.young']);
    db.close();
  });
});
