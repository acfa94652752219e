import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalPath } from '../../../electron/engine/destinations/canonical-path.ts';
import { checkSharedDestinations } from '../../../electron/engine/tasks/check-task-input.ts';
import { TaskInput, type Destination, type TaskInputParsed } from '../../../electron/shared/domain.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const s3 = (prefix: string, bucket = 'backups'): Destination => ({ kind: 's3', bucket, prefix, region: 'us-east-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef: 'ref' }) as Destination;
const input = (serverId: string, destinations: Destination[]): TaskInputParsed =>
  TaskInput.parse({ name: 'hourly', serverId, type: 'logical', schedule: { full: '0 * * * *', timezone: 'UTC' }, destinations });
const daily = { id: 't1', name: 'daily', serverId: 's1', destinations: [{ kind: 'local' as const, path: '/mnt/nas/backstop' }, s3('prod/db')] };

describe('checkSharedDestinations', () => {
  it('refuses the same server at the same S3 prefix (slashes aside) or local folder, naming the other task and the destination', () => {
    expect(() => checkSharedDestinations(input('s1', [s3('/prod/db/')]), [daily], null)).toThrow(
      expect.objectContaining({ code: 'VALIDATION', message: expect.stringMatching(/^destinations\.0: task "daily" already backs up this server to s3:\/\/backups\/prod\/db\. .*retention would delete the other's restore points/) }),
    );
    expect(() => checkSharedDestinations(input('s1', [s3('other'), { kind: 'local', path: '/mnt/nas/backstop/' } as Destination]), [daily], null)).toThrow(
      expect.objectContaining({ code: 'VALIDATION', message: expect.stringContaining('destinations.1: task "daily" already backs up this server to /mnt/nas/backstop.') }),
    );
  });

  it('refuses another server at the same destination: two servers\' databases of one name would share a folder', () => {
    expect(() => checkSharedDestinations(input('s2', [s3('prod/db')]), [daily], null)).toThrow(
      expect.objectContaining({
        code: 'VALIDATION',
        message: 'destinations.0: task "daily" already writes its backups to s3://backups/prod/db. Two tasks in one folder share its database folders, so their restore points would mix and one task\'s retention would delete the other\'s restore points. Choose another folder (a subfolder such as s3://backups/prod/db/hourly is fine).',
      }),
    );
  });

  it('accepts a subfolder or another prefix or bucket, and the task itself on update', () => {
    expect(() => checkSharedDestinations(input('s1', [s3('prod/db/hourly'), { kind: 'local', path: '/mnt/nas/backstop/hourly' } as Destination]), [daily], null)).not.toThrow();
    expect(() => checkSharedDestinations(input('s2', [s3('prod/db', 'other-bucket')]), [daily], null)).not.toThrow();
    expect(() => checkSharedDestinations(input('s1', [s3('prod/db')]), [daily], 't1')).not.toThrow();
  });

  it('sees one folder through a symbolic link: a link to the other task\'s folder, or to a parent of a folder not yet created, is refused', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'nas', 'backstop'), { recursive: true });
    symlinkSync(join(dir, 'nas'), join(dir, 'mnt'));
    const other = { id: 't1', name: 'daily', serverId: 's1', destinations: [{ kind: 'local' as const, path: join(dir, 'nas', 'backstop', 'later') }] };
    for (const path of [join(dir, 'mnt', 'backstop', 'later'), join(dir, 'mnt', 'backstop', '..', 'backstop', 'later/')]) {
      expect(() => checkSharedDestinations(input('s1', [{ kind: 'local', path } as Destination]), [other], null)).toThrow(
        expect.objectContaining({ code: 'VALIDATION', message: expect.stringContaining(`destinations.0: task "daily" already backs up this server to ${join(dir, 'nas', 'backstop', 'later')}.`) }),
      );
    }
    expect(() => checkSharedDestinations(input('s1', [{ kind: 'local', path: join(dir, 'mnt', 'backstop', 'hourly') } as Destination]), [other], null)).not.toThrow();
    expect(canonicalPath(join(dir, 'mnt', 'x', 'y'))).toBe(join(dir, 'nas', 'x', 'y'));
    expect(canonicalPath('/')).toBe('/');
  });
});
