/**
 * FTP reply classification (ftp-errors.ts): which replies mean a full disk or quota, and
 * that a 550 which says nothing about space on a write stays a permission problem. The
 * real-server path (ftp-srv's `550 ENOSPC` from a full tmpfs) is in
 * tests/integration/reliability/ftp-faults.test.ts.
 */
import { FTPError } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import { classifyFtpError, ftpError } from '../../../electron/engine/storage/ftp-errors.ts';

const reply = (code: number, message: string) => new FTPError({ code, message } as ConstructorParameters<typeof FTPError>[0]);

describe('classifyFtpError: full disk and quota', () => {
  it.each([
    [552, '552 Requested file action aborted. Exceeded storage allocation.'],
    [452, '452 Insufficient storage space in system.'],
    [550, '550 ENOSPC: no space left on device, write'],
    [451, '451 Quota exceeded'],
    [553, '553 Disk full - please upload later'],
    [550, '550 EDQUOT: disk quota exceeded, write'],
  ])('%i "%s" is no-space', (code, message) => {
    expect(classifyFtpError(reply(code, message), 'upload')).toEqual({ kind: 'no-space' });
  });

  it.each([
    [550, '550 Permission denied', 'upload', 'denied'],
    [553, '553 Could not create file.', 'upload', 'denied'],
    [550, '550 No such file or directory', 'read', 'not-found'],
    [426, '426 Connection closed; transfer aborted.', 'upload', 'other'],
  ])('%i "%s" on %s stays %s', (code, message, op, kind) => {
    expect(classifyFtpError(reply(code, message), op)).toEqual({ kind });
  });

  it('a full disk is DISK_FULL with the fix, a transfer aborted (426) retryable STORAGE', () => {
    const full = ftpError('upload', 'packs/p', 'ftp://u@h:21/b', reply(550, '550 ENOSPC: no space left on device, write'));
    expect(full.code).toBe('DISK_FULL');
    expect(full.message).toBe('upload of "packs/p" at ftp://u@h:21/b failed: 550 ENOSPC: no space left on device, write. Free space on the server or raise the FTP user\'s quota.');
    const aborted = ftpError('upload', 'packs/p', 'ftp://u@h:21/b', reply(426, '426 Connection closed; transfer aborted.'));
    expect(aborted).toMatchObject({ code: 'STORAGE', retryable: true });
  });
});

describe('classifyFtpError: server limits', () => {
  it.each([
    [530, '530 Sorry, the maximum number of clients (2) for this user are already connected.'],
    [530, '530 Sorry, the maximum number of clients (5) from your host are already connected.'],
    [421, '421 There are too many connections from your internet address.'],
    [421, '421 Too many connections (3) from this IP'],
  ])('%i "%s" is the connection limit (retryable STORAGE naming the settings), not a wrong password', (code, message) => {
    expect(classifyFtpError(reply(code, message), 'upload')).toEqual({ kind: 'busy' });
    const e = ftpError('upload', 'packs/p', 'ftp://u@h:21/b', reply(code, message));
    expect(e).toMatchObject({ code: 'STORAGE', retryable: true });
    expect(e.message).toContain('MaxClientsPerUser / MaxClientsPerHost, vsftpd max_per_ip, Pure-FTPd -c / -C');
  });

  it('530 Login incorrect stays a login failure', () => {
    expect(classifyFtpError(reply(530, '530 Login incorrect.'), 'upload')).toEqual({ kind: 'login' });
  });

  it("552 File too large (ProFTPD's MaxStoreFileSize) is the upload size limit, PERMISSION_DENIED, not a full disk", () => {
    const e = ftpError('upload', 'packs/p', 'ftp://u@h:21/b', reply(552, '552 Transfer aborted. File too large'));
    expect(classifyFtpError(reply(552, '552 Transfer aborted. File too large'), 'upload')).toEqual({ kind: 'too-large' });
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toContain('allow at least 64 MiB');
  });
});

