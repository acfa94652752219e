/**
 * Two writers creating the same folder's repository at once (the app's scheduled first run
 * beside a manual `backstop backup`): the header is put create-only, so exactly one header
 * stays and the other writer gets CONFLICT (AlreadyThereError) and writes into that one —
 * never a second header replacing the first under a writer already using it (an encrypted
 * writer's keys derive from the header's repository id: its point would be unreadable).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareDestination } from '../../../electron/engine/backup/prepare-destination.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { AlreadyThereError, LocalBackend, type PutBody, type PutOptions } from '../../../electron/engine/storage/index.ts';
import { BackendDecorator } from '../../../electron/engine/storage/backend-decorator.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { FAST, collect, dumpLike, pieces, pointOpts, sha256 } from './helpers.ts';

describe('a repository created by two writers at once', () => {
  it('local folder: of racing inits exactly one succeeds, the others get AlreadyThereError and the header stays the winner’s', async () => {
    const key = generateKey();
    for (let round = 0; round < 5; round++) {
      const dir = tempDir();
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => initRepository(new LocalBackend(dir), { key, ...FAST })));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AlreadyThereError);
      const header = readFileSync(join(dir, 'backstop.repo'));
      const reopened = await openRepository(new LocalBackend(dir), { key, ...FAST });
      expect(reopened.info.repositoryId).toBe((won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof initRepository>>>).value.info.repositoryId);
      expect(readFileSync(join(dir, 'backstop.repo'))).toEqual(header);
    }
  });

  it('a create-only put leaves an existing object as it is (local folder and memory), and no temp file behind', async () => {
    const dir = tempDir();
    for (const backend of [new LocalBackend(dir), new MemoryBackend()]) {
      await backend.put('backstop.repo', Buffer.from('first'), { ifAbsent: true });
      await expect(backend.put('backstop.repo', Buffer.from('second'), { ifAbsent: true })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('already exists') });
      expect((await backend.get('backstop.repo')).toString()).toBe('first');
      // Without the option a put still replaces (manifests, indexes: as before).
      await backend.put('other', Buffer.from('a'));
      await backend.put('other', Buffer.from('b'));
      expect((await backend.get('other')).toString()).toBe('b');
    }
    expect(readFileSync(join(dir, 'backstop.repo'), 'utf8')).toBe('first');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['backstop.repo', 'other']);
  });

  it('two first backups into one encrypted folder at once: the later header put finds the first and writes into it; both points restore', async () => {
    const key = generateKey();
    const dir = tempDir();
    const data = [dumpLike(300_000, 1), dumpLike(300_000, 2)];
    // Writer B found the folder empty and is about to put its header; writer A then creates the
    // repository and writes its whole point; only then does B's header put go out.
    let reached!: () => void;
    const atPut = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    class HeldHeader extends BackendDecorator {
      override async put(k: string, body: PutBody, options?: PutOptions): Promise<void> {
        if (k === 'backstop.repo') {
          reached();
          await gate;
        }
        return super.put(k, body, options);
      }
    }
    const b = (async () => {
      const prep = await prepareDestination(new HeldHeader(new LocalBackend(dir)), { key, backupType: 'logical', requestedKind: 'full', repoOptions: FAST });
      return prep.repo.writePoint(pieces(data[1]!), pointOpts());
    })();
    await atPut;
    const prepA = await prepareDestination(new LocalBackend(dir), { key, backupType: 'logical', requestedKind: 'full', repoOptions: FAST });
    const a = await prepA.repo.writePoint(pieces(data[0]!), pointOpts());
    release();
    const written = [a, await b];
    const repo = await openRepository(new LocalBackend(dir), { key, ...FAST });
    expect((await repo.listPoints()).map((p) => p.id).sort()).toEqual(written.map((p) => p.id).sort());
    for (const [i, p] of written.entries()) expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data[i]!));
    expect((await repo.verify()).ok).toBe(true);
  });
});
