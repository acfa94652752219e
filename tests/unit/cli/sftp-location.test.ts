/**
 * sftp:// locations on the command line (cli/location-url.ts) and their text
 * (shared/location-text.ts): absolute and login-relative folders, ports, the --identity /
 * --host-key flags, BACKSTOP_SFTP_PASSWORD, and the round trip placeText → parseLocation.
 */
import { describe, expect, it } from 'vitest';
import { parseLocation } from '../../../electron/cli/location-url.ts';
import { placeText, destinationId } from '../../../electron/shared/location-text.ts';

const KEY = 'SHA256:' + 'a'.repeat(43);

describe('sftp:// locations', () => {
  it('parses an absolute folder with a password from BACKSTOP_SFTP_PASSWORD, and prints it back', () => {
    const w = parseLocation('sftp://backup@nas.example.com:2222/srv/backups/sales', { BACKSTOP_SFTP_PASSWORD: 'pw' }, { hostKey: KEY });
    expect(w.location).toEqual({ kind: 'sftp', host: 'nas.example.com', port: 2222, user: 'backup', path: '/srv/backups/sales', hostKey: KEY, privateKeyFile: null, credentialsRef: null });
    expect(w.credentials).toEqual({ password: 'pw' });
    expect(placeText(w.location)).toBe('sftp://backup@nas.example.com:2222/srv/backups/sales');
    expect(destinationId(w.location)).toBe('sftp:backup@nas.example.com:2222/srv/backups/sales');
  });

  it('reads /~/ as under the login folder, port 22 by default, a key from --identity', () => {
    const w = parseLocation('sftp://me@host/~/backups/db/', { BACKSTOP_SFTP_PASSPHRASE: 'pp' }, { identity: '/keys/id', hostKey: KEY });
    expect(w.location).toMatchObject({ host: 'host', port: 22, path: 'backups/db', privateKeyFile: '/keys/id' });
    expect(w.credentials).toEqual({ passphrase: 'pp' });
    expect(placeText(w.location)).toBe('sftp://me@host/~/backups/db');
    expect(placeText({ kind: 'sftp', host: 'h', port: 22, user: 'u', path: '', hostKey: null, privateKeyFile: null, credentialsRef: null }, 'db')).toBe('sftp://u@h/~/db');
  });

  it('refuses a malformed URL, a malformed --host-key and a missing password, saying what is needed', () => {
    expect(() => parseLocation('sftp://host/path', {}, {})).toThrow(/must look like sftp:\/\/user@host\[:port\]\/path\/<database folder>/);
    expect(() => parseLocation('sftp://u@host:99999/p', {}, {})).toThrow(expect.objectContaining({ code: 'MALFORMED_REQUEST' }));
    expect(() => parseLocation('sftp://u@host/p', { BACKSTOP_SFTP_PASSWORD: 'x' }, { hostKey: 'md5:aa' })).toThrow(/--host-key must be a fingerprint like SHA256:/);
    expect(() => parseLocation('sftp://u@host/p', {}, { hostKey: KEY })).toThrow(expect.objectContaining({ code: 'AUTH_FAILED', message: 'SFTP server host: the environment variable BACKSTOP_SFTP_PASSWORD is not set.' }));
  });
});
