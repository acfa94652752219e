/**
 * "Proven restorable" in words for a task card (issue #22): from each database's newest
 * test restore, whether every tested database came back as recorded, which failed, which
 * were never tried, and the recovery-time estimate the test restores measured (per
 * database, and for the whole server restored one database after another). A newest test
 * restore that failed before it could test any database (key missing, test server
 * unreachable) turns the card red whatever the older proofs say. Pure.
 */
import type { TaskStatus } from '@shared/domain.ts';
import { formatMs, plural } from './format';

export interface ProvenWords {
  tone: 'success' | 'warning' | 'danger' | 'muted';
  text: string;
  /** Per-database detail (newest result and measured restore time), for a tooltip. */
  detail: string;
}

export function provenInWords(proven: TaskStatus['proven'], when: (iso: string) => string): ProvenWords {
  const runFailed = proven?.lastRunFailed;
  if (!proven || (proven.databases.length === 0 && proven.untested.length === 0 && !runFailed)) {
    return { tone: 'muted', text: 'Never tested', detail: 'Turn on test restores in the task (section G) to prove the backups come back.' };
  }
  const failing = proven.databases.filter((d) => !d.ok).map((d) => d.database);
  const measured = proven.databases.filter((d) => d.durationMs !== null);
  const total = measured.reduce((sum, d) => sum + d.durationMs!, 0);
  const estimate = measured.length > 0 ? ` · whole server ≈ ${formatMs(total)}` : '';
  const untested = proven.untested.length > 0 ? ` · ${plural(proven.untested.length, 'database')} never tested` : '';
  const detail = [
    ...(runFailed ? [`Last test restore ${when(runFailed.at)}: ${runFailed.code}: ${runFailed.message}`] : []),
    ...proven.databases.map((d) => `${d.database}: ${d.ok ? 'restorable' : 'FAILED'} ${when(d.at)}${d.durationMs !== null ? `, restore ≈ ${formatMs(d.durationMs)}` : ''}`),
    ...proven.untested.map((d) => `${d}: never tested`),
  ].join('\n');
  if (failing.length > 0) return { tone: 'danger', text: `Not restorable as recorded: ${failing.join(', ')}${untested}`, detail };
  // Older proofs do not speak for backups a newer test restore could not even try.
  if (runFailed) {
    const before = proven.databases.length > 0 ? ` · last proven ${when(proven.allOkAt ?? proven.databases[0]!.at)}` : '';
    return { tone: 'danger', text: `Last test restore failed ${when(runFailed.at)} (${runFailed.code})${before}${untested}`, detail };
  }
  if (proven.databases.length === 0) return { tone: 'warning', text: `Never tested${untested}`, detail };
  return { tone: untested ? 'warning' : 'success', text: `Proven ${when(proven.allOkAt ?? proven.databases[0]!.at)}${estimate}${untested}`, detail };
}
