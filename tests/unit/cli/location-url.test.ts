/**
 * cli/location-url.ts: a location's text with its flags. `--endpoint` names an S3 location's
 * server (winning over BACKSTOP_S3_ENDPOINT); beside a local folder, or when it is not an
 * http(s) URL, it is refused with MALFORMED_REQUEST naming the fix; credentials come from the
 * environment only.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLocation } from '../../../electron/cli/location-url.ts';
import { BackstopError } from '../../../electron/shared/result.ts';

const creds = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'sekrit' };

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BackstopError);
    return { code: (e as BackstopError).code, message: (e as BackstopError).message };
  }
  throw new Error('expected a refusal');
}

describe('parseLocation with flags', () => {
  it('takes the endpoint from --endpoint, over BACKSTOP_S3_ENDPOINT, and from the variable without the flag', () => {
    const env = { ...creds, BACKSTOP_S3_ENDPOINT: 'http://from-env:9000' };
    const flagged = parseLocation({ text: 's3://bkt/nightly/sales/', flags: { endpoint: 'http://127.0.0.1:9000' } }, env);
    expect(flagged.location).toMatchObject({ kind: 's3', bucket: 'bkt', prefix: 'nightly/sales', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    expect(flagged.credentials).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'sekrit' });
    expect(parseLocation('s3://bkt/nightly/sales', env).location).toMatchObject({ endpoint: 'http://from-env:9000' });
    expect(parseLocation({ text: 's3://bkt/x', flags: {} }, creds).location).toMatchObject({ endpoint: null });
  });

  it('refuses --endpoint beside a local folder, and one that is not an http(s) URL', () => {
    expect(refusal(() => parseLocation({ text: 'backups/sales', flags: { endpoint: 'http://127.0.0.1:9000' } }, creds))).toEqual({
      code: 'MALFORMED_REQUEST',
      message: '--endpoint is for a remote location (like s3://bucket/prefix/<database folder>); "backups/sales" is a local folder.',
    });
    for (const bad of ['localhost:9000', 'ftp://host', 'not a url']) {
      expect(refusal(() => parseLocation({ text: 's3://bkt/x', flags: { endpoint: bad } }, creds))).toEqual({
        code: 'MALFORMED_REQUEST',
        message: `--endpoint "${bad}" must be an http:// or https:// URL, like https://s3.example.com:9000.`,
      });
    }
    expect(parseLocation({ text: 'backups/sales', flags: {} }, creds)).toEqual({ location: { kind: 'local', path: resolve('backups/sales') }, credentials: null });
  });

  it('refuses a flag its location does not use (it would be ignored): --endpoint beside sftp:// or ftp(s)://, --identity or --host-key beside anything but sftp://', () => {
    const env = { ...creds, BACKSTOP_FTP_PASSWORD: 'p', BACKSTOP_SFTP_PASSWORD: 'p' };
    for (const text of ['sftp://me@nas/backups/sales', 'ftp://me@nas/backups/sales', 'ftps://me@nas/backups/sales']) {
      expect(refusal(() => parseLocation({ text, flags: { endpoint: 'https://s3.example.com' } }, env))).toEqual({
        code: 'MALFORMED_REQUEST',
        message: `--endpoint is for s3:// and azure:// locations; ${text.split(':')[0]}:// names its server in the URL ("${text}").`,
      });
    }
    for (const text of ['s3://bkt/sales', 'ftp://me@nas/backups/sales', 'backups/sales']) {
      for (const [flag, flags] of [['--identity', { identity: '/home/me/.ssh/id_ed25519' }], ['--host-key', { hostKey: `SHA256:${'A'.repeat(43)}` }]] as const) {
        expect(refusal(() => parseLocation({ text, flags }, env))).toEqual({ code: 'MALFORMED_REQUEST', message: `${flag} is for sftp:// locations; "${text}" is not one.` });
      }
    }
  });

  it('names the missing credential variable, never taking one from the URL', () => {
    expect(refusal(() => parseLocation({ text: 's3://bkt/x', flags: { endpoint: 'https://s3.example.com' } }, {}))).toEqual({
      code: 'AUTH_FAILED',
      message: 'S3 bucket bkt: the environment variable AWS_ACCESS_KEY_ID is not set.',
    });
  });
});
