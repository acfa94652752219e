import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { data } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TaskDatabasesTable } from '../../../electron/engine/store/index.ts';

describe('health alerts', () => {
  it('announces a stale database and an unexported key once, and again only after they clear and return', async () => {
    let now = new Date('2026-05-01T00:00:00Z');
    const engine = await testEngine({ secrets: new MemorySecretStore(), now: () => now });
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 's', folder: tempDir() }));
    const key = data(await engine.call('keys.generate', undefined));
    data(await engine.call('keys.markExported', { keyRef: key.keyRef, method: 'confirmed' }));
    const task = data(
      await engine.call('tasks.create', {
        name: 'hourly',
        serverId: server.id,
        type: 'snapshot',
        schedule: { incremental: '0 * * * *', timezone: 'UTC' },
        encryption: { mode: 'key', keyRef: key.keyRef, fingerprint: key.fingerprint },
        destinations: [{ kind: 'local', path: tempDir() }],
      }),
    );
    const seen = new TaskDatabasesTable(engine.db);
    seen.observe(task.id, ['app.db', 'old.db'], now.toISOString());
    seen.markSuccess(task.id, 'app.db', now.toISOString());
    expect(engine.health.check()).toEqual([]);

    now = new Date('2026-05-01T03:00:00Z'); // hourly task: stale after 2 h
    seen.markSuccess(task.id, 'app.db', now.toISOString());
    expect(engine.health.check()).toEqual([{ kind: 'stale-database', taskId: task.id, message: expect.stringContaining('old.db has had no successful backup'), databases: ['old.db'] }]);
    expect(engine.health.check()).toEqual([]); // not repeated
    seen.markSuccess(task.id, 'old.db', now.toISOString());
    expect(engine.health.check()).toEqual([]);
    now = new Date('2026-05-01T06:00:00Z');
    expect(engine.health.check().map((a) => a.databases)).toEqual([['app.db', 'old.db']]);

    // A key that was never saved is announced (simulated: a fresh generated key on another task).
    const key2 = data(await engine.call('keys.generate', undefined));
    engine.db.prepare("UPDATE tasks SET config = json_set(config, '$.encryption.keyRef', ?, '$.encryption.fingerprint', ?) WHERE id = ?").run(key2.keyRef, key2.fingerprint, task.id);
    const keyAlerts = engine.health.check().filter((a) => a.kind === 'key-not-exported');
    expect(keyAlerts).toEqual([{ kind: 'key-not-exported', taskId: task.id, message: expect.stringContaining(key2.fingerprint), databases: [] }]);
    expect(alerts.filter((a) => a.kind === 'key-not-exported')).toHaveLength(1);
  });

  it('announces a clock behind the task\'s backups once (a backup dated ahead of now), naming both times and the fix; not again until it clears and returns', async () => {
    let now = new Date('2026-05-01T12:00:00Z');
    const engine = await testEngine({ secrets: new MemorySecretStore(), now: () => now });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 's', folder: tempDir() }));
    const task = data(
      await engine.call('tasks.create', { name: 'nightly', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: tempDir() }] }),
    );
    const seen = new TaskDatabasesTable(engine.db);
    seen.observe(task.id, ['app.db'], now.toISOString());
    seen.markSuccess(task.id, 'app.db', '2026-05-01T12:30:00.000Z'); // half an hour ahead: two clocks a little apart, no alert
    expect(engine.health.check()).toEqual([]);
    // The clock set back a year (the last backup ran before it).
    now = new Date('2025-05-01T12:00:00Z');
    expect(engine.health.check()).toEqual([
      {
        kind: 'clock-warning',
        taskId: task.id,
        message:
          'Backup task "nightly": its last successful backup is dated 2026-05-01 12:30 UTC, 365 days after this computer\'s clock (2025-05-01 12:00 UTC): the clock is behind (set back, or wrong after a restart), or was ahead when that backup ran. Until the clock passes it, retention keeps that point and does not delete by age across it, a database with no recent backup cannot be reported, and "latest" restores the newest point not dated ahead. Set this computer\'s clock right (turn on network time).',
        databases: [],
      },
    ]);
    expect(engine.health.check()).toEqual([]); // not repeated
    now = new Date('2026-05-01T13:00:00Z'); // the clock set right
    expect(engine.health.check()).toEqual([]);
    now = new Date('2025-05-02T12:00:00Z');
    expect(engine.health.check().map((a) => a.kind)).toEqual(['clock-warning']);
  });
});
