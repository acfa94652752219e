/**
 * The SMTP server of Settings (issue #24): saved with its password in the real keychain
 * (never in settings, results, events or the log), "is a password saved" without the
 * password, and a test mail to one address delivered over STARTTLS with the login to a real
 * smtp-server, which checks the mail on its side. The receiver's self-signed certificate is
 * trusted the way a company CA is: added to this process's default CA store.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testEngine } from '../../fixtures/engine.ts';
import { smtpReceiver, trustSmtpCa } from '../../fixtures/notify-receivers.ts';
import { data } from '../../fixtures/runs.ts';

describe('Settings › E-mail server', () => {
  it('keeps the password in the keychain only, and a test mail reaches the server over STARTTLS with the login', async () => {
    const smtp = await smtpReceiver();
    trustSmtpCa(smtp);
    const engine = await testEngine({ notifyRetry: { attempts: 2, baseDelayMs: 100, timeoutMs: 5_000 } });
    const seen: string[] = [];
    engine.events.onAny((name, payload) => seen.push(`${name} ${JSON.stringify(payload)}`));

    expect(data(await engine.call('notifications.smtp', undefined))).toEqual({ smtp: null, passwordSaved: false });
    const refused = await engine.call('notifications.testSmtp', { to: 'dba@example.test' });
    expect(refused).toMatchObject({ ok: false, code: 'VALIDATION', message: 'Set up the SMTP server first (Settings › E-mail server): enter its host and save.' });
    expect(smtp.mails).toEqual([]);

    const setting = { host: 'localhost', port: smtp.port, security: 'starttls' as const, user: smtp.user, from: 'backstop@example.test' };
    expect(data(await engine.call('notifications.saveSmtp', { smtp: setting, password: smtp.password }))).toEqual(setting);
    const status = data(await engine.call('notifications.smtp', undefined));
    expect(status).toEqual({ smtp: setting, passwordSaved: true });

    expect(data(await engine.call('notifications.testSmtp', { to: 'dba@example.test' }))).toEqual({ delivered: true, attempts: 1, error: null });
    const [mail] = await smtp.waitFor(1);
    expect(mail).toMatchObject({ from: 'backstop@example.test', to: ['dba@example.test'], user: smtp.user, secure: true });
    expect(mail!.subject).toBe(`[Backstop OK] Test message from Backstop to dba@example.test: the SMTP server localhost:${smtp.port} works.`);
    expect(mail!.text).toContain('Event: test');

    // Saved again without a password (the field left empty): the saved one is kept.
    data(await engine.call('notifications.saveSmtp', { smtp: { ...setting, from: 'alerts@example.test' } }));
    expect(data(await engine.call('notifications.testSmtp', { to: 'oncall@example.test' }))).toMatchObject({ delivered: true });
    expect((await smtp.waitFor(2))[1]).toMatchObject({ from: 'alerts@example.test', to: ['oncall@example.test'], user: smtp.user });

    expect(JSON.stringify(engine.db.prepare('SELECT * FROM settings').all())).not.toContain(smtp.password);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.join('\n')).not.toContain(smtp.password);
    expect(readFileSync(join(engine.logsDir, 'backstop.log'), 'utf8')).not.toContain(smtp.password);

    // Removing the server removes its password from the keychain.
    expect(data(await engine.call('notifications.saveSmtp', { smtp: null }))).toBeNull();
    expect(data(await engine.call('notifications.smtp', undefined))).toEqual({ smtp: null, passwordSaved: false });
  });

  it('a wrong password is an answer (not delivered, tried once — retries would lock the account — naming the server), and nothing arrives', async () => {
    const smtp = await smtpReceiver();
    trustSmtpCa(smtp);
    const engine = await testEngine({ notifyRetry: { attempts: 2, baseDelayMs: 100, timeoutMs: 5_000 } });
    data(await engine.call('notifications.saveSmtp', { smtp: { host: 'localhost', port: smtp.port, security: 'starttls', user: smtp.user, from: 'backstop@example.test' }, password: 'wrong-Pa55word' }));
    const outcome = data(await engine.call('notifications.testSmtp', { to: 'dba@example.test' }));
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(smtp.logins).toEqual([{ user: smtp.user, ok: false }]);
    expect(outcome.error).toMatch(/localhost/);
    expect(outcome.error).toContain('refused the user name or password (SMTP 535): check them in Settings › E-mail server');
    expect(outcome.error).not.toContain('wrong-Pa55word');
    expect(smtp.mails).toEqual([]);
  });

  it('a certificate this computer does not trust is named as such, with the fix, and nothing arrives', async () => {
    const smtp = await smtpReceiver();
    const engine = await testEngine({ notifyRetry: { attempts: 1, baseDelayMs: 100, timeoutMs: 5_000 } });
    data(await engine.call('notifications.saveSmtp', { smtp: { host: 'localhost', port: smtp.port, security: 'starttls', user: smtp.user, from: 'backstop@example.test' }, password: smtp.password }));
    const outcome = data(await engine.call('notifications.testSmtp', { to: 'dba@example.test' }));
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(outcome.error).toContain(
      `the SMTP server localhost:${smtp.port} presented a TLS certificate this computer does not trust (self-signed certificate): add the certificate authority that signed it to the system's trusted certificates (the command line also takes caFile in smtp.json or BACKSTOP_SMTP_CA_FILE), or use the host name the certificate names`,
    );
    expect(smtp.mails).toEqual([]);
  });

  it('refuses an address that is not one e-mail address before sending anything', async () => {
    const engine = await testEngine();
    const r = await engine.call('notifications.testSmtp', { to: 'a@b.test, c@d.test' });
    expect(r).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect((r as { message: string }).message).toContain('to');
  });
});
