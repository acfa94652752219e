/**
 * Settings › E-mail server over a fake bridge: what is saved loads into the form (the
 * password never: only "saved"); Save sends a typed password once and clears the field,
 * keeps the saved one when left empty; bad fields are named before anything is sent; the
 * engine's refusal shows its code and message; "Send test" says what became of the mail.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import type { SmtpSetting } from '@shared/domain.ts';
import SmtpSettings from '../../../renderer/src/components/SmtpSettings.vue';
import { fail, installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
let stored: { smtp: SmtpSetting | null; passwordSaved: boolean };
const PASSWORD = 'Sm7p-s3cret-pa55';

beforeEach(() => {
  fake = installFakeBridge();
  stored = { smtp: null, passwordSaved: false };
  fake.respond('notifications.smtp', () => ok(stored));
  fake.respond('notifications.saveSmtp', (input) => {
    const { smtp, password } = input as { smtp: SmtpSetting | null; password?: string };
    stored = { smtp, passwordSaved: smtp !== null && (password !== undefined || stored.passwordSaved) };
    return ok(smtp);
  });
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

async function mountIt() {
  const w = mount(SmtpSettings, { global: { plugins: [createPinia()] }, attachTo: document.body });
  await flushPromises();
  const value = (id: string) => (w.get(`[data-testid="${id}"]`).element as HTMLInputElement).value;
  return { w, value };
}

describe('SmtpSettings', () => {
  it('saves the server with the password once, then shows only "saved"; an empty password keeps it', async () => {
    const { w, value } = await mountIt();
    expect(w.find('[data-testid="smtp-password-saved"]').exists()).toBe(false);
    expect(w.find('[data-testid="smtp-test-form"]').exists()).toBe(false);
    await w.get('[data-testid="smtp-host"]').setValue(' smtp.example.test ');
    expect(value('smtp-port')).toBe('587');
    await w.get('[data-testid="smtp-user"]').setValue('mailer');
    await w.get('[data-testid="smtp-password"]').setValue(PASSWORD);
    await w.get('[data-testid="smtp-from"]').setValue('backstop@example.test');
    await w.get('[data-testid="smtp-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['notifications.saveSmtp']).toHaveBeenLastCalledWith({
      smtp: { host: 'smtp.example.test', port: 587, security: 'starttls', user: 'mailer', from: 'backstop@example.test' },
      password: PASSWORD,
    });
    expect(w.get('[data-testid="smtp-status"]').text()).toBe('E-mail server saved.');
    expect(value('smtp-password')).toBe('');
    expect(w.get('[data-testid="smtp-password"]').attributes('placeholder')).toBe('saved in the keychain');
    expect(w.find('[data-testid="smtp-password-saved"]').exists()).toBe(true);
    expect(document.body.innerHTML).not.toContain(PASSWORD);

    await w.get('[data-testid="smtp-security"]').setValue('tls');
    expect(value('smtp-port')).toBe('465');
    await w.get('[data-testid="smtp-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['notifications.saveSmtp']).toHaveBeenLastCalledWith({ smtp: { host: 'smtp.example.test', port: 465, security: 'tls', user: 'mailer', from: 'backstop@example.test' } });
    expect(w.find('[data-testid="smtp-password-saved"]').exists()).toBe(true);
  });

  it('loads what is saved, warns about plain text, and removes the server', async () => {
    stored = { smtp: { host: 'relay.local', port: 25, security: 'none', user: null, from: 'b@relay.local' }, passwordSaved: false };
    const { w, value } = await mountIt();
    expect([value('smtp-host'), value('smtp-port'), value('smtp-security'), value('smtp-user'), value('smtp-from')]).toEqual(['relay.local', '25', 'none', '', 'b@relay.local']);
    expect(w.get('[data-testid="smtp-plain-warning"]').text()).toContain('readable by anyone on the way');
    await w.get('[data-testid="smtp-remove"]').trigger('click');
    await flushPromises();
    expect(fake.commands['notifications.saveSmtp']).toHaveBeenLastCalledWith({ smtp: null });
    expect(value('smtp-host')).toBe('');
    expect(w.get('[data-testid="smtp-status"]').text()).toBe('E-mail server removed.');
  });

  it('names missing or bad fields and sends nothing; shows the engine\'s refusal with its code', async () => {
    const { w } = await mountIt();
    await w.get('[data-testid="smtp-port"]').setValue('70000');
    await w.get('[data-testid="smtp-from"]').setValue('not an address');
    await w.get('[data-testid="smtp-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['notifications.saveSmtp']).not.toHaveBeenCalled();
    expect(w.text()).toContain('Enter the SMTP server’s host name, e.g. smtp.example.com.');
    expect(w.text()).toContain('Enter a port from 1 to 65535 (587 for STARTTLS, 465 for TLS).');
    expect(w.text()).toContain('Enter the sender address, e.g. backstop@example.com.');

    fake.respond('notifications.saveSmtp', () => fail('KEYCHAIN_LOCKED', 'The system keychain is locked. Unlock it and save again.'));
    await w.get('[data-testid="smtp-host"]').setValue('smtp.example.test');
    await w.get('[data-testid="smtp-port"]').setValue('587');
    await w.get('[data-testid="smtp-from"]').setValue('b@example.test');
    await w.get('[data-testid="smtp-password"]').setValue(PASSWORD);
    await w.get('[data-testid="smtp-form"]').trigger('submit');
    await flushPromises();
    expect(w.get('[data-testid="error-code"]').text()).toBe('KEYCHAIN_LOCKED');
    expect(w.get('[data-testid="error-message"]').text()).toBe('The system keychain is locked. Unlock it and save again.');
    expect((w.get('[data-testid="smtp-password"]').element as HTMLInputElement).value).toBe('');
    expect(w.get('[data-testid="smtp-status"]').text()).toBe('');
  });

  it('"Send test" sends to the typed address and says whether the server took the mail', async () => {
    stored = { smtp: { host: 'smtp.example.test', port: 587, security: 'starttls', user: 'mailer', from: 'b@example.test' }, passwordSaved: true };
    fake.respond('notifications.testSmtp', () => ok({ delivered: false, attempts: 3, error: 'smtp.example.test:587 refused the login (535 Invalid username or password)' }));
    const { w } = await mountIt();
    await w.get('[data-testid="smtp-test-to"]').setValue('two@a.test, b@c.test');
    expect(w.get('[data-testid="smtp-test-result"]').text()).toBe('Enter one e-mail address to send the test to.');
    expect(w.get('[data-testid="smtp-test"]').attributes('disabled')).toBeDefined();
    await w.get('[data-testid="smtp-test-to"]').setValue('dba@example.test');
    await w.get('[data-testid="smtp-test-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['notifications.testSmtp']).toHaveBeenCalledWith({ to: 'dba@example.test' });
    expect(w.get('[data-testid="smtp-test-result"]').text()).toBe('Not delivered after 3 attempts: smtp.example.test:587 refused the login (535 Invalid username or password)');
    fake.respond('notifications.testSmtp', () => ok({ delivered: true, attempts: 1, error: null }));
    await w.get('[data-testid="smtp-test-form"]').trigger('submit');
    await flushPromises();
    expect(w.get('[data-testid="smtp-test-result"]').text()).toBe('Delivered to the server.');
  });
});
