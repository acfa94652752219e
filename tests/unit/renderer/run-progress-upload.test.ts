/**
 * RunProgress on a slow link: while packs are still on their way to a destination the line
 * says how much of them landed, and once the dump was read whole it says "Uploading", not
 * "Backing up" at 99 % with nothing moving.
 */
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import type { ActiveRun, DatabaseProgress } from '@shared/domain.ts';
import RunProgress from '../../../renderer/src/components/RunProgress.vue';
import { describeProgress } from '../../../renderer/src/components/run-counts.ts';
import { activeRun, progressRow } from './active-run.ts';

function run(phase: DatabaseProgress['phase'], uploads: { bytesToUpload?: number; bytesUploaded?: number }[]): ActiveRun {
  return activeRun([
    progressRow('billing', { phase, bytesRead: 64_000_000, expectedBytes: 64_000_000, destinations: uploads.map((u, i) => ({ destination: `s3:/d${i}`, bytesNew: 0, bytesStored: 60_000_000, ...u })) }),
    progressRow('globals', { phase, bytesRead: 100, serverStream: true }),
  ]);
}

describe('RunProgress while packs upload', () => {
  it('says Uploading with the bytes landed of those handed over, summed over destinations', () => {
    const w = mount(RunProgress, { props: { run: run('uploading', [{ bytesToUpload: 30_000_000, bytesUploaded: 10_000_000 }, { bytesToUpload: 30_000_000, bytesUploaded: 30_000_000 }]) } });
    const line = w.findAll('[data-testid="run-progress-bytes"]')[0]!.text();
    expect(line).toMatch(/^Uploading · /);
    expect(w.get('[data-testid="run-progress-upload"]').text()).toBe('uploaded 40 MB of 60 MB');
    expect(w.findAll('[data-testid="run-progress-db"]')[0]!.attributes('data-phase')).toBe('uploading');
    expect(describeProgress(run('uploading', []))).toContain('uploading');
  });

  it('says nothing about uploads when every byte landed, when nothing was reported, or when done', () => {
    expect(mount(RunProgress, { props: { run: run('dumping', [{ bytesToUpload: 8_000_000, bytesUploaded: 8_000_000 }]) } }).find('[data-testid="run-progress-upload"]').exists()).toBe(false);
    expect(mount(RunProgress, { props: { run: run('dumping', [{}]) } }).find('[data-testid="run-progress-upload"]').exists()).toBe(false);
    expect(mount(RunProgress, { props: { run: run('done', [{ bytesToUpload: 8_000_000, bytesUploaded: 1 }]) } }).find('[data-testid="run-progress-upload"]').exists()).toBe(false);
  });
});
