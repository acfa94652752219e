/**
 * The Databases view's search and status filter, as a pure function over `databases.list`
 * rows (so hundreds of rows filter without engine calls). The search matches the database,
 * server and task names, case-insensitively; the status is a freshness or '' for any.
 */
import type { DatabaseOverview } from '@shared/domain.ts';

export type FreshnessFilter = DatabaseOverview['freshness'] | '';

export const FRESHNESS: Record<DatabaseOverview['freshness'], { label: string; tone: string; hint: string }> = {
  fresh: { label: 'Fresh', tone: 'success', hint: 'Backed up within its schedule.' },
  due: { label: 'Due', tone: 'warning', hint: 'More than half of the staleness threshold since its last successful backup.' },
  stale: { label: 'Stale', tone: 'danger', hint: 'No successful backup for longer than the staleness threshold.' },
  unscheduled: { label: 'Not scheduled', tone: '', hint: 'Its task is paused or has no schedule to be late against.' },
  gone: { label: 'Gone from server', tone: '', hint: 'A run found it no longer on the server (dropped or renamed): its backups stay at the destinations, untouched by retention.' },
};

export function filterDatabases(rows: readonly DatabaseOverview[], search: string, freshness: FreshnessFilter): DatabaseOverview[] {
  const q = search.trim().toLowerCase();
  return rows.filter(
    (r) =>
      (freshness === '' || r.freshness === freshness) &&
      (q === '' || r.database.toLowerCase().includes(q) || r.serverName.toLowerCase().includes(q) || r.taskName.toLowerCase().includes(q)),
  );
}
