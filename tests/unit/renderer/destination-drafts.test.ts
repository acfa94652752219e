/**
 * The kind-independent pieces the task editor and the restore view's "open a destination"
 * share: a draft's problem, its typed secret, the draft after the secret was saved, its
 * contract destination; and the Test-connection report (failed step's code and message,
 * later steps not tried, the kind's hint).
 */
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { Destination } from '@shared/domain.ts';
import ProbeReportSteps from '../../../renderer/src/components/destinations/ProbeReportSteps.vue';
import { REMOTE_KINDS } from '../../../renderer/src/components/destinations/remote-kinds';
import { destinationDraftError, draftDestination, draftSecret, emptyS3Draft, withSavedSecret } from '../../../renderer/src/components/task-draft';

describe('destination drafts of any kind', () => {
  it('names what is missing, saves the typed secret once, and keeps only its reference', () => {
    expect(destinationDraftError({ kind: 'local', path: ' ' })).toBe('Enter or choose a folder.');
    expect(destinationDraftError({ kind: 'local', path: '/b' })).toBeNull();
    const s3 = { ...emptyS3Draft(), bucket: 'bkt', prefix: '/root/' };
    expect(destinationDraftError(s3)).toBe('Enter the access key id and secret.');
    expect(destinationDraftError({ ...s3, endpoint: 'minio:9000' })).toBe('Enter the endpoint as a full URL, e.g. https://s3.example.com.');
    expect(draftSecret(s3)).toBeNull();

    const typed = { ...s3, accessKeyId: ' AKID ', secretAccessKey: 'sekrit' };
    expect(destinationDraftError(typed)).toBeNull();
    expect(draftSecret(typed)).toEqual({ kind: 's3', accessKeyId: 'AKID', secretAccessKey: 'sekrit' });
    const saved = withSavedSecret(typed, 's3.cred');
    expect(saved).toMatchObject({ credentialsRef: 's3.cred', accessKeyId: '', secretAccessKey: '' });
    expect(JSON.stringify(saved)).not.toContain('sekrit');
    expect(draftSecret(saved)).toBeNull();
    expect(destinationDraftError(saved)).toBeNull();

    const dest = draftDestination(saved);
    expect(Destination.parse(dest)).toEqual(dest);
    expect(dest).toMatchObject({ kind: 's3', bucket: 'bkt', prefix: 'root', credentialsRef: 's3.cred' });
    expect(draftDestination(saved, 's3.other')).toMatchObject({ credentialsRef: 's3.other' });
    expect(draftDestination({ kind: 'local', path: ' /b ' })).toEqual({ kind: 'local', path: '/b' });
  });

  it('offers every remote kind with an empty draft of that kind', () => {
    expect(REMOTE_KINDS.length).toBeGreaterThan(0);
    for (const k of REMOTE_KINDS) expect(k.empty().kind).toBe(k.kind);
  });
});

describe('the Test-connection report', () => {
  it('shows the failed step with its code and message, the later steps as not tried, and the hint', () => {
    const w = mount(ProbeReportSteps, {
      props: {
        testid: 'dest-0',
        report: {
          ok: false,
          steps: [
            { step: 'put', ok: true },
            { step: 'get', ok: false, code: 'PERMISSION_DENIED', message: 'Reading was refused.' },
            { step: 'list', ok: false, skipped: true },
            { step: 'delete', ok: false, skipped: true },
          ],
          hint: 'Allow s3:GetObject for this prefix.',
        },
      },
    });
    expect(w.get('[data-testid="dest-0-test-result"]').text()).toBe('Failed');
    const items = w.findAll('[data-testid="dest-0-test-steps"] li').map((li) => [li.classes()[0], li.text().replace(/\s+/g, ' ')]);
    expect(items).toEqual([
      ['ok', '✓ Write a test object'],
      ['bad', '✗ Read it back: PERMISSION_DENIED Reading was refused.'],
      ['skipped', '– List the folder (not tried)'],
      ['skipped', '– Delete it (not tried)'],
      ['hint-line', 'Allow s3:GetObject for this prefix.'],
    ]);
  });

  it('says all steps passed', () => {
    const w = mount(ProbeReportSteps, { props: { testid: 'x', report: { ok: true, steps: [{ step: 'put', ok: true }] } } });
    expect(w.get('[data-testid="x-test-result"]').text()).toBe('All steps passed');
    expect(w.findAll('li.bad')).toHaveLength(0);
  });
});
