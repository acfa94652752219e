/**
 * A Location (destination + folder + credentials) and the location text shared with the
 * renderer: one place builds folder names, key siblings, s3:// strings and ids.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyFolderSuffix, Location, sameDestinationKey } from '../../../electron/engine/destinations/index.ts';
import { destinationDisplay, destinationId, placeText } from '../../../electron/shared/location-text.ts';
import type { Destination } from '../../../electron/shared/domain.ts';
import { innermost, LocalBackend } from '../../../electron/engine/storage/index.ts';
import { S3Backend } from '../../../electron/engine/storage/s3-backend.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { encodeDatabaseFolder, legacyDatabaseFolder } from '../../../electron/engine/servers/database-folder.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { BackstopError } from '../../../electron/shared/result.ts';

const s3: Destination = {
  kind: 's3',
  bucket: 'backups',
  prefix: '/nightly/',
  region: 'eu-west-1',
  endpoint: 'http://minio.local:9000',
  forcePathStyle: true,
  storageClass: null,
  checksumMode: 'WHEN_REQUIRED',
  credentialsRef: 's3.abc',
};
const creds = { accessKeyId: 'AK', secretAccessKey: 'very-secret' };

describe('location text', () => {
  it('names local and S3 places, trimming the prefix once', () => {
    const local: Destination = { kind: 'local', path: '/srv/backups' };
    expect(placeText(local)).toBe('/srv/backups');
    expect(placeText(local, '~server/globals.sql')).toBe('/srv/backups/~server/globals.sql');
    expect(placeText(s3)).toBe('s3://backups/nightly');
    expect(placeText(s3, 'sales')).toBe('s3://backups/nightly/sales');
    expect(placeText({ ...s3, prefix: '' }, 'sales')).toBe('s3://backups/sales');
    expect(destinationId(local)).toBe('local:/srv/backups');
    expect(destinationId(s3)).toBe('s3:backups/nightly');
    expect(destinationDisplay(s3)).toBe('s3://backups/nightly at minio.local:9000');
    expect(destinationDisplay({ ...s3, endpoint: null, prefix: '' })).toBe('s3://backups');
  });

  it('tells the same destination apart from another (endpoint and resolved path count)', () => {
    expect(sameDestinationKey({ kind: 'local', path: '/a/b/../c' }, (p) => join(p))).toBe(sameDestinationKey({ kind: 'local', path: '/a/c' }, (p) => join(p)));
    expect(sameDestinationKey(s3, String)).toBe(sameDestinationKey({ ...s3, prefix: 'nightly' }, String));
    expect(sameDestinationKey(s3, String)).not.toBe(sameDestinationKey({ ...s3, endpoint: null }, String));
  });
});

describe('Location', () => {
  it('names a database folder, its key siblings and its backup location', () => {
    const root = Location.of(s3, creds);
    const sales = root.child(encodeDatabaseFolder('Sales'));
    expect(sales.folder).toMatch(/^Sales~[g-v]{8}$/);
    const key = randomBytes(32);
    expect(sales.text).toBe(`s3://backups/nightly/${sales.folder}`);
    expect(sales.sibling(key).folder).toBe(`${sales.folder}${keyFolderSuffix(key)}`);
    expect(sales.sibling(null).text).toBe(`${sales.text}~plain`);
    expect(sales.id).toBe('s3:backups/nightly');
    expect(sales.backupLocation).toEqual({
      kind: 's3',
      bucket: 'backups',
      prefix: `nightly/${sales.folder}`,
      region: 'eu-west-1',
      endpoint: 'http://minio.local:9000',
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      credentialsRef: 's3.abc',
    });
    // A backup location read back is the same place.
    expect(Location.at(sales.backupLocation, creds).text).toBe(sales.text);
  });

  it('opens the kind of backend its destination names, under the folder, and closes it', async () => {
    const sales = Location.of(s3, creds, 'sales');
    const backend = sales.backend();
    expect(sales.backend()).toBe(backend);
    const bottom = innermost(backend);
    expect(bottom).toBeInstanceOf(S3Backend);
    expect((bottom as S3Backend).prefix).toBe('nightly/sales/');
    expect(backend.location).not.toContain('very-secret');
    await sales.close();
    await sales.close();
    const dir = tempDir();
    const local = Location.of({ kind: 'local', path: dir }, null).child('~server/globals.sql');
    expect((local.backend() as LocalBackend).root).toBe(join(dir, '~server', 'globals.sql'));
  });

  it('refuses to open an S3 folder without an access key, naming the fix', () => {
    expect(() => Location.of(s3, null, 'sales').backend()).toThrow(
      expect.objectContaining({ code: 'VALIDATION', message: 's3://backups/nightly at minio.local:9000: no access key is stored for this destination; enter its access key id and secret.' }),
    );
  });

  it('lists the folders under a local root, none when the root does not exist', async () => {
    const dir = tempDir();
    expect(await Location.of({ kind: 'local', path: join(dir, 'missing') }, null).listFolders()).toEqual([]);
    mkdirSync(join(dir, 'b'));
    mkdirSync(join(dir, '~server'));
    mkdirSync(join(dir, 'a'));
    expect(await Location.of({ kind: 'local', path: dir }, null).listFolders()).toEqual(['a', 'b', '~server']);
    await expect(new LocalBackend(join(dir, 'missing')).listFolders()).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('finds a database folder: the readable one, or the earlier encoding\'s when a repository lives there', async () => {
    const dir = tempDir();
    const root = Location.of({ kind: 'local', path: dir }, null);
    // Lower-case names have one folder in both encodings.
    expect((await root.database('sales')).folder).toBe('sales');
    // Nothing there yet: the readable folder.
    expect((await root.database('Chinook')).folder).toBe(encodeDatabaseFolder('Chinook'));
    // An empty folder of the earlier encoding is no repository: still the readable one.
    mkdirSync(join(dir, legacyDatabaseFolder('Chinook')));
    expect((await root.database('Chinook')).folder).toBe(encodeDatabaseFolder('Chinook'));
    // A repository written with the earlier encoding is continued.
    await initRepository(new LocalBackend(join(dir, '~43hinook')), {});
    expect((await root.database('Chinook')).folder).toBe('~43hinook');
    // Server-level streams resolve under ~server the same way.
    expect((await root.child('~server').database('globals.sql')).text).toBe(join(dir, '~server', 'globals.sql'));
  });

  it('does not guess when the earlier folder cannot be looked at', async () => {
    // An S3 root without an access key cannot be looked into: the lookup fails rather than pick the readable folder.
    await expect(Location.of(s3, null).database('Chinook')).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('reads with a key: the folder when the key opens it, else its sibling for that key; other failures are not retried', async () => {
    const dir = tempDir();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const root = Location.of({ kind: 'local', path: dir }, null);
    const sales = root.child('sales');
    await initRepository(new LocalBackend(join(dir, 'sales')), { key: oldKey });
    await initRepository(new LocalBackend(join(dir, `sales${keyFolderSuffix(newKey)}`)), { key: newKey });
    const openedWith = (key: Buffer) => (l: Location) => openRepository(l.backend(), { key }).then(() => l.folder);
    // The key that opens the folder reads it; a changed key reads its sibling; no key reads the `~plain` one (none here).
    expect(await sales.readWithKey(oldKey, openedWith(oldKey))).toBe('sales');
    expect(await sales.readWithKey(newKey, openedWith(newKey))).toBe(`sales${keyFolderSuffix(newKey)}`);
    await expect(sales.readWithKey(null, (l) => openRepository(l.backend(), { key: null }).then(() => l.folder))).rejects.toMatchObject({ code: 'NOT_A_BACKUP' });
    // A failure that is not about the key is the caller's: the sibling is not tried.
    let calls = 0;
    const boom = new BackstopError('STORAGE', 'destination unreachable');
    await expect(
      sales.readWithKey(newKey, () => {
        calls++;
        return Promise.reject(boom);
      }),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});
