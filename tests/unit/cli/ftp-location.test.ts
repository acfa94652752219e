import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseLocation } from '../../../electron/cli/location-url.ts';
import { TaskFile } from '../../../electron/cli/task-file.ts';

const env = { BACKSTOP_FTP_PASSWORD: 'pw-secret' };
const server = { kind: 'sqlite', folder: '/data' };
const taskFile = (destination: object) => ({ name: 'n', server, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [destination] });

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error('expected a failure');
}

describe('ftp:// and ftps:// locations', () => {
  afterEach(() => vi.restoreAllMocks());

  it('ftp:// is explicit TLS on port 21 unless given; the password comes from BACKSTOP_FTP_PASSWORD', () => {
    expect(parseLocation('ftp://backup@nas.lan/backups/sales', env)).toEqual({
      location: { kind: 'ftp', host: 'nas.lan', port: 21, user: 'backup', path: '/backups/sales', tls: 'explicit', certificateFingerprint: null, credentialsRef: null },
      credentials: { password: 'pw-secret' },
    });
    expect(parseLocation('ftp://backup@nas.lan:2121/b/s', { ...env, BACKSTOP_FTP_CERT_FINGERPRINT: 'AA:BB' }).location).toMatchObject({ port: 2121, certificateFingerprint: 'AA:BB' });
  });

  it('ftps:// is implicit TLS on port 990', () => {
    expect(parseLocation('ftps://backup@nas.lan/b/s', env).location).toMatchObject({ tls: 'implicit', port: 990 });
    expect(failure(() => parseLocation('ftps://backup@nas.lan/b/s', { ...env, BACKSTOP_FTP_TLS: 'none' }))).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('use ftp:// for plain FTP') });
  });

  it('plain FTP only when chosen (BACKSTOP_FTP_TLS=none), with a warning on stderr that the password goes in clear', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(parseLocation('ftp://backup@nas.lan/b/s', { ...env, BACKSTOP_FTP_TLS: 'none' }).location).toMatchObject({ tls: 'none' });
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(/plain FTP to nas\.lan: the password and the backups cross the network unencrypted/);
    expect(failure(() => parseLocation('ftp://backup@nas.lan/b/s', { ...env, BACKSTOP_FTP_TLS: 'plain' }))).toMatchObject({ code: 'MALFORMED_REQUEST' });
  });

  it('needs a user and a folder, and the password variable', () => {
    expect(failure(() => parseLocation('ftp://nas.lan/b', env))).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('ftp://user@host:port/path/<database folder>') });
    expect(failure(() => parseLocation('ftp://u@nas.lan/b', {}))).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('BACKSTOP_FTP_PASSWORD') });
  });

  it('a task file FTP destination must say its tls mode', () => {
    const noTls = TaskFile.safeParse(taskFile({ kind: 'ftp', host: 'h', user: 'u', path: '/b' }));
    expect(noTls.success).toBe(false);
    expect(JSON.stringify(noTls.error?.issues)).toContain('plain FTP sends the password in clear');
    const ok = TaskFile.parse(taskFile({ kind: 'ftp', host: 'h', user: 'u', path: '/b', tls: 'none' }));
    expect(ok.destinations[0]).toMatchObject({ kind: 'ftp', port: 21, passwordEnv: 'BACKSTOP_FTP_PASSWORD', tls: 'none' });
  });
});
