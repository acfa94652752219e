/**
 * RunProgress names the limits a database is backed up under: the tightest upload limit of its
 * destinations and the task's read limit, only while it is being backed up.
 */
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import type { ActiveRun } from '@shared/domain.ts';
import RunProgress from '../../../renderer/src/components/RunProgress.vue';
import { activeRun, progressRow } from './active-run.ts';

function run(limits: (number | null | undefined)[], phase: 'dumping' | 'done' = 'dumping', readBytesPerSecond?: number | null): ActiveRun {
  return activeRun([
    progressRow('billing', {
      phase,
      bytesRead: 1024,
      destinations: limits.map((l, i) => ({ destination: `local:/d${i}`, bytesNew: 0, bytesStored: 0, ...(l === undefined ? {} : { uploadBytesPerSecond: l }) })),
      ...(readBytesPerSecond === undefined ? {} : { readBytesPerSecond }),
    }),
  ]);
}

describe('RunProgress upload limit', () => {
  it('shows the tightest upload limit of a database while it is being backed up', () => {
    const w = mount(RunProgress, { props: { run: run([4_000_000, 250_000]) } });
    expect(w.get('[data-testid="run-progress-limit"]').text()).toBe('upload limited to 250 KB/s');
  });

  it('says nothing when no destination is limited, or when the database is done', () => {
    expect(mount(RunProgress, { props: { run: run([null, undefined]) } }).find('[data-testid="run-progress-limit"]').exists()).toBe(false);
    expect(mount(RunProgress, { props: { run: run([1024 * 1024], 'done') } }).find('[data-testid="run-progress-limit"]').exists()).toBe(false);
  });
});

describe('RunProgress read limit', () => {
  it("shows the task's read limit on the dump side while a database is being backed up", () => {
    const w = mount(RunProgress, { props: { run: run([null], 'dumping', 2_000_000) } });
    expect(w.get('[data-testid="run-progress-read-limit"]').text()).toBe('reading limited to 2.0 MB/s');
    expect(w.find('[data-testid="run-progress-limit"]').exists()).toBe(false);
  });

  it('says nothing without a read limit, or when the database is done', () => {
    expect(mount(RunProgress, { props: { run: run([null], 'dumping', null) } }).find('[data-testid="run-progress-read-limit"]').exists()).toBe(false);
    expect(mount(RunProgress, { props: { run: run([null], 'done', 2_000_000) } }).find('[data-testid="run-progress-read-limit"]').exists()).toBe(false);
  });
});
