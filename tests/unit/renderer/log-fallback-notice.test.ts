/**
 * The one-time hint of a MySQL/MariaDB task whose last incrementals re-dumped instead of
 * reading the binary log: shown with the engine's reason (what to enable), hidden for good
 * by "Got it" for that task and reason (also after a remount), shown again for a new reason,
 * never for a task whose incrementals read the log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import type { Task, TaskStatus } from '@shared/domain.ts';
import LogFallbackNotice from '../../../renderer/src/components/LogFallbackNotice.vue';

const task = (id: string, name: string) => ({ id, name }) as Task;
const status = (taskId: string, logFallback: string | null) => ({ taskId, logFallback }) as TaskStatus;
const LOG_OFF =
  'the binary log is off on the MariaDB server "shop", so every incremental re-dumps each database. To store only the changes and restore to any moment, start the server with log_bin, binlog_format=ROW and a server_id (docs/PITR.md).';
const NO_PRIV = 'user "backup" lacks REPLICATION SLAVE on the MariaDB server "shop", needed to read the binary log, so every incremental re-dumps each database. Run: GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO <that user>;';

beforeEach(() => localStorage.clear());
afterEach(() => localStorage.clear());

describe('LogFallbackNotice', () => {
  it('names the task and what to enable, once: "Got it" hides it for good, a new reason shows again', async () => {
    const tasks = [task('t1', 'Shop nightly'), task('t2', 'Reads the log')];
    const byId = (reason: string) => new Map([['t1', status('t1', reason)], ['t2', status('t2', null)]]);
    const w = mount(LogFallbackNotice, { props: { tasks, statusById: byId(LOG_OFF) } });
    const items = w.findAll('[data-testid="log-fallback-item"]');
    expect(items).toHaveLength(1);
    expect(items[0]!.text()).toContain(`“Shop nightly”: ${LOG_OFF}`);
    expect(items[0]!.text()).toContain('start the server with log_bin, binlog_format=ROW and a server_id');

    await w.get('[data-testid="log-fallback-dismiss"]').trigger('click');
    expect(w.find('[data-testid="log-fallback"]').exists()).toBe(false);
    w.unmount();
    // Dismissed for good: a new window (remount) does not show it again.
    const again = mount(LogFallbackNotice, { props: { tasks, statusById: byId(LOG_OFF) } });
    expect(again.find('[data-testid="log-fallback"]').exists()).toBe(false);
    // The log is on now, but the privilege is missing: a new cause, a new hint.
    await again.setProps({ statusById: byId(NO_PRIV) });
    expect(again.get('[data-testid="log-fallback-item"]').text()).toContain('Run: GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO <that user>;');
  });
});
