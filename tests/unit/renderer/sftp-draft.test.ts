/** The SFTP destination in the task editor's draft (task-draft.ts): validation, round trip, and the contract's schema. */
import { describe, expect, it } from 'vitest';
import { TaskInput, type Task } from '@shared/domain.ts';
import { draftErrors, draftFromTask, draftToInput, emptyDraft, emptySftpDraft } from '../../../renderer/src/components/task-draft';

const KEY = 'SHA256:' + 'Q'.repeat(43);

describe('SFTP destination drafts', () => {
  it('asks for host, a valid port, user, a password or key file, then the accepted host key, in that order', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [emptySftpDraft()] };
    expect(draftErrors(d)['destination-0']).toBe('Enter the server’s host name or address.');
    d.destinations = [{ ...emptySftpDraft(), host: 'nas', port: 70000 }];
    expect(draftErrors(d)['destination-0']).toBe('Enter a port from 1 to 65535 (SSH uses 22).');
    d.destinations = [{ ...emptySftpDraft(), host: 'nas' }];
    expect(draftErrors(d)['destination-0']).toBe('Enter the user to log in as.');
    d.destinations = [{ ...emptySftpDraft(), host: 'nas', user: 'bk' }];
    expect(draftErrors(d)['destination-0']).toBe('Enter the password, or choose a private key file.');
    d.destinations = [{ ...emptySftpDraft(), host: 'nas', user: 'bk', password: 'pw' }];
    expect(draftErrors(d)['destination-0']).toBe('Test the connection and accept the server’s host key.');
    d.destinations = [{ ...emptySftpDraft(), host: 'nas', user: 'bk', password: 'pw', hostKey: KEY }];
    expect(draftErrors(d)['destination-0']).toBeUndefined();
  });

  it('turns into a destination the contract accepts (no secret in it) and back', () => {
    const d = { ...emptyDraft('s1', 'UTC'), name: 'X', destinations: [{ ...emptySftpDraft(), host: 'nas', port: 2222 as const, user: 'bk', path: '/srv/b/', password: 'secret-pw', hostKey: KEY }] };
    const input = draftToInput(d, ['sftp.ref-1']);
    expect(input.destinations[0]).toEqual({ kind: 'sftp', host: 'nas', port: 2222, user: 'bk', path: '/srv/b', hostKey: KEY, privateKeyFile: null, credentialsRef: 'sftp.ref-1' });
    expect(JSON.stringify(input)).not.toContain('secret-pw');
    expect(TaskInput.safeParse(input).success).toBe(true);
    const task = { ...input, id: 't', createdAt: '', updatedAt: '' } as unknown as Task;
    expect(draftFromTask(task).destinations[0]).toMatchObject({ kind: 'sftp', host: 'nas', port: 2222, hostKey: KEY, password: '', credentialsRef: 'sftp.ref-1' });
  });
});
