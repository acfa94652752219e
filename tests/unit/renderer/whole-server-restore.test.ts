/**
 * The restore view's "Whole server" mode over a fake bridge: the plan is asked for with the
 * chosen root, server and names; taken names cannot be chosen; the subset and the
 * server-level choice reach restore.serverStart; progress and the summary come from the
 * events of this restore only, and it is not listed among the restores running elsewhere
 * until the steps are left; a plan error is shown with its message; changing a choice
 * drops the plan.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import type { Server, Task } from '@shared/domain.ts';
import type { ServerRestorePlan } from '@shared/server-restore.ts';
import { formatDateTimeSeconds } from '../../../renderer/src/components/format';
import { fail, installFakeBridge, ok, removeBridge, sqliteServer, type FakeBridge } from './fake-bridge';
import { mountRestoreView } from './restore-mount';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
});
afterEach(() => {
  removeBridge();
  document.body.innerHTML = '';
});

const pg: Server = { id: 'pg1', name: 'New PG', kind: 'postgres', host: 'db', port: 5432, user: 'postgres', tls: 'prefer', passwordRef: null, createdAt: '2026-01-02T03:04:05.000Z', updatedAt: '2026-01-02T03:04:05.000Z' };
const point = { id: '20260102T030405678Z-9f3a0c1b', createdAt: '2026-01-02T03:04:05.678Z', bytes: 2048 };
const plan: ServerRestorePlan = {
  databases: [
    { database: 'sales', restoredAs: 'r_sales', point, status: 'ready', estimatedMs: 4000, error: null },
    { database: 'hr', restoredAs: 'r_hr', point: { ...point, bytes: 1024 }, status: 'ready', estimatedMs: null, error: null },
    { database: 'crm', restoredAs: 'r_crm', point, status: 'exists', estimatedMs: null, error: { code: 'DATABASE_EXISTS', message: 'Database "r_crm" already exists on the target server.' } },
  ],
  totalBytes: 3072,
  estimatedMs: 4000,
  unestimated: 1,
  notes: [],
};

async function mountServerMode() {
  const wrapper = await mountRestoreView(fake, { servers: [pg, sqliteServer('s1', 'Files')] });
  await wrapper.get('[data-testid="restore-scope-server"]').trigger('click');
  await wrapper.get('[data-testid="ws-path"]').setValue('/backups/nightly');
  await wrapper.get('[data-testid="ws-server"]').setValue('pg1');
  await wrapper.get('[data-testid="ws-affix"]').setValue('r_');
  return wrapper;
}

describe('whole-server restore in the restore view', () => {
  it('offers the server-level content by what the target stores: roles and tablespaces (PostgreSQL), users, roles and grants (MySQL/MariaDB), nothing for SQLite', async () => {
    const maria: Server = { ...pg, id: 'my1', name: 'New Maria', kind: 'mysql', port: 3306 } as Server;
    const wrapper = await mountRestoreView(fake, { servers: [pg, maria, sqliteServer('s1', 'Files')] });
    await wrapper.get('[data-testid="restore-scope-server"]').trigger('click');
    await wrapper.get('[data-testid="ws-path"]').setValue('/backups/nightly');
    await wrapper.get('[data-testid="ws-affix"]').setValue('r_');
    fake.respond('restore.serverPlan', () => ok(plan));
    const offered = async (serverId: string) => {
      await wrapper.get('[data-testid="ws-server"]').setValue(serverId);
      await wrapper.get('[data-testid="ws-plan"]').trigger('click');
      await flushPromises();
      const box = wrapper.find('[data-testid="ws-server-level"]');
      return box.exists() ? box.element.parentElement!.textContent!.replace(/\s+/g, ' ').trim() : null;
    };
    expect(await offered('pg1')).toBe('Also create the stored roles and tablespaces first (existing ones are left as they are)');
    expect(await offered('my1')).toBe('Also create the stored users, roles and grants first (existing ones are left as they are)');
    expect(await offered('s1')).toBeNull();
  });

  it('plans, restores the chosen subset with server-level content on request, and shows progress and the summary', async () => {
    const wrapper = await mountServerMode();
    fake.respond('restore.serverPlan', () => ok(plan));
    fake.respond('restore.serverStart', () => ok({ serverRestoreId: 'sr1' }));
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenCalledWith({ destination: { kind: 'local', path: '/backups/nightly' }, serverId: 'pg1', naming: { prefix: 'r_' } });
    const rows = wrapper.findAll('[data-testid="ws-plan-row"]');
    expect(rows).toHaveLength(3);
    const boxes = wrapper.findAll<HTMLInputElement>('[data-testid="ws-select"]');
    expect(boxes.map((b) => [b.element.checked, b.element.disabled])).toEqual([[true, false], [true, false], [false, true]]);
    expect(rows[2]!.text()).toContain('Database "r_crm" already exists on the target server.');
    expect(wrapper.get('[data-testid="ws-totals"]').text()).toMatch(/2 databases to restore, .*estimated 4\.0 s plus 1 database never test-restored/);

    await boxes[1]!.setValue(false);
    await wrapper.get('[data-testid="ws-server-level"]').setValue(true);
    expect(wrapper.get('[data-testid="ws-start"]').text()).toBe('Restore 1 database');
    await wrapper.get('[data-testid="ws-start"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverStart']).toHaveBeenCalledWith({ destination: { kind: 'local', path: '/backups/nightly' }, serverId: 'pg1', naming: { prefix: 'r_' }, only: ['sales'], withServerLevel: true });
    expect(rows[0]!.text()).toContain('Restoring…');
    fake.respond('restore.serverCancel', () => ok({ canceled: true }));
    await wrapper.get('[data-testid="ws-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverCancel']).toHaveBeenCalledWith({ serverRestoreId: 'sr1' });

    // Another restore's events are ignored; this one's update the row and the summary.
    fake.emit('restore.serverProgress', { serverRestoreId: 'other', database: { database: 'sales', restoredAs: 'r_sales', status: 'failed', error: { code: 'INTERNAL', message: 'not ours' } } });
    await flushPromises();
    expect(rows[0]!.text()).not.toContain('not ours');
    fake.emit('restore.serverProgress', { serverRestoreId: 'sr1', database: { database: 'sales', restoredAs: 'r_sales', status: 'ok' } });
    fake.emit('restore.serverFinished', { serverRestoreId: 'sr1', databases: [{ database: 'sales', restoredAs: 'r_sales', status: 'ok' }], serverLevel: { status: 'ok', detail: 'roles and tablespaces: 2 created, 0 already there (skipped)' }, notes: [], error: null });
    await flushPromises();
    expect(rows[0]!.text()).toContain('Restored');
    expect(wrapper.get('[data-testid="ws-summary-counts"]').text()).toBe('1 restored · 0 failed · 0 skipped');
    expect(wrapper.find('[data-testid="ws-cancel"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="ws-server-level-result"]').text()).toContain('2 created');
  });

  it('the restore these steps started is not listed among those running elsewhere; left while it runs ("One database"), it is, with its Cancel', async () => {
    const wrapper = await mountServerMode();
    fake.respond('restore.serverPlan', () => ok(plan));
    const mine = { serverRestoreId: 'sr1', serverId: 'pg1', startedAt: '2026-01-02T03:04:05.000Z', total: 2, databases: [{ database: 'sales', restoredAs: 'r_sales', status: 'running' as const }] };
    fake.respond('restore.serverStart', () => {
      // The engine lists it, and its first progress arrives, before restore.serverStart answers.
      fake.respond('restore.serverActive', () => ok([mine]));
      fake.emit('restore.serverProgress', { serverRestoreId: 'sr1', database: mine.databases[0]! });
      return ok({ serverRestoreId: 'sr1' });
    });
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="ws-start"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="ws-cancel"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="server-restore-running"]').exists()).toBe(false);

    await wrapper.get('[data-testid="restore-scope-one"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="server-restore-running-state"]').text()).toBe('0 of 2 databases done, restoring sales…');
    fake.respond('restore.serverCancel', () => ok({ canceled: true }));
    await wrapper.get('[data-testid="server-restore-running-cancel"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverCancel']).toHaveBeenCalledWith({ serverRestoreId: 'sr1' });
  });

  it('shows a plan error with its message, needs a prefix to plan, and drops the plan when a choice changes', async () => {
    const wrapper = await mountServerMode();
    fake.respond('restore.serverPlan', () => fail('NOT_FOUND', '/backups/nightly holds no database backups. Give the destination root of a task (the folder that holds one folder per database).'));
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="ws-error"]').text()).toContain('holds no database backups. Give the destination root of a task');
    expect(wrapper.find('[data-testid="ws-plan-card"]').exists()).toBe(false);

    await wrapper.get('[data-testid="ws-affix"]').setValue('');
    expect(wrapper.get('[data-testid="ws-naming-problem"]').text()).toBe('Type the prefix the new names get, or choose the original names.');
    expect(wrapper.get('[data-testid="ws-plan"]').attributes('disabled')).toBeDefined();

    fake.respond('restore.serverPlan', () => ok(plan));
    await wrapper.get('[data-testid="ws-naming-original"]').setValue(true);
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith(expect.objectContaining({ naming: { original: true } }));
    expect(wrapper.find('[data-testid="ws-plan-card"]').exists()).toBe(true);
    await wrapper.get('[data-testid="ws-path"]').setValue('/backups/other');
    expect(wrapper.find('[data-testid="ws-plan-card"]').exists()).toBe(false);

    // An encrypted database whose key the keychain lacks: the key field appears and the key goes with the next plan.
    fake.respond('restore.serverPlan', () => ok({ ...plan, databases: [{ ...plan.databases[0]!, status: 'failed', error: { code: 'KEY_REQUIRED', message: 'The backups of this database are encrypted with key 1a2b, which is neither given nor in this computer\'s keychain.' } }] }));
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="ws-start"]').attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="ws-key"]').setValue(' secret-key ');
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith(expect.objectContaining({ key: 'secret-key' }));
  });

  it('as of a moment: states the range every chosen database reaches and which database limits it, sends the moment, lists databases that cannot reach it', async () => {
    const wrapper = await mountServerMode();
    const ranged: ServerRestorePlan = {
      ...plan,
      databases: [
        { ...plan.databases[0]!, range: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-05T00:00:00.000Z' } },
        { ...plan.databases[1]!, range: { from: '2026-01-03T12:00:00.000Z', to: '2026-01-04T00:00:00.000Z' } },
        { ...plan.databases[2]!, range: { from: '2026-01-02T00:00:00.000Z', to: '2026-01-06T00:00:00.000Z' } },
      ],
    };
    await wrapper.get('[data-testid="ws-at-moment"]').setValue(true);
    expect(wrapper.get('[data-testid="ws-range"]').text()).toBe('Show the plan to see how far back these backups reach.');
    expect(wrapper.get('[data-testid="ws-plan"]').attributes('disabled')).toBeDefined(); // no moment yet

    // The first plan (latest points) tells how far back each database reaches.
    await wrapper.get('[data-testid="ws-at-latest"]').setValue(true);
    fake.respond('restore.serverPlan', () => ok(ranged));
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith(expect.not.objectContaining({ asOf: expect.anything() }));
    await wrapper.get('[data-testid="ws-at-moment"]').setValue(true);
    const range = wrapper.get('[data-testid="ws-range"]').text();
    expect(range).toContain('hr, the database that limits it'); // sales and hr are chosen; hr's oldest point is the newest
    expect(range).toContain(formatDateTimeSeconds('2026-01-03T12:00:00.000Z'));
    expect(range).toContain(formatDateTimeSeconds('2026-01-05T00:00:00.000Z'));
    await wrapper.findAll<HTMLInputElement>('[data-testid="ws-select"]')[1]!.setValue(false);
    expect(wrapper.get('[data-testid="ws-range"]').text()).toContain('sales, the database that limits it');

    // A moment: the plan is asked for with it (local time → UTC); a database that cannot reach it is listed, not skipped.
    await wrapper.get('[data-testid="ws-moment"]').setValue('2026-01-02T10:30:00');
    expect(wrapper.find('[data-testid="ws-plan-card"]').exists()).toBe(false); // a new moment, a new plan
    const asOf = new Date('2026-01-02T10:30:00').toISOString();
    fake.respond('restore.serverPlan', () =>
      ok({
        ...ranged,
        databases: [
          ranged.databases[0]!,
          { ...ranged.databases[1]!, point: null, status: 'failed', error: { code: 'OUT_OF_RANGE', message: `"hr" has no restore point at or before ${asOf}: its points range from 2026-01-03T12:00:00.000Z to 2026-01-04T00:00:00.000Z.` } },
          ranged.databases[2]!,
        ],
        notes: [`As of ${asOf}: each database is restored from its latest restore point at or before that moment (restore points only; no log replay).`],
      }),
    );
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith({ destination: { kind: 'local', path: '/backups/nightly' }, serverId: 'pg1', naming: { prefix: 'r_' }, asOf });
    expect(wrapper.get('[data-testid="ws-out-of-range"]').text()).toBe('1 database cannot reach that moment and will not be restored: hr.');
    expect(wrapper.findAll('[data-testid="ws-plan-row"]')[1]!.text()).toContain('OUT_OF_RANGE: "hr" has no restore point at or before');
    fake.respond('restore.serverStart', () => ok({ serverRestoreId: 'sr2' }));
    await wrapper.get('[data-testid="ws-start"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverStart']).toHaveBeenLastCalledWith({ destination: { kind: 'local', path: '/backups/nightly' }, serverId: 'pg1', naming: { prefix: 'r_' }, asOf, only: ['sales'], withServerLevel: false });

    await wrapper.get('[data-testid="ws-moment"]').setValue('');
    expect(wrapper.get('[data-testid="ws-moment-problem"]').text()).toBe('Enter the date and time to restore to.');
    expect(wrapper.get('[data-testid="ws-plan"]').attributes('disabled')).toBeDefined();
  });

  it("a task's backups: the moment is read in the task's schedule time zone, both readings of a repeated time can be chosen, a skipped one is refused", async () => {
    const nightly: Task = {
      id: 't1', name: 'Nightly', serverId: 'pg1', type: 'logical',
      schedule: { full: '0 2 * * *', incremental: null, timezone: 'America/New_York' },
      retention: { minAgeDays: 0, keepLast: null }, encryption: { mode: 'none' },
      destinations: [{ kind: 'local', path: '/backups/ny' }], excludeDatabases: [], enabled: true,
      createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z',
    };
    const wrapper = await mountRestoreView(fake, { servers: [pg], tasks: [nightly] });
    await wrapper.get('[data-testid="restore-scope-server"]').trigger('click');
    await wrapper.get('[data-testid="ws-source"]').setValue('t1:0');
    await wrapper.get('[data-testid="ws-server"]').setValue('pg1');
    await wrapper.get('[data-testid="ws-affix"]').setValue('r_');
    await wrapper.get('[data-testid="ws-at-moment"]').setValue(true);
    expect(wrapper.get('[data-testid="ws-at"]').text()).toContain('America/New_York');

    // 10:30 in New York in January is 15:30 UTC, whatever this machine's zone.
    await wrapper.get('[data-testid="ws-moment"]').setValue('2026-01-02T10:30:00');
    fake.respond('restore.serverPlan', () => ok(plan));
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith(expect.objectContaining({ taskId: 't1', asOf: '2026-01-02T15:30:00.000Z' }));

    // 01:30 on 1 Nov 2026 happens twice there: the first (EDT, 05:30 UTC) unless the second (EST, 06:30 UTC) is chosen.
    await wrapper.get('[data-testid="ws-moment"]').setValue('2026-11-01T01:30:00');
    expect(wrapper.get('[data-testid="ws-moment-twice"]').text()).toBe('The clocks show 2026-11-01 01:30 twice in America/New_York:  the second one (UTC-05:00); unchecked, the first (UTC-04:00)');
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith(expect.objectContaining({ asOf: '2026-11-01T05:30:00.000Z' }));
    await wrapper.get('[data-testid="ws-moment-later"]').setValue(true);
    await wrapper.get('[data-testid="ws-plan"]').trigger('click');
    await flushPromises();
    expect(fake.commands['restore.serverPlan']).toHaveBeenLastCalledWith(expect.objectContaining({ asOf: '2026-11-01T06:30:00.000Z' }));

    // 02:30 on 8 Mar 2026 does not exist there: refused with the reason, no plan asked for.
    const calls = fake.commands['restore.serverPlan'].mock.calls.length;
    await wrapper.get('[data-testid="ws-moment"]').setValue('2026-03-08T02:30:00');
    expect(wrapper.get('[data-testid="ws-moment-problem"]').text()).toContain('2026-03-08 02:30 does not exist in America/New_York: the clocks skip forward there that day');
    expect(wrapper.get('[data-testid="ws-plan"]').attributes('disabled')).toBeDefined();
    expect(fake.commands['restore.serverPlan'].mock.calls.length).toBe(calls);
  });
});
