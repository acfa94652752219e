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
});
