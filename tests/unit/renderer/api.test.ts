import { afterEach, describe, expect, it } from 'vitest';
import { isProxy, reactive } from 'vue';
import { ApiError, call, onEvent, request } from '../../../renderer/src/api';
import { fail, installFakeBridge, ok, removeBridge } from './fake-bridge';

afterEach(removeBridge);

describe('api.call', () => {
  it('sends the input to the command of that name and resolves to its data', async () => {
    const fake = installFakeBridge();
    fake.respond('history.list', () => ok([]));
    await expect(call('history.list', { limit: 5 })).resolves.toEqual([]);
    expect(fake.commands['history.list']).toHaveBeenCalledWith({ limit: 5 });
    expect(fake.commands['servers.list']).not.toHaveBeenCalled();
  });

  it('sends a plain copy of reactive input, never the Proxy (structured clone rejects Proxies)', async () => {
    const fake = installFakeBridge();
    fake.respond('settings.set', () => ok({ theme: 'dark', maxConcurrentBackups: 3, startAtLogin: false, notifications: true, staleAfterHours: null, slotWarnGiB: 1, toolPaths: { postgres: null, mysql: null }, notificationChannels: [], smtp: null }));
    const patch = reactive({ theme: 'dark' as const, maxConcurrentBackups: 3 });
    await call('settings.set', patch);
    const sent = fake.commands['settings.set'].mock.calls[0]?.[0];
    expect(sent).toEqual({ theme: 'dark', maxConcurrentBackups: 3 });
    expect(sent).not.toBe(patch);
    expect(isProxy(sent)).toBe(false);
  });

  it('rejects with an ApiError carrying the engine’s code, message and retryable flag', async () => {
    const fake = installFakeBridge();
    fake.respond('servers.create', () => fail('UNREACHABLE', 'db1:5432 did not answer.'));
    const error = await call('servers.create', { kind: 'sqlite', name: 'x', folder: '/nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'UNREACHABLE', message: 'db1:5432 did not answer.', retryable: true });
  });
});

describe('api.request', () => {
  it('answers INTERNAL when there is no bridge, without throwing', async () => {
    removeBridge();
    const r = await request('servers.list');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe('INTERNAL');
  });

  it('answers INTERNAL when the bridge itself throws or returns something that is not a Result', async () => {
    const fake = installFakeBridge();
    fake.commands['servers.list'].mockRejectedValueOnce(new Error('channel closed'));
    const thrown = await request('servers.list');
    expect(!thrown.ok && thrown.code).toBe('INTERNAL');

    fake.commands['servers.list'].mockResolvedValueOnce('garbage' as never);
    const garbage = await request('servers.list');
    expect(!garbage.ok && garbage.code).toBe('INTERNAL');
    expect(!garbage.ok && garbage.message).toContain('servers.list');
  });
});

describe('api.onEvent', () => {
  it('delivers payloads until unsubscribed; unsubscribing twice is harmless', () => {
    const fake = installFakeBridge();
    const seen: string[][] = [];
    const off = onEvent('servers.changed', (p) => seen.push(p.ids));
    fake.emit('servers.changed', { ids: ['a'] });
    off();
    off();
    fake.emit('servers.changed', { ids: ['b'] });
    expect(seen).toEqual([['a']]);
    expect(fake.listenerCount('servers.changed')).toBe(0);
  });
});
