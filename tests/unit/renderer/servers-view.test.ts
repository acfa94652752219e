import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import type { Server } from '@shared/domain.ts';
import ServersView from '../../../renderer/src/views/ServersView.vue';
import ServerForm from '../../../renderer/src/components/ServerForm.vue';
import { fail, installFakeBridge, ok, removeBridge, sqliteServer, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

function mountView() {
  return mount(ServersView, { global: { plugins: [createPinia()] }, attachTo: document.body });
}

describe('ServersView', () => {
  it('with no servers, offers the three kinds, and the chosen kind opens the form preselected', async () => {
    fake.respond('servers.list', () => ok([]));
    const wrapper = mountView();
    await flushPromises();

    const empty = wrapper.get('[data-testid="servers-empty"]');
    expect(empty.text()).toContain('Add a server');
    expect(wrapper.findAll('[data-testid^="empty-add-"]').map((b) => b.attributes('data-testid'))).toEqual([
      'empty-add-postgres',
      'empty-add-mysql',
      'empty-add-sqlite',
    ]);

    await wrapper.get('[data-testid="empty-add-sqlite"]').trigger('click');
    expect(wrapper.find('[data-testid="servers-empty"]').exists()).toBe(false);
    expect((wrapper.get('[data-testid="server-kind-sqlite"]').element as HTMLInputElement).checked).toBe(true);
    expect(wrapper.find('[data-testid="server-folder"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="server-host"]').exists()).toBe(false);
  });

  it('shows the engine’s error code and message when adding fails, and lists nothing', async () => {
    fake.respond('servers.list', () => ok([]));
    fake.respond('servers.create', () => fail('VALIDATION', 'folder: "/nope" does not exist. Choose an existing folder of SQLite databases.'));
    const wrapper = mountView();
    await flushPromises();

    await wrapper.get('[data-testid="empty-add-sqlite"]').trigger('click');
    await wrapper.get('[data-testid="server-name"]').setValue('Ghost');
    await wrapper.get('[data-testid="server-folder"]').setValue('/nope');
    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();

    expect(fake.commands['servers.create']).toHaveBeenCalledWith({ kind: 'sqlite', name: 'Ghost', folder: '/nope' });
    const notice = wrapper.get('[data-testid="server-form"] [data-testid="error-notice"]');
    expect(notice.attributes('role')).toBe('alert');
    expect(notice.get('[data-testid="error-code"]').text()).toBe('VALIDATION');
    expect(notice.get('[data-testid="error-message"]').text()).toBe('folder: "/nope" does not exist. Choose an existing folder of SQLite databases.');
    expect(wrapper.findAll('[data-testid="server-row"]')).toHaveLength(0);
    // The form stays open with the input, so the user can fix the path.
    expect((wrapper.get('[data-testid="server-folder"]').element as HTMLInputElement).value).toBe('/nope');
  });

  it('adds a PostgreSQL server with the typed fields, closes the form and lists it', async () => {
    let stored: Server[] = [];
    fake.respond('servers.list', () => ok(stored));
    fake.respond('servers.create', (input) => {
      const i = input as { name: string; host: string; port: number; user: string };
      const s: Server = { id: 'p1', kind: 'postgres', name: i.name, host: i.host, port: i.port, user: i.user, tls: 'prefer', passwordRef: 'server.p1.password', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' };
      stored = [s];
      return ok(s);
    });
    const wrapper = mountView();
    await flushPromises();

    await wrapper.get('[data-testid="empty-add-postgres"]').trigger('click');
    expect((wrapper.get('[data-testid="server-port"]').element as HTMLInputElement).value).toBe('5432');
    await wrapper.get('[data-testid="server-name"]').setValue('Primary');
    await wrapper.get('[data-testid="server-host"]').setValue('db1.internal');
    await wrapper.get('[data-testid="server-user"]').setValue('backup');
    await wrapper.get('[data-testid="server-password"]').setValue('s3cret');
    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();

    expect(fake.commands['servers.create']).toHaveBeenCalledWith({
      kind: 'postgres',
      name: 'Primary',
      host: 'db1.internal',
      port: 5432,
      user: 'backup',
      tls: 'prefer',
      password: 's3cret',
    });
    expect(wrapper.find('[data-testid="server-form"]').exists()).toBe(false);
    const rows = wrapper.findAll('[data-testid="server-row"]');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.text()).toContain('Primary');
    expect(rows[0]!.get('[data-testid="server-row-detail"]').text()).toBe('backup@db1.internal:5432');
    // The password is nowhere on the page.
    expect(wrapper.html()).not.toContain('s3cret');
  });

  it('deletes only after confirmation', async () => {
    let stored: Server[] = [sqliteServer('a', 'Apps', '/srv/apps')];
    fake.respond('servers.list', () => ok(stored));
    fake.respond('servers.delete', (input) => {
      stored = stored.filter((s) => s.id !== (input as { id: string }).id);
      return ok({ id: 'a' });
    });
    const wrapper = mountView();
    await flushPromises();

    await wrapper.get('[data-testid="server-delete"]').trigger('click');
    await flushPromises();
    expect(fake.commands['servers.delete']).not.toHaveBeenCalled();
    await wrapper.get('[data-testid="confirm-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['servers.delete']).not.toHaveBeenCalled();
    expect(wrapper.findAll('[data-testid="server-row"]')).toHaveLength(1);

    await wrapper.get('[data-testid="server-delete"]').trigger('click');
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    expect(fake.commands['servers.delete']).toHaveBeenCalledWith({ id: 'a' });
    expect(wrapper.findAll('[data-testid="server-row"]')).toHaveLength(0);
    expect(wrapper.find('[data-testid="servers-empty"]').exists()).toBe(true);
  });

  it('shows a load failure with its code and a working Try again', async () => {
    fake.respond('servers.list', () => fail('INTERNAL', 'An unexpected error occurred. Details are in the Backstop log.'));
    const wrapper = mountView();
    await flushPromises();
    expect(wrapper.get('[data-testid="error-code"]').text()).toBe('INTERNAL');

    fake.respond('servers.list', () => ok([sqliteServer('a', 'Apps')]));
    await wrapper.get('[data-testid="error-notice"] button').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="error-notice"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-testid="server-row"]')).toHaveLength(1);
  });
});

describe('ServerForm', () => {
  it('does not submit with required fields empty, and says which', async () => {
    const wrapper = mount(ServerForm, { props: { initialKind: 'mysql' }, attachTo: document.body });
    await wrapper.get('[data-testid="server-host"]').setValue('');
    await wrapper.get('form').trigger('submit');
    expect(wrapper.emitted('submit')).toBeUndefined();
    const errors = wrapper.findAll('.field-error').map((e) => e.text());
    expect(errors).toEqual([
      'Give the server a name, e.g. “Production primary”.',
      'Enter a host name or IP address.',
      'Enter the user Backstop connects as.',
    ]);
    expect(wrapper.get('[data-testid="server-name"]').attributes('aria-invalid')).toBe('true');
    // Screen readers read the error with the field.
    expect(wrapper.get('[data-testid="server-name"]').attributes('aria-describedby')).toBe('server-name-error');
    expect(document.getElementById('server-name-error')?.textContent).toMatch(/Give the server a name/);
    expect(wrapper.get('[data-testid="server-port"]').attributes('aria-invalid')).toBeUndefined();
    wrapper.unmount();
  });

  it('switching kind swaps the default port unless the user typed one', async () => {
    const wrapper = mount(ServerForm, { props: { initialKind: 'postgres' } });
    const port = () => (wrapper.get('[data-testid="server-port"]').element as HTMLInputElement).value;
    expect(port()).toBe('5432');
    await wrapper.get('[data-testid="server-kind-mysql"]').setValue(true);
    expect(port()).toBe('3306');
    await wrapper.get('[data-testid="server-port"]').setValue('6000');
    await wrapper.get('[data-testid="server-kind-postgres"]').setValue(true);
    expect(port()).toBe('6000');
  });
  it('sends the CA certificate file with the TLS mode; the field is gone (and nothing sent) with TLS disabled', async () => {
    const wrapper = mount(ServerForm, { props: { initialKind: 'postgres' } });
    await wrapper.get('[data-testid="server-name"]').setValue('Cloud');
    await wrapper.get('[data-testid="server-user"]').setValue('backup');
    await wrapper.get('[data-testid="server-tls"]').setValue('verify-full');
    await wrapper.get('[data-testid="server-tls-ca"]').setValue(' /etc/ssl/company-ca.pem ');
    await wrapper.get('form').trigger('submit');
    expect(wrapper.emitted('submit')?.[0]?.[0]).toMatchObject({ kind: 'postgres', tls: 'verify-full', tlsCaFile: '/etc/ssl/company-ca.pem' });
    await wrapper.get('[data-testid="server-tls"]').setValue('disable');
    expect(wrapper.find('[data-testid="server-tls-ca"]').exists()).toBe(false);
    await wrapper.get('form').trigger('submit');
    expect(wrapper.emitted('submit')?.[1]?.[0]).not.toHaveProperty('tlsCaFile');
  });

  it('an edited server shows its saved CA certificate file', () => {
    const server: Server = { id: 'p', name: 'Cloud', kind: 'postgres', host: 'db.example', port: 5432, user: 'u', tls: 'verify-full', tlsCaFile: '/etc/ssl/ca.pem', passwordRef: null, createdAt: '', updatedAt: '' };
    const wrapper = mount(ServerForm, { props: { initialKind: 'postgres', server } });
    expect((wrapper.get('[data-testid="server-tls-ca"]').element as HTMLInputElement).value).toBe('/etc/ssl/ca.pem');
  });
});

describe('ServersView: server health', () => {
  it('shows each server’s last test and its age, and "Not tested yet" for one never tested', async () => {
    const now = Date.now();
    const servers: Server[] = [
      { ...sqliteServer('a', 'Apps', '/srv/apps'), lastTest: { at: new Date(now - 5 * 60_000).toISOString(), ok: true, code: null, message: null } },
      { ...sqliteServer('b', 'Broken', '/srv/broken'), lastTest: { at: new Date(now - 2 * 3600_000).toISOString(), ok: false, code: 'UNREACHABLE', message: 'Folder "/srv/broken" does not exist.' } },
      sqliteServer('c', 'Fresh', '/srv/fresh'),
    ];
    fake.respond('servers.list', () => ok(servers));
    const wrapper = mountView();
    await flushPromises();
    const health = wrapper.findAll('[data-testid="server-row-health"]').map((h) => h.text().replace(/\s+/g, ' '));
    expect(health[0]).toBe('Last test: OK, 5 min ago');
    expect(health[1]).toBe('Last test failed: UNREACHABLE, 2 h ago');
    expect(health[2]).toMatch(/^Not tested yet, added /);
  });

  it('asks before saving a server whose connection test just failed, and saves only on "Save anyway"', async () => {
    let stored: Server[] = [];
    fake.respond('servers.list', () => ok(stored));
    fake.respond('servers.test', () => fail('UNREACHABLE', 'Folder "/srv/gone" does not exist or cannot be read.'));
    fake.respond('servers.create', (input) => {
      const s = { ...sqliteServer('n', (input as { name: string }).name, '/srv/gone') };
      stored = [s];
      return ok(s);
    });
    const wrapper = mountView();
    await flushPromises();
    await wrapper.get('[data-testid="empty-add-sqlite"]').trigger('click');
    await wrapper.get('[data-testid="server-name"]').setValue('Gone');
    await wrapper.get('[data-testid="server-folder"]').setValue('/srv/gone');
    await wrapper.get('[data-testid="server-test"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['servers.create']).not.toHaveBeenCalled();
    expect(wrapper.get('[data-testid="save-anyway-reason"]').text()).toBe('UNREACHABLE Folder "/srv/gone" does not exist or cannot be read.');

    // Back to the form: nothing saved.
    const dialogs = wrapper.findAll('dialog');
    await dialogs[dialogs.length - 1]!.get('[data-testid="confirm-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['servers.create']).not.toHaveBeenCalled();
    expect(wrapper.find('[data-testid="server-form"]').exists()).toBe(true);

    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();
    await wrapper.findAll('dialog').at(-1)!.get('[data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    expect(fake.commands['servers.create']).toHaveBeenCalledWith({ kind: 'sqlite', name: 'Gone', folder: '/srv/gone' });
    // The saved server is tested at once so the list can show how it is doing.
    expect(fake.commands['servers.test']).toHaveBeenLastCalledWith({ id: 'n' });
  });

  it('an edit refused because the server changed elsewhere (STALE) keeps the typed entries; "Keep my entries" then saves them over it, "Discard" shows the current settings', async () => {
    const pg = (over: Partial<Server>): Server => ({ id: 'p1', name: 'Prod', kind: 'postgres', host: 'db1', port: 5432, user: 'backup', tls: 'prefer', passwordRef: null, createdAt: 'c', updatedAt: 'v1', ...over }) as Server;
    let stored = pg({});
    fake.respond('servers.list', () => ok([stored]));
    fake.respond('servers.test', () => ok({ serverVersion: 'PostgreSQL 15', tools: [], warnings: [], support: { logical: null, snapshot: null } } as never));
    fake.respond('servers.update', (input) => {
      const { server, basedOn } = input as { server: Partial<Server>; basedOn?: string };
      if (basedOn !== stored.updatedAt) return fail('STALE', 'Server "Prod" was changed elsewhere (another window or the command line; saved at v2) after this edit began, so nothing was saved.');
      stored = pg({ ...server, updatedAt: 'v3' });
      return ok(stored);
    });
    const wrapper = mountView();
    await flushPromises();
    await wrapper.get('[data-testid="server-edit"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="server-host"]').setValue('db-typed');
    // Another window moves the server meanwhile.
    stored = pg({ port: 6432, updatedAt: 'v2' });
    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['servers.update']).toHaveBeenLastCalledWith(expect.objectContaining({ basedOn: 'v1' }));
    expect(wrapper.get('[data-testid="server-changed-elsewhere"]').text()).toContain('This server was changed elsewhere');
    expect((wrapper.get('[data-testid="server-host"]').element as HTMLInputElement).value).toBe('db-typed');

    await wrapper.get('[data-testid="server-changed-keep-mine"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="server-changed-elsewhere"]').exists()).toBe(false);
    expect((wrapper.get('[data-testid="server-host"]').element as HTMLInputElement).value).toBe('db-typed');
    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['servers.update']).toHaveBeenLastCalledWith(expect.objectContaining({ basedOn: 'v2', server: expect.objectContaining({ host: 'db-typed' }) }));
    expect(stored).toMatchObject({ host: 'db-typed' });

    // Discard: a second refused edit, then the form shows the stored version.
    await wrapper.get('[data-testid="server-edit"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="server-host"]').setValue('db-again');
    stored = pg({ host: 'db-elsewhere', updatedAt: 'v4' });
    await wrapper.get('[data-testid="server-form"]').trigger('submit');
    await flushPromises();
    await wrapper.get('[data-testid="server-changed-load-current"]').trigger('click');
    await flushPromises();
    expect((wrapper.get('[data-testid="server-host"]').element as HTMLInputElement).value).toBe('db-elsewhere');
    expect(stored).toMatchObject({ host: 'db-elsewhere' });
  });
});
