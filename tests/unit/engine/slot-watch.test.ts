/**
 * Slot care's wording and threshold (tasks/slot-watch.ts `slotWarning`): no warning up to
 * the setting, above it one message naming the slot, the size, the server, why it matters
 * and what to do, with the SQL to drop it by hand. The check itself runs against a real
 * PostgreSQL in tests/integration/servers/postgres-wal.test.ts ("slot care").
 */
import { describe, expect, it } from 'vitest';
import { slotWarning } from '../../../electron/engine/tasks/slot-watch.ts';

const task = { name: 'cluster' };
const server = { name: 'prod-db' };

describe('slotWarning', () => {
  it('says nothing up to the threshold, and what to do above it', () => {
    expect(slotWarning(task, server, 'backstop_abc_12345678', 1024 ** 3, 1)).toBeNull();
    expect(slotWarning(task, server, 'backstop_abc_12345678', 0, 0.5)).toBeNull();
    expect(slotWarning(task, server, 'backstop_abc_12345678', 1024 ** 3 + 1, 1)).toBe(
      'Replication slot "backstop_abc_12345678" of task "cluster" holds back 1.0 GiB of WAL on prod-db (warning above 1 GiB): ' +
        "the server keeps it until the task's next backup receives it, and its disk fills otherwise. Run the task now, or find out why its runs fail. " +
        "If the task is no longer needed, delete it (that drops the slot) or drop the slot on the server: SELECT pg_drop_replication_slot('backstop_abc_12345678');",
    );
    expect(slotWarning(task, server, 's', 300 * 1024 ** 2, 0.25)).toContain('holds back 300 MiB of WAL on prod-db (warning above 0.25 GiB)');
  });
});
