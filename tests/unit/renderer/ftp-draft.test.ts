import { describe, expect, it } from 'vitest';
import { TaskInput, type Task } from '@shared/domain.ts';
import { draftErrors, draftFromTask, draftToInput, emptyDraft, emptyFtpDraft, ftpDraftProblem } from '../../../renderer/src/components/task-draft';

const ftp = { kind: 'ftp' as const, host: 'nas.lan', port: 990, user: 'backup', path: '/backups', tls: 'implicit' as const, certificateFingerprint: 'AB:'.repeat(31) + 'AB', credentialsRef: 'ftp.x1' };
const task: Task = {
  id: 't1',
  name: 'Nightly',
  serverId: 's1',
  type: 'logical',
  schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
  retention: { minAgeDays: 30, keepLast: null },
  encryption: { mode: 'none' },
  destinations: [ftp],
  excludeDatabases: [],
  enabled: true,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};

describe('FTP destination drafts', () => {
  it('a saved FTP destination round-trips through the editor unchanged and parses as a TaskInput', () => {
    const input = draftToInput(draftFromTask(task));
    expect(input.destinations).toEqual([ftp]);
    expect(TaskInput.safeParse(input).success).toBe(true);
    expect(draftErrors(draftFromTask(task))).toEqual({});
  });

  it('starts encrypted (explicit TLS) and asks for host, user and password', () => {
    const d = emptyFtpDraft();
    expect(d.tls).toBe('explicit');
    expect(ftpDraftProblem(d)).toBe('Enter the FTP server’s host name.');
    expect(ftpDraftProblem({ ...d, host: 'h' })).toBe('Enter the FTP user name.');
    expect(ftpDraftProblem({ ...d, host: 'h', user: 'u' })).toBe('Enter the FTP password.');
    expect(ftpDraftProblem({ ...d, host: 'h', user: 'u', password: 'p' })).toBeNull();
  });

  it('plain FTP is refused until its warning is confirmed', () => {
    const d = { ...emptyFtpDraft(), host: 'h', user: 'u', password: 'p', tls: 'none' as const };
    const draft = { ...emptyDraft('s1'), name: 'x', destinations: [d] };
    expect(draftErrors(draft)['destination-0']).toMatch(/unencrypted: tick the confirmation/);
    const confirmed = { ...draft, destinations: [{ ...d, plainConfirmed: true }] };
    expect(draftErrors(confirmed)['destination-0']).toBeUndefined();
    expect(draftToInput(confirmed).destinations[0]).toMatchObject({ kind: 'ftp', tls: 'none' });
  });

  it('checks the port and the fingerprint format', () => {
    const d = { ...emptyFtpDraft(), host: 'h', user: 'u', password: 'p' };
    expect(ftpDraftProblem({ ...d, port: '' })).toMatch(/Enter the port/);
    expect(ftpDraftProblem({ ...d, port: 70000 })).toMatch(/Enter the port/);
    expect(ftpDraftProblem({ ...d, certificateFingerprint: 'not-a-fingerprint' })).toMatch(/64 hex digits/);
  });
});
