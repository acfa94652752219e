import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { DEFAULT_SETTINGS, type ChannelDelivery, type NotificationChannelSetting, type Settings } from '@shared/domain.ts';
import NotificationChannels from '../../../renderer/src/components/NotificationChannels.vue';
import { useSettingsStore } from '../../../renderer/src/stores/settings';
import { fail, installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
let stored: Settings;
beforeEach(() => {
  fake = installFakeBridge();
  stored = { ...DEFAULT_SETTINGS, notificationChannels: [] };
  fake.respond('settings.get', () => ok(stored));
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

async function mountIt() {
  const pinia = createPinia();
  const w = mount(NotificationChannels, { global: { plugins: [pinia] }, attachTo: document.body });
  await useSettingsStore(pinia).refresh();
  await flushPromises();
  return w;
}

describe('NotificationChannels', () => {
  it('adds a webhook (the URL goes to the engine once), lists it, and shows what "Send test" did', async () => {
    fake.respond('notifications.saveChannel', (input) => {
      const c = { id: 'c1', ...((input as { channel: object }).channel), on: null } as NotificationChannelSetting;
      stored = { ...stored, notificationChannels: [c] };
      return ok(c);
    });
    const w = await mountIt();
    expect(w.find('[data-testid="notification-empty"]').exists()).toBe(true);
    await w.get('[data-testid="notification-name"]').setValue('ops chat');
    await w.get('[data-testid="notification-url"]').setValue('https://hooks.example.test/T0KEN');
    await w.get('[data-testid="notification-preset"]').setValue('slack');
    await w.get('[data-testid="notification-add"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['notifications.saveChannel']).toHaveBeenCalledWith({ channel: { kind: 'webhook', name: 'ops chat', preset: 'slack' }, url: 'https://hooks.example.test/T0KEN' });
    expect(w.findAll('[data-testid="notification-channel"]').map((r) => r.text())).toEqual([expect.stringContaining('ops chat')]);
    expect((w.get('[data-testid="notification-url"]').element as HTMLInputElement).value).toBe('');
    expect(w.text()).not.toContain('T0KEN');

    fake.respond('notifications.test', () => ok({ delivered: false, attempts: 5, error: 'https://hooks.example.test answered HTTP 404' }));
    await w.get('[data-testid="notification-test"]').trigger('click');
    await flushPromises();
    expect(fake.commands['notifications.test']).toHaveBeenCalledWith({ id: 'c1' });
    expect(w.get('[data-testid="notification-test-result"]').text()).toBe('Not delivered after 5 attempts: https://hooks.example.test answered HTTP 404');
    // A refusal not retried is one attempt; a rate limit's wait longer than Backstop waits can leave none.
    fake.respond('notifications.test', () => ok({ delivered: false, attempts: 1, error: 'https://hooks.example.test answered HTTP 404 (no such webhook …)' }));
    await w.get('[data-testid="notification-test"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="notification-test-result"]').text()).toBe('Not delivered after 1 attempt: https://hooks.example.test answered HTTP 404 (no such webhook …)');
    fake.respond('notifications.test', () => ok({ delivered: false, attempts: 0, error: 'https://hooks.example.test asked to wait until 2026-12-06T11:00:00.000Z (Retry-After) …' }));
    await w.get('[data-testid="notification-test"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="notification-test-result"]').text()).toBe('Not sent: https://hooks.example.test asked to wait until 2026-12-06T11:00:00.000Z (Retry-After) …');

    fake.respond('notifications.test', () => ok({ delivered: true, attempts: 1, error: null }));
    await w.get('[data-testid="notification-test"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="notification-test-result"]').text()).toBe('Delivered.');
  });

  it('shows each channel\'s last delivery, a failing one as failing, and reads them again after a test and when the engine says one started failing', async () => {
    stored = {
      ...stored,
      notificationChannels: [
        { id: 'w1', kind: 'webhook', name: 'ops chat', preset: 'json', on: null },
        { id: 'h1', kind: 'heartbeat', name: 'healthcheck', method: 'GET' },
        { id: 'm1', kind: 'email', name: 'dba', to: ['dba@example.test'], on: null },
      ] as NotificationChannelSetting[],
    };
    let answer: Record<string, ChannelDelivery> = {
      w1: { at: '2026-12-06T10:00:00.000Z', event: 'run-failed', status: 'failed', attempts: 5, error: 'https://hooks.example.test answered HTTP 404' },
      h1: { at: '2026-12-06T10:00:00.000Z', event: 'run-succeeded', status: 'delivered', attempts: 1, error: null },
    };
    fake.respond('notifications.deliveries', () => ok(answer));
    const w = await mountIt();
    await flushPromises();
    const last = () => w.findAll('[data-testid="notification-last"]').map((r) => r.text());
    expect(last()[0]).toMatch(/^Failing: run-failed at .+ was not delivered after 5 attempts \(https:\/\/hooks\.example\.test answered HTTP 404\)\. Alerts sent here are lost until it works again\.$/);
    expect(w.findAll('[data-testid="notification-last"]')[0]!.classes()).toContain('failing');
    expect(last()[1]).toMatch(/^Last sent .+ \(run-succeeded\): delivered\.$/);
    expect(last()[2]).toBe('Nothing sent yet.');

    answer = { ...answer, w1: { at: '2026-12-06T11:00:00.000Z', event: 'test', status: 'delivered', attempts: 1, error: null } };
    fake.respond('notifications.test', () => ok({ delivered: true, attempts: 1, error: null }));
    await w.get('[data-testid="notification-test"]').trigger('click');
    await flushPromises();
    expect(last()[0]).toMatch(/^Last sent .+ \(test\): delivered\.$/);

    answer = { ...answer, m1: { at: '2026-12-06T12:00:00.000Z', event: 'run-failed', status: 'failed', attempts: 5, error: 'mail.example.test refused the login' } };
    fake.emit('alert', { kind: 'notification-failed', taskId: null, message: 'Notifications to "dba" …', databases: [] });
    await flushPromises();
    expect(last()[2]).toMatch(/^Failing: run-failed/);
    answer = { ...answer, m1: { ...answer.m1!, attempts: 0, error: 'held back' } };
    fake.emit('alert', { kind: 'notification-failed', taskId: null, message: 'Notifications to "dba" …', databases: [] });
    await flushPromises();
    expect(last()[2]).toMatch(/^Failing: run-failed at .+ was not sent \(held back\)\. Alerts sent here are lost until it works again\.$/);

    // Delivered, but the server refused one of the recipients: said, not shown as failing.
    answer = { ...answer, m1: { at: '2026-12-06T13:00:00.000Z', event: 'run-failed', status: 'delivered', attempts: 1, error: 'the SMTP server mail.example.test:587 refused gone@example.test (SMTP 550); the others got it' } };
    fake.emit('alert', { kind: 'notification-failed', taskId: null, message: 'Notifications to "dba" …', databases: [] });
    await flushPromises();
    expect(last()[2]).toMatch(/^Last sent .+ \(run-failed\): delivered, but the SMTP server mail\.example\.test:587 refused gone@example\.test \(SMTP 550\); the others got it\.$/);
    expect(w.findAll('[data-testid="notification-last"]')[2]!.classes()).not.toContain('failing');
  });

  it('shows the engine\'s refusal, and adds e-mail recipients as a list', async () => {
    fake.respond('notifications.saveChannel', () => fail('VALIDATION', 'Enter the webhook URL.'));
    const w = await mountIt();
    await w.get('[data-testid="notification-add"]').trigger('submit');
    await flushPromises();
    expect(w.text()).toContain('Enter the webhook URL.');

    fake.respond('notifications.saveChannel', (input) => ok({ id: 'm1', on: null, ...((input as { channel: object }).channel) } as NotificationChannelSetting));
    await w.get('[data-testid="notification-kind"]').setValue('email');
    await w.get('[data-testid="notification-to"]').setValue('dba@example.test, oncall@example.test');
    await w.get('[data-testid="notification-add"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['notifications.saveChannel']).toHaveBeenLastCalledWith({ channel: { kind: 'email', name: 'E-mail', to: ['dba@example.test', 'oncall@example.test'] } });
  });
});
