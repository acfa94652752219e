/**
 * The restore view for a backup of a server's accounts (MariaDB `grants.sql`, PostgreSQL
 * `globals.sql`) over a fake bridge: no "new database" form; a preview (dry run) lists the
 * accounts with their grants and what applying them would do; nothing is applied without
 * the confirmation; "change existing roles" is offered for PostgreSQL only and is sent only
 * when ticked; an engine refusal is shown with its code and message.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import type { BackupFolderInfo, GlobalsApplyReport } from '@shared/domain.ts';
import { fail, ok } from '@shared/result.ts';
import { installFakeBridge, removeBridge, type FakeBridge } from './fake-bridge';
import { mariadb, mountRestoreAt, pgServer, point } from './restore-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const info = (kind: 'mysql' | 'postgres'): BackupFolderInfo => ({
  location: `/b/~server/${kind === 'mysql' ? 'grants.sql' : 'globals.sql'}`, database: kind === 'mysql' ? 'grants.sql' : 'globals.sql', serverIdentity: 'x', serverKind: kind,
  encrypted: false, keyFingerprint: null, needsKey: false, points: [point({ format: kind === 'mysql' ? 'mysql-grants-sql' : 'pg-globals-sql' })], momentRanges: null,
});
const report = (dryRun: boolean): GlobalsApplyReport => ({
  dryRun,
  objects: [
    { kind: 'role', name: 'user `ops`@`localhost`', action: 'skipped', message: 'exists on the target server; existing accounts are never changed', grants: ['GRANT PROCESS ON *.* TO `ops`@`localhost`;'] },
    { kind: 'role', name: 'user `web`@`%`', action: 'created', message: null, grants: ['GRANT `app_ro` TO `web`@`%`;', 'GRANT INSERT ON `shop`.`item` TO `web`@`%`;'] },
  ],
});
const calls = () => fake.commands['restore.applyGlobals'].mock.calls.map((c) => c[0] as Record<string, unknown>);

describe('restore view: a backup of the server accounts', () => {
  it('previews the MariaDB users with their grants and applies them only after the confirmation', async () => {
    fake.respond('restore.applyGlobals', (input) => ok(report((input as { dryRun: boolean }).dryRun)));
    const wrapper = await mountRestoreAt(fake, info('mysql'), [mariadb, pgServer]);
    expect(wrapper.find('[data-testid="restore-target"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="accounts-alter-existing"]').exists()).toBe(false);
    // Only servers of the backup's kind are offered.
    expect(wrapper.findAll('[data-testid="accounts-server"] option').map((o) => o.text())).toEqual(['Shop MariaDB (MySQL / MariaDB)']);
    expect(fake.commands['restore.applyGlobals']).not.toHaveBeenCalled();

    await wrapper.get('[data-testid="accounts-preview"]').trigger('click');
    await flushPromises();
    expect(calls()).toEqual([{ location: { kind: 'local', path: '/b/~server/grants.sql' }, pointId: 'latest', serverId: 'my1', alterExisting: false, dryRun: true }]);
    const rows = wrapper.findAll('[data-testid="accounts-row"]').map((r) => r.text());
    expect(rows[0]).toContain('already there: left unchanged');
    expect(rows[1]).toContain('user `web`@`%`');
    expect(rows[1]).toContain('will be created');
    expect(rows[1]).toContain('GRANT INSERT ON `shop`.`item` TO `web`@`%`;');

    // Apply opens the confirmation; Cancel sends nothing.
    await wrapper.get('[data-testid="accounts-apply"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="confirm-dialog"]').text()).toContain('Apply 1 account to Shop MariaDB?');
    expect(wrapper.get('[data-testid="confirm-dialog"]').text()).toContain('user `web`@`%` will be created on Shop MariaDB');
    await wrapper.get('[data-testid="confirm-cancel"]').trigger('click');
    await flushPromises();
    expect(calls()).toHaveLength(1);

    await wrapper.get('[data-testid="accounts-apply"]').trigger('click');
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    expect(calls()[1]).toMatchObject({ serverId: 'my1', alterExisting: false, dryRun: false });
    expect(wrapper.get('[data-testid="accounts-applied"]').text()).toBe('1 account created, 1 left unchanged.');
    expect(wrapper.find('[data-testid="accounts-apply"]').exists()).toBe(false);
  });

  it('PostgreSQL roles: "change existing roles" is sent only when ticked; a refusal is shown with its code and message', async () => {
    fake.respond('restore.applyGlobals', (input) =>
      (input as { dryRun: boolean }).dryRun ? ok(report(true)) : fail('PERMISSION_DENIED', 'User "postgres2" may not create roles: connect as a role with CREATEROLE.'),
    );
    const wrapper = await mountRestoreAt(fake, info('postgres'), [mariadb, pgServer]);
    await wrapper.get('[data-testid="accounts-preview"]').trigger('click');
    await flushPromises();
    expect(calls()[0]).toMatchObject({ serverId: 'pg1', alterExisting: false, dryRun: true });
    await wrapper.get('[data-testid="accounts-alter-existing"]').setValue(true);
    await flushPromises();
    // A new choice asks for a new preview before anything can be applied.
    expect(wrapper.find('[data-testid="accounts-apply"]').exists()).toBe(false);
    await wrapper.get('[data-testid="accounts-preview"]').trigger('click');
    await flushPromises();
    expect(calls()[1]).toMatchObject({ alterExisting: true, dryRun: true });
    await wrapper.get('[data-testid="accounts-apply"]').trigger('click');
    await wrapper.get('[data-testid="confirm-ok"]').trigger('click');
    await flushPromises();
    expect(calls()[2]).toMatchObject({ alterExisting: true, dryRun: false });
    const dialog = wrapper.get('[data-testid="confirm-dialog"]').text();
    expect(dialog).toContain('PERMISSION_DENIED');
    expect(dialog).toContain('may not create roles');
    expect(wrapper.find('[data-testid="accounts-applied"]').exists()).toBe(false);
  });
});
