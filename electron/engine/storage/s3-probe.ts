/**
 * "Test connection" for an S3 destination (storage/probe.ts's put/get/list/delete probe at
 * the prefix) with S3's own hint: the most likely fix for bad access key / secret, expired
 * token, clock, missing bucket, wrong region, path-style needed, checksum headers
 * unsupported, a missing permission for a particular operation, unreachable endpoint.
 */
import type { ProbeReport, ProbeStep, ProbeStepName } from '../../shared/domain.ts';
import { probeBackend, type ProbeFailure } from './probe.ts';
import { S3Backend, type S3BackendOptions } from './s3-backend.ts';
import { classifyS3Error, type S3ErrorInfo } from './s3-errors.ts';
import { publicEndpoint } from './sdk-error-fields.ts';

const PERMISSION: Record<ProbeStepName, string> = {
  put: 's3:PutObject',
  get: 's3:GetObject',
  list: 's3:ListBucket',
  delete: 's3:DeleteObject',
};

type Failure = ProbeFailure<S3ErrorInfo>;

function hintFor(options: S3BackendOptions, steps: ProbeStep[], failures: Failure[]): string | undefined {
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
export function probeS3(options: S3BackendOptions): Promise<ProbeReport> {
  const backend = new S3Backend({ ...options, maxAttempts: options.maxAttempts ?? 2, connectTimeoutMs: options.connectTimeoutMs ?? 5_000, requestTimeoutMs: options.requestTimeoutMs ?? 30_000, stallTimeoutMs: options.stallTimeoutMs ?? options.requestTimeoutMs ?? 30_000 });
  return probeBackend(backend, { classify: classifyS3Error, hint: (steps, failures) => hintFor(options, steps, failures) });
}
