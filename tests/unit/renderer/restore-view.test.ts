/**
 * The restore view over a fake bridge: the draft's conversion to restore.start for each
 * kind of target (database, cluster snapshot, SQLite), the PostgreSQL owner/privilege
 * options, the notes of a result, the ROLE_MISSING choices and their retries, and a
 * destination root answered with its folders as choices.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import type { BackupFolderInfo, RestorePoint, Server } from '@shared/domain.ts';
import { draftErrors, draftToStartInput, emptyDraft, missingRolesOf, suggestedName } from '../../../renderer/src/components/restore/restore-draft';
import { fail, installFakeBridge, ok, removeBridge, sqliteServer, type FakeBridge } from './fake-bridge';
import { mountRestoreAt, mountRestoreView } from './restore-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const pgServer: Server = {
  id: 'pg1', name: 'Production PG', kind: 'postgres', host: 'db', port: 5432, user: 'postgres', tls: 'prefer', passwordRef: null,
  createdAt: '2026-01-02T03:04:05.000Z', updatedAt: '2026-01-02T03:04:05.000Z',
};
const point = (over: Partial<RestorePoint>): RestorePoint => ({
  id: '20260102T030405678Z-9f3a0c1b', kind: 'full', backupType: 'logical', createdAt: '2026-01-02T03:04:05.678Z', length: 2048,
  format: 'pg-custom', chainId: 'c1', engineVersion: '1', bytesAdded: 1500, ...over,
});
const pgInfo = (format = 'pg-custom', database = 'shop'): BackupFolderInfo => ({
  location: `/b/${database}`, database, serverIdentity: 'x', serverKind: 'postgres', encrypted: false, keyFingerprint: null, needsKey: false,
  points: [point({ format })],
});
const location = { kind: 'local' as const, path: '/b/shop' };

describe('restore draft', () => {
  it('sends only the options that apply to the target and the point', () => {
    const info = pgInfo();
    const d = { ...emptyDraft(), serverId: 'pg1', database: ' shop_copy ', jobs: 4, noOwner: true, noPrivileges: true, roleMap: { web: ' app ', etl: ' ' }, folder: '/x' };
    expect(draftToStartInput(d, { location, info, mode: 'database', targetKind: 'postgres', key: '' })).toEqual({
      location, pointId: 'latest', serverId: 'pg1', database: 'shop_copy',
      options: { jobs: 4, noOwner: true, noPrivileges: true, roleMap: { web: 'app' }, createRoles: false, folder: null },
    });
    // The same draft for MariaDB: no PostgreSQL options; for SQLite: the folder.
    expect(draftToStartInput(d, { location, info, mode: 'database', targetKind: 'mysql', key: ' k ' })).toMatchObject({
      key: 'k', options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null },
    });
    expect(draftToStartInput(d, { location, info, mode: 'database', targetKind: 'sqlite', key: '' }).options?.folder).toBe('/x');
    // A cluster snapshot: the data directory, the stream's name, no pg_restore options.
    const cluster = pgInfo('pg-basebackup-tar', 'base.tar');
    expect(draftToStartInput({ ...d, folder: ' /pg/new ' }, { location, info: cluster, mode: 'cluster', targetKind: 'postgres', key: '' })).toMatchObject({
      database: 'base.tar', options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: '/pg/new' },
    });
  });

  it('asks for what each mode needs, and proposes a name only for a database', () => {
    expect(draftErrors(emptyDraft(), 'database')).toEqual({ serverId: 'Choose the server to restore to.', database: 'Enter a name for the new database.' });
    expect(draftErrors({ ...emptyDraft(), serverId: 's' }, 'cluster')).toEqual({ folder: 'Choose a new, empty folder for the restored data directory.' });
    expect(suggestedName(pgInfo())).toBe('shop_restored');
    expect(suggestedName(pgInfo('pg-basebackup-tar', 'base.tar'))).toBe('');
    expect(suggestedName(pgInfo('pg-globals-sql', 'globals.sql'))).toBe('');
  });

  it('reads the missing roles a ROLE_MISSING message names', () => {
    expect(missingRolesOf('The backup names role "web", which the target server lacks.')).toEqual(['web']);
    // The engine's own ROLE_MISSING wording (restore-plan.ts): each role named as role "…", quoted columns ignored.
    expect(
      missingRolesOf(
        'The backup names roles that the PostgreSQL server h:5432 lacks: role "Gr;antee" (granted CREATE on the database), role "reader" (granted SELECT("to", "from") on TABLE app.orders). Nothing was restored. Choose one: create the missing roles (without login or privileges), map each to a role that exists, or skip ownership (everything then belongs to "postgres") and/or privileges.',
      ),
    ).toEqual(['Gr;antee', 'reader']);
    expect(missingRolesOf('Roles "web", "report" and "we""ird" do not exist on server pg. Create them, map them or skip owners.')).toEqual(['web', 'report', 'we"ird']);
    expect(missingRolesOf('some roles are missing')).toEqual([]);
  });
});

const mountAt = (info: BackupFolderInfo, servers: Server[]) => mountRestoreAt(fake, info, servers);

const startInput = (n: number) => fake.commands['restore.start'].mock.calls[n]![0] as { database: string; options: Record<string, unknown> };

describe('RestoreView', () => {
  it('restores a PostgreSQL database with owners and privileges left out when asked, and shows the notes', async () => {
    const wrapper = await mountAt(pgInfo(), [pgServer]);
    expect((wrapper.get('[data-testid="restore-name"]').element as HTMLInputElement).value).toBe('shop_restored');
    expect(wrapper.get('[data-testid="restore-point-added"]').text()).toBe('1.5 KB');
    expect(wrapper.get('[data-testid="restore-point-time"]').text()).toBe(new Date('2026-01-02T03:04:05.678Z').toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' }));
    await wrapper.get('[data-testid="restore-no-owner"]').setValue(true);
    await wrapper.get('[data-testid="restore-no-privileges"]').setValue(true);
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(startInput(0)).toMatchObject({ serverId: 'pg1', database: 'shop_restored', options: { noOwner: true, noPrivileges: true, createRoles: false, roleMap: {} } });

    fake.emit('restore.finished', { restoreId: 'r1', status: 'success', database: 'shop_restored', path: null, notes: ['Owners were not restored: every object belongs to postgres.'], error: null });
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-result"]').text()).toContain('Restored into shop_restored');
    expect(wrapper.findAll('[data-testid="restore-note"]').map((n) => n.text())).toEqual(['Owners were not restored: every object belongs to postgres.']);
  });

  it('offers the ROLE_MISSING choices where the failure is shown, and each retries with its option', async () => {
    const wrapper = await mountAt(pgInfo(), [pgServer]);
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    const failed = (id: string) =>
      fake.emit('restore.finished', {
        restoreId: id, status: 'failed', database: 'shop_restored', path: null, notes: ['Nothing was left behind: shop_restored was dropped.'],
        error: { code: 'ROLE_MISSING', message: 'The backup names roles "web" and "report", which server Production PG lacks. Create them, map them to existing roles, or skip owners and privileges.' },
      });
    failed('r1');
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-result-code"]').text()).toBe('ROLE_MISSING');
    expect(wrapper.get('[data-testid="restore-note"]').text()).toBe('Nothing was left behind: shop_restored was dropped.');
    const choices = wrapper.get('[data-testid="role-missing"]');
    expect(choices.text()).toContain('web, report');

    // Map each role: the retry waits until every role has a target.
    await wrapper.get('[data-testid="role-choice-map"]').setValue(true);
    await wrapper.get('[data-testid="role-map-web"]').setValue('app_owner');
    expect(wrapper.get('[data-testid="role-retry"]').attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="role-map-report"]').setValue(' analyst ');
    await wrapper.get('[data-testid="role-retry"]').trigger('click');
    await flushPromises();
    expect(startInput(1)).toMatchObject({ database: 'shop_restored', options: { roleMap: { web: 'app_owner', report: 'analyst' }, createRoles: false, noOwner: false } });

    failed('r2');
    await flushPromises();
    await wrapper.get('[data-testid="role-choice-create"]').setValue(true);
    await wrapper.get('[data-testid="role-retry"]').trigger('click');
    await flushPromises();
    expect(startInput(2).options).toMatchObject({ createRoles: true });

    failed('r3');
    await flushPromises();
    await wrapper.get('[data-testid="role-choice-skip"]').setValue(true);
    await wrapper.get('[data-testid="role-retry"]').trigger('click');
    await flushPromises();
    expect(startInput(3).options).toMatchObject({ noOwner: true, noPrivileges: true });
    expect(fake.commands['restore.start']).toHaveBeenCalledTimes(4);
  });

  it('a cluster snapshot asks for a new data directory instead of a name and pg_restore options', async () => {
    const wrapper = await mountAt(pgInfo('pg-basebackup-tar', 'base.tar'), [pgServer]);
    expect(wrapper.get('[data-testid="restore-database"]').text()).toBe('Whole cluster');
    expect(wrapper.find('[data-testid="restore-name"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="restore-jobs"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="restore-no-owner"]').exists()).toBe(false);
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(fake.commands['restore.start']).not.toHaveBeenCalled();
    expect(wrapper.get('#restore-datadir-error').text()).toBe('Choose a new, empty folder for the restored data directory.');
    await wrapper.get('[data-testid="restore-datadir"]').setValue('/srv/pg/restored');
    await wrapper.get('[data-testid="restore-target"]').trigger('submit');
    await flushPromises();
    expect(startInput(0)).toMatchObject({ database: 'base.tar', options: { folder: '/srv/pg/restored', noOwner: false, jobs: 1 } });
    fake.emit('restore.finished', { restoreId: 'r1', status: 'success', database: 'base.tar', path: '/srv/pg/restored', notes: ['Start it with: pg_ctl -D /srv/pg/restored -o "-p 5433" start'], error: null });
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-result"]').text()).toBe('Restored into the new data directory /srv/pg/restored.');
    expect(wrapper.get('[data-testid="restore-note"]').text()).toBe('Start it with: pg_ctl -D /srv/pg/restored -o "-p 5433" start');
  });

  it('a folder that holds backups is answered with them as choices; a foreign one keeps the engine’s error', async () => {
    fake.respond('restore.inspect', (input) =>
      (input as { location: { path: string } }).location.path === '/b/~server/base.tar' ? ok(pgInfo('pg-basebackup-tar', 'base.tar')) : fail('NOT_A_BACKUP', 'not a backup'),
    );
    fake.respond('restore.folders', (input) =>
      (input as { destination: { path: string } }).destination.path === '/b'
        ? ok([
            { folder: 'shop', database: 'shop', serverStream: false, location: { kind: 'local', path: '/b/shop' } },
            { folder: '~server/base.tar', database: 'base.tar', serverStream: true, location: { kind: 'local', path: '/b/~server/base.tar' } },
          ])
        : ok([]),
    );
    const wrapper = await mountRestoreView(fake, { servers: [sqliteServer('s1', 'Files')] });
    await wrapper.get('[data-testid="restore-path"]').setValue('/b');
    await wrapper.get('[data-testid="restore-read"]').element.closest('form')!.dispatchEvent(new Event('submit'));
    await flushPromises();
    expect(wrapper.find('[data-testid="restore-inspect-error"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-testid="restore-choice"]').map((c) => c.text())).toEqual(['shop', 'Whole cluster']);
    await wrapper.findAll('[data-testid="restore-choice"]')[1]!.trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-database"]').text()).toBe('Whole cluster');

    await wrapper.get('[data-testid="restore-path"]').setValue('/elsewhere');
    await wrapper.get('[data-testid="restore-read"]').element.closest('form')!.dispatchEvent(new Event('submit'));
    await flushPromises();
    expect(wrapper.get('[data-testid="restore-inspect-error"] [data-testid="error-code"]').text()).toBe('NOT_A_BACKUP');
    expect(wrapper.get('[data-testid="restore-inspect-error"] [data-testid="error-message"]').text()).toBe('not a backup');
  });
});
