/**
 * "Test connection" for an S3 destination: puts, reads back, lists and deletes one small
 * probe object (`<prefix>/backstop-probe-<random>`) and reports each step.
 *
 * Contract: never throws for a storage failure (only for invalid options); every step
 * that ran has `ok` and, when it failed, the BackstopError code and message (secret-free).
 * get and delete run only after a successful put; a skipped step is `{ ok: false,
 * skipped: true }`. The read-back compares bytes, so a server that stores something else
 * than was sent (aws-chunked framing stored verbatim) fails the probe. `hint` names the
 * most likely fix: bad access key / secret, expired token, clock, missing bucket, wrong
 * region, path-style needed, checksum headers unsupported, a missing permission for a
 * particular operation, unreachable endpoint. The probe object is deleted when possible.
 */
import { randomBytes } from 'node:crypto';
import { isBackstopError } from '../../shared/result.ts';
import { S3Backend, type S3BackendOptions } from './s3-backend.ts';
import { classifyS3Error, publicEndpoint, type S3ErrorInfo } from './s3-errors.ts';

export type S3ProbeStepName = 'put' | 'get' | 'list' | 'delete';

export interface S3ProbeStep {
  step: S3ProbeStepName;
  ok: boolean;
  /** True when the step was not tried because an earlier one failed. */
  skipped?: boolean;
  /** BackstopError code, or 'MISMATCH' when get returned other bytes than were put, 'MISSING' when list did not show the object. */
  code?: string;
  message?: string;
}

export interface S3ProbeReport {
  ok: boolean;
  steps: S3ProbeStep[];
  hint?: string;
}

const PERMISSION: Record<S3ProbeStepName, string> = {
  put: 's3:PutObject',
  get: 's3:GetObject',
  list: 's3:ListBucket',
  delete: 's3:DeleteObject',
};

interface Failure {
  step: S3ProbeStepName;
  info: S3ErrorInfo | null;
}

function hintFor(options: S3BackendOptions, steps: S3ProbeStep[], failures: Failure[]): string | undefined {
  const kinds = new Set(failures.map((f) => f.info?.kind));
  const first = failures.find((f) => f.info)?.info;
  const where = publicEndpoint(options.endpoint) ?? `AWS region ${options.region}`;
  if (kinds.has('bad-access-key')) return 'The access key ID is not known to this provider. Check the access key ID, and that the endpoint belongs to the provider that issued it.';
  if (kinds.has('bad-secret')) return 'The secret access key does not match the access key ID. Re-enter the secret access key.';
  if (kinds.has('expired-token')) return 'The session token is expired or invalid. Enter fresh temporary credentials, or use long-lived keys.';
  if (kinds.has('clock-skew')) return "This computer's clock is too far off for request signing. Correct the system clock.";
  if (kinds.has('no-such-bucket')) return `The bucket "${options.bucket}" does not exist at ${where}. Create it, or correct the bucket name, region or endpoint.`;
  if (kinds.has('wrong-region')) {
    const region = failures.find((f) => f.info?.region)?.info?.region;
    return region ? `The bucket is in region "${region}", not "${options.region}". Set the region to ${region}.` : `The bucket is not in region "${options.region}". Set the region the bucket was created in.`;
  }
  if (kinds.has('dns')) {
    const host = first?.host ?? '';
    if (options.endpoint && !options.forcePathStyle && host.startsWith(`${options.bucket}.`)) {
      return `The host ${host} does not exist: this provider does not serve buckets as subdomains. Turn on path-style addressing.`;
    }
    return `The endpoint host ${host} could not be resolved. Check the endpoint URL.`;
  }
  if (kinds.has('checksum')) return 'The server rejected the integrity checksum headers. Set the checksum mode to WHEN_REQUIRED.';
  const mismatch = steps.find((s) => s.step === 'get' && s.code === 'MISMATCH');
  if (mismatch) {
    return `The server stored different bytes than were sent. ${options.forcePathStyle ? '' : 'Turn on path-style addressing and '}set the checksum mode to WHEN_REQUIRED (S3-compatible servers often mishandle aws-chunked uploads).`;
  }
  if (kinds.has('quota')) return 'The storage quota of this account or bucket is exhausted. Free space or raise the quota.';
  if (kinds.has('network')) return `Could not connect to ${where}. Check the endpoint URL and port, the network and any firewall or proxy.`;
  if (kinds.has('transient')) return 'The server answered with a temporary error (busy or failing). Try again in a minute.';
  const denied = failures.filter((f) => f.info?.kind === 'access-denied').map((f) => f.step);
  if (denied.length > 0) {
    const allowed = steps.filter((s) => s.ok).map((s) => s.step);
    const need = denied.map((s) => PERMISSION[s]).join(', ');
    if (allowed.length === 0) return `Access is denied for every operation. Grant these credentials ${need} on bucket "${options.bucket}" (and the prefix), or check the bucket policy.`;
    return `These credentials may ${allowed.join(', ')} but not ${denied.join(', ')}. Grant ${need} on bucket "${options.bucket}"${denied.includes('delete') ? ' (Backstop deletes old backups when applying retention)' : ''}.`;
  }
  if (steps.some((s) => s.step === 'list' && s.code === 'MISSING')) return 'The probe object was written but the listing did not show it. Check that the prefix is valid and that the bucket listing is not restricted.';
  if (failures.length > 0) return 'The server rejected a request. See the failed step for details.';
  return undefined;
}

/** Runs the probe against the given settings. Uses a non-retrying backend so failures show quickly. */
export async function probeS3(options: S3BackendOptions): Promise<S3ProbeReport> {
  const backend = new S3Backend({ ...options, maxAttempts: options.maxAttempts ?? 2, connectTimeoutMs: options.connectTimeoutMs ?? 5_000, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 });
  const key = `backstop-probe-${randomBytes(8).toString('hex')}`;
  const payload = randomBytes(64);
  const steps: S3ProbeStep[] = [];
  const failures: Failure[] = [];
  const run = async (step: S3ProbeStepName, fn: () => Promise<{ code: string; message: string } | null>): Promise<boolean> => {
    try {
      const problem = await fn();
      steps.push(problem ? { step, ok: false, ...problem } : { step, ok: true });
      if (problem) failures.push({ step, info: null });
      return !problem;
    } catch (e) {
      const info = classifyS3Error(isBackstopError(e) && e.cause !== undefined ? e.cause : e);
      steps.push({ step, ok: false, code: isBackstopError(e) ? e.code : 'STORAGE', message: isBackstopError(e) ? e.message : `${step} failed unexpectedly.` });
      failures.push({ step, info });
      return false;
    }
  };
  const skip = (step: S3ProbeStepName) => steps.push({ step, ok: false, skipped: true, message: `not tried: put failed` });
  try {
    const put = await run('put', async () => {
      await backend.put(key, payload);
      return null;
    });
    if (put) {
      await run('get', async () => {
        const got = await backend.get(key);
        return got.equals(payload) ? null : { code: 'MISMATCH', message: `read back ${got.length} bytes that differ from the ${payload.length} bytes written.` };
      });
    } else skip('get');
    await run('list', async () => {
      const found = (await backend.list('backstop-probe-')).some((o) => o.key === key);
      return found || !put ? null : { code: 'MISSING', message: 'the listing did not include the object just written.' };
    });
    if (put) {
      await run('delete', async () => {
        await backend.delete(key);
        return null;
      });
    } else skip('delete');
  } finally {
    await backend.close();
  }
  const ok = steps.every((s) => s.ok);
  const hint = ok ? undefined : hintFor(options, steps, failures);
  return hint ? { ok, steps, hint } : { ok, steps };
}
