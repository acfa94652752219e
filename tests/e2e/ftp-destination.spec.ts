/**
 * Adding an FTP destination in the task editor: a failing Test connection (wrong password,
 * then an unpinned self-signed certificate whose fingerprint the hint shows) and a passing
 * one against a real FTPS server (ftp-srv, explicit TLS); plain FTP needs its warning ticked.
 */
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { FTP_PASSWORD, FTP_USER, startFtpServer } from '../fixtures/ftp-server.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';

test('FTP destination: Test connection fails with the fix named, then passes with the pinned certificate', async ({ page, engine, tempDir }) => {
  const ftp = await startFtpServer('explicit');
  try {
    const folder = join(tempDir, 'dbs');
    await makeSqliteFolder(folder, ['a.db']);
    expect((await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder })).ok).toBe(true);
    await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
    await page.getByTestId('add-ftp').click();
    await expect(page.getByTestId('dest-1-tls')).toHaveValue('explicit');
    await page.getByTestId('dest-1-host').fill(ftp.host);
    await page.getByTestId('dest-1-port').fill(String(ftp.port));
    await page.getByTestId('dest-1-user').fill(FTP_USER);

    // Plain FTP: the warning must be ticked before anything is tried.
    await page.getByTestId('dest-1-tls').selectOption('none');
    await expect(page.getByTestId('dest-1-plain-warning')).toContainText('unencrypted');
    await page.getByTestId('dest-1-password').fill('wrong-password');
    await expect(page.getByTestId('dest-1-test')).toBeDisabled();
    await page.getByTestId('dest-1-tls').selectOption('explicit');

    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-result')).toHaveText('Failed', { timeout: 20_000 });
    await expect(page.getByTestId('dest-1-test-steps')).toContainText(ftp.certificateFingerprint);
    await expect(page.getByTestId('dest-1-password')).toHaveAttribute('placeholder', 'saved in the keychain');

    await page.getByTestId('dest-1-fingerprint').fill(ftp.certificateFingerprint);
    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-steps')).toContainText('Check the user name and password.', { timeout: 20_000 });

    await page.getByTestId('dest-1-password').fill(FTP_PASSWORD);
    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-result')).toHaveText('All steps passed', { timeout: 20_000 });
  } finally {
    await ftp.stop();
  }
});
